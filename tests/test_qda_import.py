"""Import of REFI-QDA projects: files shaped like MAXQDA, NVivo, ATLAS.ti and QualCoder write them
(tests/qdpx_fixtures.py), re-import, a round trip through our own export, and the CLI."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from qdpx_fixtures import TEXT_ONE, TEXT_TWO, project_xml, standard_sources, write_qdpx
from test_qda import NOTE_A, NOTE_B

from phantomcode.errors import UsageError
from phantomcode.qda import export_qdpx, read_qdc
from phantomcode.qda_import import import_qdpx
from phantomcode.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "refi_qda"
ONE, TWO = "Interview BJ-01", "Interview SH-01"
ASKED = len("The school asked for the wuzheng 五证 again.")
LEASE = TEXT_ONE.index("He had no lease")
LEASE_END = LEASE + len("He had no lease, so the permit was impossible.")
EXPECTED_DECISIONS = {
    (ONE, 0, ASKED, "paperwork", "alice", "2026-03-01T09:30:00+00:00", "add"),
    (ONE, 0, ASKED, "barriers", "alice", "2026-03-01T09:30:00+00:00", "add"),
    (ONE, LEASE, LEASE_END, "paperwork", "alice", "2026-03-01T09:31:00+00:00", "add"),
    (ONE, LEASE, LEASE_END, "class_size", "bob", "2026-03-02T08:00:00+00:00", "add"),
    (TWO, 0, len(TEXT_TWO), "return_home", "bob", "2026-03-02T11:00:00+00:00", "add"),
}


def stored(project: Path, *, canonical: bool = False) -> tuple[dict, dict, set]:
    """Texts, attributes (raw or canonical values) and decisions of a project."""
    with Store.open(project, readonly=True) as store:
        texts = store.document_texts(store.doc_ids())
        attributes = (
            store.canonical_attribute_table()
            if canonical
            else {doc["doc_id"]: doc["attributes"] for doc in store.iter_documents() if doc["attributes"]}
        )
        decisions = {
            (d["doc_id"], d["start"], d["end"], d["code"], d["reviewer"], d["decided_at"], d["decision"])
            for d in store.review_decisions()
        }
    return texts, attributes, decisions


def test_maxqda_like_project_gives_documents_attributes_and_dated_codings_by_their_coder(tmp_path: Path) -> None:
    report = import_qdpx(write_qdpx(tmp_path / "m.qdpx"), project=tmp_path / "p.db")
    texts, attributes, decisions = stored(tmp_path / "p.db")
    assert texts == {ONE: TEXT_ONE, TWO: TEXT_TWO}  # exactly as in the file, CRLF kept
    assert TEXT_ONE[LEASE:LEASE_END] == "He had no lease, so the permit was impossible."  # offsets past a CRLF
    assert attributes == {ONE: {"sector": "education", "city": "Beijing"}, TWO: {"sector": "healthcare"}}
    assert decisions == EXPECTED_DECISIONS
    assert (report.added, report.users, report.uncoded_selections) == (2, ["alice", "bob"], 1)
    assert report.skipped == [
        "Policy.pdf: a PDF source (only text sources are read)",
        "Interview 3.m4a: a audio source (only text sources are read)",
    ]
    assert report.exit_code == 1 and report.problems == []


@pytest.mark.parametrize(
    "options",
    [
        {"folder": "Sources"},  # older MAXQDA and our own earlier exports
        {"bom": True, "plain_text_path": "{guid}.txt"},  # QualCoder: BOM, bare file name
        {"qde_name": "Fieldwork 2026.qde", "cases": False, "sets": False},  # ATLAS.ti: .qde named after the project
        {"inline": True},  # text inside the project file
        {"origin": "NVivo 15 for Mac"},  # positions count a CRLF as two characters
        {"origin": "ATLAS.ti 24"},  # positions count a CRLF as one character
        {"origin": "Some tool", "names": True},  # unknown producer: the selections' names show the counting
    ],
    ids=[
        "Sources",
        "qualcoder-bom-bare-name",
        "atlas-named-qde",
        "inline-text",
        "nvivo-crlf-two",
        "atlas-crlf-one",
        "names-decide",
    ],
)
@pytest.mark.slow
def test_what_other_producers_write_imports_the_same(tmp_path: Path, options: dict) -> None:
    import_qdpx(write_qdpx(tmp_path / "x.qdpx", **options), project=tmp_path / "p.db")
    texts, attributes, decisions = stored(tmp_path / "p.db")
    assert texts == {ONE: TEXT_ONE, TWO: TEXT_TWO} and decisions == EXPECTED_DECISIONS
    assert attributes[ONE] == (
        {"sector": "education"} if options.get("cases") is False else {"sector": "education", "city": "Beijing"}
    )


@pytest.mark.parametrize("inline", [False, True])
def test_the_fixture_projects_are_valid_refi_qda(inline: bool) -> None:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(FIXTURES / "Project-mrt2019.xsd")))
    assert schema.validate(etree.fromstring(project_xml(standard_sources(), inline=inline).encode())), schema.error_log


def test_selection_names_override_what_the_producer_usually_counts(tmp_path: Path) -> None:
    path = write_qdpx(tmp_path / "m.qdpx", names=True)  # MAXQDA-style positions, with names
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["project.qde"] = members["project.qde"].replace(b"origin='MAXQDA 24'", b"origin='NVivo 15'")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    import_qdpx(path, project=tmp_path / "p.db")  # NVivo would count two, but the names say one
    assert stored(tmp_path / "p.db")[2] == EXPECTED_DECISIONS


def test_a_qde_beside_its_sources_folder_imports(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    for source in standard_sources():
        (tmp_path / "sources" / f"{source.guid}.txt").write_bytes(source.text.encode("utf-8"))
    (tmp_path / "Fieldwork.qde").write_text(project_xml(standard_sources()), encoding="utf-8")
    import_qdpx(tmp_path / "Fieldwork.qde", project=tmp_path / "p.db")
    assert stored(tmp_path / "p.db")[2] == EXPECTED_DECISIONS


def test_codebook_of_the_project_keeps_nesting_and_sets(tmp_path: Path) -> None:
    book = read_qdc(write_qdpx(tmp_path / "m.qdpx"))
    assert [(c.id, c.group) for c in book.codes] == [
        ("barriers", "Barriers"),
        ("paperwork", "Barriers"),
        ("class_size", "Barriers"),
        ("return_home", "Consequences"),
    ]
    assert any("Key codes" in note for note in book.notes)  # the set's member already has a group: said so


@pytest.mark.slow
def test_reimporting_the_same_file_updates_instead_of_duplicating(tmp_path: Path) -> None:
    path = write_qdpx(tmp_path / "m.qdpx")
    import_qdpx(path, project=tmp_path / "p.db")
    again = import_qdpx(path, project=tmp_path / "p.db")
    assert (again.added, again.updated, again.unchanged, again.new, again.changed, again.same) == (0, 0, 2, 0, 0, 5)
    sources = standard_sources()
    sources[1].text = TEXT_TWO + " Later she came back."
    sources[1].values["sector"] = "health"
    changed = import_qdpx(write_qdpx(tmp_path / "m.qdpx", sources), project=tmp_path / "p.db")
    texts, attributes, decisions = stored(tmp_path / "p.db")
    assert (changed.updated, changed.unchanged) == (1, 1) and len(texts) == 2
    assert texts[TWO].endswith("came back.") and attributes[TWO] == {"sector": "health"}
    assert decisions == EXPECTED_DECISIONS
    sources[0].selections = sources[0].selections[:1]  # the lease sentence's codings removed in the other tool
    fewer = import_qdpx(write_qdpx(tmp_path / "m.qdpx", sources), project=tmp_path / "p.db")
    assert fewer.withdrawn == 2 and fewer.new == 0
    assert stored(tmp_path / "p.db")[2] == {d for d in EXPECTED_DECISIONS if d[1] != LEASE}
    with Store.open(tmp_path / "p.db", readonly=True) as store:  # and their effect: no hand coding left there
        assert [c for c in store.coding_rows() if c["start"] == LEASE] == []


def test_two_users_who_coded_the_same_text_keep_a_decision_each(tmp_path: Path) -> None:
    from phantomcode.agree import agreement
    from phantomcode.store import Store

    sources = standard_sources()
    start, end, codings = sources[0].selections[1]  # the lease sentence: alice's paperwork, bob's class size
    sources[0].selections[1] = (start, end, [*codings, ("bob", ["Paperwork"], "2026-03-03T08:00:00Z")])
    project = tmp_path / "p.db"
    report = import_qdpx(write_qdpx(tmp_path / "m.qdpx", sources), project=project)
    assert report.problems == [] and report.new == 6, "bob's paperwork is his own decision, not dropped"
    with Store.open(project, readonly=True) as store:  # kept per reviewer, as review import keeps them
        lease = sorted(d.reviewer for d in store.reviewer_decisions() if (d.start, d.code) == (LEASE, "paperwork"))
    assert lease == ["alice", "bob"]
    with Store.open(project, readonly=True) as store:
        assert store.reviewers() == ["alice", "bob"]
    both = agreement(["alice", "bob"], project=project, codes=["paperwork"])
    assert both.per_code[0].positives == {"alice": 2, "bob": 1}
    sources[0].selections[1] = (start, end, codings)  # bob's paperwork removed in the other tool
    fewer = import_qdpx(write_qdpx(tmp_path / "m.qdpx", sources), project=project)
    assert fewer.withdrawn == 1
    with Store.open(project, readonly=True) as store:  # alice's decision still applies to the coding
        assert [d["reviewer"] for d in store.review_decisions() if (d["start"], d["code"]) == (LEASE, "paperwork")] == [
            "alice"
        ]
        assert len([c for c in store.coding_rows(code="paperwork") if c["start"] == LEASE]) == 1
    assert agreement(["alice", "bob"], project=project, codes=["paperwork"]).per_code[0].positives == {
        "alice": 2,
        "bob": 0,
    }


def test_a_different_document_with_the_same_id_is_left_alone_and_named(tmp_path: Path) -> None:
    import_qdpx(write_qdpx(tmp_path / "a.qdpx"), project=tmp_path / "p.db")
    sources = standard_sources()
    sources[0].text = "Another text altogether, long enough for its selections: " + "x" * 200
    report = import_qdpx(write_qdpx(tmp_path / "b.qdpx", sources), project=tmp_path / "p.db")
    assert any(s.startswith(f"{ONE}: the project already holds a different document") for s in report.skipped)
    assert stored(tmp_path / "p.db")[0][ONE] == TEXT_ONE


def test_broken_files_are_named_with_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "not.qdpx").write_text("<Project/>", encoding="utf-8")
    with pytest.raises(UsageError, match="not.qdpx: not a .qdpx project"):
        import_qdpx(tmp_path / "not.qdpx", project=tmp_path / "p.db")
    with zipfile.ZipFile(tmp_path / "empty.qdpx", "w") as archive:
        archive.writestr("sources/a.txt", "text")
    with pytest.raises(UsageError, match="a zip archive with no project.qde at its top"):
        import_qdpx(tmp_path / "empty.qdpx", project=tmp_path / "p.db")
    with zipfile.ZipFile(tmp_path / "bad.qdpx", "w") as archive:
        archive.writestr("project.qde", "<Project xmlns='urn:QDA-XML:project:1.0'>\n<Sources>")
    with pytest.raises(UsageError, match=r"bad.qdpx!project.qde:2: not well-formed XML"):
        import_qdpx(tmp_path / "bad.qdpx", project=tmp_path / "p.db")


def test_selections_outside_the_text_or_with_unknown_codes_are_reported(tmp_path: Path) -> None:
    sources = standard_sources()
    sources[1].selections.append((5, 10_000, [("bob", ["Return home"], "2026-03-02T11:00:00Z")]))
    path = write_qdpx(tmp_path / "m.qdpx", sources)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["project.qde"] = members["project.qde"].replace(
        b"name='Class size' isCodable='true'", b"name='Class size' isCodable='false'"
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    report = import_qdpx(path, project=tmp_path / "p.db")
    assert any("outside the text of 71 characters" in p for p in report.problems)
    assert any(
        "A1000000-0000-4000-8000-000000000003".lower() in p and "not a codable code" in p for p in report.problems
    )
    assert len(stored(tmp_path / "p.db")[2]) == 4


# -- round trip through our own export ------------------------------------------------------------


@pytest.mark.slow
def test_our_export_imports_back_to_identical_documents_attributes_and_codings(project_from, tmp_path: Path) -> None:
    from phantomcode.ingest import code_project
    from phantomcode.review import import_review
    from phantomcode.store import Store

    original = project_from({"a.md": NOTE_A, "b.md": NOTE_B})
    (tmp_path / "d.csv").write_text(
        "key,code,decision,correct_code,note\n"
        "BJ-01:0-86:paperwork,paperwork,accept,,clear\n"
        "SH-01:0-71:return_home,return_home,accept,,\n"
        "BJ-01:0-86:paperwork,paperwork,add,extra_fees,a fee\n",
        encoding="utf-8",
    )
    assert import_review(tmp_path / "d.csv", project=original, reviewer="ana").problems == []
    export_qdpx(project=original, out=tmp_path / "p.qdpx")
    report = import_qdpx(tmp_path / "p.qdpx", project=tmp_path / "copy.db")
    assert report.exit_code == 0 and report.users == ["ana"]
    code_project(project=tmp_path / "copy.db")

    def snapshot(path: Path) -> tuple:
        texts, attributes, _ = stored(path, canonical=True)  # the export writes canonical values
        with Store.open(path, readonly=True) as store:
            codings = [
                (c["doc_id"], c["start"], c["end"], c["code"], c["reviewer"], c["decided_at"], c["note"])
                for c in store.exchange_codings()
            ]
        return texts, attributes, codings

    before, after = snapshot(original), snapshot(tmp_path / "copy.db")
    assert after[0] == before[0]  # documents
    assert after[2] == before[2] and len(after[2]) == 3  # accepted codings with reviewer, date and note
    assert after[1] == before[1] and after[1]["SH-01"]["respondent_type"] == "doctor_hospital"  # attributes


def test_importing_a_project_coded_elsewhere_back_into_its_own_project_adds_codings(
    project_from, tmp_path: Path
) -> None:
    original = project_from({"a.md": NOTE_A, "b.md": NOTE_B})
    export_qdpx(project=original, out=tmp_path / "p.qdpx", include_unreviewed=True)
    report = import_qdpx(tmp_path / "p.qdpx", project=original)
    assert (report.unchanged, report.added, report.skipped) == (2, 0, [])
    assert report.rule_codings > 0 and report.users == []  # the rules' own codings are not hand codings


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_import_reports_and_writes_the_codebook(runner, tmp_path: Path) -> None:
    from phantomcode.cli import app
    from phantomcode.codebook import lint_codebook

    path = write_qdpx(tmp_path / "m.qdpx")
    result = runner.invoke(
        app,
        ["import", "qdpx", str(path), "--project", str(tmp_path / "p.db"), "--codebook-out", str(tmp_path / "cb.yaml")],
    )
    assert result.exit_code == 1, result.output  # two sources skipped
    assert "2 documents (2 added" in result.output and "5 add" in result.output
    assert "2 source(s) skipped:" in result.output and "skipped: Policy.pdf: a PDF source" in result.output
    assert "1 selection(s) without a code" in result.output
    assert [p for p in lint_codebook(tmp_path / "cb.yaml") if p.severity == "error"] == []
    from phantomcode import load_codebook

    written = load_codebook(tmp_path / "cb.yaml").code_ids()  # the ids the decisions use, to fill with rules
    assert {code for *_, code, _, _, _ in EXPECTED_DECISIONS} <= set(written)
    again = runner.invoke(app, ["import", "qdpx", str(tmp_path / "missing.qdpx"), "--project", str(tmp_path / "p.db")])
    assert again.exit_code == 2 and "missing.qdpx: no such file" in again.output


# -- agreement of imported hand coding with the rules -------------------------------------------------


@pytest.mark.slow
def test_imported_hand_coding_is_compared_with_the_rules(runner, tmp_path: Path) -> None:
    from phantomcode.agree import agreement
    from phantomcode.cli import app
    from phantomcode.ingest import code_project

    project = tmp_path / "p.db"
    import_qdpx(write_qdpx(tmp_path / "m.qdpx"), project=project)
    code_project(project=project)
    report = agreement(["imported", "auto"], project=project, codes=["paperwork", "class_size", "return_home"])
    by_code = {row.code: row for row in report.per_code}
    with Store.open(project, readonly=True) as store:
        auto = {
            c["code"]
            for c in store.coding_rows()
            if c["rule"] != Store.REVIEW_ADD_RULE and not c["negated"] and not c["hypothetical"]
        }
    assert {"paperwork", "return_home"} <= auto  # the rules code these notes too
    assert by_code["paperwork"].positives["imported"] == 2  # alice's two paperwork sentences
    assert by_code["return_home"].percent == 1.0  # bob and the rules agree on the hometown sentence
    assert by_code["class_size"].positives["imported"] >= 1  # bob coded the lease sentence as class size
    from phantomcode.review import review_stats

    stats = {row.code: row for row in review_stats(project=project).per_code}
    assert (stats["paperwork"].accepted, stats["paperwork"].added) == (2, 0)  # the rules made both: confirmed
    assert stats["barriers"].added == 1  # a code the rules do not have: missed
    alice = agreement(["alice", "auto"], project=project, codes=["class_size"])
    assert alice.per_code[0].positives["alice"] == 0  # bob's coding is not alice's
    result = runner.invoke(app, ["agree", "imported", "auto", "--project", str(project), "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["coders"] == ["imported", "auto"] and shown["units"] == report.units
    missing = runner.invoke(app, ["agree", "carol", "auto", "--project", str(project)])
    assert missing.exit_code == 2 and "reviewers: alice, bob" in missing.output


@pytest.mark.slow
def test_imported_needs_an_import_first(project_from) -> None:
    from phantomcode.agree import agreement

    project = project_from({"a.md": NOTE_A})
    with pytest.raises(UsageError, match="no hand coding was imported"):
        agreement(["imported", "auto"], project=project)


def test_imported_hand_coding_exports_as_its_coders_codings_and_validates(tmp_path: Path) -> None:
    from lxml import etree

    from phantomcode.qda import stable_guid

    import_qdpx(write_qdpx(tmp_path / "m.qdpx"), project=tmp_path / "p.db")
    export_qdpx(project=tmp_path / "p.db", out=tmp_path / "out.qdpx")
    with zipfile.ZipFile(tmp_path / "out.qdpx") as archive:
        root = etree.fromstring(archive.read("project.qde"))
    schema = etree.XMLSchema(etree.parse(str(FIXTURES / "Project-mrt2019.xsd")))
    assert schema.validate(root), schema.error_log
    ns = "{urn:QDA-XML:project:1.0}"
    made = sorted((c.get("creatingUser"), c.get("creationDateTime")) for c in root.iter(f"{ns}Coding"))
    assert made == sorted(
        (stable_guid("user", user), when.replace("+00:00", "Z")) for *_, user, when, _ in EXPECTED_DECISIONS
    )


def test_a_coding_memo_in_the_selection_description_becomes_the_note(tmp_path: Path) -> None:
    path = write_qdpx(tmp_path / "m.qdpx")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    first = members["project.qde"].index(b"<PlainTextSelection")  # QualCoder keeps a coding memo here
    end = members["project.qde"].index(b">", first) + 1
    members["project.qde"] = (
        members["project.qde"][:end]
        + b"<Description>Clear: the five documents.</Description>"
        + members["project.qde"][end:]
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    import_qdpx(path, project=tmp_path / "p.db")
    with Store.open(tmp_path / "p.db", readonly=True) as store:
        notes = {d["code"]: d["note"] for d in store.review_decisions() if (d["start"], d["doc_id"]) == (0, ONE)}
    assert notes == {"paperwork": "Clear: the five documents.", "barriers": "Clear: the five documents."}
