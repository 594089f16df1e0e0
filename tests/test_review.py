"""Review: the sheet out, decisions in (with row-numbered problems), stats, and decisions that
survive re-coding, re-ingest and edits of the notes."""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import pytest
from note_texts import BEIJING, FULL, HOMETOWN, INSURANCE, LEASE, NEGATED, WUZHENG, note  # tests/ is on the path

from phantomcode import code_project, ingest
from phantomcode.errors import UsageError
from phantomcode.review import (
    coding_key,
    export_review,
    import_review,
    parse_coding_key,
    read_review_sheet,
    review_stats,
    wilson_interval,
)
from phantomcode.store import Store

NOTE_A = note(*BEIJING, NEGATED, id="BJ-01", city="Beijing", sector="education")
NOTE_B = note(HOMETOWN, INSURANCE, id="SH-01", city="Shanghai", sector="healthcare")
FIRST = WUZHENG


def write_notes(folder: Path, a: str = NOTE_A, b: str = NOTE_B) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.md").write_text(a, encoding="utf-8")
    (folder / "b.md").write_text(b, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review")
    ingest(write_notes(root / "notes"), project=root / "template.db", jobs=1)
    return root / "template.db"


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "project.db"
    shutil.copy(template, path)
    return path


def offsets(text: str, sentence: str) -> tuple[int, int]:
    start = text.index(sentence)
    return start, start + len(sentence)


def body(note: str) -> str:
    return note.split("---\n", 2)[2]


def key(doc_id: str, sentence: str, code: str, note: str = NOTE_A) -> str:
    return coding_key(doc_id, *offsets(body(note), sentence), code)


def statuses(project: Path) -> dict[tuple[str, int, int, str], tuple[str, str, int]]:
    with Store.open(project, readonly=True) as store:
        return {
            (c["doc_id"], c["start"], c["end"], c["code"]): (c["status"], c["rule"], int(c["negated"]))
            for c in store.coding_rows()
        }


def sheet_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_sheet(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in columns})
    return path


def exported(project: Path, tmp_path: Path, **options) -> list[dict[str, str]]:
    out = tmp_path / "review.csv"
    export_review(project=project, out=out, **options)
    return sheet_rows(out)


# -- keys ------------------------------------------------------------------------------------------


def test_coding_keys_round_trip_even_with_colons_in_the_document_id() -> None:
    assert parse_coding_key(coding_key("beijing/int:03", 5, 40, "paperwork")) == ("beijing/int:03", 5, 40, "paperwork")
    assert parse_coding_key("BJ-01:40-5:paperwork") is None
    assert parse_coding_key("BJ-01:5-40:Paper Work") is None


# -- export ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_export_has_one_row_per_counted_coding_with_context_key_and_empty_decision_columns(project, tmp_path) -> None:
    rows = exported(project, tmp_path)
    assert len(rows) == 6  # the negated coding is left out unless asked for
    first = rows[0]
    assert list(first)[:7] == ["doc_id", "code", "label", "segment", "decision", "correct_code", "note"], (
        "the columns to fill in beside the segment"
    )
    assert list(first)[-3:] == ["start", "end", "key"] and {"city", "id"} <= set(first)
    assert first["key"] == key("BJ-01", FIRST, "office_runaround")
    assert first["segment"] == FIRST and first["before"] == ""
    assert first["after"].startswith("He had no lease")
    assert first["city"] == "Beijing" and first["sector"] == "education"
    assert first["rule"] == "office_runaround/near[0]" and first["matched"] == "told him to bring | street office"
    assert first["label"] == "Office runaround" and first["status"] == "auto"
    assert all(row["decision"] == row["correct_code"] == row["note"] == "" for row in rows)
    flagged = exported(project, tmp_path, include_flagged=True)
    negated = [row for row in flagged if row["flags"]]
    assert len(flagged) == 7 and negated[0]["flags"] == "negated (cue: not)"
    assert negated[0]["segment"] == "'" + NEGATED  # formula-like text is neutralised in CSV


