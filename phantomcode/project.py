"""``Project``: the notebook-facing view of a project store.

    >>> from phantomcode import Project
    >>> project = Project("phantomcode.db")
    >>> project.documents().groupby("city").size()
    >>> project.matrix(by="city")                      # codes x cities: documents mentioning each code
    >>> project.quotes("paperwork", by="city", n=2)    # exemplar segments per city

Every CLI command that reads a project calls these methods, so a notebook sees the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .codebook import Codebook
from .codebook_choice import ProjectCodebook, choose_codebook, project_codebook
from .export import SEGMENT_COLUMNS, document_rows, segment_rows
from .report import cooccurrence_frame, matrix_frame, quotes_frame
from .store import RunInfo, Store
from .store.records import ValueCount

if TYPE_CHECKING:  # pandas is imported by the methods that return frames: the CLI's reports do without it
    import pandas as pd

Codes = str | Sequence[str] | None
Where = Mapping[str, str | Sequence[str]] | None


def resolve_codebook(project: str | Path | None, codebook: str | Path | Codebook | None) -> Codebook:
    """The codebook given (a file, ``"bundled"`` or a ``Codebook``), else the project's own while its
    file still holds the bytes the project last coded with (``UsageError`` otherwise), else the
    bundled one; loaded without pattern checks, for commands that read codings but never match text."""
    with Store.open(project, readonly=True) as store:
        return choose_codebook(codebook, store, check_patterns=False)


@dataclass(frozen=True)
class ProjectInfo:
    """What ``phantomcode info`` shows: size, attributes with value counts, codebook, last run."""

    path: str
    documents: int
    codings: int
    counted_codings: int
    attributes: dict[str, list[ValueCount]]
    last_run: RunInfo | None
    codebook: ProjectCodebook | None  # the codebook the last run used, and whether its file still matches


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
            return ProjectInfo(
                path=str(self.path),
                documents=store.count_documents(),
                codings=codings,
                counted_codings=counted,
                attributes=store.attribute_values(),
                last_run=store.last_run(),
                codebook=project_codebook(store),
            )

    def documents(self, *, canonical: bool = True) -> pd.DataFrame:
        """One row per document: doc_id, text, source and every attribute as a column.

        Attribute values are canonical by default, as reports group them: the codebook vocabulary
        makes ``北京`` and ``Beijing`` one city, so ``documents().groupby("city")`` agrees with
        ``matrix(by="city")``. ``canonical=False`` gives the values verbatim, as the notes wrote them.
        """
        import pandas as pd

        with self._store() as store:
            columns = ["doc_id", "text", "source", *store.attribute_names()]
            rows = list(document_rows(store))
            if canonical:
                table = store.canonical_attribute_table()
                for row in rows:
                    row.update(table.get(row["doc_id"], {}))
            return pd.DataFrame(rows, columns=columns)

    def segments(self, *, counted_only: bool = False) -> pd.DataFrame:
        """One row per coding, as ``phantomcode export segments`` writes it: doc_id, start, end, text
        (the segment), code, rule, matched (list of spans), flags, status, sector, then the
        document's attributes (canonical values). ``counted_only`` drops negated, hypothetical and
        rejected codings: the rows that reports count.
        """
        import pandas as pd

        with self._store() as store:
            columns = SEGMENT_COLUMNS + [name for name in store.attribute_names() if name not in SEGMENT_COLUMNS]
            return pd.DataFrame(list(segment_rows(store, counted_only=counted_only)), columns=columns)

    def codebook(self, codebook: str | Path | Codebook | None = None) -> Codebook:
        """The codebook given, else the project's own (unchanged since it last coded: ``UsageError`` if
        the file is missing or was edited), else (a project never coded) the bundled one."""
        return resolve_codebook(self.path, codebook)

    def matrix(
        self,
        by: str | Sequence[str] | None = "city",
        measure: str = "documents",
        *,
        codes: Codes = None,
        group: Codes = None,
        where: Where = None,
        status: str | None = None,
        codebook: str | Path | Codebook | None = None,
        tidy: bool = False,
    ) -> pd.DataFrame:
        """Codes (rows, codebook order) x groups (columns): ``measure`` = documents mentioning the code
        (the default: respondents, so one talkative respondent does not outweigh ten quiet ones) or
        coded segments. Zeros included.

        ``by``: an attribute (``"city"``, ``"sector"``, ``"respondent_type"``...), a list of them for a
        cross-tab (columns become a MultiIndex), or None for the whole project. ``codes`` and
        ``group`` pick codes (IDs, a codebook group such as ``"mechanisms"``); ``where`` filters
        documents (``{"city": "Beijing", "sector": ["education", "healthcare"]}``: AND across
        attributes, OR within one); ``status="accepted"`` counts only codings accepted in review.
        ``tidy=True`` returns the long form instead: the ``by`` columns, ``code``, ``documents``,
        ``segments``, ``group_documents`` (the group's N) and ``share`` (documents / N).
        Raises ``UsageError`` for an unknown attribute, value, code or group, naming the valid ones.
        """
        book = self.codebook(codebook)
        with self._store() as store:
            return matrix_frame(
                store, book, by=by, measure=measure, codes=codes, group=group, where=where, status=status, tidy=tidy
            )

    def quotes(
        self,
        code: Codes = None,
        by: str | Sequence[str] | None = "city",
        *,
        n: int = 3,
        group: Codes = None,
        where: Where = None,
        status: str | None = None,
        codebook: str | Path | Codebook | None = None,
    ) -> pd.DataFrame:
        """Up to ``n`` exemplar segments of ``code`` (an ID, a list, or None for all) per group, one per
        document at most: accepted in review first, then clear short segments with matched words and
        no negated or hypothetical hit. Columns: the ``by`` attributes, code, rank, doc_id, start,
        end, text, matched, status.
        """
        book = self.codebook(codebook)
        with self._store() as store:
            return quotes_frame(store, book, code, by=by, n=n, group=group, where=where, status=status)

    def cooccurrence(
        self,
        measure: str = "documents",
        *,
        codes: Codes = None,
        group: Codes = None,
        where: Where = None,
        status: str | None = None,
        codebook: str | Path | Codebook | None = None,
        tidy: bool = False,
    ) -> pd.DataFrame:
        """Code x code: documents (or segments) where both codes are counted; the diagonal holds each
        code's own total. ``tidy=True``: columns code_a, code_b, documents, segments.
        """
        book = self.codebook(codebook)
        with self._store() as store:
            return cooccurrence_frame(
                store, book, measure=measure, codes=codes, group=group, where=where, status=status, tidy=tidy
            )
