"""A trigram index of the notes' texts, so the documents list finds words fast in large projects.

``LIKE '%hukou%'`` reads every note: about 150 MB of text on a 30,000-note project, far more than
a page may take. SQLite's FTS5 ``trigram`` tokenizer answers the same ``LIKE`` pattern (``*``
wildcards become ``%``) from an index, for every fragment of three characters or more. The index
lives in a file of its own beside the project (``study.db-search``): it is the workspace's cache,
not part of the project, so the project's schema and ``ingest`` stay as they are, and deleting
the file only costs a rebuild.

It follows the project's documents by content hash: built in a background thread when the
workspace starts, brought up to date (changed notes only) whenever the documents change (after
``ingest``, ``code`` or an import). Until it is current a search reads the texts as before, and
every hit it gives is checked against the stored text, so it never shows a note that does not
match.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import Store

MIN_FRAGMENT = 3  # the trigram index answers only fragments at least this long
SCHEMA = "search"  # the name the index is attached under to a project's connection
_BATCH = 500


def index_path(project: Path) -> Path:
    return Path(f"{project}-search")


def usable(pattern: str) -> bool:
    """Whether the index can answer ``pattern`` (a search text with ``*``): every fragment between
    wildcards has three characters or more, and none holds ``%``, ``_`` or ``\\`` (which would need
    LIKE's ESCAPE, and FTS5 uses its index only for a plain LIKE)."""
    fragments = [part for part in re.split(r"\*+", pattern.strip()) if part]
    return (
        bool(fragments)
        and all(len(part) >= MIN_FRAGMENT for part in fragments)
        and not any(char in pattern for char in "%_\\")
    )


class TextIndex:
    """The index file of one project and whether it matches the documents now (``current``)."""

    def __init__(self, project: Path, documents_version: Callable[[], Any]) -> None:
        self.project = project
        self.path = index_path(project)
        self.documents_version = documents_version
        self._synced: Any = None  # the documents version the index was last brought up to
        self._lock = threading.Lock()
        self._updating = threading.Lock()
        self._worker: threading.Thread | None = None
        self.failed: str | None = None  # why the index cannot be kept (a read-only folder, say)

    def current(self) -> bool:
        """True when the index matches the documents; else starts bringing it up to date (in the
        background) and answers False, so the caller searches the texts themselves meanwhile."""
        if self.failed is not None:
            return False
        version = self.documents_version()
        if version == self._synced:
            return True
        self.refresh_in_background()
        return False

    def state(self) -> str:
        """``current``, ``updating`` (searches read the texts meanwhile) or ``unavailable``."""
        if self.failed is not None:
            return "unavailable"
        return "current" if self.documents_version() == self._synced else "updating"

    def refresh_in_background(self) -> None:
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return
            self._worker = threading.Thread(target=self.refresh, name="phantomcode-search-index", daemon=True)
            self._worker.start()

    def refresh(self) -> None:
        """Bring the index up to date with the documents (their text, by content hash)."""
        with self._updating:  # one update at a time (the background one and a caller's)
            version = self.documents_version()
            if version == self._synced:
                return
            try:
                self._update()
            except (sqlite3.Error, OSError) as exc:
                self.failed = f"{self.path}: {exc}"
                return
            self._synced = version

    def _update(self) -> None:
        index = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            index.execute("PRAGMA journal_mode = WAL")
            index.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS notes USING fts5(text, tokenize = 'trigram', detail = 'none')"
            )
            index.execute(
                "CREATE TABLE IF NOT EXISTS indexed (note INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE,"
                " content_hash TEXT NOT NULL)"
            )
            with Store.open(self.project, readonly=True) as store:
                stored = dict(store.connection.execute("SELECT doc_id, content_hash FROM documents"))
                indexed = {
                    row[0]: (row[1], row[2]) for row in index.execute("SELECT doc_id, content_hash, note FROM indexed")
                }
                gone = [doc_id for doc_id, (content, _) in indexed.items() if stored.get(doc_id) != content]
                new = [doc_id for doc_id, content in stored.items() if indexed.get(doc_id, ("",))[0] != content]
                self._remove(index, [(doc_id, indexed[doc_id][1]) for doc_id in gone])
                for first in range(0, len(new), _BATCH):
                    self._add(index, store, new[first : first + _BATCH], stored)
        finally:
            index.close()

    @staticmethod
    def _remove(index: sqlite3.Connection, rows: list[tuple[str, int]]) -> None:
        index.execute("BEGIN")
        index.executemany("DELETE FROM notes WHERE rowid = ?", [(note,) for _, note in rows])
        index.executemany("DELETE FROM indexed WHERE doc_id = ?", [(doc_id,) for doc_id, _ in rows])
        index.execute("COMMIT")

    @staticmethod
    def _add(index: sqlite3.Connection, store: Store, doc_ids: list[str], hashes: dict[str, str]) -> None:
        texts = store.document_texts(doc_ids)
        index.execute("BEGIN")
        for doc_id in doc_ids:
            if doc_id not in texts:
                continue  # removed meanwhile: the next refresh sees it
            note = index.execute("INSERT INTO notes (text) VALUES (?)", (texts[doc_id],)).lastrowid
            index.execute(
                "INSERT INTO indexed (note, doc_id, content_hash) VALUES (?, ?, ?)", (note, doc_id, hashes[doc_id])
            )
        index.execute("COMMIT")

    def attach(self, store: Store) -> None:
        """Make the index readable in ``store``'s queries as ``search.notes`` / ``search.indexed``."""
        store.connection.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (f"{self.path.resolve().as_uri()}?mode=ro",))
