"""Project files that are not what they seem: foreign SQLite files are refused before anything is
written, and a damaged project is named as such with how to recover it, never a traceback."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phantomcode import ingest
from phantomcode.cli import app
from phantomcode.errors import ProjectError
from phantomcode.store import Store

NOTE = "The school asked for a hukou certificate and refused to enrol her son.\n"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign(path: Path, user_version: int, *, migrations: bool = False) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x)")
        if migrations:
            connection.execute("CREATE TABLE migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
            connection.execute("INSERT INTO migrations VALUES (1, 'their first migration', 'then')")
        connection.execute(f"PRAGMA user_version = {user_version}")
    connection.close()
    return path


@pytest.mark.parametrize(("user_version", "migrations"), [(-1, False), (5, True), (3, False), (0, False)])
def test_foreign_sqlite_files_are_refused_untouched(tmp_path: Path, user_version: int, migrations: bool) -> None:
    path = foreign(tmp_path / "theirs.db", user_version, migrations=migrations)
    before = digest(path)
    result = CliRunner().invoke(app, ["info", "-p", str(path)])
    assert result.exit_code == 2 and "not a phantomcode project" in result.output, result.output
    with pytest.raises(ProjectError, match="not a phantomcode project"):
        Store.open(path)
    assert digest(path) == before
    with sqlite3.connect(path) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "documents" not in tables


def test_a_read_only_command_does_not_make_an_empty_file_a_project(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    result = CliRunner().invoke(app, ["info", "-p", str(path)])
    assert result.exit_code == 2 and "not a phantomcode project" in result.output
    assert path.stat().st_size == 0


@pytest.mark.slow
def test_a_damaged_project_is_named_with_how_to_recover(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for number in range(60):
        (notes / f"n{number:02}.md").write_text(f"---\ncity: C{number}\n---\n{NOTE * 20}")
    project = tmp_path / "p.db"
    ingest(notes, project=project, jobs=1)
    with Store.open(project) as store, store.writer():
        pass  # checkpoints the WAL into the file
    pages = project.stat().st_size // 4096
    with project.open("r+b") as handle:  # overwrite the middle of every page but the schema's
        for page in range(1, pages):
            handle.seek(page * 4096 + 100)
            handle.write(b"\xff" * 2000)
    for command in (["report"], ["export", "documents"]):
        result = CliRunner().invoke(app, [*command, "-p", str(project)])
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert "the project file is damaged" in result.output and ".recover" in result.output
        assert f"sqlite3 {project} .recover" in result.output
