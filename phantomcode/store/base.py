"""An open project's connection: transactions, the writer lock, and what SQLite errors mean.

Writers hold a lock file next to the project for their whole run; SQLite's WAL journal keeps
readers working meanwhile and makes every batch an all-or-nothing transaction, so a killed run
leaves a consistent store.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from filelock import FileLock, Timeout

from ..errors import ProjectBusyError, ProjectError, UsageError
from ..limits import LimitExceeded, seconds_from_env

DEFAULT_PROJECT = "phantomcode.db"
PROJECT_ENV = "PHANTOMCODE_PROJECT"
LOCK_TIMEOUT_SECONDS = 5.0
LOCK_TIMEOUT_ENV = "PHANTOMCODE_LOCK_TIMEOUT"
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes of write-ahead log SQLite keeps on disk once it restarts the log


def _use_wal(connection: sqlite3.Connection) -> None:
    """Write-ahead logging, so readers never wait for the writer."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")


def resolve_project_path(path: str | Path | None) -> Path:
    """``--project`` wins, then ``$PHANTOMCODE_PROJECT``, then ``./phantomcode.db``."""
    return Path(path or os.environ.get(PROJECT_ENV) or DEFAULT_PROJECT)


@contextmanager
def no_empty_project_left(path: str | Path | None) -> Iterator[None]:
    """For a command that may create the project at ``path``: when it did and fails before storing
    a document, whatever the failure, the new project goes (``remove_empty_project``). Open the
    project inside this block, so that it is closed before it is removed."""
    new_project = not resolve_project_path(path).exists()
    try:
        yield
    except BaseException:
        if new_project:
            remove_empty_project(path)
        raise


def remove_empty_project(path: str | Path | None) -> None:
    """Delete the project at ``path`` with its journal and lock files if it holds no document: for a
    command that created the project and failed before storing anything, so that it leaves nothing
    behind. A project with documents, or a file that is no project, is left alone."""
    path = resolve_project_path(path)
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as connection:
            documents = connection.execute("SELECT count(*) FROM documents").fetchone()[0]
        connection.close()
    except sqlite3.Error:
        return
    if documents == 0:
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")):
            leftover.unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StoreBase:
    """The connection every table's operations share; ``Store`` joins them into one object."""

    def __init__(self, path: Path, connection: sqlite3.Connection, *, readonly: bool) -> None:
        self.path = path
        self.connection = connection
        self.readonly = readonly

    def close(self) -> None:
        self.connection.close()

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: changes when another connection commits, so a cache
        kept beside this connection knows when to start afresh."""
        return int(self.connection.execute("PRAGMA data_version").fetchone()[0])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transactions and the writer lock ------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing unit of work; storage errors become ``ProjectError``."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise ProjectError(_describe_sqlite_error(self.path, exc)) from None
        try:
            yield self.connection
            self.connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise ProjectError(_describe_sqlite_error(self.path, exc)) from None
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        """Roll back if a transaction is still open (SQLite may already have ended it on a full disk)."""
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")

    @contextmanager
    def writer(self, *, timeout: float | None = None) -> Iterator[None]:
        """Hold the project's writer lock; a second writer waits ``timeout`` seconds, then fails.

        The wait defaults to ``$PHANTOMCODE_LOCK_TIMEOUT`` or 5 seconds. The lock is an OS lock on
        ``<project>.lock``: it disappears with the process, so a run killed with SIGKILL never
        leaves the project locked.
        """
        if timeout is None:
            try:
                timeout = seconds_from_env(LOCK_TIMEOUT_ENV, LOCK_TIMEOUT_SECONDS)
            except LimitExceeded as exc:
                raise UsageError(str(exc)) from None
        lock = FileLock(f"{self.path}.lock", timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            raise ProjectBusyError(
                f"{self.path}: another phantomcode command is writing this project; "
                "wait for it to finish and run this command again"
            ) from None
        except OSError as exc:
            raise ProjectError(
                f"{self.path}: cannot create the lock file ({exc.strerror}); the project's folder must be writable"
            ) from None
        try:
            self._mark_abandoned_runs()
            yield
        finally:
            self._shrink_journal()
            lock.release()

    def _shrink_journal(self) -> None:
        """Copy the write-ahead log into the project and empty it, if no reader is in the way.

        SQLite deletes the log when its last connection closes; while any other connection stays
        open (a notebook's ``Project``, a database browser) the log keeps the size the run grew it
        to: hundreds of MB after a large ingest. This never waits: a reader mid-query leaves the
        log for the next writer (``journal_size_limit`` caps what it keeps then).
        """
        self.connection.execute("PRAGMA busy_timeout = 0")
        try:
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            pass  # best effort: the log is only space, every committed write is already safe in it
        finally:
            self.connection.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_SECONDS * 1000)}")

    def _mark_abandoned_runs(self) -> None:
        """Runs still 'running' while we hold the lock were killed; say so in their record."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")


def _describe_sqlite_error(path: Path, exc: sqlite3.Error) -> str:
    """Turn SQLite's terse messages into what happened and what to do."""
    text = str(exc).lower()
    if "not a database" in text or "file is encrypted" in text:
        return f"{path}: not a phantomcode project (the file is not an SQLite database); choose another --project path"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return f"{path}: cannot write the project ({exc}); check that the file and its folder are writable"
    if "disk is full" in text or "disk i/o" in text:
        return f"{path}: the disk is full or failing ({exc}); the last batch was not saved, free space and re-run"
    if "locked" in text or "busy" in text:
        return f"{path}: the project is busy (another process holds it); wait and run the command again"
    if "malformed" in text or "corrupt" in text:
        return damaged_project_message(path, exc)
    return f"{path}: project store error: {exc}"


def damaged_project_message(path: Path, exc: BaseException) -> str:
    """What to say when SQLite finds the project file damaged: what happened, how to recover."""
    recovered = path.with_name(f"{path.stem}-recovered{path.suffix or '.db'}")
    return (
        f"{path}: the project file is damaged ({exc}); phantomcode cannot use it. Recover what it holds "
        f"with the sqlite3 tool: sqlite3 {path} .recover | sqlite3 {recovered} , then run your commands "
        f"with --project {recovered} (or ingest the notes again into a new project)"
    )


def documents_stamp(path: Path) -> tuple[Any, ...]:
    """What changes when a project's documents or model change: its last run (ID, status, end),
    how many documents it holds, and its latest model's ID. Read through a short read-only
    connection of its own, so a caller that polls it never holds the project open."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        last_run = connection.execute(
            "SELECT run_id, status, finished_at FROM runs ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        documents = connection.execute("SELECT count(*) FROM documents").fetchone()[0]
        models = connection.execute("SELECT max(model_id) FROM models").fetchone()[0]
    finally:
        connection.close()
    return (tuple(last_run) if last_run else None, documents, models)
