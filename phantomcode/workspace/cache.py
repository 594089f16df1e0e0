"""Whole-project figures (the matrix, review figures, code counts) kept until the project changes,
and brought up to date by the workspace's own decisions instead of being computed again.

They scan every coding (tens of milliseconds each on 3,000 notes), and a reviewer moves between
pages far more often than the project changes. Two scopes:

- ``project`` (the default): anything in the project. The workspace writes through one connection
  of its own (``writing``), and SQLite's ``PRAGMA data_version`` on that connection changes with
  every commit made by any *other* connection: an ``ingest``, ``code`` or ``review import`` run, a
  notebook. Such a write starts every figure afresh. The workspace's own writes name the documents
  they touch; a figure kept with a ``Figure`` (see ``figures``) is updated by those documents'
  share of it, read just before and just after the write, and the others are dropped.
- ``documents``: the documents, their texts and attributes (filter menus, group sizes, document
  counts, the text search index, the scored sentences). Only runs change them (``ingest``,
  ``code``, ``import``, ``train``), never a decision, so a reviewer's decisions keep these. The
  version is the last run (its id, state and end) with the number of documents and the latest
  model, read from the store in well under a millisecond, and only when the project file changed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from ..errors import ProjectError
from ..store import Store
from ..store.base import documents_stamp

T = TypeVar("T")
SCOPES = ("project", "documents")


class Figure(Protocol[T]):
    """How a kept value follows a write to some documents: each document's figures are its own
    (a document is in one group, its segments and decisions are its own), so the new value is the
    old one less those documents' share before the write, plus their share after it."""

    def part(self, store: Store, value: T, doc_ids: Collection[str]) -> Any: ...

    def updated(self, value: T, before: Any, after: Any) -> T: ...


@dataclass
class _Kept(Generic[T]):
    value: T
    figure: Figure[T] | None


