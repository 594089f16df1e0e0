"""The project store: one SQLite file. All SQL in phantomcode lives in this module.

The schema is built by named, ordered migrations recorded in the database (``PRAGMA
user_version`` counts them), so a project made by an older phantomcode opens and is upgraded,
and a project made by a newer one is refused instead of being damaged. Writers hold a lock file
next to the project for their whole run; SQLite's WAL journal keeps readers working meanwhile and
makes every batch an all-or-nothing transaction, so a killed run leaves a consistent store.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from filelock import FileLock, Timeout

from . import __version__
from .errors import ProjectBusyError, ProjectError, SchemaTooNewError, UsageError
from .limits import LimitExceeded, seconds_from_env

if TYPE_CHECKING:
    from .coding import CodedDocument

DEFAULT_PROJECT = "phantomcode.db"
PROJECT_ENV = "PHANTOMCODE_PROJECT"
LOCK_TIMEOUT_SECONDS = 5.0
LOCK_TIMEOUT_ENV = "PHANTOMCODE_LOCK_TIMEOUT"
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes of write-ahead log SQLite keeps on disk once it restarts the log

MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("create documents, segments, codings and runs", """
        CREATE TABLE migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        );
        CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,
            codebook_name TEXT,
            codebook_version TEXT,
            codebook_hash TEXT,
            codebook_path TEXT,
            tool_version TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',
            stats TEXT
        );
        CREATE TABLE documents (
            doc_id TEXT PRIMARY KEY,
            root TEXT NOT NULL,
            source TEXT NOT NULL,
            source_hash TEXT NOT NULL,
            meta_hash TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            encoding TEXT,
            text TEXT NOT NULL,
            attributes TEXT NOT NULL,
            coded_with TEXT,
            ingested_at TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(run_id)
        );
        CREATE INDEX documents_source ON documents(root, source);
        CREATE TABLE doc_attributes (
            doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            raw TEXT NOT NULL,
            PRIMARY KEY (doc_id, name)
        );
        CREATE INDEX doc_attributes_name_value ON doc_attributes(name, value);
        CREATE TABLE segments (
            segment_id INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            unit TEXT NOT NULL,
            sector TEXT,
            sector_source TEXT,
            UNIQUE (doc_id, start, end)
        );
        CREATE TABLE codings (
            coding_id INTEGER PRIMARY KEY,
            segment_id INTEGER NOT NULL REFERENCES segments(segment_id) ON DELETE CASCADE,
            doc_id TEXT NOT NULL,
            code TEXT NOT NULL,
            rule TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            matched TEXT NOT NULL,
            negated INTEGER NOT NULL DEFAULT 0,
            hypothetical INTEGER NOT NULL DEFAULT 0,
            cue TEXT,
            status TEXT NOT NULL DEFAULT 'auto',
            codebook_hash TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(run_id),
            UNIQUE (doc_id, start, end, code)
        );
        CREATE INDEX codings_code ON codings(code, doc_id);
        CREATE INDEX codings_doc ON codings(doc_id);
        CREATE INDEX segments_doc ON segments(doc_id);
    """),
    ("record each document's sector, declared or inferred", """
        ALTER TABLE documents ADD COLUMN sector TEXT;
        ALTER TABLE documents ADD COLUMN sector_source TEXT;
        CREATE INDEX documents_sector ON documents(sector);
    """),
    ("record review decisions keyed by document, offsets and code, with the text reviewed", """
        CREATE TABLE reviews (
            review_id INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            code TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'add')),
            correct_code TEXT,
            note TEXT,
            reviewer TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            text TEXT NOT NULL,
            UNIQUE (doc_id, start, end, code)
        );
        CREATE INDEX reviews_code ON reviews(code);
    """),
    ("index codings by segment, so deleting a document's segments does not scan every coding", """
        CREATE INDEX codings_segment ON codings(segment_id);
    """),
    ("record each source file's size and modification time, so an unchanged file is not read again", """
        ALTER TABLE documents ADD COLUMN size INTEGER;
        ALTER TABLE documents ADD COLUMN mtime_ns INTEGER;
    """),
    ("keep the codebook files documents were coded with, so a re-code can tell what a change affects", """
        CREATE TABLE codebooks (
            content_hash TEXT PRIMARY KEY,
            source BLOB NOT NULL,
            tool_version TEXT NOT NULL,
            saved_at TEXT NOT NULL
        );
    """),
    ("keep every reviewer's decisions, so that two coders' decisions can be compared", """
        CREATE TABLE reviewer_decisions (
            doc_id TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            code TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'add')),
            correct_code TEXT,
            note TEXT,
            decided_at TEXT NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (doc_id, start, end, code, reviewer)
        );
        INSERT INTO reviewer_decisions (doc_id, start, end, code, reviewer, decision, correct_code, note,
                                        decided_at, text)
            SELECT doc_id, start, end, code, reviewer, decision, correct_code, note, decided_at, text FROM reviews;
    """),
    ("learned layer: trained models, each coding's source, probability, model and explanation, unit scores", """
        CREATE TABLE models (
            model_id INTEGER PRIMARY KEY,
            content_hash TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            codebook_hash TEXT,
            labels TEXT NOT NULL,
            parameters TEXT NOT NULL,
            versions TEXT NOT NULL,
            metrics TEXT NOT NULL,
            data BLOB NOT NULL,
            created_at TEXT NOT NULL
        );
        ALTER TABLE codings ADD COLUMN source TEXT NOT NULL DEFAULT 'rules';
        ALTER TABLE codings ADD COLUMN probability REAL;
        ALTER TABLE codings ADD COLUMN model_hash TEXT;
        ALTER TABLE codings ADD COLUMN explanation TEXT;
        ALTER TABLE documents ADD COLUMN model_hash TEXT;
        CREATE TABLE scores (
            doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            probabilities TEXT NOT NULL,
            model_hash TEXT NOT NULL,
            PRIMARY KEY (doc_id, start, end)
        );
    """),
    ("keep memos on documents and on codings, written in the review workspace", """
        CREATE TABLE memos (
            memo_id INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL,
            start INTEGER NOT NULL DEFAULT 0,
            end INTEGER NOT NULL DEFAULT 0,
            code TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            author TEXT NOT NULL,
            written_at TEXT NOT NULL,
            UNIQUE (doc_id, start, end, code)
        );
    """),
    ("keep the passage a memo on a coding is about, so the memo follows it as a decision does", """
        ALTER TABLE memos ADD COLUMN passage TEXT;
    """),
)
SCHEMA_VERSION = len(MIGRATIONS)

# A coding counts in tables and metrics unless it is negated, hypothetical or rejected in review.
COUNTED = "c.negated = 0 AND c.hypothetical = 0 AND c.status != 'rejected'"
CODING_SOURCES = ("rules", "learned")


def _use_wal(connection: sqlite3.Connection) -> None:
    """Write-ahead logging, so readers never wait for the writer."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")


def _migration_names(version: int) -> list[str]:
    return [name for name, _ in MIGRATIONS[:version]]


def resolve_project_path(path: str | Path | None) -> Path:
    """``--project`` wins, then ``$PHANTOMCODE_PROJECT``, then ``./phantomcode.db``."""
    return Path(path or os.environ.get(PROJECT_ENV) or DEFAULT_PROJECT)


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
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StoredState:
    """What the store knows of a document, enough to decide whether it must be read again.

    ``size`` and ``mtime_ns`` describe the source file when it was last read (None in projects
    made before they were recorded): equal values let ingest skip reading the file at all.
    """

    doc_id: str
    root: str
    source: str
    source_hash: str
    meta_hash: str
    coded_with: str | None
    size: int | None = None
    mtime_ns: int | None = None


# (attribute name, canonical value, raw value): one ``doc_attributes`` row without its doc_id.
AttributeRow = tuple[str, str, str]


@dataclass(frozen=True)
class ModelRecord:
    """A trained model as the ``models`` table keeps it (``data``: the model's bytes)."""

    content_hash: str
    kind: str  # "trained" (phantomcode train) or "default" (from the codebook's examples)
    codebook_hash: str | None
    labels: dict[str, Any]
    parameters: dict[str, Any]
    versions: dict[str, str]
    metrics: list[dict[str, Any]]
    data: bytes
    created_at: str | None = None


class CodedRows(NamedTuple):
    """A coded document in the store's own row format: plain tuples, cheap to send between processes.

    ``segments``: (start, end, unit, sector, sector_source); ``codings``: (index of its segment,
    code, rule, start, end, matched spans as JSON, negated, hypothetical, cue, source, probability,
    model hash, explanation as JSON); ``scores``: (start, end, {code: probability} as JSON) of the
    units the learned layer scored; ``model_hash``: its model. Workers build these, so the writing
    process only runs ``executemany``.
    """

    sector: str | None
    sector_source: str | None
    segments: list[tuple[int, int, str, str | None, str | None]]
    codings: list[tuple[Any, ...]]
    scores: list[tuple[int, int, str]] = []
    model_hash: str | None = None


