"""REFI-QDA: .qdc and .qdpx validated against the REFI-QDA 1.0 schemas (tests/fixtures/refi_qda),
checked rule by rule, and our own .qdc re-imported without loss."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from note_texts import BEIJING, HOMETOWN, note  # tests/ is on the path

from phantomcode import load_codebook
from phantomcode.codebook import lint_codebook
from phantomcode.errors import UsageError
from phantomcode.qda import (
    CODEBOOK_NS,
    PROJECT_NS,
    codebook_to_qdc,
    export_qdc,
    export_qdpx,
    qdc_to_yaml,
    read_qdc,
    stable_guid,
)
from phantomcode.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "refi_qda"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
COLOUR = re.compile(r"^#[0-9A-F]{6}$")
GUID_ATTRIBUTES = ("guid", "targetGUID", "creatingUser", "creatingUserGUID", "modifyingUser")


def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(FIXTURES / name)))


def assert_valid(xsd: str, document: etree._Element) -> None:
    checker = schema(xsd)
    assert checker.validate(document), checker.error_log


def check_guids_and_colours(root: etree._Element) -> None:
    """The rules checked by hand too: canonical lower-case GUIDs, #RRGGBB colours, unique guids."""
    seen = []
    for element in root.iter():
        for name in GUID_ATTRIBUTES:
            if element.get(name) is not None:
                assert GUID.match(element.get(name)), (element.tag, name, element.get(name))
        if element.get("guid") is not None:
            seen.append(element.get("guid"))
        if element.get("color") is not None:
            assert COLOUR.match(element.get("color"))
    assert len(seen) == len(set(seen))


# -- codebook --------------------------------------------------------------------------------------


def test_bundled_codebook_as_qdc_is_valid_and_stable() -> None:
    book = load_codebook()
    data = codebook_to_qdc(book)
    root = etree.fromstring(data)
    assert_valid("Codebook-mrt2019.xsd", root)
    check_guids_and_colours(root)
    assert root.tag == f"{{{CODEBOOK_NS}}}CodeBook" and data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    groups = root.findall(f"{{{CODEBOOK_NS}}}Codes/{{{CODEBOOK_NS}}}Code")
    assert [g.get("name") for g in groups] == list(book.groups)
    assert all(g.get("isCodable") == "false" for g in groups)
    paperwork = root.find(f".//{{{CODEBOOK_NS}}}Code[@guid='{stable_guid('code', 'paperwork')}']")
    assert paperwork.get("name") == "Paperwork barriers" and paperwork.get("isCodable") == "true"
    assert list(paperwork)[0].tag == f"{{{CODEBOOK_NS}}}Description"  # Description before any child Code
    assert paperwork.findtext(f"{{{CODEBOOK_NS}}}Description").startswith(book.code("paperwork").definition)
    assert codebook_to_qdc(load_codebook()) == data  # same GUIDs, colours and bytes every time
    colours = [c.get("color") for c in root.iter(f"{{{CODEBOOK_NS}}}Code") if c.get("isCodable") == "true"]
    assert len(set(colours)) == len(colours)  # twelve codes, twelve colours


def test_our_qdc_reimports_without_loss(tmp_path: Path) -> None:
    book = load_codebook()
    export_qdc(book, out=tmp_path / "d.qdc")
    imported = read_qdc(tmp_path / "d.qdc")
    assert [(c.id, c.label, c.definition, c.include, c.exclude, c.group) for c in imported.codes] == [
        (c.id, c.label, c.definition, c.include, c.exclude, c.group) for c in book.codes
    ]
    assert imported.groups == book.groups and imported.notes == []
    (tmp_path / "d.yaml").write_text(qdc_to_yaml(tmp_path / "d.qdc", name=book.name), encoding="utf-8")
    assert [p for p in lint_codebook(tmp_path / "d.yaml") if p.severity == "error"] == []
    again = load_codebook(tmp_path / "d.yaml")
    assert [(c.id, c.label, c.definition, c.include, c.exclude, c.group) for c in again.codes] == [
        (c.id, c.label, c.definition, c.include, c.exclude, c.group) for c in book.codes
    ]
    assert again.groups == book.groups and again.name == book.name
    assert all(c.rules.regex == ("(?!)",) and not c.rules.terms for c in again.codes)  # rules left to fill
    assert "TODO placeholder" in (tmp_path / "d.yaml").read_text(encoding="utf-8")
    export_qdc(again, out=tmp_path / "again.qdc")
    assert read_qdc(tmp_path / "again.qdc").codes == imported.codes