class ProjectCache:
    def __init__(self, project: Path) -> None:
        self.project = project
        self.files = (project, Path(f"{project}-wal"))
        self._versions: dict[str, tuple[Any, ...] | None] = dict.fromkeys(SCOPES)
        self._values: dict[str, dict[Hashable, _Kept[Any]]] = {scope: {} for scope in SCOPES}
        self._seen: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None  # (file version, documents version)
        self._lock = threading.Lock()  # held briefly: the kept values, and the connection between writes
        self._write_lock = threading.Lock()  # one write of the workspace's at a time
        self._store: Store | None = None
        self._file: tuple[int, int] | None = None  # (device, inode) of the project the connection has open
        self._opened = 0  # connections opened so far: a new one starts every figure afresh
        self._writing = False  # a write of ours is under way: its connection is the writer's alone
        self._generation = 0  # writes of ours so far

    # -- versions ----------------------------------------------------------------------------------

    def file_version(self) -> tuple[Any, ...]:
        """Size and modification time of the project file and its log: changed by any commit."""
        stamps: list[tuple[int, int] | None] = []
        for path in self.files:
            try:
                found = os.stat(path)
            except FileNotFoundError:
                stamps.append(None)
            else:
                stamps.append((found.st_size, found.st_mtime_ns))
        return tuple(stamps)

    def version(self) -> tuple[Any, ...] | None:
        """The project scope's version, or None while a write of ours is under way (then nothing is
        kept or reused: reads compute afresh rather than wait for the writer)."""
        with self._lock:
            if self._writing:
                return None
            return self._project_version()

    def _project_version(self) -> tuple[Any, ...]:
        """(connection, data_version, generation): another process's commit changes the second,
        a replaced project file the first, a write of ours the third. Called with ``_lock`` held."""
        store = self._connection()
        data_version = store.data_version()
        return self._opened, data_version, self._generation

    def _connection(self) -> Store:
        """The workspace's own connection, opened again when the project file was replaced (a
        connection keeps reading the file it opened). Called with ``_lock`` held, or by the writer."""
        try:
            found = os.stat(self.project)
        except FileNotFoundError:
            raise ProjectError(
                f"{self.project}: the project file is gone (moved or deleted while the workspace was open); "
                "start 'phantomcode serve' again on the project"
            ) from None
        file = (found.st_dev, found.st_ino)
        if self._store is None or file != self._file:
            if self._store is not None:
                self._store.close()
            self._store = Store.open(self.project, must_exist=True, shared=True)
            self._file = file
            self._opened += 1
        return self._store

    def documents_version(self) -> tuple[Any, ...]:
        """The last run, the number of documents and the latest model; read again only when the
        file changed."""
        files = self.file_version()
        seen = self._seen
        if seen is not None and seen[0] == files:
            return seen[1]
        stamp = documents_stamp(self.project)
        self._seen = (files, stamp)
        return stamp

    # -- reading -----------------------------------------------------------------------------------

    def get(
        self, key: Hashable, compute: Callable[[], T], *, scope: str = "project", figure: Figure[T] | None = None
    ) -> T:
        """The value kept for ``key`` while the ``scope`` is unchanged, else ``compute()`` anew.
        ``figure``: how our own writes update it (project scope); without, they drop it."""
        version = self.version() if scope == "project" else self.documents_version()
        if version is None:
            return compute()
        with self._lock:
            values = self._values[scope]
            if version != self._versions[scope]:
                values.clear()
                self._versions[scope] = version
            if key in values:
                return values[key].value
        value = compute()  # a write of ours meanwhile changes the version: the value is not kept
        with self._lock:
            if self._versions[scope] == version:
                self._values[scope][key] = _Kept(value, figure)
        return value

    # -- writing -----------------------------------------------------------------------------------

    @contextmanager
    def writing(self, doc_ids: Collection[str], *, timeout: float | None = None) -> Iterator[Store]:
        """The workspace's connection, holding the project's writer lock (``timeout``: how long to
        wait for another writer; ``ProjectBusyError`` then), for a write that touches only the
        documents ``doc_ids``. Afterwards the kept figures are those documents' share of them
        further on, if no other connection committed meanwhile; else every figure starts afresh."""
        with self._write_lock:
            with self._lock:
                self._writing = True
                store = self._connection()
            try:
                with store.writer(timeout=timeout):
                    data_version = store.data_version()
                    with self._lock:
                        kept = self._current(data_version)
                    before = {key: figure.part(store, value, doc_ids) for key, (value, figure) in kept.items()}
                    yield store
                    after = {key: figure.part(store, value, doc_ids) for key, (value, figure) in kept.items()}
                    unchanged = store.data_version() == data_version
            except BaseException:
                with self._lock:
                    self._generation += 1
                    self._writing = False
                raise
            with self._lock:
                self._generation += 1
                self._writing = False
                if unchanged:
                    self._keep(kept, before, after, data_version)

    def _current(self, data_version: int) -> dict[Hashable, tuple[Any, Figure[Any]]]:
        """The project scope's values that follow our writes, if they are those of the project as
        it is now (no other connection committed since they were computed)."""
        if self._versions["project"] != (self._opened, data_version, self._generation):
            return {}
        return {key: (item.value, item.figure) for key, item in self._values["project"].items() if item.figure}

    def _keep(
        self,
        kept: dict[Hashable, tuple[Any, Figure[Any]]],
        before: dict[Hashable, Any],
        after: dict[Hashable, Any],
        data_version: int,
    ) -> None:
        """After a write of ours: the figures updated by the written documents, the rest dropped.
        They are the project as of ``data_version``: a commit by another connection since then
        changes the version the next read finds, and starts them afresh."""
        self._values["project"] = {
            key: _Kept(figure.updated(value, before[key], after[key]), figure) for key, (value, figure) in kept.items()
        }
        self._versions["project"] = (self._opened, data_version, self._generation)