def coded_rows(coded: CodedDocument, model_hash: str | None = None) -> CodedRows:
    """The rows ``save_documents`` and ``save_codings`` write for one coded document."""
    segments, codings = [], []
    for index, segment in enumerate(coded.segments):
        segments.append((segment.start, segment.end, segment.unit, segment.sector, segment.sector_source))
        codings.extend(
            (index, c.code, c.rule, c.start, c.end,
             _to_json([{"start": m.start, "end": m.end, "text": m.text, "term": m.term} for m in c.matched]),
             int(c.negated), int(c.hypothetical), c.cue, c.source, c.probability, c.model_hash,
             c.explanation.to_json() if c.explanation is not None else None)
            for c in segment.codings)
    scores = [(unit.start, unit.end, _to_json(dict(unit.probabilities))) for unit in coded.scores]
    return CodedRows(coded.sector, coded.sector_source, segments, codings, scores, model_hash)


# json.dumps(..., ensure_ascii=False) builds a new encoder per call; coded_rows encodes every coding.
_to_json = json.JSONEncoder(ensure_ascii=False).encode


class DocumentRecord(NamedTuple):
    """A read note ready to be written; ``attribute_rows`` pair raw values with canonical ones."""

    doc_id: str
    root: str
    source: str
    source_hash: str
    meta_hash: str
    content_hash: str
    encoding: str
    text: str
    attributes: dict[str, str]
    attribute_rows: list[AttributeRow]
    size: int
    mtime_ns: int
    replaces: str | None = None  # the ID this file's document had before its front matter changed it


def attribute_rows(raw: dict[str, str], canonical: dict[str, str]) -> list[AttributeRow]:
    """``doc_attributes`` rows: each raw value with its canonical form (the raw one when unmapped)."""
    return [(name, canonical.get(name, value), value) for name, value in raw.items()]


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    command: str
    codebook_name: str | None
    codebook_version: str | None
    codebook_hash: str | None
    tool_version: str
    started_at: str
    finished_at: str | None
    status: str
    stats: dict[str, Any]


