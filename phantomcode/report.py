"""Reports: codes by group (city, sector, respondent type...), exemplar quotes, co-occurrence.

Counting, everywhere:

- A coding counts unless it is negated, hypothetical or rejected in review; with
  ``status="accepted"`` only codings a human accepted count.
- ``documents`` in a cell is the number of documents (respondents) in the group with at least one
  counted coding of the code; ``segments`` the number of coded segments (sentences or paragraphs).
  ``group_documents`` is the group's N, ``share`` = documents / group_documents: always the share
  of respondents, whichever measure a matrix shows.
- Groups are the values of the ``by`` attributes (canonical, from the codebook vocabulary), or
  their combinations for a cross-tab; each document is in exactly one group, so the groups' N add
  up to the filtered N. A document without the attribute is in the ``(missing)`` group.
- ``sector`` is the document's sector: the one its metadata declares, else the one inferred from the
  codebook's sector cues, else ``(missing)``; a document is never counted under two sectors.

The frames come from SQL aggregates in the store (``Store.report_*``); this module validates the
selection, orders groups and codes (codebook order, zeros included) and writes the formats.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .codebook import Codebook
from .errors import UsageError
from .export import neutralise_formula, open_text_output
from .store import CODING_SOURCES, Store

if TYPE_CHECKING:
    import pandas as pd

    from .project import Project

MISSING = Store.REPORT_MISSING
MEASURES = ("documents", "segments")
STATUSES = ("accepted",)
FORMATS = ("table", "csv", "json", "xlsx", "md", "html", "png")
TIDY_COLUMNS = ["code", "documents", "segments", "group_documents", "share"]
COOCCURRENCE_COLUMNS = ["code_a", "code_b", "documents", "segments"]
QUOTE_COLUMNS = ["code", "rank", "doc_id", "start", "end", "text", "matched", "status"]
DEFAULT_QUOTES = {"html": 3, "xlsx": 3}  # formats with a place for quotes show some unless told otherwise
_SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".xlsx": "xlsx", ".md": "md", ".markdown": "md",
                   ".html": "html", ".htm": "html", ".png": "png", ".txt": "table"}
Where = Mapping[str, "str | Sequence[str]"]


# ---------------------------------------------------------------------------------------------
# Validating a selection


@dataclass(frozen=True)
class Selection:
    """A checked report selection: attributes, filters (canonical values), codes in codebook order."""

    by: tuple[str, ...]
    where: dict[str, list[str]]
    codes: list[str]
    accepted_only: bool
    source: str | None = None  # only codings from 'rules' or 'learned'; None: all


def parse_where(items: Iterable[str]) -> dict[str, list[str]]:
    """``["city=Beijing", "city=Shanghai", "sector=education"]`` -> ``{"city": [...], "sector": [...]}``."""
    where: dict[str, list[str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"--where {item!r}: write ATTR=VALUE, e.g. --where city=Beijing")
        where.setdefault(name.strip(), []).append(value.strip())
    return where


def split_codes(items: Iterable[str] | str | None) -> list[str]:
    """Code IDs from repeated and/or comma-separated values: ``["a,b", "c"]`` -> ``["a", "b", "c"]``."""
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    return [code.strip() for item in items for code in item.split(",") if code.strip()]


def select(store: Store, codebook: Codebook, *, by: str | Sequence[str] | None = (),
           where: Where | None = None, codes: str | Sequence[str] | None = None,
           group: str | Sequence[str] | None = None, status: str | None = None,
           source: str | None = None) -> Selection:
    """Check attributes, filter values, codes and groups against the project and codebook.

    Raises ``UsageError`` naming the valid choices for an unknown attribute, value, code or group.
    """
    if source not in (None, "all", *CODING_SOURCES):
        raise UsageError(f"unknown source {source!r}; choose rules, learned or all")
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status {status!r}; choose 'accepted' (or leave it out to count every "
                         "coding not rejected in review)")
    by_names = tuple(dict.fromkeys([by] if isinstance(by, str) else list(by or ())))
    valid = store.report_attribute_names()
    for name in [*by_names, *(where or {})]:
        if name not in valid:
            raise UsageError(f"unknown attribute {name!r}; valid attributes: {', '.join(valid)}")
        if name in TIDY_COLUMNS:
            raise UsageError(f"attribute {name!r} has the name of a report column; rename it in the notes' metadata")
    checked_where = {name: _check_values(store, codebook, name, values) for name, values in (where or {}).items()}
    return Selection(by=by_names, where=checked_where, codes=_check_codes(codebook, codes, group),
                     accepted_only=status == "accepted", source=None if source == "all" else source)


def _check_values(store: Store, codebook: Codebook, name: str, values: str | Sequence[str]) -> list[str]:
    """Filter values mapped to the keys reports use (codebook aliases and case are forgiven)."""
    known = store.report_attribute_values(name)
    keys = {key for key, _ in known}
    folded = {key.casefold(): key for key in keys}
    checked = []
    for value in [values] if isinstance(values, str) else values:
        canonical = codebook.normalize_attributes({name: value})[0][name]
        key = canonical if canonical in keys else folded.get(str(value).casefold())
        if key is None:
            ordered = sorted(known, key=lambda item: _value_key(codebook, name, item[0]))
            listed = ", ".join(f"{key} ({n})" for key, n in ordered[:40])
            more = f" and {len(ordered) - 40} more" if len(ordered) > 40 else ""
            raise UsageError(f"--where {name}={value}: no document has this value; values of {name}: {listed}{more}")
        checked.append(key)
    return list(dict.fromkeys(checked))


def _check_codes(codebook: Codebook, codes: str | Sequence[str] | None, group: str | Sequence[str] | None) -> list[str]:
    """The codes asked for (IDs and groups), in codebook order; all codes when neither is given."""
    valid = codebook.code_ids()
    wanted = split_codes(codes)
    for code in wanted:
        if code not in valid:
            raise UsageError(f"unknown code {code!r}; valid codes: {', '.join(valid)}")
    groups = codebook.groups
    for name in split_codes(group):
        if name not in groups:
            raise UsageError(f"unknown code group {name!r}; valid groups: {', '.join(groups)}")
        wanted.extend(groups[name])
    return [code for code in valid if code in wanted] if wanted else valid


def _value_key(codebook: Codebook, name: str, value: str) -> tuple:
    """Group order: the codebook vocabulary's order, then other values (numbers numerically), then (missing)."""
    vocabulary = list(codebook.attributes.get(name, {}))
    if value == MISSING:
        return (2, 0, "")
    if value in vocabulary:
        return (0, vocabulary.index(value), "")
    return (1, int(value), "") if value.isdigit() else (1, float("inf"), value.casefold())