@pytest.mark.slow
def test_export_filters_by_code_and_attribute_and_rejects_unknown_ones(project, tmp_path) -> None:
    assert {r["code"] for r in exported(project, tmp_path, codes=["paperwork"])} == {"paperwork"}
    assert {r["doc_id"] for r in exported(project, tmp_path, where={"city": "Shanghai"})} == {"SH-01"}
    both = exported(project, tmp_path, where={"city": ["Shanghai", "Beijing"]}, codes=["return_home"])
    assert [row["doc_id"] for row in both] == ["SH-01"]
    with pytest.raises(UsageError, match="unknown code 'paperwrk'"):
        export_review(project=project, out=tmp_path / "x.csv", codes=["paperwrk"])
    with pytest.raises(UsageError, match="unknown attribute 'town'"):
        export_review(project=project, out=tmp_path / "x.csv", where={"town": "Beijing"})
    with pytest.raises(
        UsageError,
        match=r"where city=Paris: no document has this value; values of city: "
        r"Beijing \(1\), Shanghai \(1\)",
    ):
        export_review(project=project, out=tmp_path / "x.csv", where={"city": "Paris"})
    for spelling in ("beijing", "北京", "Peking"):  # case and codebook aliases, as reports accept them
        assert {r["doc_id"] for r in exported(project, tmp_path, where={"city": spelling})} == {"BJ-01"}
    with pytest.raises(UsageError, match="needs --out"):
        export_review(project=project, fmt="xlsx")


def test_a_sample_is_repeatable_and_lists_whole_segments(project, tmp_path) -> None:
    first = export_review(project=project, out=tmp_path / "a.csv", sample=2, seed=11)
    again = export_review(project=project, out=tmp_path / "b.csv", sample=2, seed=11)
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert first.segments == 2 and first.segments_available == 5 and first.seed == 11 and again.rows == first.rows
    chosen = {(r["doc_id"], r["start"], r["end"]) for r in sheet_rows(tmp_path / "a.csv")}
    everything = exported(project, tmp_path)
    assert len(sheet_rows(tmp_path / "a.csv")) == sum((r["doc_id"], r["start"], r["end"]) in chosen for r in everything)
    unseeded = export_review(project=project, out=tmp_path / "c.csv", sample=1)
    assert unseeded.seed is not None  # chosen and reported, so the draw can be repeated


def test_xlsx_sheet_reads_back_with_its_help_sheet_and_decision_choices(project, tmp_path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "review.xlsx"
    result = export_review(project=project, out=out, include_flagged=True, sample=10, seed=1)
    book = load_workbook(out)
    assert book.sheetnames == ["review", "how to review"]
    sheet = book["review"]
    assert sheet.data_validations.dataValidation[0].formula1 == '"accept,reject,add"'
    header = [cell.value for cell in sheet[1]]
    segments = [row[header.index("segment")] for row in sheet.iter_rows(min_row=2)]
    negated = next(cell for cell in segments if str(cell.value) == NEGATED)  # no apostrophe in xlsx
    assert negated.data_type == "s"  # text, never a formula
    assert sheet.freeze_panes == "E2" and header[3] == "segment", "frozen after the segment"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}{result.rows + 1}"
    rich = load_workbook(out, rich_text=True)["review"]
    first = rich.cell(2, header.index("segment") + 1).value
    bold = [block.text for block in first if not isinstance(block, str) and block.font.b]
    assert bold == ["told him to bring", "street office"], "the matched words stand out"
    assert result.segments == 6 and "seed 1" in " ".join(str(c.value) for c in book["how to review"]["A"])
    rows = read_review_sheet(out)
    assert len(rows) == result.rows and rows[0][0] == 2 and rows[0][1]["key"].startswith("BJ-01:")


# -- import ----------------------------------------------------------------------------------------


