"""The project's codebook: remembered by absolute path and content, never swapped silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantomcode.cli import app
from phantomcode.store import Store

PAPERWORK = "The school demanded five documents before it would enrol her son."


@pytest.fixture
def own_project(runner, tmp_path, write_note, notes_dir, own_codebook, monkeypatch) -> Path:
    """A project coded with the researcher's own codebook, named by a relative path from tmp_path."""
    own_codebook.edit("name: Deflection of migrants from public services", "name: My edited codebook")
    write_note("a.md", f"{PAPERWORK}\n", id="A", city="Beijing", sector="education")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["ingest", str(notes_dir), "-p", "study.db", "-c", own_codebook.path.name, "--quiet"])
    assert result.exit_code == 0, result.output
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # every later command runs from another folder
    return tmp_path / "study.db"


def _codebook_hashes(project: Path) -> set[str]:
    with Store.open(project, readonly=True) as store:
        return {row["codebook_hash"] for row in store.coding_rows()}


@pytest.mark.slow
def test_the_project_codebook_is_found_from_another_folder(runner, own_project) -> None:
    result = runner.invoke(app, ["code", "-p", str(own_project), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "with codebook My edited codebook" in result.output
    assert "re-coded 0 of 1 notes" in result.output


@pytest.mark.slow
def test_a_moved_codebook_stops_every_command_with_the_way_forward(runner, own_project, own_codebook, tmp_path) -> None:
    before = _codebook_hashes(own_project)
    own_codebook.path.rename(tmp_path / "moved.yaml")
    for command in (
        ["code"],
        ["report"],
        ["review", "export"],
        ["evaluate", "--gold", str(tmp_path / "g.csv")],
        ["kwic", "--code", "paperwork"],
        ["codebook", "show"],
        ["codebook", "stats"],
        ["export", "matrix"],
        ["ingest", str(tmp_path / "notes"), "--quiet"],
    ):
        (tmp_path / "g.csv").write_text("note_id,sentence,codes\n", encoding="utf-8")
        result = runner.invoke(app, [*command, "-p", str(own_project)])
        assert result.exit_code == 2, (command, result.output)
        assert f"codebook {own_codebook.path} is missing" in result.stderr, command
        assert "--codebook FILE" in result.stderr and "--codebook bundled" in result.stderr, command
    assert _codebook_hashes(own_project) == before, "nothing was re-coded behind the user's back"
    moved = runner.invoke(app, ["code", "-p", str(own_project), "-c", str(tmp_path / "moved.yaml"), "--quiet"])
    assert moved.exit_code == 0 and "My edited codebook" in moved.output
    bundled = runner.invoke(app, ["code", "-p", str(own_project), "--codebook", "bundled", "--quiet"])
    assert bundled.exit_code == 0 and "Deflection of migrants" in bundled.output


@pytest.mark.slow
def test_an_edited_codebook_is_named_before_it_is_used(runner, own_project, own_codebook) -> None:
    own_codebook.edit("      - five documents\n", "      - five documents\n      - six documents\n")
    for command in (["code", "--quiet"], ["report"], ["codebook", "lint"]):
        result = runner.invoke(app, [*command, "-p", str(own_project)])
        assert result.exit_code == 2, (command, result.output)
        assert f"codebook {own_codebook.path} has changed since the project was last coded" in result.stderr
        assert f"--codebook {own_codebook.path}" in result.stderr
    info = runner.invoke(app, ["info", "-p", str(own_project)])
    assert info.exit_code == 0
    assert f"codebook file: {own_codebook.path} (CHANGED since the last run)" in info.stdout
    named = runner.invoke(app, ["code", "-p", str(own_project), "-c", str(own_codebook.path), "--quiet"])
    assert named.exit_code == 0, named.output
    again = runner.invoke(app, ["report", "-p", str(own_project)])
    assert again.exit_code == 0, "once re-coded with it, the edited file is the project's codebook"


@pytest.mark.slow
def test_info_shows_the_codebook_file_and_that_it_matches(runner, own_project, own_codebook) -> None:
    result = runner.invoke(app, ["info", "-p", str(own_project)])
    assert f"codebook file: {own_codebook.path} (unchanged since the last run)" in result.stdout


@pytest.mark.slow
def test_a_project_on_the_bundled_codebook_records_it_as_bundled(runner, project, write_note, notes_dir) -> None:
    write_note("a.md", f"{PAPERWORK}\n", id="A")
    runner.invoke(app, ["ingest", str(notes_dir), "-p", str(project), "--quiet"])
    result = runner.invoke(app, ["info", "-p", str(project)])
    assert "codebook file: the bundled codebook (unchanged since the last run)" in result.stdout
    with Store.open(project, readonly=True) as store:
        assert [run.codebook_path for run in store.runs()] == ["bundled"]