# ---------------------------------------------------------------------------------------------
# Records (plain rows: the command line renders them without pandas) and frames (for notebooks)


def tidy_records(store: Store, codebook: Codebook, selection: Selection) -> list[dict[str, Any]]:
    """One record per group (report order) and code (codebook order): the ``by`` keys, then
    ``TIDY_COLUMNS``; groups without documents are left out, codes without codings are zeros."""
    by = selection.by
    sizes = [(tuple(row[:-1]), row[-1]) for row in store.report_group_sizes(by, where=selection.where)]
    sizes = [(keys, n) for keys, n in sizes if n]
    sizes.sort(key=lambda item: [_value_key(codebook, name, value) for name, value in zip(by, item[0])])
    counts = {(tuple(row[:len(by)]), row[len(by)]): row[len(by) + 1:]
              for row in store.report_code_counts(by, where=selection.where, codes=selection.codes,
                                                  accepted_only=selection.accepted_only, source=selection.source)}
    records = []
    for keys, n in sizes:
        for code in selection.codes:
            documents, segments = counts.get((keys, code), (0, 0))
            records.append({**dict(zip(by, keys)), "code": code, "documents": documents, "segments": segments,
                            "group_documents": n, "share": documents / n})
    return records


def quote_records(store: Store, codebook: Codebook, selection: Selection, n: int) -> list[dict[str, Any]]:
    """Up to ``n`` exemplar segments per group and code (see ``quotes_frame``), in code, group and rank order."""
    by = selection.by
    rows = store.report_quotes(by, where=selection.where, codes=selection.codes, per_cell=n,
                               accepted_only=selection.accepted_only, source=selection.source) if n else []
    order = {code: index for index, code in enumerate(selection.codes)}
    rows.sort(key=lambda row: (order[row["code"]],
                               tuple(_value_key(codebook, name, row[f"g{i}"]) for i, name in enumerate(by)),
                               row["rank"]))
    return [{**{name: row[f"g{i}"] for i, name in enumerate(by)}, **{c: row[c] for c in QUOTE_COLUMNS}}
            for row in rows]


def cooccurrence_records(store: Store, selection: Selection) -> list[dict[str, Any]]:
    """One record per pair of selected codes (both orders, and each code with itself): ``COOCCURRENCE_COLUMNS``."""
    pairs = {(a, b): (d, s) for a, b, d, s in store.report_cooccurrence(
        where=selection.where, codes=selection.codes, accepted_only=selection.accepted_only, source=selection.source)}
    return [dict(zip(COOCCURRENCE_COLUMNS, (a, b, *pairs.get((a, b), (0, 0)))))
            for a in selection.codes for b in selection.codes]