def test_review_round_trip_export_edit_import_stats(project, tmp_path) -> None:
    rows = exported(project, tmp_path, include_flagged=True)
    by_key = {row["key"]: row for row in rows}
    by_key[key("BJ-01", FIRST, "paperwork")]["decision"] = "accept"
    by_key[key("BJ-01", FIRST, "office_runaround")].update(decision="Reject", note="=a note that looks like a formula")
    by_key[key("BJ-01", FULL, "class_size")].update(decision="reject", correct_code="unexplained_refusal")
    by_key[key("BJ-01", NEGATED, "paperwork")]["decision"] = "accept"  # the negation was wrong
    copied = dict(by_key[key("BJ-01", LEASE, "paperwork")], decision="add", code="residency_duration")
    new_row = {"doc_id": "SH-01", "segment": HOMETOWN, "code": "deterred", "decision": "add"}
    sheet = write_sheet(tmp_path / "edited.csv", [*rows, copied, new_row], columns=list(rows[0]))
    # the CSV keeps the neutralising apostrophes of the export; import removes them again
    assert "'=a note" not in sheet.read_text(encoding="utf-8")
    sheet.write_text(sheet.read_text(encoding="utf-8").replace("=a note", "'=a note"), encoding="utf-8")

    result = import_review(sheet, project=project, reviewer="ana")
    assert result.problems == [] and result.warnings == [] and result.exit_code == 0
    assert result.decisions == {"accept": 2, "reject": 2, "add": 3} and result.new == 7

    found = statuses(project)
    a = body(NOTE_A)
    assert found[("BJ-01", *offsets(a, FIRST), "paperwork")][0] == "accepted"
    assert found[("BJ-01", *offsets(a, FIRST), "office_runaround")][0] == "rejected"
    assert found[("BJ-01", *offsets(a, FULL), "class_size")][0] == "rejected"
    assert found[("BJ-01", *offsets(a, FULL), "unexplained_refusal")] == ("accepted", "review/add", 0)
    assert found[("BJ-01", *offsets(a, NEGATED), "paperwork")] == ("accepted", "paperwork/near[0]", 0)
    assert found[("BJ-01", *offsets(a, LEASE), "residency_duration")] == ("accepted", "review/add", 0)
    assert found[("SH-01", *offsets(body(NOTE_B), HOMETOWN), "deterred")] == ("accepted", "review/add", 0)
    assert {status for status, _, _ in found.values()} <= {"auto", "accepted", "rejected"}
    with Store.open(project, readonly=True) as store:
        decisions = {d["code"]: d for d in store.review_decisions() if d["doc_id"] == "BJ-01" and d["start"] == 0}
    assert decisions["office_runaround"]["note"] == "=a note that looks like a formula"
    assert decisions["office_runaround"]["reviewer"] == "ana" and decisions["office_runaround"]["decided_at"]

    stats = review_stats(project=project)
    per_code = {c.code: c for c in stats.per_code}
    paperwork = per_code["paperwork"]
    assert (paperwork.proposals, paperwork.pending, paperwork.accepted, paperwork.rejected) == (2, 1, 1, 0)
    assert paperwork.added == 1  # accepting the negated coding: a coding the rules missed, not a hit
    assert per_code["office_runaround"].precision == 0.0 and per_code["class_size"].rejected == 1
    assert per_code["unexplained_refusal"].added == 1 and per_code["deterred"].added == 1
    assert (stats.total.accepted, stats.total.rejected, stats.total.added, stats.total.reviewed) == (1, 2, 4, 3)
    assert stats.total.precision == pytest.approx(1 / 3)
    assert (stats.total.precision_low, stats.total.precision_high) == pytest.approx(wilson_interval(1, 3))
    assert stats.stale == ()

    second_coder = import_review(sheet, project=project, reviewer="bo")
    assert second_coder.new == 7 and second_coder.unchanged == second_coder.changed == 0, "bo's decisions are recorded"
    again = import_review(sheet, project=project, reviewer="bo")
    assert again.unchanged == 7 and again.new == again.changed == 0
    with Store.open(project, readonly=True) as store:
        assert {d["reviewer"] for d in store.review_decisions()} == {"ana"}  # the same decisions keep their reviewer
        assert store.reviewers() == ["ana", "bo"]
    pending = exported(project, tmp_path, pending=True)
    assert [row["key"] for row in pending] == [
        key("BJ-01", LEASE, "paperwork"),
        key("SH-01", HOMETOWN, "return_home", NOTE_B),
        coding_key("SH-01", 72, 132, "reimbursement_gap"),
    ]


def test_a_changed_decision_replaces_the_old_one_and_its_effect(project, tmp_path) -> None:
    target = key("BJ-01", FULL, "class_size")
    write_sheet(
        tmp_path / "one.csv",
        [{"key": target, "code": "class_size", "decision": "reject", "correct_code": "unexplained_refusal"}],
    )
    import_review(tmp_path / "one.csv", project=project, reviewer="ana")
    write_sheet(
        tmp_path / "two.csv",
        [
            {"key": target, "code": "class_size", "decision": "accept"},
            {"key": key("BJ-01", FULL, "unexplained_refusal"), "code": "unexplained_refusal", "decision": "reject"},
        ],
    )
    result = import_review(tmp_path / "two.csv", project=project, reviewer="ana")
    assert result.changed == 2 and result.problems == []
    found = statuses(project)
    span = offsets(body(NOTE_A), FULL)
    assert found[("BJ-01", *span, "class_size")][0] == "accepted"
    assert ("BJ-01", *span, "unexplained_refusal") not in found  # the rejected add leaves no coding behind


