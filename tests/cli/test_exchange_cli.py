"""``codebook export|import``, ``export qdpx`` and ``export matrix`` through the CLI."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from note_texts import FULL, WUZHENG, note  # tests/ is on the path

from phantomcode import load_codebook
from phantomcode.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dictionaries"
NOTE_A = note(WUZHENG, FULL, id="BJ-01", city="Beijing", sector="education")
NOTE_B = """---
id: SH-01
city: Shanghai
---
The weather was fine and nothing else happened.
"""


@pytest.fixture
def project(project_from) -> Path:
    return project_from({"a.md": NOTE_A, "b.md": NOTE_B})


def run(runner, *args: str):
    return runner.invoke(app, list(args))


def test_codebook_export_then_import_round_trips(runner, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(runner, "codebook", "export")
    assert result.exit_code == 0, result.output
    assert "wrote 12 codes to deflection.qdc" in result.stderr and (tmp_path / "deflection.qdc").exists()
    result = run(runner, "codebook", "import", "deflection.qdc", "--out", "back.yaml", "--name", "Deflection")
    assert result.exit_code == 0, result.output
    assert "wrote 12 codes (rules to fill in) to back.yaml; lint: 0 error(s), 12 warning(s)" in result.stderr
    original, back = load_codebook(), load_codebook(tmp_path / "back.yaml")
    assert [(c.id, c.label, c.definition, c.group) for c in back.codes] == [
        (c.id, c.label, c.definition, c.group) for c in original.codes
    ]
    assert run(runner, "codebook", "lint", "back.yaml").exit_code == 0
    assert run(runner, "codebook", "export", "--format", "nvp").exit_code == 2


def test_codebook_import_of_dictionaries(runner, tmp_path) -> None:
    result = run(runner, "codebook", "import", str(FIXTURES / "small_liwc.dic"))
    assert result.exit_code == 0 and result.stdout.startswith("# Imported by phantomcode from small_liwc.dic")
    assert "note: small_liwc.dic:13: 'like'" in result.stderr
    out = tmp_path / "q.yaml"
    result = run(
        runner, "codebook", "import", str(FIXTURES / "deflection_quanteda.yml"), "--out", str(out), "--any-form"
    )
    assert result.exit_code == 0 and "lint: 0 error(s)" in result.stderr
    assert "=lease" not in out.read_text(encoding="utf-8")
    bad = tmp_path / "bad.dic"
    bad.write_text("%\n1\tx\n%\nword\t7\n", encoding="utf-8")
    result = run(runner, "codebook", "import", str(bad))
    assert result.exit_code == 2 and "bad.dic:4: 'word': category 7 is not in the table" in result.stderr
    (tmp_path / "words.txt").write_text("x: [a]\n")
    result = run(runner, "codebook", "import", str(tmp_path / "words.txt"))
    assert result.exit_code == 2 and "--format" in result.stderr


@pytest.mark.slow
def test_export_qdpx(runner, project, tmp_path) -> None:
    result = run(runner, "export", "qdpx", "-p", str(project), "--out", str(tmp_path / "p.qdpx"))
    assert result.exit_code == 0, result.output
    assert "wrote 2 notes, 12 codes, 3 variables and 0 codings" in result.stderr
    assert "no accepted codings yet" in result.stderr
    result = run(
        runner,
        "export",
        "qdpx",
        "-p",
        str(project),
        "--out",
        str(tmp_path / "all.qdpx"),
        "--include-unreviewed",
        "--name",
        "Deflection study",
    )
    assert result.exit_code == 0 and "and 3 codings" in result.stderr
    with zipfile.ZipFile(tmp_path / "all.qdpx") as archive:
        assert b'name="Deflection study"' in archive.read("project.qde")
        assert len([n for n in archive.namelist() if n.startswith("sources/")]) == 2
        assert b"<Case " not in archive.read("project.qde")
    result = run(runner, "export", "qdpx", "-p", str(project), "--out", str(tmp_path / "cases.qdpx"), "--cases")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "cases.qdpx") as archive:
        assert archive.read("project.qde").count(b"<Case ") == 2


def test_export_matrix(runner, project, tmp_path) -> None:
    result = run(runner, "export", "matrix", "-p", str(project))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    header = list(rows[0])
    codes = load_codebook().code_ids()
    assert header == ["doc_id", "city", "id", "sector", *codes]
    by_doc = {r["doc_id"]: r for r in rows}
    assert by_doc["BJ-01"]["paperwork"] == "1" and by_doc["BJ-01"]["class_size"] == "1"
    assert by_doc["BJ-01"]["return_home"] == "0" and by_doc["SH-01"]["city"] == "Shanghai"
    assert all(by_doc["SH-01"][code] == "0" for code in codes) and by_doc["SH-01"]["sector"] == ""
    (tmp_path / "d.csv").write_text(
        "key,code,decision\nBJ-01:0-86:paperwork,paperwork,accept\nBJ-01:87-135:class_size,class_size,reject\n",
        encoding="utf-8",
    )
    assert run(runner, "review", "import", str(tmp_path / "d.csv"), "-p", str(project)).exit_code == 0
    matrix = run(runner, "export", "matrix", "-p", str(project)).stdout
    rows = {r["doc_id"]: r for r in csv.DictReader(io.StringIO(matrix))}
    assert rows["BJ-01"]["class_size"] == "0"  # rejected codings do not count
    accepted = run(
        runner,
        "export",
        "matrix",
        "-p",
        str(project),
        "--status",
        "accepted",
        "--format",
        "jsonl",
        "--out",
        str(tmp_path / "m.jsonl"),
    )
    assert accepted.exit_code == 0 and "wrote 2 documents" in accepted.stderr
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines[0]["paperwork"] == 1 and lines[0]["office_runaround"] == 0
    assert run(runner, "export", "matrix", "-p", str(project), "--status", "auto").exit_code == 2


@pytest.mark.parametrize(
    "command", [["codebook", "export"], ["codebook", "import"], ["export", "qdpx"], ["export", "matrix"]]
)
def test_every_command_has_help(runner, command) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and len(result.stdout) > 200


def test_codebook_export_for_taguette(runner, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(runner, "codebook", "export", "--format", "taguette")
    assert result.exit_code == 0 and "wrote 12 codes to deflection.csv" in result.stderr, result.output
    with (tmp_path / "deflection.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    book = load_codebook()
    assert rows[0] == ["tag", "description"]  # the header Taguette's codebook import looks for
    assert [row[0] for row in rows[1:]] == [code.label for code in book.codes]
    paperwork = rows[1 + book.code_ids().index("paperwork")][1]
    assert paperwork.startswith(book.code("paperwork").definition) and paperwork.endswith("phantomcode id: paperwork")


def test_codebook_import_reads_projects_old_namespaces_and_chinese_names(runner, tmp_path) -> None:
    from qdpx_fixtures import write_qdpx

    project = write_qdpx(tmp_path / "team.qdpx")
    result = run(runner, "codebook", "import", str(project))
    assert result.exit_code == 0, result.output
    assert "- id: paperwork" in result.stdout and "- id: return_home" in result.stdout
    (tmp_path / "old.qdc").write_text(
        "<CodeBook xmlns='urn:QDA-XML:codebook:0:4'><Codes>"
        "<Code guid='a1000000-0000-4000-8000-000000000001' name='户口' isCodable='true'/>"
        "<Code guid='a1000000-0000-4000-8000-000000000002' name='户口' isCodable='true'/>"
        "<Code guid='a1000000-0000-4000-8000-000000000003' name='五证 papers' isCodable='true'/>"
        "</Codes></CodeBook>",
        encoding="utf-8",
    )
    result = run(runner, "codebook", "import", str(tmp_path / "old.qdc"), "--out", str(tmp_path / "old.yaml"))
    assert result.exit_code == 0 and "lint: 0 error(s)" in result.stderr, result.output
    assert load_codebook(tmp_path / "old.yaml").code_ids() == ["hukou", "hukou_2", "wuzheng_papers"]
    with zipfile.ZipFile(tmp_path / "zipped.qdc", "w") as archive:
        archive.writestr("codebook.xml", "<CodeBook/>")
    result = run(runner, "codebook", "import", str(tmp_path / "zipped.qdc"))
    assert result.exit_code == 2 and "a zip archive with no project.qde at its top" in result.stderr
    assert "not well-formed" not in result.stderr
