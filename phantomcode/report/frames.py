"""Report counts as plain records (the command line renders them without pandas) and as
DataFrames (for notebooks): the SQL aggregates of the store, in codebook and group order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..codebook import Codebook
from ..store import Store
from .selection import (
    COOCCURRENCE_COLUMNS,
    QUOTE_COLUMNS,
    TIDY_COLUMNS,
    Selection,
    Where,
    check_measure,
    check_quotes,
    select,
    value_key,
)

if TYPE_CHECKING:
    import pandas as pd


def tidy_records(store: Store, codebook: Codebook, selection: Selection) -> list[dict[str, Any]]:
    """One record per group (report order) and code (codebook order): the ``by`` keys, then
    ``TIDY_COLUMNS``; groups without documents are left out, codes without codings are zeros."""
    by = selection.by
    sizes = [(tuple(row[:-1]), row[-1]) for row in store.report_group_sizes(by, where=selection.where)]
    sizes = [(keys, n) for keys, n in sizes if n]
    sizes.sort(key=lambda item: [value_key(codebook, name, value) for name, value in zip(by, item[0], strict=False)])
    counts = {
        (tuple(row[: len(by)]), row[len(by)]): row[len(by) + 1 :]
        for row in store.report_code_counts(
            by,
            where=selection.where,
            codes=selection.codes,
            accepted_only=selection.accepted_only,
            source=selection.source,
        )
    }
    records = []
    for keys, n in sizes:
        for code in selection.codes:
            documents, segments = counts.get((keys, code), (0, 0))
            records.append(
                {
                    **dict(zip(by, keys, strict=False)),
                    "code": code,
                    "documents": documents,
                    "segments": segments,
                    "group_documents": n,
                    "share": documents / n,
                }
            )
    return records


def quote_records(store: Store, codebook: Codebook, selection: Selection, n: int) -> list[dict[str, Any]]:
    """Up to ``n`` exemplar segments per group and code (see ``quotes_frame``), in code, group and rank order."""
    by = selection.by
    rows = (
        store.report_quotes(
            by,
            where=selection.where,
            codes=selection.codes,
            per_cell=n,
            accepted_only=selection.accepted_only,
            source=selection.source,
        )
        if n
        else []
    )
    order = {code: index for index, code in enumerate(selection.codes)}
    rows.sort(
        key=lambda row: (
            order[row["code"]],
            tuple(value_key(codebook, name, row[f"g{i}"]) for i, name in enumerate(by)),
            row["rank"],
        )
    )
    return [{**{name: row[f"g{i}"] for i, name in enumerate(by)}, **{c: row[c] for c in QUOTE_COLUMNS}} for row in rows]


def cooccurrence_records(store: Store, selection: Selection) -> list[dict[str, Any]]:
    """One record per pair of selected codes (both orders, and each code with itself): ``COOCCURRENCE_COLUMNS``."""
    pairs = {
        (a, b): (d, s)
        for a, b, d, s in store.report_cooccurrence(
            where=selection.where, codes=selection.codes, accepted_only=selection.accepted_only, source=selection.source
        )
    }
    return [
        dict(zip(COOCCURRENCE_COLUMNS, (a, b, *pairs.get((a, b), (0, 0))), strict=False))
        for a in selection.codes
        for b in selection.codes
    ]


def matrix_frame(
    store: Store,
    codebook: Codebook,
    *,
    by: str | Sequence[str] | None = "city",
    measure: str = "documents",
    codes: str | Sequence[str] | None = None,
    group: str | Sequence[str] | None = None,
    where: Where | None = None,
    status: str | None = None,
    tidy: bool = False,
) -> pd.DataFrame:
    """Code x group counts. ``tidy``: one row per group and code with every count; else the matrix."""
    check_measure(measure)
    selection = select(store, codebook, by=by, where=where, codes=codes, group=group, status=status)
    records = tidy_records(store, codebook, selection)
    if tidy:
        return tidy_records_frame(records, selection.by)
    return _widen(*matrix_values(records, selection.by, selection.codes, measure), selection.by, selection.codes)


def tidy_records_frame(records: list[dict[str, Any]], by: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(records, columns=[*by, *TIDY_COLUMNS])
    return frame.astype({"documents": "int64", "segments": "int64", "group_documents": "int64", "share": "float64"})


def group_keys(record: Mapping[str, Any], by: Sequence[str]) -> tuple[str, ...]:
    """The group of a tidy record: its ``by`` values, or ``("all",)`` without ``by``."""
    return tuple(record[name] for name in by) if by else ("all",)


def matrix_values(
    records: list[dict[str, Any]], by: Sequence[str], codes: list[str], measure: str
) -> tuple[list[tuple[str, ...]], list[list[Any]]]:
    """The groups in record (report) order, and per code (codebook order) its ``measure`` in each
    group; a code without a record in a group counts 0."""
    groups = list(dict.fromkeys(group_keys(record, by) for record in records))
    values = {(group_keys(record, by), record["code"]): record[measure] for record in records}
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
        index = (
            pd.MultiIndex.from_tuples(groups, names=list(by))
            if groups
            else pd.MultiIndex.from_arrays([[] for _ in by], names=list(by))
        )
    return pd.DataFrame(values, index=pd.Index(codes, name="code"), columns=index).astype("int64")


def labelled_matrix_frame(codes: list[str], labels: list[str], values: list[list[Any]], dtype: str) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(values, index=pd.Index(codes, name="code"), columns=pd.Index(labels)).astype(dtype)


def quotes_frame(
    store: Store,
    codebook: Codebook,
    code: str | Sequence[str] | None = None,
    *,
    by: str | Sequence[str] | None = "city",
    n: int = 3,
    group: str | Sequence[str] | None = None,
    where: Where | None = None,
    status: str | None = None,
) -> pd.DataFrame:
    """Up to ``n`` exemplar segments per group and code, at most one per document.

    Order of preference: accepted in review; no negated or hypothetical hit of the code in the
    segment; 20 to 300 characters; more matched words; shorter. Columns: the ``by`` attributes,
    ``code``, ``rank``, ``doc_id``, ``start``, ``end``, ``text`` (the segment), ``matched``, ``status``.
    """
    check_quotes(n)
    selection = select(store, codebook, by=by, where=where, codes=code, group=group, status=status)
    return quote_records_frame(quote_records(store, codebook, selection, n), selection.by)


def quote_records_frame(records: list[dict[str, Any]], by: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(records, columns=[*by, *QUOTE_COLUMNS])
    return frame.astype({"rank": "int64", "start": "int64", "end": "int64"})


def cooccurrence_frame(
    store: Store,
    codebook: Codebook,
    *,
    measure: str = "documents",
    codes: str | Sequence[str] | None = None,
    group: str | Sequence[str] | None = None,
    where: Where | None = None,
    status: str | None = None,
    tidy: bool = False,
) -> pd.DataFrame:
    """Code x code: documents (or segments) with counted codings of both; the diagonal is each code's total."""
    check_measure(measure)
    selection = select(store, codebook, where=where, codes=codes, group=group, status=status)
    records = cooccurrence_records(store, selection)
    if tidy:
        return cooccurrence_records_frame(records)
    values = cooccurrence_values(records, selection.codes, measure)
    return labelled_matrix_frame(selection.codes, selection.codes, values, "int64")


def cooccurrence_records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(records, columns=COOCCURRENCE_COLUMNS).astype({"documents": "int64", "segments": "int64"})


def cooccurrence_values(records: list[dict[str, Any]], codes: list[str], measure: str) -> list[list[int]]:
    values = {(r["code_a"], r["code_b"]): r[measure] for r in records}
    return [[values.get((a, b), 0) for b in codes] for a in codes]


def group_label(keys: Sequence[str]) -> str:
    """A group's name: its value, or its values joined for a cross-tab (``Beijing / education``)."""
    return " / ".join(str(key) for key in keys)