def test_bad_rows_are_reported_by_row_number_and_good_rows_still_apply(project, tmp_path) -> None:
    good = key("BJ-01", FIRST, "paperwork")
    rows = [
        {"key": good, "code": "paperwork", "decision": "accept"},  # row 2: fine
        {"key": good.replace("paperwork", "class_size"), "code": "class_size", "decision": "maybe"},  # 3
        {"key": "BJ-01:zero-ten:paperwork", "code": "paperwork", "decision": "reject"},  # 4
        {
            "key": key("BJ-01", LEASE, "paperwork"),
            "code": "paperwork",
            "decision": "reject",
            "correct_code": "no_such_code",
        },  # 5
        {
            "doc_id": "BJ-01",
            "segment": "A sentence that is not in the note.",
            "code": "deterred",
            "decision": "add",
        },  # 6
        {"doc_id": "BJ-01", "code": "deterred", "decision": "add"},  # 7
        {"doc_id": "XX-99", "segment": FIRST, "code": "deterred", "decision": "add"},  # 8
        {"doc_id": "BJ-01", "segment": "school", "code": "deterred", "decision": "add"},  # 9
        {"doc_id": "BJ-01", "code": "deterred", "decision": "reject", "segment": FULL},  # 10
        {"key": good, "code": "class_size", "decision": "accept"},  # 11
        {"key": good, "code": "paperwork", "decision": "reject"},  # 12
        {"key": good, "code": "paperwork", "decision": "", "note": "unsure"},  # 13
        {"key": good, "code": "paperwork", "decision": "accept", "correct_code": "deterred"},  # 14
        {"key": key("SH-01", HOMETOWN, "return_home", NOTE_B), "code": "return_home", "decision": "add"},  # 15
        {"key": good, "doc_id": "SH-01", "code": "paperwork", "decision": "accept"},  # 16
        {"key": coding_key("BJ-01", 0, 99999, "paperwork"), "code": "paperwork", "decision": "accept"},  # 17
        {"doc_id": "SH-01", "start": "72", "end": "132", "code": "deterred", "decision": "add"},  # 18: fine
    ]
    columns = ["key", "doc_id", "start", "end", "segment", "code", "decision", "correct_code", "note"]
    result = import_review(write_sheet(tmp_path / "bad.csv", rows, columns), project=project, reviewer="ana")
    problems = "\n".join(result.problems)
    for number, words in [
        (3, "unknown decision 'maybe'"),
        (4, "is not doc_id:start-end:code"),
        (5, "'no_such_code' is not a code"),
        (6, "not in BJ-01"),
        (7, "needs the segment text or start and end"),
        (8, "no document 'XX-99'"),
        (9, "occurs 3 times in BJ-01; give start and end"),
        (10, "reject needs the row's key"),
        (11, "code 'class_size' disagrees with the key's 'paperwork'"),
        (12, "a second, different decision"),
        (13, "note without a decision"),
        (14, "correct_code goes with reject"),
        (15, "write accept to confirm it"),
        (16, "disagrees with the key"),
        (17, "beyond the end of BJ-01"),
    ]:
        line = next((p for p in result.problems if p.startswith(f"row {number}: ")), "")
        assert words in line, (number, problems)
    assert len(result.problems) == 15 and result.exit_code == 1
    assert result.decisions == {"accept": 1, "add": 1}
    found = statuses(project)
    assert found[("BJ-01", *offsets(body(NOTE_A), FIRST), "paperwork")][0] == "accepted"
    assert found[("SH-01", 72, 132, "deterred")] == ("accepted", "review/add", 0)


