"""Every output path of every command: a clear message and exit 2, never a traceback or a wrong file."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from phantomcode.cli import app, main

NOTE = "---\nid: A\ncity: Beijing\n---\nThe school demanded five documents before it would enrol her son.\n"


@pytest.fixture
def project(project_from) -> Path:
    return project_from({"a.md": NOTE})


def _commands(project: Path, out: Path) -> list[list[str]]:
    p = ["-p", str(project)]
    return [
        ["report", *p, "-o", str(out.with_suffix(".txt"))],
        ["report", *p, "-o", str(out.with_suffix(".csv"))],
        ["report", *p, "-o", str(out.with_suffix(".xlsx"))],
        ["report", "cooccurrence", *p, "-o", str(out)],
        ["export", "segments", *p, "-o", str(out.with_suffix(".csv"))],
        ["export", "documents", *p, "-o", str(out.with_suffix(".csv"))],
        ["export", "matrix", *p, "-o", str(out.with_suffix(".csv"))],
        ["export", "qdpx", *p, "-o", str(out.with_suffix(".qdpx"))],
        ["review", "export", *p, "-o", str(out.with_suffix(".xlsx"))],
        ["review", "export", *p, "-o", str(out.with_suffix(".csv"))],
        ["codebook", "export", "-o", str(out.with_suffix(".qdc"))],
    ]


@pytest.mark.slow
def test_a_missing_folder_is_a_message_and_exit_2_for_every_command(runner, project, tmp_path) -> None:
    out = tmp_path / "missing" / "dir" / "r.txt"
    for command in _commands(project, out):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert "cannot write the output file: the folder" in result.stderr and "does not exist" in result.stderr
    assert not (tmp_path / "missing").exists()


def test_a_folder_as_the_output_file_is_a_message_and_exit_2(runner, project, tmp_path) -> None:
    for command in _commands(project, tmp_path / "r.txt"):
        folder = Path(command[command.index("-o") + 1])
        folder.mkdir()
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert f"{folder}: is a folder; give a file name" in result.stderr, command
        folder.rmdir()


def test_an_unknown_suffix_is_refused_listing_the_formats(runner, project, tmp_path) -> None:
    result = runner.invoke(app, ["report", "-p", str(project), "--out", str(tmp_path / "report.pdf")])
    assert result.exit_code == 2
    assert "cannot tell the format from '.pdf'; give --format (table, csv, json, xlsx, md, html, png)" in result.stderr
    assert not (tmp_path / "report.pdf").exists()
    named = runner.invoke(app, ["report", "-p", str(project), "--out", str(tmp_path / "report.pdf"), "-f", "html"])
    assert named.exit_code == 0 and (tmp_path / "report.pdf").read_text(encoding="utf-8").startswith("<!DOCTYPE")


def test_an_unwritable_file_keeps_its_previous_content(runner, project, tmp_path) -> None:
    out = tmp_path / "locked"
    out.mkdir()
    previous = out / "r.csv"
    previous.write_text("previous\n", encoding="utf-8")
    out.chmod(0o500)
    try:
        result = runner.invoke(app, ["report", "-p", str(project), "-o", str(previous)])
    finally:
        out.chmod(0o700)
    if result.exit_code == 0:
        pytest.skip("running as a user who may write anywhere (root)")
    assert result.exit_code == 2 and "cannot write the output file (Permission denied)" in result.stderr
    assert previous.read_text(encoding="utf-8") == "previous\n" and list(out.iterdir()) == [previous]


class _ClosedPipe(io.StringIO):
    """stdout whose reader has gone, as after ``| head -1``."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize(
    "command",
    [
        ["export", "segments"],
        ["export", "documents", "-f", "csv"],
        ["report"],
        ["report", "-f", "csv"],
        ["review", "stats"],
        ["kwic", "--code", "paperwork"],
    ],
)
def test_a_closed_stdout_ends_quietly_with_exit_0(project, monkeypatch, capsys, command) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    monkeypatch.setattr(sys, "argv", ["phantomcode", *command, "-p", str(project)])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 0
    assert "Traceback" not in capsys.readouterr().err


def test_a_broken_codebook_leaves_no_project_or_lock_file(runner, tmp_path, write_note, notes_dir) -> None:
    write_note("a.md", NOTE)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ncodes: [", encoding="utf-8")
    for codebook in (broken, tmp_path / "missing.yaml"):
        result = runner.invoke(app, ["ingest", str(notes_dir), "-p", str(tmp_path / "new.db"), "-c", str(codebook)])
        assert result.exit_code == 2, result.output
        assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml", "notes"]


def test_every_export_defaults_to_csv_and_follows_the_suffix(runner, project, tmp_path) -> None:
    for kind in ("documents", "segments", "matrix"):
        result = runner.invoke(app, ["export", kind, "-p", str(project)])
        assert result.exit_code == 0 and result.stdout.startswith("doc_id,"), kind
        out = tmp_path / f"{kind}.jsonl"
        assert runner.invoke(app, ["export", kind, "-p", str(project), "-o", str(out)]).exit_code == 0
        assert out.read_text(encoding="utf-8").startswith('{"doc_id": "A"'), kind


def test_bom_for_excel_on_request(runner, project, tmp_path) -> None:
    for kind in ("documents", "segments", "matrix"):
        plain, marked = tmp_path / f"{kind}.csv", tmp_path / f"{kind}-bom.csv"
        assert runner.invoke(app, ["export", kind, "-p", str(project), "-o", str(plain)]).exit_code == 0
        assert runner.invoke(app, ["export", kind, "-p", str(project), "-o", str(marked), "--bom"]).exit_code == 0
        assert plain.read_bytes()[:7] == b"doc_id," and marked.read_bytes()[:10] == b"\xef\xbb\xbfdoc_id,", kind


@pytest.mark.slow
def test_a_first_ingest_that_fails_later_leaves_no_project_either(runner, tmp_path, write_note, notes_dir) -> None:
    write_note("a.md", NOTE)
    result = runner.invoke(app, ["ingest", str(notes_dir), "-p", str(tmp_path / "new.db"), "--model", "no_such_model"])
    assert result.exit_code == 2 and "no_such_model" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]
