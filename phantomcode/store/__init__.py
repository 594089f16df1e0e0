"""The project store: one SQLite file. All SQL in phantomcode lives in this package.

``Store`` is one object over the project, joined from one class per group of tables, each in its
own module and owning that group's SQL (as sqlite-utils' ``db.table(name)`` owns one table's):

- ``schema``: the named, ordered migrations and the SQL conditions queries share;
- ``base``: the connection, transactions and the writer lock;
- ``runs``, ``documents``, ``codings``, ``models``, ``reviews``, ``memos``: their tables;
- ``reports``: the report queries across them;
- ``records``: the named rows they read and write.

The schema is built by named, ordered migrations recorded in the database (``PRAGMA
user_version`` counts them), so a project made by an older phantomcode opens and is upgraded,
and a project made by a newer one is refused instead of being damaged. Writers hold a lock file
next to the project for their whole run; SQLite's WAL journal keeps readers working meanwhile and
makes every batch an all-or-nothing transaction, so a killed run leaves a consistent store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import ProjectError, SchemaTooNewError
from .base import (
    DEFAULT_PROJECT,
    LOCK_TIMEOUT_ENV,
    LOCK_TIMEOUT_SECONDS,
    PROJECT_ENV,
    WAL_SIZE_LIMIT,
    _describe_sqlite_error,
    _now,
    _use_wal,
    damaged_project_message,
    no_empty_project_left,
    remove_empty_project,
    resolve_project_path,
)
from .codings import CodingsTable
from .documents import DocumentsTable
from .memos import MemosTable
from .models import ModelsTable
from .records import (
    AttributeRow,
    CodedRows,
    DocumentRecord,
    ModelRecord,
    RunInfo,
    StoredState,
    attribute_rows,
    coded_rows,
    text_hash,
    to_json,
)
from .reports import ReportQueries
from .reviews import ReviewsTable
from .runs import RunsTable
from .schema import (
    AUTO_COUNTED,
    CODING_SOURCES,
    COUNTED,
    MIGRATIONS,
    REPORT_MISSING,
    REVIEW_ADD_RULE,
    REVIEW_FRESH,
    SCHEMA_VERSION,
    split_sql,
)

__all__ = [
    "AUTO_COUNTED",
    "CODING_SOURCES",
    "COUNTED",
    "DEFAULT_PROJECT",
    "LOCK_TIMEOUT_ENV",
    "LOCK_TIMEOUT_SECONDS",
    "MIGRATIONS",
    "PROJECT_ENV",
    "REPORT_MISSING",
    "REVIEW_ADD_RULE",
    "REVIEW_FRESH",
    "SCHEMA_VERSION",
    "WAL_SIZE_LIMIT",
    "AttributeRow",
    "CodedRows",
    "DocumentRecord",
    "ModelRecord",
    "RunInfo",
    "Store",
    "StoredState",
    "to_json",
    "attribute_rows",
    "coded_rows",
    "damaged_project_message",
    "no_empty_project_left",
    "remove_empty_project",
    "resolve_project_path",
    "text_hash",
]


def _migration_names(version: int) -> list[str]:
    return [name for name, _ in MIGRATIONS[:version]]


class Store(RunsTable, DocumentsTable, CodingsTable, ModelsTable, ReportQueries, ReviewsTable, MemosTable):
    """An open project. Use ``Store.open`` (or as a context manager) rather than the constructor.

    Opening and migrating live here, beside ``MIGRATIONS``: they read this module's globals, so a
    test can stand a longer or shorter migration list in for the real one.
    """

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | Path | None = None, *, readonly: bool = False, must_exist: bool = False, shared: bool = False
    ) -> Store:
        """Open (and, when writable, create or upgrade) the project at ``path``. ``shared``: the
        connection may be used from several threads, one at a time (the caller serialises them).

        Raises ``ProjectError`` when the file is not a phantomcode project, cannot be written,
        or ``must_exist`` is set and there is no project yet; ``SchemaTooNewError`` when a newer
        phantomcode wrote it.
        """
        path = resolve_project_path(path)
        if (readonly or must_exist) and not path.exists():
            raise ProjectError(
                f"{path}: no project here yet; run 'phantomcode ingest NOTES_DIR' first "
                "or point --project (or $PHANTOMCODE_PROJECT) at your project file"
            )
        if path.exists() and path.is_dir():
            raise ProjectError(f"{path}: is a folder; --project takes the project file, e.g. {path / DEFAULT_PROJECT}")
        try:
            connection = cls._connect(path, readonly, shared=shared)
            store = cls(path, connection, readonly=readonly)
            store._check_schema()
            if not readonly:
                _use_wal(connection)  # only now: switching the journal mode writes the file's header
        except sqlite3.DatabaseError as exc:
            raise ProjectError(_describe_sqlite_error(path, exc)) from None
        return store

    @staticmethod
    def _connect(path: Path, readonly: bool, *, shared: bool = False) -> sqlite3.Connection:
        if readonly:
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                timeout=LOCK_TIMEOUT_SECONDS,
                check_same_thread=not shared,
            )
        else:
            if path.parent and not path.parent.exists():
                raise ProjectError(f"{path}: the folder {path.parent} does not exist")
            connection = sqlite3.connect(
                path, isolation_level=None, timeout=LOCK_TIMEOUT_SECONDS, check_same_thread=not shared
            )
        connection.execute("PRAGMA foreign_keys=ON")
        connection.row_factory = sqlite3.Row
        return connection

    def _check_schema(self) -> None:
        version = self._schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{self.path}: this project was written by a newer phantomcode (schema {version}, "
                f"this version knows up to {SCHEMA_VERSION}); upgrade phantomcode to open it"
            )
        self._refuse_foreign_database(version)
        if version < SCHEMA_VERSION:
            self._migrate()

    def schema_version(self) -> int:
        """How many migrations the project has had (``PRAGMA user_version``)."""
        return self._schema_version()

    def _schema_version(self) -> int:
        return self.connection.execute("PRAGMA user_version").fetchone()[0]

    def _refuse_foreign_database(self, version: int) -> None:
        """Refuse, before anything is written, an SQLite file phantomcode did not make.

        Version 0 with tables, or any version whose ``migrations`` table does not list this
        phantomcode's migrations by name, is someone else's database (``user_version`` is free for
        any application to set). A read-only command never turns an empty file into a project.
        """
        tables = self.connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if version == 0 and not tables and not self.readonly:
            return  # a new project
        if version <= 0 or self._recorded_migrations(version) != _migration_names(version):
            raise ProjectError(
                f"{self.path}: an SQLite file, but not a phantomcode project; choose another --project path"
            )

    def _recorded_migrations(self, version: int) -> list[str] | None:
        try:
            rows = self.connection.execute(
                "SELECT version, name FROM migrations WHERE version <= ? ORDER BY version", (version,)
            ).fetchall()
        except sqlite3.OperationalError:  # no migrations table, or not ours
            return None
        return [name for _, name in rows]

    def _migrate(self) -> None:
        """Apply pending migrations, each in its own transaction with its record.

        The version is re-read inside each transaction, so two processes opening an old project
        at once apply every migration exactly once. A read-only open upgrades through a brief
        writable connection, so reading commands work on projects made by older versions.
        """
        connection = self.connection if not self.readonly else self._connect(self.path, readonly=False)
        writer = Store(self.path, connection, readonly=False)
        try:
            for number, (name, sql) in enumerate(MIGRATIONS, start=1):
                with writer.transaction():
                    if writer._schema_version() >= number:
                        continue
                    for statement in split_sql(sql):
                        connection.execute(statement)
                    connection.execute("INSERT INTO migrations VALUES (?, ?, ?)", (number, name, _now()))
                    connection.execute(f"PRAGMA user_version = {number}")
        finally:
            if writer.connection is not self.connection:
                connection.close()
