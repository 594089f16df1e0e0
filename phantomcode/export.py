"""Exports for R, Stata, pandas and spreadsheets: streamed, one record per document or coding.

Spreadsheet safety: a CSV cell that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return
would run as a formula when opened in Excel, so such cells get a leading apostrophe.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from os import PathLike
from pathlib import Path
from typing import IO, Any

from .errors import OptionError
from .outputs import choose_format, open_file, open_output
from .sanitise import FORMULA_PREFIXES, neutralise_formula
from .store import Store

DOCUMENT_FORMATS = ("csv", "jsonl")  # csv first: the default of every export (spreadsheets, R, Stata)
EXPORT_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SEGMENT_COLUMNS = [
    "doc_id",
    "start",
    "end",
    "text",
    "code",
    "rule",
    "matched",
    "negated",
    "hypothetical",
    "cue",
    "status",
    "segment_sector",
    "sector_source",
    "codebook_hash",
    "source",
    "probability",
    "model_hash",
    "explanation",
]
_FORMULA_STARTS = frozenset(FORMULA_PREFIXES)  # all one character: ``text[:1] in`` tests them at once


def document_rows(store: Store) -> Iterator[dict[str, Any]]:
    """One row per stored document: ``doc_id``, ``text`` (the stored body), ``source``, then attributes."""
    for doc in store.iter_documents():
        yield {"doc_id": doc["doc_id"], "text": doc["text"], "source": doc["source"], **doc["attributes"]}


Output = str | PathLike[str] | IO[str]  # a file to write (replaced once complete) or an open text file


def export_format(fmt: str | None, out: Output | None) -> str:
    """csv or jsonl: as asked, else from the suffix of an ``out`` path (.csv, .jsonl, .ndjson), else csv."""
    return choose_format(
        fmt,
        out if isinstance(out, (str, PathLike)) else None,
        formats=DOCUMENT_FORMATS,
        default="csv",
        suffixes=EXPORT_SUFFIXES,
    )


def export_documents(
    *, project: str | Path | None = None, fmt: str | None = None, out: Output, bom: bool = False
) -> int:
    """Write every document to ``out`` (a path or an open text file) as csv (the default) or jsonl;
    return how many were written. ``bom``: a file written here starts with a UTF-8 BOM, so Excel
    reads its hanzi as UTF-8 (R, Stata and pandas read it either way)."""
    fmt = export_format(fmt, out)
    with Store.open(project, readonly=True) as store, open_text(out, bom=bom) as handle:
        columns = ["doc_id", "text", "source", *store.attribute_names()]
        return write_records(document_rows(store), handle, fmt=fmt, columns=columns)


def segment_rows(store: Store, *, counted_only: bool = False) -> Iterator[dict[str, Any]]:
    """One row per coding with its document's attributes (canonical values) as columns; the matched
    spans stay objects (JSON lines, ``Project.segments``). ``counted_only`` keeps the codings reports
    count (``store.COUNTED``).
    """
    attributes = store.canonical_attribute_table()
    for row in store.coding_rows(counted_only=counted_only):
        row.pop("coding_id")
        yield {**row, **{k: v for k, v in attributes.get(row["doc_id"], {}).items() if k not in row}}


def export_segments(
    *, project: str | Path | None = None, fmt: str | None = None, out: Output, bom: bool = False
) -> int:
    """Write every coding with its segment text, rule, matched words, flags and attributes."""
    fmt = export_format(fmt, out)
    with Store.open(project, readonly=True) as store, open_text(out, bom=bom) as handle:
        columns = SEGMENT_COLUMNS + [name for name in store.attribute_names() if name not in SEGMENT_COLUMNS]
        if fmt == "csv":
            return _write_segment_csv(store, handle, columns)
        return write_records(segment_rows(store), handle, fmt=fmt, columns=columns)


def _write_segment_csv(store: Store, handle: IO[str], columns: list[str]) -> int:
    """The CSV export, streamed from the store's cursor to ``csv.writerows``: the SQL shapes the
    cells, so a row only gets the formula guard and its document's attribute cells (guarded once
    per document) instead of a dict and a DictWriter pass of its own."""
    extra = columns[len(SEGMENT_COLUMNS) :]
    attributes = {
        doc_id: tuple(neutralise_formula(values.get(name, "")) for name in extra)
        for doc_id, values in store.canonical_attribute_table().items()
    }
    missing = ("",) * len(extra)
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([neutralise_formula(column) for column in columns])
    count = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal count
        for row in store.report_segment_cells():
            count += 1
            cells = ["'" + value if isinstance(value, str) and value[:1] in _FORMULA_STARTS else value for value in row]
            cells.extend(attributes.get(row[0], missing))
            yield cells

    writer.writerows(rows())
    return count


def write_records(rows: Iterable[dict[str, Any]], handle: IO[str], *, fmt: str, columns: list[str]) -> int:
    """Write rows as JSON lines or as CSV with a fixed header (missing keys are empty cells)."""
    count = 0
    if fmt == "jsonl":
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writer.writerow([neutralise_formula(column) for column in columns])  # headers are user text too
    for row in rows:
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
        count += 1
    return count


def csv_cell(value: Any) -> Any:
    """A CSV cell: booleans as ``TRUE``/``FALSE``, which R's ``read.csv`` reads as logicals (it
    reads Python's ``True`` as text), other values guarded against spreadsheet formulas."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return neutralise_formula(value)