def test_unreadable_sheets_are_usage_errors(project, tmp_path) -> None:
    (tmp_path / "not.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="not a review sheet"):
        import_review(tmp_path / "not.csv", project=project)
    with pytest.raises(UsageError, match="no such file"):
        import_review(tmp_path / "missing.csv", project=project)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(UsageError, match="cannot read this xlsx"):
        import_review(tmp_path / "broken.xlsx", project=project)


def test_semicolon_utf16_csv_saved_by_a_spreadsheet_reads_back(project, tmp_path) -> None:
    text = f"key;code;decision;note\n{key('BJ-01', FIRST, 'paperwork')};paperwork;accept;déjà vu\n"
    (tmp_path / "excel.csv").write_bytes(text.replace("\n", "\r\n").encode("utf-16"))  # BOM + UTF-16LE
    result = import_review(tmp_path / "excel.csv", project=project, reviewer="ana")
    assert result.problems == [] and result.decisions == {"accept": 1}
    with Store.open(project, readonly=True) as store:
        assert store.review_decisions()[0]["note"] == "déjà vu"


# -- decisions that outlive re-coding, re-ingest and edits -------------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> tuple[Path, Path]:
    """A project whose notes folder the test may edit, with three decisions in it."""
    notes = write_notes(tmp_path / "notes")
    project = tmp_path / "live.db"
    ingest(notes, project=project, jobs=1)
    write_sheet(
        tmp_path / "d.csv",
        [
            {"key": key("BJ-01", FIRST, "paperwork"), "code": "paperwork", "decision": "reject"},
            {"key": key("BJ-01", LEASE, "paperwork"), "code": "paperwork", "decision": "accept"},
            {"doc_id": "SH-01", "segment": HOMETOWN, "code": "deterred", "decision": "add"},
        ],
        columns=["key", "doc_id", "segment", "code", "decision"],
    )
    assert import_review(tmp_path / "d.csv", project=project, reviewer="ana").problems == []
    return notes, project


def reviewed_state(project: Path) -> dict[tuple[str, str], str]:
    """(first words of the segment, code) -> status, for every coding with a decision."""
    with Store.open(project, readonly=True) as store:
        return {(c["text"][:20], c["code"]): c["status"] for c in store.coding_rows() if c["status"] != "auto"}


EXPECTED = {
    (FIRST[:20], "paperwork"): "rejected",
    (LEASE[:20], "paperwork"): "accepted",
    (HOMETOWN[:20], "deterred"): "accepted",
}


@pytest.mark.slow
def test_decisions_survive_forced_recoding_and_reingest_of_unchanged_notes(live) -> None:
    notes, project = live
    assert reviewed_state(project) == EXPECTED
    code_project(project=project, force=True, jobs=1)
    assert reviewed_state(project) == EXPECTED
    report = ingest(notes, project=project, jobs=1)
    assert report.unchanged == 2
    assert reviewed_state(project) == EXPECTED
    assert review_stats(project=project).stale == ()


@pytest.mark.slow
def test_decisions_on_changed_text_are_kept_reported_and_apply_again_when_it_returns(live, tmp_path) -> None:
    notes, project = live
    write_notes(notes, a=NOTE_A.replace("He had no lease", "He had no rental lease"))
    ingest(notes, project=project, jobs=1)
    assert reviewed_state(project) == {k: v for k, v in EXPECTED.items() if k[0] != LEASE[:20]}
    stats = review_stats(project=project)
    assert [(s.doc_id, s.code, s.decision, s.text) for s in stats.stale] == [("BJ-01", "paperwork", "accept", LEASE)]
    assert stats.decisions == 3 and stats.total.accepted == 0  # stale decisions are not counted in the figures
    write_sheet(
        tmp_path / "noop.csv", [{"key": key("BJ-01", FIRST, "paperwork"), "code": "paperwork", "decision": "reject"}]
    )
    assert import_review(tmp_path / "noop.csv", project=project).stale == 1
    write_notes(notes)  # the text comes back
    ingest(notes, project=project, jobs=1)
    assert reviewed_state(project) == EXPECTED and review_stats(project=project).stale == ()


@pytest.mark.slow
def test_decisions_follow_their_sentence_when_text_is_inserted_before_it(live) -> None:
    notes, project = live
    write_notes(notes, a=NOTE_A.replace("The school told", "A new opening line.\n\nThe school told"))
    ingest(notes, project=project, jobs=1)
    assert reviewed_state(project) == EXPECTED
    assert review_stats(project=project).stale == ()
    with Store.open(project, readonly=True) as store:
        moved = [d for d in store.review_decisions() if d["code"] == "paperwork" and d["decision"] == "reject"]
    assert moved[0]["start"] == len("A new opening line.\n\n")


@pytest.mark.slow
def test_a_pruned_note_leaves_its_decisions_reported_not_lost(live) -> None:
    notes, project = live
    (notes / "b.md").unlink()
    ingest(notes, project=project, jobs=1, prune=True)
    stale = review_stats(project=project).stale
    assert [(s.doc_id, s.code, s.document_exists) for s in stale] == [("SH-01", "deterred", False)]


def test_sheet_text_that_no_longer_matches_the_note_is_stored_and_warned_about(project, tmp_path) -> None:
    rows = exported(project, tmp_path, codes=["paperwork"])
    rows[0].update(decision="accept", segment="The school told him something else entirely.")
    result = import_review(write_sheet(tmp_path / "s.csv", rows), project=project)
    assert result.problems == [] and "row 2: the note's text" in result.warnings[0]
    assert result.stale == 1
    assert statuses(project)[("BJ-01", *offsets(body(NOTE_A), FIRST), "paperwork")][0] == "auto"


@pytest.mark.slow
def test_review_stats_report_accepted_codings_the_rules_no_longer_make(live, tmp_path) -> None:
    notes, project = live
    book = tmp_path / "narrow.yaml"
    book.write_text(
        'name: narrow\nversion: "1"\ngroups:\n  mechanisms: [paperwork]\ncodes:\n'
        "  - id: paperwork\n    label: Paperwork barriers\n    definition: Documents.\n"
        "    terms: [wuzheng]\n",
        encoding="utf-8",
    )
    code_project(project=project, codebook=book, jobs=1)
    paperwork = {c.code: c for c in review_stats(project=project).per_code}["paperwork"]
    assert (paperwork.lost, paperwork.accepted, paperwork.rejected, paperwork.proposals) == (1, 0, 1, 1)


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 0) == (None, None)


