"""Whole-project figures (the matrix, review figures, code counts) kept until the project changes.

They scan every coding (about 60 ms each on 3,000 notes), and a reviewer moves between pages far
more often than the project changes. Two scopes:

- ``project`` (the default): anything in the project. Its version is the size and modification
  time of the SQLite file and of its write-ahead log: every commit changes the log, every
  checkpoint the file, so any write by the workspace, ``ingest`` or ``code`` starts afresh.
- ``documents``: the documents, their texts and attributes (filter menus, group sizes, document
  counts, the text search index). Only runs change them (``ingest``, ``code``, ``import``), never a
  decision, so a reviewer's decisions keep these. The version is the last run (its id, state and
  end) with the number of documents, read from the store in well under a millisecond; the project
  scope's version comes first, so nothing is read while the project is unchanged.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
SCOPES = ("project", "documents")


class ProjectCache:
    def __init__(self, project: Path) -> None:
        self.project = project
        self.files = (project, Path(f"{project}-wal"))
        self._versions: dict[str, tuple[Any, ...] | None] = dict.fromkeys(SCOPES)
        self._values: dict[str, dict[Hashable, Any]] = {scope: {} for scope in SCOPES}
        self._seen: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None  # (file version, documents version)
        self._lock = threading.Lock()

    def version(self) -> tuple[Any, ...]:
        stamps: list[tuple[int, int] | None] = []
        for path in self.files:
            try:
                found = os.stat(path)
            except FileNotFoundError:
                stamps.append(None)
            else:
                stamps.append((found.st_size, found.st_mtime_ns))
        return tuple(stamps)

    def documents_version(self) -> tuple[Any, ...]:
        """The last run and the number of documents; read again only when the file changed."""
        files = self.version()
        seen = self._seen
        if seen is not None and seen[0] == files:
            return seen[1]
        connection = sqlite3.connect(f"{self.project.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            last_run = connection.execute(
                "SELECT run_id, status, finished_at FROM runs ORDER BY run_id DESC LIMIT 1"
            ).fetchone()
            documents = connection.execute("SELECT count(*) FROM documents").fetchone()[0]
            models = connection.execute("SELECT max(model_id) FROM models").fetchone()[0]
        finally:
            connection.close()
        stamp = (tuple(last_run) if last_run else None, documents, models)
        self._seen = (files, stamp)
        return stamp

    def get(self, key: Hashable, compute: Callable[[], T], *, scope: str = "project") -> T:
        """The value kept for ``key`` while the ``scope`` is unchanged, else ``compute()`` anew."""
        version = self.version() if scope == "project" else self.documents_version()
        with self._lock:
            values = self._values[scope]
            if version != self._versions[scope]:
                values.clear()
                self._versions[scope] = version
            if key in values:
                return values[key]
        value = compute()
        with self._lock:
            if self._versions[scope] == version:
                self._values[scope][key] = value
        return value