FOREIGN = """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1:0" origin="Some QDA tool">
  <Codes>
    <Code guid="{11111111-1111-1111-1111-111111111111}" name="Barriers" isCodable="true" color="#ff0000">
      <Description>Anything in the way.</Description>
      <Code guid="22222222-2222-2222-2222-222222222222" name="Documents / papers" isCodable="true">
        <Code guid="33333333-3333-3333-3333-333333333333" name="Leases" isCodable="true"/>
      </Code>
      <Code guid="44444444-4444-4444-4444-444444444444" name="Folder" isCodable="false">
        <Code guid="55555555-5555-5555-5555-555555555555" name="2019 rules" isCodable="true"/>
      </Code>
    </Code>
    <Code guid="66666666-6666-6666-6666-666666666666" name="户口" isCodable="true"/>
    <Code guid="77777777-7777-7777-7777-777777777777" name="Leases" isCodable="true"/>
  </Codes>
  <Sets>
    <Set guid="88888888-8888-8888-8888-888888888888" name="Hukou things">
      <MemberCode guid="66666666-6666-6666-6666-666666666666"/>
      <MemberCode targetGUID="22222222-2222-2222-2222-222222222222"/>
    </Set>
  </Sets>
</CodeBook>
"""


def test_another_tools_nested_codebook_becomes_groups_and_loadable_yaml(tmp_path: Path) -> None:
    (tmp_path / "f.qdc").write_text(FOREIGN, encoding="utf-8")
    book = read_qdc(tmp_path / "f.qdc")
    assert [(c.id, c.label, c.group) for c in book.codes] == [
        ("barriers", "Barriers", "Barriers"),
        ("documents_papers", "Documents / papers", "Barriers"),
        ("leases", "Leases", "Barriers"),
        ("c_2019_rules", "2019 rules", "Barriers"),
        ("hukou", "户口", "Hukou things"),
        ("leases_2", "Leases", None),
    ]
    assert book.codes[2].path == ("Barriers", "Documents / papers")
    assert any("'Folder' is a folder" in note for note in book.notes)
    assert any("documents_papers already has a group" in note for note in book.notes)
    (tmp_path / "f.yaml").write_text(qdc_to_yaml(tmp_path / "f.qdc"), encoding="utf-8")
    assert [p for p in lint_codebook(tmp_path / "f.yaml") if p.severity == "error"] == []
    loaded = load_codebook(tmp_path / "f.yaml")
    assert loaded.groups == {
        "Barriers": ["barriers", "documents_papers", "leases", "c_2019_rules"],
        "Hukou things": ["hukou"],
        "ungrouped": ["leases_2"],
    }
    assert loaded.code("barriers").definition == "Anything in the way." and loaded.code("leases").definition == "Leases"


@pytest.mark.parametrize(
    "text, message",
    [
        ("<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes>\n<Code name='x'/></Codes>", ":2: not well-formed XML"),
        ("<Project xmlns='urn:QDA-XML:project:1.0' name='p'/>", ":1: the project has no <CodeBook>"),
        ("<Codebook xmlns='urn:QDA-XML:codebook:1.0'/>", ":1: the root element is <Codebook>"),
        ("<CodeBook xmlns='urn:other'><Codes/></CodeBook>", "namespace 'urn:other'"),
        (
            "<CodeBook xmlns='urn:QDA-XML:codebook:1.0'>\n<Codes>\n<Code guid='a' "
            "isCodable='true'/></Codes></CodeBook>",
            ":3: <Code> without the required 'name'",
        ),
        ("<CodeBook xmlns='urn:QDA-XML:codebook:1.0'></CodeBook>", "has no <Codes>"),
        (
            "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><CodeBook xmlns='urn:QDA-XML:codebook:1.0'>"
            "<Codes><Code guid='a' name='&e;' isCodable='true'/></Codes></CodeBook>",
            "external entity",
        ),
    ],
)
def test_broken_or_hostile_qdc_files_are_reported_with_their_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "b.qdc").write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=re.escape(message)):
        read_qdc(tmp_path / "b.qdc")