def test_read_review_sheet_strips_formula_guards_only_before_formula_characters(tmp_path) -> None:
    text = "key,code,decision,note\nK:0-1:a,a,accept,'=SUM(A1)\nK:0-1:b,b,accept,'quoted\n"
    (tmp_path / "g.csv").write_text(text)
    rows = read_review_sheet(tmp_path / "g.csv")
    assert [cells["note"] for _, cells in rows] == ["=SUM(A1)", "'quoted"]
    assert [number for number, _ in rows] == [2, 3]


def test_the_reviewer_is_the_option_else_the_sheet_column_else_the_user(project, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("USER", "envuser")
    rows = [
        {"key": key("BJ-01", FIRST, "paperwork"), "code": "paperwork", "decision": "accept", "reviewer": "cy"},
        {"key": key("BJ-01", LEASE, "paperwork"), "code": "paperwork", "decision": "accept", "reviewer": ""},
    ]
    sheet = write_sheet(tmp_path / "r.csv", rows)
    import_review(sheet, project=project)
    with Store.open(project, readonly=True) as store:
        assert sorted(d["reviewer"] for d in store.review_decisions()) == ["cy", "envuser"]
    rows[0]["decision"] = rows[1]["decision"] = "reject"
    import_review(write_sheet(tmp_path / "r.csv", rows), project=project, reviewer="dee")
    with Store.open(project, readonly=True) as store:
        assert {d["reviewer"] for d in store.review_decisions()} == {"dee"}


def test_a_project_from_before_reviews_is_upgraded(tmp_path, monkeypatch) -> None:
    from phantomcode import store as store_module

    path = tmp_path / "old.db"
    older = store_module.MIGRATIONS[:6]  # before migration 7, reviewer_decisions
    monkeypatch.setattr(store_module, "MIGRATIONS", older)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(older))
    Store.open(path).close()
    monkeypatch.undo()
    with Store.open(path, readonly=True) as store:
        assert store.review_decisions() == [] and store.review_proposals() == {}


def test_decisions_made_before_reviewers_were_kept_apart_become_that_reviewers(
    project, tmp_path, undo_learned_layer_migration
) -> None:

    sheet = tmp_path / "sheet.csv"
    export_review(project=project, out=sheet)
    rows = sheet_rows(sheet)
    rows[0]["decision"] = "reject"
    import_review(write_sheet(sheet, rows), project=project, reviewer="ana")
    with sqlite3.connect(project) as connection:  # back to schema 6, which kept one decision per coding
        undo_learned_layer_migration(connection)
        connection.execute("DROP TABLE reviewer_decisions")
        connection.execute("DELETE FROM migrations WHERE version >= 7")
        connection.execute("PRAGMA user_version = 6")
    with Store.open(project, readonly=True) as store:
        assert store.reviewers() == ["ana"]
        assert store.agreement_units(reviewed_only=True, reviewer="ana") == store.agreement_units(reviewed_only=True)