def matrix_frame(store: Store, codebook: Codebook, *, by: str | Sequence[str] | None = "city",
                 measure: str = "documents", codes: str | Sequence[str] | None = None,
                 group: str | Sequence[str] | None = None, where: Where | None = None,
                 status: str | None = None, tidy: bool = False) -> pd.DataFrame:
    """Code x group counts. ``tidy``: one row per group and code with every count; else the matrix."""
    _check_measure(measure)
    selection = select(store, codebook, by=by, where=where, codes=codes, group=group, status=status)
    records = tidy_records(store, codebook, selection)
    if tidy:
        return _tidy_frame(records, selection.by)
    return _widen(*_matrix_values(records, selection.by, selection.codes, measure), selection.by, selection.codes)


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise UsageError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")


def _tidy_frame(records: list[dict[str, Any]], by: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(records, columns=[*by, *TIDY_COLUMNS])
    return frame.astype({"documents": "int64", "segments": "int64", "group_documents": "int64", "share": "float64"})


def _group_keys(record: Mapping[str, Any], by: Sequence[str]) -> tuple[str, ...]:
    """The group of a tidy record: its ``by`` values, or ``("all",)`` without ``by``."""
    return tuple(record[name] for name in by) if by else ("all",)


def _matrix_values(records: list[dict[str, Any]], by: Sequence[str], codes: list[str],
                   measure: str) -> tuple[list[tuple[str, ...]], list[list[Any]]]:
    """The groups in record (report) order, and per code (codebook order) its ``measure`` in each
    group; a code without a record in a group counts 0."""
    groups = list(dict.fromkeys(_group_keys(record, by) for record in records))
    values = {(_group_keys(record, by), record["code"]): record[measure] for record in records}
    return groups, [[values.get((group, code), 0) for group in groups] for code in codes]


def _widen(groups: list[tuple[str, ...]], values: list[list[Any]], by: Sequence[str], codes: list[str]) -> pd.DataFrame:
    """Codes as rows (codebook order), groups as columns (report order).

    Columns are the group values: a MultiIndex for a cross-tab, ``all`` without ``by``.
    """
    import pandas as pd

    if not by:
        index = pd.Index([group_label(group) for group in groups])
    elif len(by) == 1:
        index = pd.Index([group[0] for group in groups], name=by[0])
    else:
        index = pd.MultiIndex.from_tuples(groups, names=list(by)) if groups else \
            pd.MultiIndex.from_arrays([[] for _ in by], names=list(by))
    return pd.DataFrame(values, index=pd.Index(codes, name="code"), columns=index).astype("int64")


def _matrix_frame(codes: list[str], labels: list[str], values: list[list[Any]], dtype: str) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(values, index=pd.Index(codes, name="code"), columns=pd.Index(labels)).astype(dtype)


def quotes_frame(store: Store, codebook: Codebook, code: str | Sequence[str] | None = None, *,
                 by: str | Sequence[str] | None = "city", n: int = 3, group: str | Sequence[str] | None = None,
                 where: Where | None = None, status: str | None = None) -> pd.DataFrame:
    """Up to ``n`` exemplar segments per group and code, at most one per document.

    Order of preference: accepted in review; no negated or hypothetical hit of the code in the
    segment; 20 to 300 characters; more matched words; shorter. Columns: the ``by`` attributes,
    ``code``, ``rank``, ``doc_id``, ``start``, ``end``, ``text`` (the segment), ``matched``, ``status``.
    """
    _check_quotes(n)
    selection = select(store, codebook, by=by, where=where, codes=code, group=group, status=status)
    return _quotes_frame(quote_records(store, codebook, selection, n), selection.by)


def _check_quotes(n: int) -> None:
    if n < 0:
        raise UsageError("the number of quotes must be 0 or more")


def _quotes_frame(records: list[dict[str, Any]], by: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(records, columns=[*by, *QUOTE_COLUMNS])
    return frame.astype({"rank": "int64", "start": "int64", "end": "int64"})


def cooccurrence_frame(store: Store, codebook: Codebook, *, measure: str = "documents",
                       codes: str | Sequence[str] | None = None, group: str | Sequence[str] | None = None,
                       where: Where | None = None, status: str | None = None, tidy: bool = False) -> pd.DataFrame:
    """Code x code: documents (or segments) with counted codings of both; the diagonal is each code's total."""
    _check_measure(measure)
    selection = select(store, codebook, where=where, codes=codes, group=group, status=status)
    records = cooccurrence_records(store, selection)
    if tidy:
        return _cooccurrence_frame(records)
    return _matrix_frame(selection.codes, selection.codes, _cooccurrence_values(records, selection.codes, measure),
                         "int64")


def _cooccurrence_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(records, columns=COOCCURRENCE_COLUMNS).astype({"documents": "int64", "segments": "int64"})


def _cooccurrence_values(records: list[dict[str, Any]], codes: list[str], measure: str) -> list[list[int]]:
    values = {(r["code_a"], r["code_b"]): r[measure] for r in records}
    return [[values.get((a, b), 0) for b in codes] for a in codes]


# ---------------------------------------------------------------------------------------------
# Reports: what every format shows


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
    where: dict[str, list[str]]
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
            return _cooccurrence_frame(self.records)
        return _tidy_frame(self.records, self.by)

    @property
    def quotes(self) -> pd.DataFrame:
        """The quotes as a DataFrame (``Project.quotes``)."""
        return _quotes_frame(self.quote_records, self.by)

    def groups(self) -> list[tuple[tuple[str, ...], int]]:
        """The groups in report order with their N."""
        if self.kind != "matrix" or not self.records:
            return []
        return list({_group_keys(record, self.by): record["group_documents"] for record in self.records}.items())

    def matrix(self, measure: str | None = None) -> tuple[list[str], list[list[Any]]]:
        """The matrix of ``measure`` (default: the report's) as column labels and one row of values
        per code: codes x group labels (``Beijing / education``), or codes x codes."""
        measure = measure or self.measure
        if self.kind == "cooccurrence":
            return list(self.codes), _cooccurrence_values(self.records, self.codes, measure)
        groups, values = _matrix_values(self.records, self.by, self.codes, measure)
        return [group_label(keys) for keys in groups], values

    def wide(self, measure: str | None = None) -> pd.DataFrame:
        """``matrix()`` as a DataFrame: codes x group labels, or codes x codes."""
        measure = measure or self.measure
        labels, values = self.matrix(measure)
        return _matrix_frame(self.codes, labels, values, "float64" if measure == "share" else "int64")

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
        status = ("only codings accepted in review (and neither negated nor hypothetical)" if self.status
                  else "codings that are neither negated, hypothetical nor rejected in review")
        lines = [f"{self.documents} documents" + (f" of {self.project_documents}, filtered by {filters}" if filters
                                                   else "") + f"; codebook {self.codebook.name} {self.codebook.version}.",
                 f"Counted: {status}. Documents = respondents with at least one counted coding; "
                 "segments = coded sentences or paragraphs."]
        if self.kind == "matrix":
            lines.append("Share = documents / the group's N. Each document is counted in one group; documents "
                         f"without the attribute form the {MISSING} group.")
        if "sector" in (*self.by, *self.where):
            lines.append("Sector: the sector the note declares, else the one inferred from the codebook's sector "
                         "cues; each document is counted under one sector only.")
        return lines

    def warnings(self) -> list[str]:
        """Reasons to distrust the numbers: codings made with another codebook than the one read now."""
        stale = [h for h in self.coded_with if h != self.codebook.content_hash]
        if not stale:
            return []
        return [f"the codings were made with another codebook version (sha256 {', '.join(h[:12] for h in stale)}) "
                f"than {self.codebook.path.name} now (sha256 {self.codebook.content_hash[:12]}); run 'phantomcode code' "
                "to re-code before publishing these numbers"]

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
            title=f"{group_label(keys)} (N = {n})", header=["code", "label", "documents", "share", "segments"],
            rows=[[r["code"], self.label(r["code"]), r["documents"], percent(r["share"]), r["segments"]] for r in rows],
            heat=[[None, None, None, r["share"], None] for r in rows], kind="group", text_columns=2)

    def _matrix_table(self) -> TextTable:
        groups = self.groups()
        labels, values = self.matrix()
        shares = self.matrix("share")[1]
        totals = {code: 0 for code in self.codes}
        for record in self.records:
            totals[record["code"]] += record[self.measure]
        n_total = sum(n for _, n in groups)
        top = max((value for row in values for value in row), default=1) or 1
        rows, heat = [], []
        for code, code_values, code_shares in zip(self.codes, values, shares):
            total = totals[code]
            if self.measure == "documents":
                cells = [f"{v} ({percent(share)})" for v, share in zip(code_values, code_shares)]
                cells.append(f"{total} ({percent(total / n_total)})")
                heat.append([None, *code_shares, None])
            else:
                cells = [*code_values, total]
                heat.append([None, *(v / top for v in code_values), None])
            rows.append([code, *cells])
        rows.append(["N", *(n for _, n in groups), n_total])
        heat.append([None] * (len(groups) + 2))
        by = " x ".join(self.by) or "project"
        return TextTable(title=f"{self.measure.capitalize()} by {by}", header=["code", *labels, "total"],
                         rows=rows, heat=heat, kind="matrix")

    def _cooccurrence_table(self, measure: str) -> TextTable:
        values = self.matrix(measure)[1]
        top = max((value for row in values for value in row), default=1) or 1
        return TextTable(title=f"Co-occurrence in {measure}", header=["code", *self.codes],
                         rows=[[code, *row] for code, row in zip(self.codes, values)],
                         heat=[[None, *(v / top for v in row)] for row in values], kind="cooccurrence")

    def quote_rows(self) -> Iterator[tuple[str, str, str, str]]:
        """(code, group label, doc_id, text) for every quote, in code and group order."""
        for row in self.quote_records:
            keys = tuple(row[name] for name in self.by) if self.by else ("all",)
            yield row["code"], group_label(keys), row["doc_id"], row["text"]

    def quotes_by_code(self) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
        """(code, [(group label, doc_id, text), ...]) per code, for outputs with a heading per code."""
        for code, rows in itertools.groupby(self.quote_rows(), key=lambda row: row[0]):
            yield code, [row[1:] for row in rows]


def group_label(keys: Sequence[str]) -> str:
    """A group's name: its value, or its values joined for a cross-tab (``Beijing / education``)."""
    return " / ".join(str(key) for key in keys)


def percent(share: float) -> str:
    return f"{share:.0%}"


def build_report(project: Project, *, by: str | Sequence[str] | None = "city", measure: str = "documents",
                 codes: str | Sequence[str] | None = None, group: str | Sequence[str] | None = None,
                 where: Where | None = None, status: str | None = None, quotes: int = 0,
                 codebook: str | Path | Codebook | None = None, source: str | None = None) -> Report:
    """Everything ``phantomcode report`` shows: the records ``Project.matrix`` and ``Project.quotes``
    are made of, read in one pass over the store."""
    book = project.codebook(codebook)
    _check_measure(measure)
    _check_quotes(quotes)
    with Store.open(project.path, readonly=True) as store:
        selection = select(store, book, by=by, where=where, codes=codes, group=group, status=status, source=source)
        return _report(store, project, book, "matrix", selection, measure=measure,
                       records=tidy_records(store, book, selection),
                       quotes=quote_records(store, book, selection, quotes))


def build_cooccurrence(project: Project, *, measure: str = "documents", codes: str | Sequence[str] | None = None,
                       group: str | Sequence[str] | None = None, where: Where | None = None,
                       status: str | None = None, codebook: str | Path | Codebook | None = None,
                       source: str | None = None) -> Report:
    """Everything ``phantomcode report cooccurrence`` shows: the records of ``Project.cooccurrence``."""
    book = project.codebook(codebook)
    _check_measure(measure)
    with Store.open(project.path, readonly=True) as store:
        selection = select(store, book, where=where, codes=codes, group=group, status=status, source=source)
        return _report(store, project, book, "cooccurrence", selection, measure=measure,
                       records=cooccurrence_records(store, selection), quotes=[])


def _report(store: Store, project: Project, book: Codebook, kind: str, selection: Selection, *, measure: str,
            records: list[dict[str, Any]], quotes: list[dict[str, Any]]) -> Report:
    sizes = store.report_group_sizes((), where=selection.where)
    return Report(kind=kind, by=selection.by, measure=measure, records=records, quote_records=quotes, codebook=book,
                  codes=selection.codes, where=selection.where, status="accepted" if selection.accepted_only else None,
                  project=Path(project.path).name, project_documents=store.count_documents(),
                  documents=sizes[0][0], coded_at=store.report_coded_at(),
                  coded_with=tuple(store.report_codebook_hashes()),
                  generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


# ---------------------------------------------------------------------------------------------
# Writing the formats


def format_for(fmt: str | None, out: str | Path | None) -> str:
    """The format asked for, else the one the output file's suffix names, else ``table``."""
    if fmt is None:
        fmt = _SUFFIX_FORMATS.get(Path(out).suffix.lower(), "table") if out not in (None, "-") else "table"
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def check_options(fmt: str, *, wide: bool = False, quotes: int | None = None) -> None:
    """Refuse options the format cannot show, rather than silently ignoring them."""
    if wide and fmt not in ("csv", "json"):
        raise UsageError("--wide goes with --format csv or json (the other formats show the matrix already)")
    if quotes and fmt in ("csv", "json", "png"):
        raise UsageError(f"--format {fmt} has no place for quotes; use table, md, html or xlsx, "
                         "or Project.quotes() in Python")


def write_report(report: Report, *, fmt: str, out: str | Path | None = None, wide: bool = False) -> None:
    """Write ``report`` as csv, json, xlsx, md, html or png to ``out`` (stdout when None or '-')."""
    writers = {"csv": _write_csv, "json": _write_json, "md": _write_md, "html": _write_html}
    if fmt in writers:
        with open_text_output(out) as handle:
            writers[fmt](report, handle, wide=wide)
    elif fmt == "xlsx":
        _write_binary(out, lambda handle: write_xlsx(report, handle), fmt)
    elif fmt == "png":
        _write_binary(out, lambda handle: write_png(report, handle), fmt)
    else:
        raise UsageError(f"format {fmt!r} is rendered by the command line, not written by write_report")


def _data(report: Report, wide: bool) -> tuple[list[str], list[list[Any]]]:
    """The header and rows csv and json write: the tidy records (share to 4 decimals), or the matrix."""
    if wide:
        labels, values = report.matrix()
        return ["code", *labels], [[code, *row] for code, row in zip(report.codes, values)]
    columns = COOCCURRENCE_COLUMNS if report.kind == "cooccurrence" else [*report.by, *TIDY_COLUMNS]
    rows = [[record[c] for c in columns] for record in report.records]
    if "share" in columns:
        position = columns.index("share")
        for row in rows:
            row[position] = _round4(row[position])
    return columns, rows


def _round4(share: float) -> float:
    """``share`` to 4 decimals as pandas and numpy round (scale, round half to even, unscale), which
    earlier versions wrote: the published figures stay the same to the last digit."""
    return round(share * 10_000) / 10_000


def _write_csv(report: Report, handle: IO[str], *, wide: bool) -> None:
    columns, rows = _data(report, wide)
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([neutralise_formula(str(c)) for c in columns])
    writer.writerows([neutralise_formula(v) for v in row] for row in rows)


def _write_json(report: Report, handle: IO[str], *, wide: bool) -> None:
    columns, rows = _data(report, wide)
    json.dump([dict(zip(map(str, columns), row)) for row in rows], handle, ensure_ascii=False, indent=1)
    handle.write("\n")


def _md_cell(value: Any) -> str:
    return " ".join(str(value).split()).replace("\\", "\\\\").replace("|", "\\|")


def _write_md(report: Report, handle: IO[str], *, wide: bool = False) -> None:
    handle.write(f"# {_md_cell(report.title())}\n\n")
    handle.write(" ".join(report.description()) + "\n")
    for warning in report.warnings():
        handle.write(f"\n**Warning:** {_md_cell(warning)}\n")
    for table in report.tables():
        handle.write(f"\n## {_md_cell(table.title)}\n\n")
        handle.write("| " + " | ".join(_md_cell(h) for h in table.header) + " |\n")
        handle.write("|" + "|".join("---" if i < table.text_columns else "---:"
                                    for i in range(len(table.header))) + "|\n")
        for row in table.rows:
            handle.write("| " + " | ".join(_md_cell(v) for v in row) + " |\n")
    if report.quote_records:
        handle.write("\n## Quotes\n")
        for code, quotes in report.quotes_by_code():
            handle.write(f"\n### {_md_cell(code)}: {_md_cell(report.label(code))}\n\n")
            for label, doc_id, text in quotes:
                handle.write(f"- {_md_cell(label)}, {_md_cell(doc_id)}: \u201c{_md_cell(text)}\u201d\n")


# -- html --------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2rem auto; max-width: 75rem; padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
p.meta { color: #444; margin: 0.2rem 0; }
p.warning { background: #fff4e5; border-left: 4px solid #d97706; padding: 0.3rem 0.8rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.55rem; }
th { background: #f3f5f7; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.n td { font-weight: 600; background: #f3f5f7; }
.groups { display: flex; flex-wrap: wrap; gap: 0 1.5rem; }
blockquote { margin: 0.4rem 0 0.8rem; padding: 0.3rem 0.8rem; border-left: 4px solid #6b8fbf; background: #f7f9fc; }
blockquote .src { color: #555; font-size: 0.85rem; display: block; margin-top: 0.2rem; }
dl dt { font-weight: 600; margin-top: 0.6rem; } dl dd { margin-left: 1.2rem; }
"""


def heat_colour(heat: float) -> tuple[str, str]:
    """(background, text colour) for a 0..1 value: white to deep blue, white text on dark cells."""
    heat = min(max(heat, 0.0), 1.0)
    low, high = (255, 255, 255), (8, 69, 148)
    rgb = tuple(round(a + (b - a) * heat) for a, b in zip(low, high))
    return f"#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}", "#ffffff" if heat > 0.55 else "#1b1b1b"


def _html_table(table: TextTable, *, caption: bool = True) -> str:
    e = html.escape
    parts = [f"<table>{f'<caption><strong>{e(table.title)}</strong></caption>' if caption else ''}<thead><tr>",
             "".join(f"<th>{e(str(h))}</th>" for h in table.header), "</tr></thead><tbody>"]
    for index, row in enumerate(table.rows):
        heat = table.heat[index] if index < len(table.heat) else [None] * len(row)
        is_n = table.kind == "matrix" and row[0] == "N" and index == len(table.rows) - 1
        parts.append('<tr class="n">' if is_n else "<tr>")
        for position, (value, level) in enumerate(zip(row, heat)):
            style = ""
            if level is not None:
                background, colour = heat_colour(level)
                style = f' style="background:{background};color:{colour}"'
            css = ' class="num"' if position >= table.text_columns else ""
            parts.append(f"<td{css}{style}>{e(str(value))}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _write_html(report: Report, handle: IO[str], *, wide: bool = False) -> None:
    e = html.escape
    book = report.codebook
    tables = report.tables()
    body = [f"<h1>{e(report.title())}</h1>",
            f'<p class="meta">Project <strong>{e(report.project)}</strong>: N = {report.project_documents} documents'
            + (f", {report.documents} after filters" if report.where else "") + "</p>",
            f'<p class="meta">Codebook <strong>{e(book.name)}</strong>, version {e(str(book.version))} '
            f"(sha256 {e(book.content_hash[:12])})</p>",
            f'<p class="meta">Coded {e(report.coded_at or "(no completed run)")}; report made {e(report.generated_at)}</p>',
            *(f"<p>{e(line)}</p>" for line in report.description()),
            *(f'<p class="warning"><strong>Warning:</strong> {e(line)}</p>' for line in report.warnings())]
    groups = [t for t in tables if t.kind == "group"]
    for table in (t for t in tables if t.kind != "group"):
        body.append(f"<h2>{e(table.title)}</h2>{_html_table(table, caption=False)}")
    if groups:
        body.append("<h2>Each group</h2><div class=\"groups\">")
        body.extend(_html_table(t) for t in groups)
        body.append("</div>")
    if report.quote_records:
        body.append("<h2>Quotes</h2>")
        for code, quotes in report.quotes_by_code():
            body.append(f"<h3>{e(code)}: {e(report.label(code))}</h3>")
            body.extend(f"<blockquote>{e(text)}<span class=\"src\">{e(label)} \u00b7 {e(doc_id)}</span></blockquote>"
                        for label, doc_id, text in quotes)
    body.append("<h2>Codebook definitions</h2><dl>")
    for code in report.codes:
        entry = book.code(code)
        body.append(f"<dt>{e(code)}: {e(entry.label)} <small>({e(entry.group)})</small></dt>"
                    f"<dd>{e(entry.definition)}</dd>")
    body.append("</dl>")
    handle.write(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                 f"<title>{e(report.title())}: {e(report.project)}</title><style>{_CSS}</style></head>"
                 f"<body>\n{chr(10).join(body)}\n</body></html>\n")


# -- xlsx --------------------------------------------------------------------------------------


def write_xlsx(report: Report, handle: IO[bytes]) -> None:
    """Matrix sheets (documents, share, segments; or the co-occurrences), the tidy data, quotes, about."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    if report.kind == "matrix":
        for measure in ("documents", "share", "segments"):
            _matrix_sheet(workbook, report, measure)
    else:
        for measure in MEASURES:
            _matrix_sheet(workbook, report, measure)
    columns = COOCCURRENCE_COLUMNS if report.kind == "cooccurrence" else [*report.by, *TIDY_COLUMNS]
    _records_sheet(workbook, "data", columns, report.records, freeze="A2")
    columns = [*report.by, *QUOTE_COLUMNS]
    quotes = _records_sheet(workbook, "quotes", columns, report.quote_records, freeze="A2")
    column = quotes.cell(row=1, column=columns.index("text") + 1).column_letter
    quotes.column_dimensions[column].width = 80
    for cell in quotes[column][1:]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    about = workbook.create_sheet("about")
    for line in [("report", report.title()), ("project", report.project),
                 ("documents in project", report.project_documents), ("documents after filters", report.documents),
                 ("codebook", report.codebook.name), ("codebook version", str(report.codebook.version)),
                 ("codebook sha256", report.codebook.content_hash), ("coded", report.coded_at or ""),
                 ("report made", report.generated_at), *(("note", line) for line in report.description()),
                 *(("warning", line) for line in report.warnings())]:
        about.append([neutralise_formula(v) for v in line])
    for cell in about["A"]:
        cell.font = Font(bold=True)
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 100
    workbook.save(handle)


def _matrix_sheet(workbook: Any, report: Report, measure: str) -> None:
    from openpyxl.styles import Font

    labels, values = report.matrix(measure)
    sheet = workbook.create_sheet(measure)
    header = ["code", "label", *(str(c) for c in labels)]
    sheet.append([neutralise_formula(h) for h in header])
    for code, row in zip(report.codes, values):
        sheet.append([code, report.label(code), *row])
    if report.kind == "matrix":
        sheet.append(["N", "documents in the group", *(n for _, n in report.groups())])
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    if measure == "share":
        for row in sheet.iter_rows(min_row=2, max_row=len(report.codes) + 1, min_col=3):
            for cell in row:
                cell.number_format = "0%"
    _finish_sheet(sheet, freeze="C2")


def _records_sheet(workbook: Any, name: str, columns: list[str], records: list[dict[str, Any]], *,
                   freeze: str) -> Any:
    sheet = workbook.create_sheet(name)
    sheet.append([neutralise_formula(str(c)) for c in columns])
    for record in records:
        sheet.append([neutralise_formula(record[c]) for c in columns])
    _finish_sheet(sheet, freeze=freeze)
    return sheet


def _finish_sheet(sheet: Any, *, freeze: str) -> None:
    from openpyxl.styles import Font

    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = freeze
    for column in sheet.columns:
        longest = max((len(str(cell.value)) for cell in column if cell.value is not None), default=4)
        sheet.column_dimensions[column[0].column_letter].width = min(max(longest + 2, 8), 60)


# -- png ---------------------------------------------------------------------------------------

_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei",
              "Microsoft YaHei", "PingFang SC", "Heiti SC", "Arial Unicode MS")


def write_png(report: Report, handle: IO[bytes]) -> None:
    """A heatmap of the report's matrix with the count in every cell (matplotlib, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    import numpy as np

    labels, values = report.matrix()
    if not labels:
        raise UsageError("nothing to draw: no documents match the filters")
    counts = np.array(values, dtype=float)
    if report.kind == "matrix" and report.measure == "documents":
        colours, scale = np.array(report.matrix("share")[1], dtype=float), "share of the group's documents"
        vmax = 1.0
    else:
        colours, scale, vmax = counts, report.measure, max(float(counts.max()), 1.0)
    groups = report.groups()
    xlabels = ([f"{label}\nN = {n}" for label, (_, n) in zip(labels, groups)] if report.kind == "matrix"
               else list(labels))
    ylabels = [f"{report.label(code)} ({code})" for code in report.codes]
    rotate = any(len(str(label)) > 10 for label in labels) or len(xlabels) > 8
    figure = Figure(figsize=(max(6.0, 0.9 * len(xlabels) + 4.5), max(3.0, 0.42 * len(ylabels) + 2.2)), dpi=150,
                    layout="constrained")
    FigureCanvasAgg(figure)
    font = _cjk_font([*xlabels, *ylabels])
    axes = figure.add_subplot()
    image = axes.imshow(colours, cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
    axes.set_xticks(range(len(xlabels)), xlabels, rotation=45 if rotate else 0, ha="right" if rotate else "center",
                    fontsize=8, fontfamily=font)
    axes.set_yticks(range(len(ylabels)), ylabels, fontsize=8, fontfamily=font)
    axes.tick_params(length=0)
    for (row, column), value in _cells(counts):
        dark = colours[row, column] / vmax > 0.55
        axes.text(column, row, f"{int(value)}", ha="center", va="center", fontsize=8,
                  color="white" if dark else "#1b1b1b")
    title = ("Co-occurrence in " + report.measure if report.kind == "cooccurrence"
             else f"{report.measure.capitalize()} by {' x '.join(report.by) or 'project'}")
    axes.set_title(f"{title} ({report.documents} documents; {report.codebook.name} {report.codebook.version})",
                   fontsize=9)
    figure.colorbar(image, ax=axes, shrink=0.8).set_label(scale, fontsize=8)
    figure.savefig(handle, format="png")


def _cells(values: Any) -> Iterator[tuple[tuple[int, int], float]]:
    for row in range(values.shape[0]):
        for column in range(values.shape[1]):
            yield (row, column), values[row, column]


def _cjk_font(labels: Sequence[str]) -> list[str]:
    """A font family list that can draw hanzi when a label has some and such a font is installed."""
    from matplotlib import font_manager

    if not any("\u3400" <= ch <= "\u9fff" for label in labels for ch in label):
        return ["sans-serif"]
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return [name for name in _CJK_FONTS if name in installed] + ["sans-serif"]


# -- output ------------------------------------------------------------------------------------


def _write_binary(out: str | Path | None, write: Any, fmt: str) -> None:
    """Write a binary format to ``out``, or to stdout when it is redirected (never to a terminal)."""
    buffer = io.BytesIO()
    write(buffer)
    if out is None or str(out) == "-":
        if sys.stdout.isatty():
            raise UsageError(f"--format {fmt} is a binary file: give --out FILE (or redirect stdout to a file)")
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.flush()
        return
    try:
        Path(out).write_bytes(buffer.getvalue())
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the output file ({exc.strerror})") from None
