"""The project store: schema and migrations, refusal of foreign or newer files, the writer lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from phantomcode import store as store_module
from phantomcode.errors import ProjectBusyError, ProjectError, SchemaTooNewError
from phantomcode.store import SCHEMA_VERSION, Store, resolve_project_path


def test_new_project_has_current_schema_and_migration_records(tmp_path: Path) -> None:
    with Store.open(tmp_path / "p.db") as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = [r[0] for r in store.connection.execute("SELECT name FROM migrations ORDER BY version")]
        assert names == [name for name, _ in store_module.MIGRATIONS]
        tables = {r[0] for r in store.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"documents", "doc_attributes", "segments", "codings", "runs"} <= tables


def test_older_project_is_upgraded_keeping_its_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.db"
    with Store.open(path) as store:
        store.begin_run("ingest")
    later = (*store_module.MIGRATIONS, ("add a notes table", "CREATE TABLE review_notes (note TEXT)"))
    monkeypatch.setattr(store_module, "MIGRATIONS", later)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(later))
    with Store.open(path) as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == len(later)
        assert len(store.runs()) == 1
        store.connection.execute("SELECT note FROM review_notes")


def test_project_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    Store.open(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNewError, match="newer phantomcode"):
        Store.open(path)


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database, it is a note" * 50)
    before = path.read_bytes()
    with pytest.raises(ProjectError, match="not a phantomcode project"):
        Store.open(path)
    assert path.read_bytes() == before


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (name TEXT)")
    with pytest.raises(ProjectError, match="not a phantomcode project"):
        Store.open(path)


def test_reading_a_missing_project_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="phantomcode ingest"):
        Store.open(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_second_writer_fails_clearly_while_first_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with Store.open(path) as first, first.writer():
        with Store.open(path) as second, pytest.raises(ProjectBusyError, match="another phantomcode command"):
            with second.writer(timeout=0.2):
                pass
    with Store.open(path) as third, third.writer(timeout=0.2):
        pass


def test_runs_left_running_by_a_killed_process_are_marked_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with Store.open(path) as store:
        run_id = store.begin_run("ingest")
    with Store.open(path) as store, store.writer():
        assert store.last_run().run_id == run_id
        assert store.last_run().status == "interrupted"


def test_project_path_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHANTOMCODE_PROJECT", raising=False)
    assert resolve_project_path(None) == Path("phantomcode.db")
    monkeypatch.setenv("PHANTOMCODE_PROJECT", "/data/study.db")
    assert resolve_project_path(None) == Path("/data/study.db")
    assert resolve_project_path("x.db") == Path("x.db")


def test_reading_commands_upgrade_an_older_project_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.db"
    Store.open(path).close()
    later = (*store_module.MIGRATIONS, ("add a notes table", "CREATE TABLE review_notes (note TEXT)"))
    monkeypatch.setattr(store_module, "MIGRATIONS", later)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(later))
    with Store.open(path, readonly=True) as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == len(later)
        assert store.connection.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(later)


def _write_notes(folder: Path, names: range) -> None:
    folder.mkdir(exist_ok=True)
    for number in names:
        (folder / f"n{number}.txt").write_text(
            "The school asked for five documents and a lease.\n" * 20, encoding="utf-8"
        )


@pytest.mark.slow
def test_a_writing_command_empties_the_write_ahead_log_while_a_notebook_holds_the_project(tmp_path: Path) -> None:
    from phantomcode import ingest

    notes, path = tmp_path / "notes", tmp_path / "p.db"
    _write_notes(notes, range(5))
    ingest(notes, project=path)
    with Store.open(path, readonly=True) as notebook:  # an idle reader: SQLite cannot delete the log on close
        assert notebook.count_documents() == 5
        _write_notes(notes, range(5, 40))
        ingest(notes, project=path)
        assert Path(f"{path}-wal").stat().st_size == 0
        assert notebook.count_documents() == 40


@pytest.mark.slow
def test_a_reader_mid_query_leaves_the_log_for_later_and_the_writer_still_finishes(tmp_path: Path) -> None:
    from phantomcode import ingest

    notes, path = tmp_path / "notes", tmp_path / "p.db"
    _write_notes(notes, range(5))
    ingest(notes, project=path)
    with Store.open(path, readonly=True) as notebook:
        notebook.connection.execute("BEGIN")
        assert notebook.count_documents() == 5  # holds its snapshot until the transaction ends
        _write_notes(notes, range(5, 40))
        report = ingest(notes, project=path)
        assert report.stored == 35
        assert Path(f"{path}-wal").stat().st_size > 0
        notebook.connection.execute("COMMIT")
    with Store.open(path, readonly=True) as later:
        assert later.count_documents() == 40
