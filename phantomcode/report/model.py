"""A computed report (``Report``): the counts, quotes and descriptions every format shows."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..codebook import Codebook
from ..store import Store
from .frames import (
    cooccurrence_records,
    cooccurrence_records_frame,
    cooccurrence_values,
    group_keys,
    group_label,
    labelled_matrix_frame,
    matrix_values,
    quote_records,
    quote_records_frame,
    tidy_records,
    tidy_records_frame,
)
from .selection import MEASURES, MISSING, Selection, Where, check_measure, check_quotes, select

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class TextTable:
    """A table as every format renders it: header, rows of cells, and a 0..1 heat per cell (or None)."""

    title: str
    header: list[str]
    rows: list[list[Any]]
    heat: list[list[float | None]] = field(default_factory=list)
    kind: str = "table"  # "group" (one group's codes), "matrix" or "cooccurrence"
    text_columns: int = 1  # leading columns of text; the others are numbers, right-aligned


@dataclass(frozen=True)
class Report:
    """A computed report: the tidy counts, the quotes and what is needed to describe them.

    Counts and quotes are plain records, so the terminal, csv, json, md and html never import
    pandas; ``tidy``, ``quotes`` and ``wide()`` give them as DataFrames for notebooks.
    """

    kind: str  # "matrix" or "cooccurrence"
    by: tuple[str, ...]
    measure: str
    records: list[dict[str, Any]]  # tidy: the by keys + TIDY_COLUMNS, or COOCCURRENCE_COLUMNS
    quote_records: list[dict[str, Any]]  # the by keys + QUOTE_COLUMNS
    codebook: Codebook
    codes: list[str]
    where: dict[str, Sequence[str]]
    status: str | None
    project: str
    project_documents: int
    documents: int
    coded_at: str | None
    generated_at: str
    coded_with: tuple[str, ...] = ()

    # -- shapes ----------------------------------------------------------------------------------

    @property
    def tidy(self) -> pd.DataFrame:
        """The tidy counts as a DataFrame (``Project.matrix(tidy=True)`` or ``Project.cooccurrence(tidy=True)``)."""
        if self.kind == "cooccurrence":
            return cooccurrence_records_frame(self.records)
        return tidy_records_frame(self.records, self.by)

    @property
    def quotes(self) -> pd.DataFrame:
        """The quotes as a DataFrame (``Project.quotes``)."""
        return quote_records_frame(self.quote_records, self.by)

    def groups(self) -> list[tuple[tuple[str, ...], int]]:
        """The groups in report order with their N."""
        if self.kind != "matrix" or not self.records:
            return []
        return list({group_keys(record, self.by): record["group_documents"] for record in self.records}.items())

    def matrix(self, measure: str | None = None) -> tuple[list[str], list[list[Any]]]:
        """The matrix of ``measure`` (default: the report's) as column labels and one row of values
        per code: codes x group labels (``Beijing / education``), or codes x codes."""
        measure = measure or self.measure
        if self.kind == "cooccurrence":
            return list(self.codes), cooccurrence_values(self.records, self.codes, measure)
        groups, values = matrix_values(self.records, self.by, self.codes, measure)
        return [group_label(keys) for keys in groups], values

    def wide(self, measure: str | None = None) -> pd.DataFrame:
        """``matrix()`` as a DataFrame: codes x group labels, or codes x codes."""
        measure = measure or self.measure
        labels, values = self.matrix(measure)
        return labelled_matrix_frame(self.codes, labels, values, "float64" if measure == "share" else "int64")

    def label(self, code: str) -> str:
        return self.codebook.code(code).label

    # -- text ------------------------------------------------------------------------------------

    def title(self) -> str:
        if self.kind == "cooccurrence":
            return "Code co-occurrence"
        return f"Codes by {' x '.join(self.by) or 'project'}"

    def description(self) -> list[str]:
        """Sentences saying what was counted, for the head of md and html reports and the terminal."""
        filters = "; ".join(f"{name} = {' or '.join(values)}" for name, values in self.where.items())
        status = (
            "only codings accepted in review (and neither negated nor hypothetical)"
            if self.status
            else "codings that are neither negated, hypothetical nor rejected in review"
        )
        filtered = f" of {self.project_documents}, filtered by {filters}" if filters else ""
        lines = [
            f"{self.documents} documents{filtered}; codebook {self.codebook.name} {self.codebook.version}.",
            f"Counted: {status}. Documents = respondents with at least one counted coding; "
            "segments = coded sentences or paragraphs.",
        ]
        if self.kind == "matrix":
            lines.append(
                "Share = documents / the group's N. Each document is counted in one group; documents "
                f"without the attribute form the {MISSING} group."
            )
        if "sector" in (*self.by, *self.where):
            lines.append(
                "Sector: the sector the note declares, else the one inferred from the codebook's sector "
                "cues; each document is counted under one sector only."
            )
        return lines

    def warnings(self) -> list[str]:
        """Reasons to distrust the numbers: codings made with another codebook than the one read now."""
        stale = [h for h in self.coded_with if h != self.codebook.content_hash]
        if not stale:
            return []
        return [
            f"the codings were made with another codebook version (sha256 {', '.join(h[:12] for h in stale)}) "
            f"than {self.codebook.path.name} now (sha256 {self.codebook.content_hash[:12]}); "
            "run 'phantomcode code' to re-code before publishing these numbers"
        ]

    def tables(self) -> list[TextTable]:
        """Per-group tables then the matrix (or the two co-occurrence matrices), ready to render."""
        if self.kind == "cooccurrence":
            return [self._cooccurrence_table(measure) for measure in MEASURES]
        groups = self.groups()
        if not groups:
            return []
        tables = []
        if self.by:
            rows_of: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for record in self.records:
                rows_of.setdefault(tuple(record[name] for name in self.by), []).append(record)
            tables = [self._group_table(keys, n, rows_of[keys]) for keys, n in groups]
        return [*tables, self._matrix_table()]

    def _group_table(self, keys: tuple[str, ...], n: int, rows: list[dict[str, Any]]) -> TextTable:
        return TextTable(
            title=f"{group_label(keys)} (N = {n})",
            header=["code", "label", "documents", "share", "segments"],
            rows=[[r["code"], self.label(r["code"]), r["documents"], percent(r["share"]), r["segments"]] for r in rows],
            heat=[[None, None, None, r["share"], None] for r in rows],
            kind="group",
            text_columns=2,
        )

    def _matrix_table(self) -> TextTable:
        groups = self.groups()
        labels, values = self.matrix()
        shares = self.matrix("share")[1]
        totals = {code: 0 for code in self.codes}
        for record in self.records:
            totals[record["code"]] += record[self.measure]
        n_total = sum(n for _, n in groups)
        top = max((value for row in values for value in row), default=1) or 1
        rows: list[list[Any]] = []
        heat: list[list[float | None]] = []
        for code, code_values, code_shares in zip(self.codes, values, shares, strict=False):
            total = totals[code]
            cells: list[Any]
            if self.measure == "documents":
                cells = [f"{v} ({percent(share)})" for v, share in zip(code_values, code_shares, strict=False)]
                cells.append(f"{total} ({percent(total / n_total)})")
                heat.append([None, *code_shares, None])
            else:
                cells = [*code_values, total]
                heat.append([None, *(v / top for v in code_values), None])
            rows.append([code, *cells])
        rows.append(["N", *(n for _, n in groups), n_total])
        heat.append([None] * (len(groups) + 2))
        by = " x ".join(self.by) or "project"
        return TextTable(
            title=f"{self.measure.capitalize()} by {by}",
            header=["code", *labels, "total"],
            rows=rows,
            heat=heat,
            kind="matrix",
        )

    def _cooccurrence_table(self, measure: str) -> TextTable:
        values = self.matrix(measure)[1]
        top = max((value for row in values for value in row), default=1) or 1
        return TextTable(
            title=f"Co-occurrence in {measure}",
            header=["code", *self.codes],
            rows=[[code, *row] for code, row in zip(self.codes, values, strict=False)],
            heat=[[None, *(v / top for v in row)] for row in values],
            kind="cooccurrence",
        )

    def quote_rows(self) -> Iterator[tuple[str, str, str, str]]:
        """(code, group label, doc_id, text) for every quote, in code and group order."""
        for row in self.quote_records:
            keys = tuple(row[name] for name in self.by) if self.by else ("all",)
            yield row["code"], group_label(keys), row["doc_id"], row["text"]

    def quotes_by_code(self) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
        """(code, [(group label, doc_id, text), ...]) per code, for outputs with a heading per code."""
        for code, rows in itertools.groupby(self.quote_rows(), key=lambda row: row[0]):
            yield code, [row[1:] for row in rows]


def percent(share: float) -> str:
    return f"{share:.0%}"


def build_report(
    path: str | Path,
    codebook: Codebook,
    *,
    by: str | Sequence[str] | None = "city",
    measure: str = "documents",
    codes: str | Sequence[str] | None = None,
    group: str | Sequence[str] | None = None,
    where: Where | None = None,
    status: str | None = None,
    quotes: int = 0,
    source: str | None = None,
) -> Report:
    """Everything ``phantomcode report`` shows for the project at ``path`` coded with ``codebook``:
    the records ``Project.matrix`` and ``Project.quotes`` are made of, read in one pass over the
    store. It takes the path and the codebook (``Project.codebook()`` chooses it), not a Project,
    so reports do not depend on the project module that uses them."""
    check_measure(measure)
    check_quotes(quotes)
    with Store.open(path, readonly=True) as store:
        selection = select(store, codebook, by=by, where=where, codes=codes, group=group, status=status, source=source)
        return _report(
            store,
            codebook,
            "matrix",
            selection,
            measure=measure,
            records=tidy_records(store, codebook, selection),
            quotes=quote_records(store, codebook, selection, quotes),
        )


def build_cooccurrence(
    path: str | Path,
    codebook: Codebook,
    *,
    measure: str = "documents",
    codes: str | Sequence[str] | None = None,
    group: str | Sequence[str] | None = None,
    where: Where | None = None,
    status: str | None = None,
    source: str | None = None,
) -> Report:
    """Everything ``phantomcode report cooccurrence`` shows: the records of ``Project.cooccurrence``."""
    check_measure(measure)
    with Store.open(path, readonly=True) as store:
        selection = select(store, codebook, where=where, codes=codes, group=group, status=status, source=source)
        return _report(
            store,
            codebook,
            "cooccurrence",
            selection,
            measure=measure,
            records=cooccurrence_records(store, selection),
            quotes=[],
        )


def _report(
    store: Store,
    book: Codebook,
    kind: str,
    selection: Selection,
    *,
    measure: str,
    records: list[dict[str, Any]],
    quotes: list[dict[str, Any]],
) -> Report:
    sizes = store.report_group_sizes((), where=selection.where)
    return Report(
        kind=kind,
        by=selection.by,
        measure=measure,
        records=records,
        quote_records=quotes,
        codebook=book,
        codes=selection.codes,
        where=selection.where,
        status="accepted" if selection.accepted_only else None,
        project=Path(store.path).name,
        project_documents=store.count_documents(),
        documents=sizes[0][0],
        coded_at=store.report_coded_at(),
        coded_with=tuple(store.report_codebook_hashes()),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