# -- project ---------------------------------------------------------------------------------------

NOTE_A = note(*BEIJING, id="BJ-01", city="Beijing", year='"2016"')
NOTE_B = note(HOMETOWN, id="SH-01", city="Shanghai", respondent_type="doctor")


@pytest.fixture
def project(project_from) -> Path:
    return project_from({"a.md": NOTE_A, "b.md": NOTE_B})


def decide(project: Path, tmp_path: Path) -> None:
    from phantomcode.review import import_review

    (tmp_path / "d.csv").write_text(
        "key,code,decision,correct_code,note\n"
        "BJ-01:0-86:paperwork,paperwork,accept,,clear case\n"
        "BJ-01:0-86:office_runaround,office_runaround,reject,,\n"
        "BJ-01:151-199:class_size,class_size,accept,,\n",
        encoding="utf-8",
    )
    result = import_review(tmp_path / "d.csv", project=project, reviewer="ana")
    assert result.problems == [] and result.warnings == [], (result.problems, result.warnings)


def read_project(path: Path) -> tuple[etree._Element, dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return etree.fromstring(members["project.qde"]), members


def q(tag: str) -> str:
    return f"{{{PROJECT_NS}}}{tag}"


def target(coding: etree._Element) -> str:
    """The code GUID a Coding points at."""
    return coding.find(q("CodeRef")).get("targetGUID")


@pytest.mark.slow
def test_qdpx_is_valid_and_holds_sources_variables_and_accepted_codings(project: Path, tmp_path: Path) -> None:
    decide(project, tmp_path)
    result = export_qdpx(project=project, out=tmp_path / "p.qdpx")
    root, members = read_project(tmp_path / "p.qdpx")
    assert_valid("Project-mrt2019.xsd", root)
    check_guids_and_colours(root)
    assert [etree.QName(child).localname for child in root] == ["Users", "CodeBook", "Variables", "Sources", "Notes"]
    assert root.get("name") == "p" and root.get("origin").startswith("phantomcode")
    assert {u.get("name") for u in root.iter(q("User"))} == {"phantomcode", "ana"}
    assert result.sources == 2 and result.codings == 2 and result.selections == 2

    with Store.open(project, readonly=True) as store:
        texts = store.document_texts(store.doc_ids())
    assert sorted(members) == sorted(["project.qde", *(f"sources/{stable_guid('source', d)}.txt" for d in texts)])
    for source in root.iter(q("TextSource")):
        guid = source.get("guid")
        assert source.get("plainTextPath") == f"internal://{guid}.txt"
        text = members[f"sources/{guid}.txt"].decode("utf-8")
        assert text == texts[source.get("name")] and not text.startswith("\ufeff")
        for selection in source.iter(q("PlainTextSelection")):
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            assert text[start:end] == selection.get("name")  # character offsets, end exclusive

    code_guids = {c.get("guid") for c in root.iter(q("Code"))}
    codings = [
        (s.getparent().get("name"), s.get("startPosition"), c.find(q("CodeRef")).get("targetGUID"))
        for s in root.iter(q("PlainTextSelection"))
        for c in s.iter(q("Coding"))
    ]
    assert sorted(codings) == sorted(
        [("BJ-01", "0", stable_guid("code", "paperwork")), ("BJ-01", "151", stable_guid("code", "class_size"))]
    )
    assert all(guid in code_guids for _, _, guid in codings)
    paperwork = next(c for c in root.iter(q("Coding")) if target(c) == stable_guid("code", "paperwork"))
    with Store.open(project, readonly=True) as store:
        [decided] = [d["decided_at"] for d in store.review_decisions() if d["code"] == "paperwork"]
    decided = decided.replace("+00:00", "Z")  # UTC written as every producer writes it
    selection = paperwork.getparent()
    for made in (paperwork, selection):  # the reviewer and the decision's time, not phantomcode and export time
        assert (made.get("creatingUser"), made.get("creationDateTime")) == (stable_guid("user", "ana"), decided)
    note_guid = paperwork.find(q("NoteRef")).get("targetGUID")
    note = next(n for n in root.iter(q("Note")) if n.get("guid") == note_guid)
    assert note.findtext(q("PlainTextContent")) == "clear case"
    assert note.get("creationDateTime") == note.get("modifiedDateTime") == decided  # QualCoder needs the date
    assert selection.findtext(q("Description")).endswith("accepted by ana; note: clear case")

    variables = {v.get("name"): v.get("guid") for v in root.iter(q("Variable"))}
    assert set(variables) == {"city", "id", "year", "respondent_type"}
    assert all(v.get("typeOfVariable") == "Text" for v in root.iter(q("Variable")))
    assert not list(root.iter(q("Case")))  # file variables on the sources only, unless cases are asked for
    for holder in root.iter(q("TextSource")):
        values = {
            vv.find(q("VariableRef")).get("targetGUID"): vv.findtext(q("TextValue"))
            for vv in holder.findall(q("VariableValue"))
        }
        name = holder.get("name")
        expected = {
            "BJ-01": {"city": "Beijing", "id": "BJ-01", "year": "2016"},
            "SH-01": {"city": "Shanghai", "id": "SH-01", "respondent_type": "doctor_hospital"},
        }[name]  # canonical values
        assert values == {variables[k]: v for k, v in expected.items()}


def test_qdpx_with_cases_adds_one_case_per_document_with_its_values(project: Path, tmp_path: Path) -> None:
    export_qdpx(project=project, out=tmp_path / "c.qdpx", cases=True)
    root, _ = read_project(tmp_path / "c.qdpx")
    assert_valid("Project-mrt2019.xsd", root)
    cases = {case.get("name"): case for case in root.iter(q("Case"))}
    assert set(cases) == {"BJ-01", "SH-01"}
    case = cases["BJ-01"]
    assert case.find(q("SourceRef")).get("targetGUID") == stable_guid("source", "BJ-01")
    assert {vv.findtext(q("TextValue")) for vv in case.findall(q("VariableValue"))} == {"Beijing", "BJ-01", "2016"}


def test_qdpx_with_unreviewed_codings_leaves_rejected_ones_out(project: Path, tmp_path: Path) -> None:
    decide(project, tmp_path)
    export_qdpx(project=project, out=tmp_path / "all.qdpx", include_unreviewed=True)
    root, _ = read_project(tmp_path / "all.qdpx")
    assert_valid("Project-mrt2019.xsd", root)
    refs = [c.find(q("CodeRef")).get("targetGUID") for c in root.iter(q("Coding"))]
    with Store.open(project, readonly=True) as store:
        counted = store.count_codings().counted
    assert len(refs) == counted and stable_guid("code", "office_runaround") not in refs
    auto = [c for c in root.iter(q("Coding")) if target(c) == stable_guid("code", "return_home")]
    assert auto[0].get("creatingUser") == stable_guid("user", "phantomcode")
    first, _ = read_project(tmp_path / "all.qdpx")
    export_qdpx(project=project, out=tmp_path / "again.qdpx", include_unreviewed=True)
    assert (tmp_path / "again.qdpx").read_bytes() == (tmp_path / "all.qdpx").read_bytes()  # reproducible


def test_qdpx_without_accepted_codings_is_still_valid(project: Path, tmp_path: Path) -> None:
    result = export_qdpx(project=project, out=tmp_path / "empty.qdpx")
    root, _ = read_project(tmp_path / "empty.qdpx")
    assert_valid("Project-mrt2019.xsd", root)
    assert result.codings == 0 and not list(root.iter(q("PlainTextSelection")))


def test_a_group_or_label_with_characters_xml_cannot_hold_still_exports(tmp_path: Path) -> None:
    """A control character in a codebook's group name or code label (YAML allows it quoted) is
    replaced by a space in the .qdc, not a traceback."""
    text = (Path(__file__).parents[1] / "codebooks" / "deflection.yaml").read_text(encoding="utf-8")
    text = text.replace("  mechanisms:", '  "mech\\x0banisms":', 1)
    text = text.replace("label: Paperwork barriers", 'label: "Paperwork\\x0bbarriers"', 1)
    path = tmp_path / "cb.yaml"
    path.write_text(text, encoding="utf-8")
    root = etree.fromstring(codebook_to_qdc(load_codebook(path)))
    assert_valid("Codebook-mrt2019.xsd", root)
    names = [c.get("name") for c in root.iter(f"{{{CODEBOOK_NS}}}Code")]
    assert "mech anisms" in names and "Paperwork barriers" in names