def open_text(out: Output, *, bom: bool = False) -> AbstractContextManager[IO[str]]:
    """A path opened as UTF-8 text (what R, Stata and pandas expect; with a BOM for Excel when
    ``bom``) through :func:`phantomcode.outputs.open_file`; an open file as it is."""
    if isinstance(out, (str, PathLike)):
        return open_file(out, bom=bom)
    return nullcontext(out)


def open_text_output(out: str | Path | None, *, bom: bool = False) -> AbstractContextManager[IO[str]]:
    """``out`` opened as UTF-8 text, or stdout for None/'-' (review sheets: ``review.py``)."""
    return open_output(out, bom=bom)


def export_matrix(
    *,
    project: str | Path | None = None,
    fmt: str | None = None,
    out: Output,
    status: str | None = None,
    codebook: Any = None,
    bom: bool = False,
) -> int:
    """One row per document: ``doc_id``, its attributes (canonical values), then a 0/1 column per code.

    A code's cell is 1 when the document has at least one coding of it that counts (not negated,
    hypothetical or rejected; with ``status="accepted"`` only codings accepted in review). Code
    columns follow the codebook's order, then codes found only in the project; a code whose id is
    also an attribute name gets the column ``code_ID``. Returns how many documents were written.
    """
    from .codebook_choice import choose_codebook

    fmt = export_format(fmt, out)
    if status not in (None, "accepted"):
        raise OptionError(
            f"{{option}} {status!r}: use accepted (or leave it out to count every coding not rejected)", option="status"
        )
    with Store.open(project, readonly=True) as store:
        book = choose_codebook(codebook, store)
        presence = store.document_code_presence(accepted_only=status == "accepted")
        attributes = store.canonical_attribute_table()
        names = store.attribute_names()
        doc_ids = sorted(store.stored_states())
    codes = book.code_ids() + sorted({c for found in presence.values() for c in found} - set(book.code_ids()))
    columns_of = {code: f"code_{code}" if code in names or code == "doc_id" else code for code in codes}
    columns = ["doc_id", *names, *columns_of.values()]
    rows = (
        {
            "doc_id": doc_id,
            **attributes.get(doc_id, {}),
            **{columns_of[code]: int(code in presence.get(doc_id, ())) for code in codes},
        }
        for doc_id in doc_ids
    )
    with open_text(out, bom=bom) as handle:
        return write_records(rows, handle, fmt=fmt, columns=columns)
