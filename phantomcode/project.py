"""``Project``: the notebook-facing view of a project store.

    >>> from phantomcode import Project
    >>> project = Project("phantomcode.db")
    >>> project.documents().groupby("city").size()

Every CLI command that reads a project calls these methods, so a notebook sees the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .export import document_rows
from .store import RunInfo, Store


@dataclass(frozen=True)
class ProjectInfo:
    """What ``phantomcode info`` shows: size, attributes with value counts, codebook, last run."""

    path: str
    documents: int
    codings: int
    counted_codings: int
    attributes: dict[str, list[tuple[str, int]]]
    last_run: RunInfo | None


class Project:
    """A phantomcode project opened read-only; each call reads the store afresh."""

    def __init__(self, path: str | Path | None = None) -> None:
        with Store.open(path, readonly=True) as store:
            self.path = store.path

    def _store(self) -> Store:
        return Store.open(self.path, readonly=True)

    def info(self) -> ProjectInfo:
        with self._store() as store:
            codings, counted = store.count_codings()
            return ProjectInfo(path=str(self.path), documents=store.count_documents(), codings=codings,
                               counted_codings=counted, attributes=store.attribute_values(),
                               last_run=store.last_run())

    def documents(self) -> pd.DataFrame:
        """One row per document: doc_id, text, source and every attribute (verbatim) as a column."""
        with self._store() as store:
            columns = ["doc_id", "text", "source", *store.attribute_names()]
            return pd.DataFrame(list(document_rows(store)), columns=columns)