class Store:
    """An open project. Use ``Store.open`` (or as a context manager) rather than the constructor."""

    def __init__(self, path: Path, connection: sqlite3.Connection, *, readonly: bool) -> None:
        self.path = path
        self.connection = connection
        self.readonly = readonly

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | None = None, *, readonly: bool = False,
             must_exist: bool = False) -> Store:
        """Open (and, when writable, create or upgrade) the project at ``path``.

        Raises ``ProjectError`` when the file is not a phantomcode project, cannot be written,
        or ``must_exist`` is set and there is no project yet; ``SchemaTooNewError`` when a newer
        phantomcode wrote it.
        """
        path = resolve_project_path(path)
        if (readonly or must_exist) and not path.exists():
            raise ProjectError(f"{path}: no project here yet; run 'phantomcode ingest NOTES_DIR' first "
                               "or point --project (or $PHANTOMCODE_PROJECT) at your project file")
        if path.exists() and path.is_dir():
            raise ProjectError(f"{path}: is a folder; --project takes the project file, e.g. {path / DEFAULT_PROJECT}")
        try:
            connection = cls._connect(path, readonly)
            store = cls(path, connection, readonly=readonly)
            store._check_schema()
            if not readonly:
                _use_wal(connection)  # only now: switching the journal mode writes the file's header
        except sqlite3.DatabaseError as exc:
            raise ProjectError(_describe_sqlite_error(path, exc)) from None
        return store

    @staticmethod
    def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
        if readonly:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                         isolation_level=None, timeout=LOCK_TIMEOUT_SECONDS)
        else:
            if path.parent and not path.parent.exists():
                raise ProjectError(f"{path}: the folder {path.parent} does not exist")
            connection = sqlite3.connect(path, isolation_level=None, timeout=LOCK_TIMEOUT_SECONDS)
        connection.execute("PRAGMA foreign_keys=ON")
        connection.row_factory = sqlite3.Row
        return connection

    def _check_schema(self) -> None:
        version = self._schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{self.path}: this project was written by a newer phantomcode (schema {version}, "
                f"this version knows up to {SCHEMA_VERSION}); upgrade phantomcode to open it")
        self._refuse_foreign_database(version)
        if version < SCHEMA_VERSION:
            self._migrate()

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
            raise ProjectError(f"{self.path}: an SQLite file, but not a phantomcode project; "
                               "choose another --project path")

    def _recorded_migrations(self, version: int) -> list[str] | None:
        try:
            rows = self.connection.execute("SELECT version, name FROM migrations WHERE version <= ? ORDER BY version",
                                           (version,)).fetchall()
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
                    for statement in _split_sql(sql):
                        connection.execute(statement)
                    connection.execute("INSERT INTO migrations VALUES (?, ?, ?)", (number, name, _now()))
                    connection.execute(f"PRAGMA user_version = {number}")
        finally:
            if writer.connection is not self.connection:
                connection.close()

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
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

        The wait defaults to ``$PHANTOMCODE_LOCK_TIMEOUT`` or 5 seconds. The lock is an OS lock on ``<project>.lock``: it disappears with the process, so a run
        killed with SIGKILL never leaves the project locked.
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
            raise ProjectBusyError(f"{self.path}: another phantomcode command is writing this project; "
                                   "wait for it to finish and run this command again") from None
        except OSError as exc:
            raise ProjectError(f"{self.path}: cannot create the lock file ({exc.strerror}); "
                               "the project's folder must be writable") from None
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

    # -- runs ---------------------------------------------------------------------------------

    def begin_run(self, command: str, *, codebook_name: str | None = None, codebook_version: str | None = None,
                  codebook_hash: str | None = None, codebook_path: str | None = None) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (command, codebook_name, codebook_version, codebook_hash, codebook_path,"
                " tool_version, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (command, codebook_name, codebook_version, codebook_hash, codebook_path, __version__, _now()))
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, *, status: str, stats: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE run_id = ?",
                       (_now(), status, json.dumps(stats, ensure_ascii=False), run_id))

    def last_run(self, *, completed_only: bool = False) -> RunInfo | None:
        where = "WHERE status = 'completed'" if completed_only else ""
        row = self.connection.execute(f"SELECT * FROM runs {where} ORDER BY run_id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        values = dict(row)
        values.pop("codebook_path")
        values["stats"] = json.loads(values["stats"] or "{}")
        return RunInfo(**values)

    # -- documents ----------------------------------------------------------------------------

    def stored_states(self) -> dict[str, StoredState]:
        """Every document's identity, hashes and file stat, without its text: cheap even for 100,000 notes."""
        rows = self.connection.execute(
            "SELECT doc_id, root, source, source_hash, meta_hash, coded_with, size, mtime_ns FROM documents")
        return {row["doc_id"]: StoredState(*row) for row in rows}

    def save_documents(self, batch: Sequence[tuple[DocumentRecord, CodedRows]], *,
                       codebook_hash: str, run_id: int) -> None:
        """Write documents and replace their codings, all in one transaction."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO documents (doc_id, root, source, source_hash, meta_hash, content_hash, encoding, text,"
                " attributes, ingested_at, run_id, coded_with, sector, sector_source, size, mtime_ns)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (doc_id) DO UPDATE SET root = excluded.root, source = excluded.source,"
                " source_hash = excluded.source_hash, meta_hash = excluded.meta_hash,"
                " content_hash = excluded.content_hash, encoding = excluded.encoding, text = excluded.text,"
                " attributes = excluded.attributes, ingested_at = excluded.ingested_at, run_id = excluded.run_id,"
                " coded_with = excluded.coded_with, sector = excluded.sector,"
                " sector_source = excluded.sector_source, size = excluded.size, mtime_ns = excluded.mtime_ns",
                [(r.doc_id, r.root, r.source, r.source_hash, r.meta_hash, r.content_hash, r.encoding, r.text,
                  json.dumps(r.attributes, ensure_ascii=False, sort_keys=True), now, run_id, codebook_hash,
                  coded.sector, coded.sector_source, r.size, r.mtime_ns) for r, coded in batch])
            self._write_attributes(db, [(record.doc_id, record.attribute_rows) for record, _ in batch])
            self._replace_codings(db, [(record.doc_id, coded) for record, coded in batch], codebook_hash, run_id)
            self._retire_replaced(db, [(record.replaces, record.doc_id) for record, _ in batch if record.replaces])

    def _retire_replaced(self, db: sqlite3.Connection, renamed: list[tuple[str, str]]) -> None:
        """Documents whose file now gives another ID: their review decisions move to the new ID
        (unless it has a decision on the same span and code already) and apply there, and the
        old documents are deleted."""
        if not renamed:
            return
        moves = [(new, old) for old, new in renamed]
        db.executemany("UPDATE OR IGNORE reviews SET doc_id = ? WHERE doc_id = ?", moves)
        db.executemany("UPDATE OR IGNORE reviewer_decisions SET doc_id = ? WHERE doc_id = ?", moves)
        db.executemany("UPDATE OR IGNORE memos SET doc_id = ? WHERE doc_id = ?", moves)
        db.executemany("DELETE FROM documents WHERE doc_id = ?", [(old,) for old, _ in renamed])
        for _, new in renamed:
            self._apply_reviews(db, new)
        self._relocate_memos(db, [new for _, new in renamed])

    def save_codings(self, batch: Sequence[tuple[str, list[AttributeRow], CodedRows]], *,
                     codebook_hash: str, run_id: int) -> None:
        """Replace the codings and canonical attributes of stored documents, in one transaction.

        Each item is (doc_id, attribute rows, coded rows).
        """
        with self.transaction() as db:
            self._write_attributes(db, [(doc_id, rows) for doc_id, rows, _ in batch])
            db.executemany("UPDATE documents SET coded_with = ?, sector = ?, sector_source = ? WHERE doc_id = ?",
                           [(codebook_hash, coded.sector, coded.sector_source, doc_id) for doc_id, _, coded in batch])
            self._replace_codings(db, [(doc_id, coded) for doc_id, _, coded in batch], codebook_hash, run_id)

    def refresh_file_stats(self, stats: Sequence[tuple[str, int, int]]) -> None:
        """Record (doc_id, size, mtime_ns) of files found byte-identical although their stat changed."""
        if not stats:
            return
        with self.transaction() as db:
            db.executemany("UPDATE documents SET size = ?, mtime_ns = ? WHERE doc_id = ?",
                           [(size, mtime_ns, doc_id) for doc_id, size, mtime_ns in stats])

    @staticmethod
    def _write_attributes(db: sqlite3.Connection, documents: Sequence[tuple[str, list[AttributeRow]]]) -> None:
        db.executemany("DELETE FROM doc_attributes WHERE doc_id = ?", [(doc_id,) for doc_id, _ in documents])
        db.executemany("INSERT INTO doc_attributes (doc_id, name, value, raw) VALUES (?, ?, ?, ?)",
                       [(doc_id, *row) for doc_id, rows in documents for row in rows])

    @classmethod
    def _replace_codings(cls, db: sqlite3.Connection, documents: Sequence[tuple[str, CodedRows]],
                         codebook_hash: str, run_id: int) -> None:
        """Swap documents' segments and codings for new ones, a few statements for the whole batch.

        Segment IDs are given here (after the largest in use: this process holds the writer lock),
        so codings can name their segment without a round trip per segment. Review decisions are
        then applied to the documents that have any.
        """
        doc_ids = [(doc_id,) for doc_id, _ in documents]
        db.executemany("DELETE FROM codings WHERE doc_id = ?", doc_ids)
        db.executemany("DELETE FROM segments WHERE doc_id = ?", doc_ids)
        db.executemany("DELETE FROM scores WHERE doc_id = ?", doc_ids)
        db.executemany("UPDATE documents SET model_hash = ? WHERE doc_id = ?",
                       [(coded.model_hash, doc_id) for doc_id, coded in documents])
        db.executemany("INSERT INTO scores (doc_id, start, end, probabilities, model_hash) VALUES (?, ?, ?, ?, ?)",
                       [(doc_id, *score, coded.model_hash) for doc_id, coded in documents for score in coded.scores])
        next_id = db.execute("SELECT coalesce(max(segment_id), 0) + 1 FROM segments").fetchone()[0]
        segments, codings = [], []
        for doc_id, coded in documents:
            segments.extend((next_id + index, doc_id, *segment) for index, segment in enumerate(coded.segments))
            codings.extend((next_id + coding[0], doc_id, *coding[1:], codebook_hash, run_id) for coding in coded.codings)
            next_id += len(coded.segments)
        db.executemany("INSERT INTO segments (segment_id, doc_id, start, end, unit, sector, sector_source)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)", segments)
        db.executemany(
            "INSERT INTO codings (segment_id, doc_id, code, rule, start, end, matched, negated, hypothetical, cue,"
            " source, probability, model_hash, explanation, codebook_hash, run_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", codings)
        for doc_id in cls._reviewed_among(db, [doc_id for doc_id, _ in documents]):
            cls._apply_reviews(db, doc_id)
        cls._relocate_memos(db, [doc_id for doc_id, _ in documents])

    @staticmethod
    def _reviewed_among(db: sqlite3.Connection, doc_ids: list[str]) -> list[str]:
        """Those of ``doc_ids`` with review decisions, in the order given."""
        rows = db.execute("SELECT DISTINCT doc_id FROM reviews WHERE doc_id IN (SELECT value FROM json_each(?))",
                          (json.dumps(doc_ids, ensure_ascii=False),))
        reviewed = {row[0] for row in rows}
        return [doc_id for doc_id in doc_ids if doc_id in reviewed]

    def remove_documents(self, doc_ids: Iterable[str]) -> int:
        """Delete documents with their attributes, segments and codings (``--prune``); how many went."""
        with self.transaction() as db:
            return db.execute("DELETE FROM documents WHERE doc_id IN (SELECT value FROM json_each(?))",
                              (json.dumps(list(doc_ids), ensure_ascii=False),)).rowcount

    def doc_ids_by_codebook(self, *, not_coded_with: str) -> dict[str | None, list[str]]:
        """IDs of the documents coded with another codebook than ``not_coded_with``, in order,
        grouped by the codebook hash they were coded with (None: never coded)."""
        grouped: dict[str | None, list[str]] = {}
        for doc_id, coded_with in self.connection.execute(
                "SELECT doc_id, coded_with FROM documents WHERE coded_with IS NOT ? ORDER BY doc_id", (not_coded_with,)):
            grouped.setdefault(coded_with, []).append(doc_id)
        return grouped

    def mark_coded_with(self, doc_ids: Sequence[str], codebook_hash: str) -> None:
        """Record that documents code the same with another codebook: their codings stay, now
        attributed to it (the run that made them is kept)."""
        ids = json.dumps(list(doc_ids), ensure_ascii=False)
        with self.transaction() as db:
            db.execute("UPDATE documents SET coded_with = ? WHERE doc_id IN (SELECT value FROM json_each(?))",
                       (codebook_hash, ids))
            db.execute("UPDATE codings SET codebook_hash = ? WHERE doc_id IN (SELECT value FROM json_each(?))",
                       (codebook_hash, ids))

    def doc_ids(self) -> list[str]:
        """Stored document IDs in order."""
        return [row[0] for row in self.connection.execute("SELECT doc_id FROM documents ORDER BY doc_id")]

    def texts_and_attributes(self, doc_ids: Sequence[str]) -> list[tuple[str, str, dict[str, str]]]:
        """(doc_id, text, raw attributes) of one page of documents, in the order given."""
        rows = self.connection.execute(
            "SELECT doc_id, text, attributes FROM documents WHERE doc_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(doc_ids), ensure_ascii=False),))
        found = {row[0]: (row[0], row[1], json.loads(row[2])) for row in rows}
        return [found[doc_id] for doc_id in doc_ids if doc_id in found]

    def iter_documents(self, *, batch_size: int = 500) -> Iterator[dict[str, Any]]:
        """Stored documents in ID order, streamed in pages so memory stays flat on big projects."""
        last = ""
        while True:
            rows = self.connection.execute(
                "SELECT doc_id, root, source, text, attributes, encoding FROM documents"
                " WHERE doc_id > ? ORDER BY doc_id LIMIT ?", (last, batch_size)).fetchall()
            if not rows:
                return
            for row in rows:
                record = dict(row)
                record["attributes"] = json.loads(record["attributes"])
                yield record
            last = rows[-1]["doc_id"]

    # -- summaries ----------------------------------------------------------------------------

    def count_documents(self) -> int:
        return self.connection.execute("SELECT count(*) FROM documents").fetchone()[0]

    def known_codebook(self, content_hash: str) -> tuple[str, str] | None:
        """(name, version) of the codebook with these bytes, when a completed run used it."""
        row = self.connection.execute(
            "SELECT codebook_name, codebook_version FROM runs WHERE codebook_hash = ? AND status = 'completed'"
            " AND codebook_name IS NOT NULL ORDER BY run_id DESC LIMIT 1", (content_hash,)).fetchone()
        return (row[0], row[1] or "") if row else None

    def save_codebook_source(self, content_hash: str, source: bytes) -> None:
        """Keep the bytes of a codebook documents are coded with (once per distinct codebook)."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO codebooks (content_hash, source, tool_version, saved_at)"
                       " VALUES (?, ?, ?, ?)", (content_hash, source, __version__, _now()))

    def codebook_source(self, content_hash: str) -> tuple[bytes, str] | None:
        """(bytes, phantomcode version that coded with it) of a kept codebook, or None."""
        row = self.connection.execute("SELECT source, tool_version FROM codebooks WHERE content_hash = ?",
                                      (content_hash,)).fetchone()
        return (bytes(row[0]), row[1]) if row else None

    # -- models -------------------------------------------------------------------------------

    def save_model(self, record: ModelRecord) -> None:
        """Keep a trained model; the same content hash again only becomes the latest."""
        with self.transaction() as db:
            db.execute("DELETE FROM models WHERE content_hash = ?", (record.content_hash,))
            db.execute("INSERT INTO models (content_hash, kind, codebook_hash, labels, parameters, versions, metrics,"
                       " data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (record.content_hash, record.kind, record.codebook_hash, json.dumps(record.labels),
                        json.dumps(record.parameters), json.dumps(record.versions), json.dumps(record.metrics),
                        record.data, record.created_at or _now()))

    def latest_model(self, *, kind: str | None = None) -> ModelRecord | None:
        """The model trained last (of ``kind``, if given), or None."""
        where, params = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        row = self.connection.execute(f"SELECT * FROM models {where} ORDER BY model_id DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        return ModelRecord(row["content_hash"], row["kind"], row["codebook_hash"], json.loads(row["labels"]),
                           json.loads(row["parameters"]), json.loads(row["versions"]), json.loads(row["metrics"]),
                           row["data"], row["created_at"])

    def doc_ids_by_model(self, *, not_coded_with: str | None) -> list[str]:
        """IDs of the documents whose codings came from another model than ``not_coded_with``."""
        return [row[0] for row in self.connection.execute(
            "SELECT doc_id FROM documents WHERE model_hash IS NOT ? ORDER BY doc_id", (not_coded_with,))]

    def unit_scores(self) -> Iterator[tuple[str, int, int, dict[str, float]]]:
        """(doc_id, start, end, {code: probability}) of every unit the learned layer scored.

        The probabilities are parsed as one JSON array: a project has tens of thousands of scored
        units, and one parser call per unit costs more than the parsing itself."""
        rows = self.connection.execute(
            "SELECT doc_id, start, end, probabilities FROM scores ORDER BY doc_id, start").fetchall()
        probabilities = json.loads(f"[{','.join(row[3] for row in rows)}]")
        for row, parsed in zip(rows, probabilities):
            yield row[0], row[1], row[2], parsed

    def unit_codings(self, doc_ids: Iterable[str]) -> dict[tuple[str, int, int], list[tuple[str, str, bool, bool, str]]]:
        """(doc_id, start, end) -> [(code, source, negated, hypothetical, status)] of the codings of
        some documents."""
        found: dict[tuple[str, int, int], list[tuple[str, str, bool, bool, str]]] = {}
        for row in self.connection.execute(
                "SELECT doc_id, start, end, code, source, negated, hypothetical, status FROM codings"
                " WHERE doc_id IN (SELECT value FROM json_each(?))", (json.dumps(sorted(set(doc_ids))),)):
            found.setdefault((row[0], row[1], row[2]), []).append(
                (row[3], row[4], bool(row[5]), bool(row[6]), row[7]))
        return found

    def reviewed_units(self) -> list[dict[str, Any]]:
        """Every review decision with its document's text: what training learns from."""
        rows = self.connection.execute(
            "SELECT r.doc_id, r.start, r.end, r.code, r.decision, r.text, d.text AS document FROM reviews r"
            " JOIN documents d ON d.doc_id = r.doc_id ORDER BY r.doc_id, r.start, r.end, r.code")
        return [dict(row) for row in rows]

    def last_codebook(self) -> tuple[str, str, str | None, str | None] | None:
        """(path as recorded, content hash, name, version) of the codebook the most recent run used."""
        row = self.connection.execute(
            "SELECT codebook_path, codebook_hash, codebook_name, codebook_version FROM runs"
            " WHERE codebook_path IS NOT NULL ORDER BY run_id DESC LIMIT 1").fetchone()
        return (row[0], row[1] or "", row[2], row[3]) if row else None

    def count_codings(self) -> tuple[int, int]:
        """(all codings, codings that count: not negated, hypothetical or rejected)."""
        row = self.connection.execute(
            f"SELECT count(*), coalesce(sum({COUNTED}), 0) FROM codings c").fetchone()
        return row[0], row[1]

    def attribute_values(self) -> dict[str, list[tuple[str, int]]]:
        """Each attribute with its (canonical) values and how many documents carry each."""
        rows = self.connection.execute(
            "SELECT name, value, count(*) AS n FROM doc_attributes GROUP BY name, value ORDER BY name, n DESC, value")
        values: dict[str, list[tuple[str, int]]] = {}
        for row in rows:
            values.setdefault(row["name"], []).append((row["value"], row["n"]))
        return values

    def coding_rows(self, *, code: str | None = None, counted_only: bool = False) -> Iterator[dict[str, Any]]:
        """One row per coding with its segment text and sector, in document order; attributes not included."""
        conditions = [COUNTED] if counted_only else []
        params: list[Any] = []
        if code is not None:
            conditions.append("c.code = ?")
            params.append(code)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self.connection.execute(
            "SELECT c.coding_id, c.doc_id, c.start, c.end, substr(d.text, c.start + 1, c.end - c.start) AS text,"
            " c.code, c.rule, c.matched, c.negated, c.hypothetical, c.cue, c.status, s.sector AS segment_sector,"
            " s.sector_source, c.codebook_hash, c.source, c.probability, c.model_hash, c.explanation"
            " FROM codings c JOIN segments s USING (segment_id) JOIN documents d ON d.doc_id = c.doc_id"
            f" {where} ORDER BY c.doc_id, c.start, c.code", params)
        for row in rows:
            record = dict(row)
            record["matched"] = json.loads(record["matched"])
            record["negated"], record["hypothetical"] = bool(record["negated"]), bool(record["hypothetical"])
            yield record

    def canonical_attribute_table(self) -> dict[str, dict[str, str]]:
        """doc_id -> {attribute: canonical value}, for joining onto coding rows."""
        table: dict[str, dict[str, str]] = {}
        for row in self.connection.execute("SELECT doc_id, name, value FROM doc_attributes"):
            table.setdefault(row["doc_id"], {})[row["name"]] = row["value"]
        return table

    def term_counts(self) -> list[tuple[str, str, int, int]]:
        """(code, matched codebook term, segments, documents) over counted codings."""
        rows = self.connection.execute(
            "SELECT c.code, json_extract(m.value, '$.term') AS term, count(DISTINCT c.segment_id),"
            f" count(DISTINCT c.doc_id) FROM codings c, json_each(c.matched) m WHERE {COUNTED}"
            " GROUP BY c.code, term ORDER BY c.code, term")
        return [tuple(row) for row in rows]

    def code_counts(self, *, source: str | None = None) -> dict[str, tuple[int, int]]:
        """code -> (segments, documents) over counted codings (of one ``source``, if given)."""
        rows = self.connection.execute(
            "SELECT c.code, count(DISTINCT c.segment_id), count(DISTINCT c.doc_id) FROM codings c"
            f" WHERE {self._report_counted(False, source)} GROUP BY c.code")
        return {row[0]: (row[1], row[2]) for row in rows}

    def coding_codes(self) -> set[str]:
        """Every code the project has codings of (from the code index: no table scan)."""
        return {row[0] for row in self.connection.execute("SELECT DISTINCT code FROM codings")}

    def document_texts(self, doc_ids: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(doc_ids))
        texts: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self.connection.execute(
                f"SELECT doc_id, text FROM documents WHERE doc_id IN ({','.join('?' * len(chunk))})", chunk)
            texts.update({row[0]: row[1] for row in rows})
        return texts

    def counted_spans(self, *, source: str | None = None) -> dict[str, list[tuple[int, int, str]]]:
        """doc_id -> [(start, end, code)] of every counted coding (of one ``source``, if given):
        what evaluation compares to gold."""
        spans: dict[str, list[tuple[int, int, str]]] = {}
        for row in self.connection.execute(
                f"SELECT c.doc_id, c.start, c.end, c.code FROM codings c WHERE {self._report_counted(False, source)}"):
            spans.setdefault(row[0], []).append((row[1], row[2], row[3]))
        return spans

    def model_spans(self) -> dict[str, list[tuple[int, int, str]]]:
        """doc_id -> [(start, end, code)] the learned model alone would code: stored probabilities
        at or above the threshold of the model that scored them."""
        thresholds: dict[str, dict[str, float]] = {}
        for row in self.connection.execute("SELECT content_hash, metrics FROM models"):
            thresholds[row[0]] = {fit["code"]: fit["threshold"] for fit in json.loads(row[1])}
        spans: dict[str, list[tuple[int, int, str]]] = {}
        for row in self.connection.execute("SELECT doc_id, start, end, probabilities, model_hash FROM scores"):
            limits = thresholds.get(row[4], {})
            for code, probability in json.loads(row[3]).items():
                if probability >= limits.get(code, 2.0):
                    spans.setdefault(row[0], []).append((row[1], row[2], code))
        return spans

    def attribute_names(self) -> list[str]:
        return [r[0] for r in self.connection.execute("SELECT DISTINCT name FROM doc_attributes ORDER BY name")]

    # -- reports ------------------------------------------------------------------------------
    # Every report query starts from the ``report_docs`` CTE: the documents the filters leave, each
    # with one group key per ``by`` attribute (its canonical value, else REPORT_MISSING). Groups
    # thus partition the documents: each is counted once and the groups' N add up to the filtered N.
    # Codings are reached document by document (``CROSS JOIN`` keeps that order, ``+c.code`` keeps
    # SQLite off the code index): a document's codings sit together on disk, so this reads them
    # in order instead of jumping across the table, about twice as fast on a 30,000-note project.

    REPORT_MISSING = "(missing)"

    def report_attribute_names(self) -> list[str]:
        """Attributes a report can group or filter by: every stored attribute, plus ``sector``."""
        return sorted({*self.attribute_names(), "sector"})

    def report_attribute_values(self, name: str) -> list[tuple[str, int]]:
        """One attribute's group keys, as reports see them, with their document counts."""
        cte, params = self._report_docs((name,), {})
        rows = self.connection.execute(f"{cte} SELECT g0, count(*) FROM report_docs GROUP BY g0", params)
        return [(row[0], row[1]) for row in rows]

    def report_group_sizes(self, by: Sequence[str], *, where: dict[str, Sequence[str]]) -> list[tuple[Any, ...]]:
        """(group key..., documents) for every group that has documents after filtering."""
        cte, params = self._report_docs(by, where)
        keys = self._report_keys(by)
        sql = f"{cte} SELECT {keys}, count(*) FROM report_docs GROUP BY {keys}" if by else \
            f"{cte} SELECT count(*) FROM report_docs"
        return [tuple(row) for row in self.connection.execute(sql, params)]

    def report_code_counts(self, by: Sequence[str], *, where: dict[str, Sequence[str]], codes: Sequence[str],
                           accepted_only: bool = False,
                           source: str | None = None) -> list[tuple[Any, ...]]:
        """(group key..., code, documents, coded segments) over counted codings; absent pairs are zero."""
        cte, params = self._report_docs(by, where)
        keys = "".join(f"r.g{index}, " for index in range(len(by)))
        rows = self.connection.execute(
            f"{cte} SELECT {keys}c.code, count(DISTINCT c.doc_id), count(DISTINCT c.segment_id)"
            f" {self._report_codings(accepted_only, source)} GROUP BY {keys}c.code", [*params, json.dumps(list(codes))])
        return [tuple(row) for row in rows]

    def report_quotes(self, by: Sequence[str], *, where: dict[str, Sequence[str]], codes: Sequence[str],
                      per_cell: int, accepted_only: bool = False,
                           source: str | None = None) -> list[dict[str, Any]]:
        """Up to ``per_cell`` exemplar segments per group and code, at most one per document.

        Best first: accepted in review; no negated or hypothetical hit of the code in the segment;
        20 to 300 characters long; more matched words; shorter; earlier. The preference is one
        sortable text key (``quality``), so each document's best segment is a plain ``min()``.
        """
        cte, params = self._report_docs(by, where)
        counted = self._report_counted(accepted_only, source)
        keys = "".join(f"g{index}, " for index in range(len(by)))
        rows = self.connection.execute(
            f"{cte}, hits AS MATERIALIZED (SELECT {keys}c.code, c.doc_id, c.segment_id, s.start, s.end,"
            f"  printf('%d%d%d%05d%07d%010d', 1 - max(({counted}) AND c.status = 'accepted'),"
            "   max(c.negated OR c.hypothetical), (s.end - s.start) NOT BETWEEN 20 AND 300,"
            f"   99999 - min(sum(CASE WHEN {counted} THEN json_array_length(c.matched) ELSE 0 END), 99999),"
            "   min(s.end - s.start, 9999999), s.start) AS quality"
            "  FROM report_docs r CROSS JOIN codings c ON c.doc_id = r.doc_id"
            "  JOIN segments s ON s.segment_id = c.segment_id WHERE +c.code IN (SELECT value FROM json_each(?))"
            f"  GROUP BY c.segment_id, c.code HAVING sum({counted}) > 0),"
            f" best_in_doc AS (SELECT {keys}code, doc_id, segment_id, start, end, min(quality) AS quality"
            "  FROM hits GROUP BY doc_id, code),"
            f" ranked AS (SELECT *, row_number() OVER (PARTITION BY {keys}code ORDER BY quality, doc_id) AS rank"
            "  FROM best_in_doc)"
            f" SELECT {''.join(f'q.g{i}, ' for i in range(len(by)))}q.code, q.rank, q.doc_id, q.start, q.end,"
            "  substr(d.text, q.start + 1, q.end - q.start) AS text,"
            "  (SELECT group_concat(words, ' | ') FROM (SELECT DISTINCT json_extract(m.value, '$.text') AS words"
            "    FROM codings c, json_each(c.matched) m WHERE c.doc_id = q.doc_id AND c.code = q.code"
            f"    AND c.segment_id = q.segment_id AND {counted})) AS matched,"
            "  CASE WHEN substr(q.quality, 1, 1) = '0' THEN 'accepted' ELSE 'auto' END AS status"
            " FROM ranked q JOIN documents d ON d.doc_id = q.doc_id WHERE q.rank <= ?",
            [*params, json.dumps(list(codes)), per_cell])
        return [dict(row) for row in rows]

    def report_cooccurrence(self, *, where: dict[str, Sequence[str]], codes: Sequence[str],
                            accepted_only: bool = False,
                           source: str | None = None) -> list[tuple[str, str, int, int]]:
        """(code, other code, documents with both, segments with both) over counted codings.

        On the diagonal (a code with itself) are the code's own documents and segments.
        """
        cte, params = self._report_docs((), where)
        # One pass over the codings feeds both counts; each unordered pair is counted once
        # (b.code >= a.code) and mirrored, which halves the self-joins.
        rows = self.connection.execute(
            f"{cte}, hits AS MATERIALIZED (SELECT DISTINCT c.doc_id, c.segment_id, c.code"
            f" {self._report_codings(accepted_only, source)}),"
            " doc_hits AS MATERIALIZED (SELECT DISTINCT doc_id, code FROM hits)"
            " SELECT 'documents', a.code, b.code, count(*) FROM doc_hits a JOIN doc_hits b"
            "  ON b.doc_id = a.doc_id AND b.code >= a.code GROUP BY a.code, b.code"
            " UNION ALL SELECT 'segments', a.code, b.code, count(*) FROM hits a JOIN hits b"
            "  ON b.segment_id = a.segment_id AND b.code >= a.code GROUP BY a.code, b.code",
            [*params, json.dumps(list(codes))]).fetchall()
        counts = {(kind, a, b): n for kind, a, b, n in rows}
        pairs = [(a, b, n, counts.get(("segments", a, b), 0)) for kind, a, b, n in rows if kind == "documents"]
        return pairs + [(b, a, n, segments) for a, b, n, segments in pairs if a != b]

    def report_segment_cells(self) -> sqlite3.Cursor:
        """The rows of ``export segments --format csv``: one cell per ``export.SEGMENT_COLUMNS``, in
        document order, with the matched spans joined as ``words | words`` and the flags as
        ``TRUE``/``FALSE`` in SQL (read as logicals by R's ``read.csv``), so that the export streams
        them to the csv writer.

        Guarding cells against spreadsheet formulas is left to the caller: a Python check per cell
        costs less than the same test as a SQL expression.
        """
        def flag(column: str) -> str:
            return f"CASE WHEN {column} THEN 'TRUE' ELSE 'FALSE' END"

        return self.connection.execute(
            "SELECT c.doc_id, c.start, c.end, substr(d.text, c.start + 1, c.end - c.start), c.code, c.rule,"
            " (SELECT group_concat(json_extract(m.value, '$.text'), ' | ') FROM json_each(c.matched) m),"
            f" {flag('c.negated')}, {flag('c.hypothetical')}, c.cue, c.status, s.sector, s.sector_source,"
            " c.codebook_hash, c.source, c.probability, c.model_hash, c.explanation"
            " FROM codings c JOIN segments s USING (segment_id) JOIN documents d ON d.doc_id = c.doc_id"
            " ORDER BY c.doc_id, c.start, c.code")

    def report_codebook_hashes(self) -> list[str]:
        """The codebook hashes the stored documents were coded with (one, unless a re-code is pending)."""
        return [row[0] for row in self.connection.execute(
            "SELECT DISTINCT coded_with FROM documents WHERE coded_with IS NOT NULL ORDER BY coded_with")]

    def report_coded_at(self) -> str | None:
        """When the project's codings were last made: the finish time of the last completed run."""
        row = self.connection.execute("SELECT max(finished_at) FROM runs WHERE status = 'completed'").fetchone()
        return row[0]

    @classmethod
    def _report_codings(cls, accepted_only: bool, source: str | None = None) -> str:
        """FROM and WHERE joining the filtered documents to their counted codings of the codes in ``?``."""
        return (" FROM report_docs r CROSS JOIN codings c ON c.doc_id = r.doc_id"
                f" WHERE {cls._report_counted(accepted_only, source)} AND +c.code IN (SELECT value FROM json_each(?))")

    @staticmethod
    def _report_counted(accepted_only: bool, source: str | None = None) -> str:
        """The counted codings; only accepted ones, only those of one ``source`` ('rules', 'learned')."""
        counted = f"{COUNTED} AND c.status = 'accepted'" if accepted_only else COUNTED
        return counted + Store._source_condition(source)

    @staticmethod
    def _source_condition(source: str | None) -> str:
        """`` AND`` the coding came from ``source`` ('rules', 'learned'); nothing for None (both)."""
        if source is None:
            return ""
        if source not in CODING_SOURCES:
            raise ValueError(f"unknown coding source {source!r}")
        return f" AND c.source = '{source}'"

    @staticmethod
    def _report_keys(by: Sequence[str]) -> str:
        return ", ".join(f"g{index}" for index in range(len(by)))

    @classmethod
    def _report_docs(cls, by: Sequence[str], where: dict[str, Sequence[str]]) -> tuple[str, list[Any]]:
        """``WITH report_docs(doc_id, g0, g1, ...)``: the filtered documents with a group key per ``by``.

        A key is the attribute's canonical value; an empty or absent value is REPORT_MISSING.
        ``sector`` is the document's own sector (declared, else inferred), falling back to a declared
        ``sector`` attribute in projects coded before sectors were recorded. Filters AND across
        attributes and OR within one attribute; they compare keys, so ``(missing)`` can be chosen.
        """
        names = list(dict.fromkeys([*by, *where]))
        joins, params, key_of = [], [], {}
        for index, name in enumerate(names):
            joins.append(f" LEFT JOIN doc_attributes a{index} ON a{index}.doc_id = d.doc_id AND a{index}.name = ?")
            params.append(name)
            value = f"nullif(a{index}.value, '')"
            if name == "sector":
                value = f"nullif(d.sector, ''), {value}"
            key_of[name] = f"coalesce({value}, '{cls.REPORT_MISSING}')"
        columns = "".join(f", {key_of[name]} AS g{index}" for index, name in enumerate(by))
        conditions = []
        for name, values in where.items():
            conditions.append(f"{key_of[name]} IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(values)))
        condition = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return (f"WITH report_docs AS MATERIALIZED (SELECT d.doc_id{columns} FROM documents d{''.join(joins)}"
                f"{condition})", params)

    # -- review -------------------------------------------------------------------------------
    # Review decisions live in ``reviews``, keyed like codings by document, offsets and code, with
    # the segment text the reviewer judged. ``_apply_reviews`` writes them onto a document's codings
    # each time those are (re)written, so decisions outlive re-coding and re-ingest. A decision
    # whose text is no longer at its offsets is *stale*: it is kept and reported, follows its text
    # when that text (20 characters or more) now occurs exactly once elsewhere in the note, and
    # applies again when the text comes back. accept/add set status 'accepted' and clear the rules'
    # negation/hypothetical flags (the reviewer says the code applies; ``cue`` keeps the trigger
    # word); reject sets 'rejected'; an ``add`` the rules did not make is inserted with rule
    # REVIEW_ADD_RULE. The rules' own view ("auto") is thus: not review/add, no cue, no flags.

    REVIEW_ADD_RULE = "review/add"
    REVIEW_FRESH = "substr(d.text, r.start + 1, r.end - r.start) = r.text"
    AUTO_COUNTED = "c.rule != 'review/add' AND c.negated = 0 AND c.hypothetical = 0 AND c.cue IS NULL"
    _REVIEW_MIN_RELOCATE = 20

    def review_codings(self, *, codes: Sequence[str] = (), where: dict[str, Sequence[str]] | None = None,
                       include_flagged: bool = False, pending: bool = False,
                       context: int = 200, doc_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Codings to review in document order, with up to ``context`` characters either side.

        ``where`` filters documents as reports do; ``pending`` keeps codings without a decision;
        negated and hypothetical codings only with ``include_flagged``.
        """
        cte, params = self._report_docs((), where or {})
        conditions, condition_params = [], []
        if codes:
            conditions.append("c.code IN (SELECT value FROM json_each(?))")
            condition_params.append(json.dumps(list(codes)))
        if not include_flagged:
            conditions.append("c.negated = 0 AND c.hypothetical = 0")
        if doc_ids is not None:
            conditions.append("c.doc_id IN (SELECT value FROM json_each(?))")
            condition_params.append(json.dumps(sorted(set(doc_ids))))
        if pending:
            conditions.append("r.review_id IS NULL")
        where_sql = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self.connection.execute(
            f"{cte} SELECT c.doc_id, c.start, c.end, c.code, c.rule, c.matched, c.negated, c.hypothetical,"
            " c.cue, c.status, c.source, c.probability, substr(d.text, c.start + 1, c.end - c.start) AS text,"
            " substr(d.text, max(c.start - ?, 0) + 1, c.start - max(c.start - ?, 0)) AS before,"
            " substr(d.text, c.end + 1, ?) AS after, r.decision"
            " FROM report_docs f JOIN codings c ON c.doc_id = f.doc_id JOIN documents d ON d.doc_id = c.doc_id"
            " LEFT JOIN reviews r ON r.doc_id = c.doc_id AND r.start = c.start AND r.end = c.end AND r.code = c.code"
            f"{where_sql} ORDER BY c.doc_id, c.start, c.code",
            [*params, context, context, context, *condition_params])
        result = []
        for row in rows:
            record = dict(row)
            record["matched"] = json.loads(record["matched"])
            record["negated"], record["hypothetical"] = bool(record["negated"]), bool(record["hypothetical"])
            result.append(record)
        return result

    def review_segments(self, doc_ids: Iterable[str]) -> dict[str, list[tuple[int, int]]]:
        """doc_id -> stored segment spans, to snap a reviewer's added sentence onto its unit."""
        spans: dict[str, list[tuple[int, int]]] = {}
        wanted = sorted(set(doc_ids))
        for first in range(0, len(wanted), 500):
            chunk = wanted[first:first + 500]
            rows = self.connection.execute(
                f"SELECT doc_id, start, end FROM segments WHERE doc_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY doc_id, start", chunk)
            for row in rows:
                spans.setdefault(row[0], []).append((row[1], row[2]))
        return spans

    def review_coding_keys(self, doc_ids: Iterable[str], *, rules_only: bool = False) -> set[tuple[str, int, int, str]]:
        """(doc_id, start, end, code) of every coding of these documents (``rules_only``: those the
        rules made, not those a review added)."""
        keys: set[tuple[str, int, int, str]] = set()
        wanted = sorted(set(doc_ids))
        made_by = f" AND rule != '{self.REVIEW_ADD_RULE}'" if rules_only else ""
        for first in range(0, len(wanted), 500):
            chunk = wanted[first:first + 500]
            keys.update(tuple(row) for row in self.connection.execute(
                f"SELECT doc_id, start, end, code FROM codings WHERE doc_id IN ({','.join('?' * len(chunk))})"
                f"{made_by}", chunk))
        return keys

    def decisions_of(self, doc_ids: Iterable[str]) -> dict[tuple[str, int, int, str], str]:
        """(doc_id, start, end, code) -> decision, for every decision on these documents."""
        rows = self.connection.execute(
            "SELECT doc_id, start, end, code, decision FROM reviews WHERE doc_id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(set(doc_ids)), ensure_ascii=False),))
        return {(row[0], row[1], row[2], row[3]): row[4] for row in rows}

    def review_decisions(self) -> list[dict[str, Any]]:
        """Every stored decision, with ``fresh`` (its text is still at its offsets), ``coding_exists``
        (the project has a coding with its key) and ``proposal`` (that coding is one the rules count)."""
        same_key = "c.doc_id = r.doc_id AND c.start = r.start AND c.end = r.end AND c.code = r.code"
        rows = self.connection.execute(
            f"SELECT r.*, coalesce({self.REVIEW_FRESH}, 0) AS fresh, d.doc_id IS NOT NULL AS document_exists,"
            f" EXISTS (SELECT 1 FROM codings c WHERE {same_key}) AS coding_exists,"
            f" EXISTS (SELECT 1 FROM codings c WHERE {same_key} AND {self.AUTO_COUNTED}) AS proposal"
            " FROM reviews r LEFT JOIN documents d ON d.doc_id = r.doc_id ORDER BY r.doc_id, r.start, r.code")
        flags = ("fresh", "document_exists", "coding_exists", "proposal")
        return [{**dict(row), **{flag: bool(row[flag]) for flag in flags}} for row in rows]

    def review_proposals(self) -> dict[str, tuple[int, int]]:
        """code -> (codings the rules count, of which no decision yet): what review measures."""
        rows = self.connection.execute(
            "SELECT c.code, count(*), sum(r.review_id IS NULL) FROM codings c LEFT JOIN reviews r"
            " ON r.doc_id = c.doc_id AND r.start = c.start AND r.end = c.end AND r.code = c.code"
            f" WHERE {self.AUTO_COUNTED} GROUP BY c.code")
        return {row[0]: (row[1], row[2]) for row in rows}

    def save_reviews(self, decisions: Sequence[dict[str, Any]]) -> tuple[int, int, int]:
        """Store decisions (doc_id, start, end, code, decision, correct_code, note, reviewer,
        decided_at, text) and apply them to their documents; return (new, changed, unchanged),
        counted per reviewer: a second coder's decisions are new even where they agree.

        Every reviewer's decisions are kept (``reviewer_decisions``, for agreement between coders);
        the one that applies to a key is the latest that differs, an identical one is left alone
        (keeping its first reviewer and time).
        """
        new = changed = unchanged = 0
        touched: set[str] = set()
        with self.transaction() as db:
            for item in decisions:
                key = (item["doc_id"], item["start"], item["end"], item["code"])
                values = (item["decision"], item.get("correct_code"), item.get("note"), item["text"])
                mine = db.execute("SELECT decision, correct_code, note, text FROM reviewer_decisions WHERE doc_id = ?"
                                  " AND start = ? AND end = ? AND code = ? AND reviewer = ?",
                                  (*key, item["reviewer"])).fetchone()
                if mine is not None and tuple(mine) == values:
                    unchanged += 1
                else:
                    new, changed = (new + 1, changed) if mine is None else (new, changed + 1)
                    db.execute("INSERT OR REPLACE INTO reviewer_decisions (doc_id, start, end, code, reviewer,"
                               " decision, correct_code, note, decided_at, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (*key, item["reviewer"], *values[:3], item["decided_at"], item["text"]))
                old = db.execute("SELECT decision, correct_code, note, text FROM reviews"
                                 " WHERE doc_id = ? AND start = ? AND end = ? AND code = ?", key).fetchone()
                if old is not None and tuple(old) == values:
                    continue
                db.execute(
                    "INSERT INTO reviews (doc_id, start, end, code, decision, correct_code, note, reviewer,"
                    " decided_at, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (doc_id, start, end, code)"
                    " DO UPDATE SET decision = excluded.decision, correct_code = excluded.correct_code,"
                    " note = excluded.note, reviewer = excluded.reviewer, decided_at = excluded.decided_at,"
                    " text = excluded.text",
                    (*key, *values[:3], item["reviewer"], item["decided_at"], item["text"]))
                touched.add(item["doc_id"])
            for doc_id in sorted(touched):
                self._apply_reviews(db, doc_id)
        return new, changed, unchanged

    # -- memos ----------------------------------------------------------------------------------
    # One memo per document (start = end = 0, code '') and per coding (its key), kept apart from
    # codings so that re-coding and re-ingest never touch them.

    def save_memo(self, doc_id: str, *, start: int = 0, end: int = 0, code: str = "", text: str, author: str) -> None:
        """Write (or, with empty ``text``, delete) the memo on a document or on one coding."""
        key = (doc_id, start, end, code)
        with self.transaction() as db:
            if not text.strip():
                db.execute("DELETE FROM memos WHERE doc_id = ? AND start = ? AND end = ? AND code = ?", key)
                return
            db.execute("INSERT INTO memos (doc_id, start, end, code, text, author, written_at, passage)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT substr(text, ? + 1, ? - ?) FROM documents"
                       " WHERE doc_id = ? AND ? != '')) ON CONFLICT (doc_id, start, end, code) DO UPDATE SET"
                       " text = excluded.text, author = excluded.author, written_at = excluded.written_at,"
                       " passage = excluded.passage", (*key, text, author, _now(), start, end, start, doc_id, code))

    @classmethod
    def _relocate_memos(cls, db: sqlite3.Connection, doc_ids: Sequence[str]) -> None:
        """Move memos on codings to where their passage now is, as ``_apply_reviews`` moves decisions."""
        rows = db.execute("SELECT m.memo_id, m.doc_id, m.code, m.passage, d.text FROM memos m JOIN documents d"
                          " ON d.doc_id = m.doc_id WHERE m.code != '' AND m.passage IS NOT NULL"
                          " AND substr(d.text, m.start + 1, m.end - m.start) != m.passage"
                          " AND m.doc_id IN (SELECT value FROM json_each(?))",
                          (json.dumps(list(doc_ids), ensure_ascii=False),)).fetchall()
        for row in rows:
            moved = cls._relocate(row["text"], row["passage"])
            if moved is not None:
                db.execute("UPDATE OR IGNORE memos SET start = ?, end = ? WHERE memo_id = ?", (*moved, row["memo_id"]))

    def memos(self, doc_id: str) -> list[dict[str, Any]]:
        """A document's memos: its own (code '') first, then those on codings in text order."""
        rows = self.connection.execute(
            "SELECT doc_id, start, end, code, text, author, written_at FROM memos WHERE doc_id = ?"
            " ORDER BY code != '', start, end, code", (doc_id,))
        return [dict(row) for row in rows]

    def agreement_spans(self, view: str, *, reviewer: str | None = None,
                        source: str | None = None) -> dict[str, list[tuple[int, int, str]]]:
        """doc_id -> [(start, end, code)]: ``auto`` = what the rules and the learned model count,
        review ignored; ``reviewed`` = what counts after review, plus accepted codings the rules no
        longer make; with ``reviewer``, after that reviewer's own decisions (a second coder's, say).
        ``source`` ('rules', 'learned') keeps only the codings of one source (and review additions)."""
        same_key = "x.doc_id = c.doc_id AND x.start = c.start AND x.end = c.end AND x.code = c.code"
        params: tuple[str, ...] = ()
        auto_counted = self.AUTO_COUNTED + self._source_condition(source)
        if view == "auto":
            sql = f"SELECT c.doc_id, c.start, c.end, c.code FROM codings c WHERE {auto_counted}"
        elif view == "reviewed" and reviewer is not None:
            sql = (f"SELECT c.doc_id, c.start, c.end, c.code FROM codings c WHERE {auto_counted} AND NOT EXISTS"
                   f" (SELECT 1 FROM reviewer_decisions x WHERE {same_key} AND x.reviewer = ?"
                   " AND x.decision = 'reject')"
                   " UNION SELECT r.doc_id, r.start, r.end, r.code FROM reviewer_decisions r JOIN documents d"
                   f" ON d.doc_id = r.doc_id WHERE r.reviewer = ? AND r.decision IN ('accept', 'add')"
                   f" AND {self.REVIEW_FRESH}")
            params = (reviewer, reviewer)
        elif view == "reviewed":
            sql = (f"SELECT c.doc_id, c.start, c.end, c.code FROM codings c WHERE {COUNTED}{self._source_condition(source)}"
                   " UNION SELECT r.doc_id, r.start, r.end, r.code FROM reviews r JOIN documents d"
                   f" ON d.doc_id = r.doc_id WHERE r.decision IN ('accept', 'add') AND {self.REVIEW_FRESH}")
        else:
            raise ValueError(f"unknown view {view!r}")
        spans: dict[str, list[tuple[int, int, str]]] = {}
        for row in self.connection.execute(sql, params):
            spans.setdefault(row[0], []).append((row[1], row[2], row[3]))
        return spans

    def reviewer_spans(self, reviewers: Sequence[str]) -> dict[str, list[tuple[int, int, str]]]:
        """doc_id -> [(start, end, code)] that these reviewers accepted or added (hand coding, e.g.
        imported from another QDA tool), where the text they coded is still at its offsets.

        Read from ``reviewer_decisions``, which keeps each reviewer's own decisions: ``reviews``
        holds only the one that applies, so a coder overruled by a later one would lose codings.
        """
        spans: dict[str, list[tuple[int, int, str]]] = {}
        for row in self.connection.execute(
                "SELECT r.doc_id, r.start, r.end, r.code FROM reviewer_decisions r JOIN documents d"
                " ON d.doc_id = r.doc_id WHERE r.decision IN ('accept', 'add')"
                " AND r.reviewer IN (SELECT value FROM json_each(?))"
                f" AND {self.REVIEW_FRESH}", (json.dumps(list(reviewers), ensure_ascii=False),)):
            spans.setdefault(row[0], []).append((row[1], row[2], row[3]))
        return spans

    def reviewer_decision_keys(self, reviewers: Sequence[str],
                               doc_ids: Iterable[str]) -> list[tuple[str, int, int, str, str]]:
        """(doc_id, start, end, code, reviewer) of every decision these reviewers made on these
        documents, current or stale."""
        return [tuple(row) for row in self.connection.execute(  # type: ignore[misc]
            "SELECT doc_id, start, end, code, reviewer FROM reviewer_decisions"
            " WHERE reviewer IN (SELECT value FROM json_each(?)) AND doc_id IN (SELECT value FROM json_each(?))"
            " ORDER BY 1, 2, 3, 4, 5",
            (json.dumps(list(reviewers), ensure_ascii=False), json.dumps(sorted(set(doc_ids)), ensure_ascii=False)))]

    def run_stats(self, command: str) -> list[dict[str, Any]]:
        """The stats of every completed run of ``command``, oldest first."""
        rows = self.connection.execute("SELECT stats FROM runs WHERE command = ? AND status = 'completed'"
                                       " ORDER BY run_id", (command,))
        return [json.loads(row[0] or "{}") for row in rows]

    def agreement_units(self, *, reviewed_only: bool = False,
                        reviewer: str | None = None) -> list[tuple[str, int, int]]:
        """Stored segments (doc_id, start, end); ``reviewed_only``: those with a current decision
        (of ``reviewer``, when given)."""
        if reviewed_only:
            table, mine = ("reviewer_decisions", " AND r.reviewer = ?") if reviewer is not None else ("reviews", "")
            sql = (f"SELECT DISTINCT r.doc_id, r.start, r.end FROM {table} r JOIN documents d ON d.doc_id = r.doc_id"
                   f" WHERE {self.REVIEW_FRESH}{mine} ORDER BY 1, 2, 3")
        else:
            sql = "SELECT doc_id, start, end FROM segments ORDER BY doc_id, start, end"
        params = (reviewer,) if reviewed_only and reviewer is not None else ()
        return [(row[0], row[1], row[2]) for row in self.connection.execute(sql, params)]

    def pending_spans(self, *, reviewer: str | None = None) -> list[tuple[str, int, int]]:
        """(doc_id, start, end) of every coding the rules count that has no review decision yet (of
        ``reviewer``, when given)."""
        if reviewer is None:
            sql, params = (f"SELECT DISTINCT c.doc_id, c.start, c.end FROM codings c WHERE {self.AUTO_COUNTED}"
                           " AND c.status = 'auto'"), ()
        else:
            sql = (f"SELECT DISTINCT c.doc_id, c.start, c.end FROM codings c WHERE {self.AUTO_COUNTED} AND NOT EXISTS"
                   " (SELECT 1 FROM reviewer_decisions x WHERE x.doc_id = c.doc_id AND x.start = c.start"
                   " AND x.end = c.end AND x.code = c.code AND x.reviewer = ?)")
            params = (reviewer,)
        return [(row[0], row[1], row[2]) for row in self.connection.execute(sql, params)]

    def reviewers(self) -> list[str]:
        """Everyone who has decisions in the project, by name."""
        return [row[0] for row in self.connection.execute("SELECT DISTINCT reviewer FROM reviewer_decisions ORDER BY 1")]

    def document_code_presence(self, *, accepted_only: bool = False) -> dict[str, set[str]]:
        """doc_id -> codes with at least one counted coding (only accepted ones with ``accepted_only``)."""
        condition = f"{COUNTED} AND c.status = 'accepted'" if accepted_only else COUNTED
        presence: dict[str, set[str]] = {}
        for row in self.connection.execute(f"SELECT DISTINCT c.doc_id, c.code FROM codings c WHERE {condition}"):
            presence.setdefault(row[0], set()).add(row[1])
        return presence

    def exchange_codings(self, *, include_unreviewed: bool = False) -> list[dict[str, Any]]:
        """Counted codings for REFI-QDA export: accepted ones, or every one not rejected, with the
        decision's reviewer, time and note."""
        condition = COUNTED if include_unreviewed else f"{COUNTED} AND c.status = 'accepted'"
        rows = self.connection.execute(
            "SELECT c.doc_id, c.start, c.end, c.code, c.rule, c.matched, c.status, c.source, c.probability,"
            " r.reviewer, r.decided_at, r.note"
            " FROM codings c LEFT JOIN reviews r ON r.doc_id = c.doc_id AND r.start = c.start AND r.end = c.end"
            f" AND r.code = c.code WHERE {condition} ORDER BY c.doc_id, c.start, c.end, c.code")
        return [{**dict(row), "matched": json.loads(row["matched"])} for row in rows]

    @classmethod
    def _apply_reviews(cls, db: sqlite3.Connection, doc_id: str) -> None:
        """Write a document's review decisions onto its codings (see the section comment).

        Idempotent: statuses are reset and earlier review/add codings removed first, so a changed
        decision never leaves an old effect behind.
        """
        reviews = db.execute("SELECT review_id, start, end, code, decision, text FROM reviews WHERE doc_id = ?"
                             " ORDER BY start, end, code", (doc_id,)).fetchall()
        if not reviews:
            return
        document = db.execute("SELECT text, coded_with, sector, sector_source FROM documents WHERE doc_id = ?",
                              (doc_id,)).fetchone()
        if document is None:
            return
        text = document["text"]
        cls._undo_reviews(db, doc_id)
        taken = {(r["start"], r["end"], r["code"]) for r in reviews}
        for review in reviews:
            start, end = review["start"], review["end"]
            if text[start:end] != review["text"]:
                moved = cls._relocate(text, review["text"])
                if moved is None or (*moved, review["code"]) in taken:
                    continue
                taken.add((*moved, review["code"]))
                start, end = moved
                db.execute("UPDATE reviews SET start = ?, end = ? WHERE review_id = ?",
                           (start, end, review["review_id"]))
            key = (doc_id, start, end, review["code"])
            if review["decision"] == "reject":
                db.execute("UPDATE codings SET status = 'rejected' WHERE doc_id = ? AND start = ? AND end = ?"
                           " AND code = ?", key)
                continue
            updated = db.execute("UPDATE codings SET status = 'accepted', negated = 0, hypothetical = 0"
                                 " WHERE doc_id = ? AND start = ? AND end = ? AND code = ?", key).rowcount
            if updated or review["decision"] != "add":
                continue
            # A passage inside a stored sentence belongs to it (one unit for agree, one segment in
            # counts); only a passage no stored segment holds becomes a segment of its own.
            segment = db.execute("SELECT segment_id FROM segments WHERE doc_id = ? AND start <= ? AND end >= ?"
                                 " ORDER BY end - start LIMIT 1", (doc_id, start, end)).fetchone()
            if segment is None:
                unit = db.execute("SELECT unit FROM segments WHERE doc_id = ? LIMIT 1", (doc_id,)).fetchone()
                segment_id = db.execute(
                    "INSERT INTO segments (doc_id, start, end, unit, sector, sector_source) VALUES (?, ?, ?, ?, ?, ?)",
                    (*key[:3], unit[0] if unit else "sentence", document["sector"],
                     document["sector_source"])).lastrowid
            else:
                segment_id = segment[0]
            db.execute("INSERT INTO codings (segment_id, doc_id, code, rule, start, end, matched, status,"
                       " codebook_hash) VALUES (?, ?, ?, ?, ?, ?, '[]', 'accepted', ?)",
                       (segment_id, doc_id, review["code"], cls.REVIEW_ADD_RULE, start, end,
                        document["coded_with"] or ""))

    @classmethod
    def _undo_reviews(cls, db: sqlite3.Connection, doc_id: str) -> None:
        """A document's codings as the rules left them: statuses reset, review/add codings and the
        segments only they had removed."""
        db.execute("UPDATE codings SET status = 'auto' WHERE doc_id = ? AND status != 'auto'", (doc_id,))
        db.execute("DELETE FROM codings WHERE doc_id = ? AND rule = ?", (doc_id, cls.REVIEW_ADD_RULE))
        db.execute("DELETE FROM segments WHERE doc_id = ? AND NOT EXISTS"
                   " (SELECT 1 FROM codings c WHERE c.segment_id = segments.segment_id)", (doc_id,))

    def delete_reviews(self, keys: Sequence[tuple[str, int, int, str, str]]) -> int:
        """Remove reviewers' decisions (doc_id, start, end, code, reviewer) and their effect; how
        many were removed. Where another reviewer decided the same coding, that reviewer's latest
        decision applies instead."""
        removed = 0
        same_key = "doc_id = ? AND start = ? AND end = ? AND code = ?"
        with self.transaction() as db:
            for *key, reviewer in keys:
                removed += db.execute(f"DELETE FROM reviewer_decisions WHERE {same_key} AND reviewer = ?",
                                      (*key, reviewer)).rowcount
                if db.execute(f"DELETE FROM reviews WHERE {same_key} AND reviewer = ?", (*key, reviewer)).rowcount:
                    db.execute("INSERT INTO reviews (doc_id, start, end, code, decision, correct_code, note, reviewer,"
                               " decided_at, text) SELECT doc_id, start, end, code, decision, correct_code, note,"
                               f" reviewer, decided_at, text FROM reviewer_decisions WHERE {same_key}"
                               " ORDER BY decided_at DESC LIMIT 1", key)
            for doc_id in sorted({key[0] for key in keys}):
                self._undo_reviews(db, doc_id)
                self._apply_reviews(db, doc_id)
        return removed

    @classmethod
    def _relocate(cls, text: str, reviewed: str) -> tuple[int, int] | None:
        """The reviewed text's new offsets when it occurs exactly once in the edited note."""
        if len(reviewed) < cls._REVIEW_MIN_RELOCATE:
            return None
        first = text.find(reviewed)
        if first < 0 or text.find(reviewed, first + 1) >= 0:
            return None
        return first, first + len(reviewed)


def text_hash(text: str) -> str:
    """The ``content_hash`` of a stored text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


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
    return (f"{path}: the project file is damaged ({exc}); phantomcode cannot use it. Recover what it holds "
            f"with the sqlite3 tool: sqlite3 {path} .recover | sqlite3 {recovered} , then run your commands "
            f"with --project {recovered} (or ingest the notes again into a new project)")
