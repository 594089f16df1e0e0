"""The review sheet: one row per coding out (xlsx or csv), and the filled-in sheet read back.

``export_review`` writes one row per coding with its document's attributes, the segment with
some context either side, code, rule, matched words and a stable key (``doc_id:start-end:code``),
plus empty ``decision``, ``correct_code`` and ``note`` columns. Cells a spreadsheet would read as
formulas get a leading apostrophe, removed again when the sheet is read back.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from ..codebook import Codebook
from ..errors import NoteError, UsageError
from ..export import open_text_output
from ..limits import LimitExceeded, read_csv_rows, read_xlsx_values
from ..notes import decode_table_bytes, normalise_text
from ..outputs import choose_format, write_output
from ..report import select
from ..sanitise import FORMULA_PREFIXES, neutralise_formula, xml_text
from ..store import Store
from ..store.records import CodingKey, coding_key
from ..suggest import Suggestion, suggest_for_review

DECISION_COLUMNS = ["decision", "correct_code", "note"]
# What a reviewer reads and writes comes first: the segment, then the three columns to fill in
# beside it (the pane is frozen after the segment); attributes follow ``status`` and the learned
# layer's ``source`` and ``probability``; offsets and the key, which only the import reads, come last.
LEAD_COLUMNS = [
    "doc_id",
    "code",
    "label",
    "segment",
    *DECISION_COLUMNS,
    "before",
    "after",
    "matched",
    "rule",
    "flags",
    "status",
    "source",
    "probability",
]
TAIL_COLUMNS = ["start", "end", "key"]
FIXED_COLUMNS = LEAD_COLUMNS + TAIL_COLUMNS
SUGGESTED = "suggested"  # status of a suggested row the project has no coding for
REVIEW_FORMATS = ("xlsx", "csv")
CONTEXT_CHARS = 150
DECISION_WORDS = {
    "accept": "accept",
    "accepted": "accept",
    "yes": "accept",
    "y": "accept",
    "reject": "reject",
    "rejected": "reject",
    "no": "reject",
    "n": "reject",
    "add": "add",
    "added": "add",
}
_KEY = re.compile(r"^(?P<doc_id>.+):(?P<start>\d+)-(?P<end>\d+):(?P<code>[a-z][a-z0-9_]*)$")
SHEET_NAME = "review"
HELP_SHEET = "how to review"


def parse_coding_key(key: str) -> CodingKey | None:
    """The doc_id, offsets and code a key names, or None when it is not one."""
    found = _KEY.match(key.strip())
    if not found or int(found["start"]) >= int(found["end"]):
        return None
    return CodingKey(found["doc_id"], int(found["start"]), int(found["end"]), found["code"])


# ---------------------------------------------------------------------------------------------
# Export


@dataclass(frozen=True)
class ReviewExport:
    """What ``export_review`` wrote: rows (codings), the segments they cover, and the sample drawn."""

    out: str
    fmt: str
    rows: int
    segments: int
    segments_available: int
    seed: int | None


def export_review(
    *,
    project: str | Path | None = None,
    out: str | Path | None = None,
    fmt: str | None = None,
    codes: Sequence[str] = (),
    where: Mapping[str, str | Sequence[str]] | None = None,
    sample: int | None = None,
    seed: int | None = None,
    pending: bool = False,
    include_flagged: bool = False,
    codebook: str | Path | Codebook | None = None,
    suggest: int | None = None,
) -> ReviewExport:
    """Write the review sheet to ``out`` (xlsx, or csv also to stdout when ``out`` is None or '-').

    ``codes`` and ``where`` (``{"city": "Beijing"}``, as in reports) filter codings; ``pending``
    keeps codings without a decision; ``include_flagged`` adds negated and hypothetical codings
    (which do not count until accepted). ``sample`` draws that many coded segments at random,
    listing every (filtered) coding of each, so a reviewer judges whole sentences; ``seed``
    repeats a draw (one is chosen and returned when not given). ``suggest`` instead lists the
    units whose review would teach the learned layer most (:func:`phantomcode.suggest_for_review`,
    ``seed`` 0 unless given), one row per candidate code, with status ``suggested`` where the
    project has no such coding yet. Raises ``UsageError`` for an unknown code, attribute or value,
    or a bad format.
    """
    from ..codebook_choice import choose_codebook

    fmt = _sheet_format(out, fmt)
    if fmt == "xlsx" and (out is None or str(out) == "-"):
        raise UsageError("an xlsx review sheet needs --out FILE.xlsx (csv can go to stdout)")
    if sample is not None and sample < 1:
        raise UsageError("--sample must be at least 1")
    if suggest is not None and (suggest < 1 or sample is not None):
        raise UsageError("--suggest needs a number of sentences of at least 1, and no --sample")
    with Store.open(project, readonly=True) as store:
        book = choose_codebook(codebook, store)
        selection = select(
            store, book, where=where, codes=codes or None, extra_codes=[*store.code_counts(), *store.review_proposals()]
        )
        filter_codes = selection.codes if codes else []
        suggestions = None
        if suggest is not None:  # a suggested sentence shows every coding it has, flagged ones too
            seed = 0 if seed is None else seed
            suggestions = suggest_for_review(store.path, n=suggest, seed=seed)
        rows = store.review_codings(
            codes=filter_codes,
            where=selection.where,
            include_flagged=include_flagged or suggestions is not None,
            pending=pending,
            context=CONTEXT_CHARS + 40,
            doc_ids={s.doc_id for s in suggestions} if suggestions is not None else None,
        )
        if suggestions is not None:
            rows = _suggested_rows(store, rows, suggestions)
        attributes = store.canonical_attribute_table()
        names = store.attribute_names()
    segments = sorted({(r["doc_id"], r["start"], r["end"]) for r in rows})
    available = len(segments)
    if sample is not None:
        if seed is None:
            seed = random.SystemRandom().randrange(1, 1_000_000)
        chosen = set(random.Random(seed).sample(segments, min(sample, available)))
        rows = [r for r in rows if (r["doc_id"], r["start"], r["end"]) in chosen]
        segments = sorted(chosen)
    columns = _sheet_columns(names)
    labels = {code.id: code.label for code in book.codes}
    records = [_sheet_record(row, attributes.get(row["doc_id"], {}), labels, columns) for row in rows]
    if fmt == "xlsx":
        if out is None:
            raise UsageError("an xlsx review sheet needs a file to be written to; give its path, or choose csv")
        _write_xlsx(
            Path(out), columns, records, _help_lines(sample, seed, available, len(segments), codes, where, pending)
        )
    else:
        with open_text_output(out, bom=True) as handle:  # a BOM: Excel then reads the hanzi as UTF-8
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
            writer.writer.writerow([neutralise_formula(column) for column in columns])  # user text too
            for record in records:
                writer.writerow({k: neutralise_formula(v) for k, v in record.items()})
    return ReviewExport(
        out=str(out or "-"),
        fmt=fmt,
        rows=len(records),
        segments=len(segments),
        segments_available=available,
        seed=seed if sample is not None or suggest is not None else None,
    )


def _suggested_rows(store: Store, codings: list[dict[str, Any]], suggestions: list[Suggestion]) -> list[dict[str, Any]]:
    """One row per candidate code of each suggested unit: its coding's row when the project has
    one, else a ``suggested`` row carrying the model's probability."""
    by_key = {(r["doc_id"], r["start"], r["end"], r["code"]): r for r in codings}
    texts = store.document_texts({s.doc_id for s in suggestions})
    context = CONTEXT_CHARS + 40
    rows = []
    for suggestion in suggestions:
        text = texts[suggestion.doc_id]
        for candidate in suggestion.candidates:
            key = (suggestion.doc_id, suggestion.start, suggestion.end, candidate.code)
            row = by_key.get(key)
            if row is None:
                row = {
                    "doc_id": suggestion.doc_id,
                    "start": suggestion.start,
                    "end": suggestion.end,
                    "code": candidate.code,
                    "rule": "",
                    "matched": [],
                    "negated": False,
                    "hypothetical": False,
                    "cue": None,
                    "status": SUGGESTED,
                    "source": "learned",
                    "text": suggestion.text,
                    "before": text[max(0, suggestion.start - context) : suggestion.start],
                    "after": text[suggestion.end : suggestion.end + context],
                }
            rows.append({**row, "probability": candidate.probability})
    return rows


def _sheet_format(out: str | Path | None, fmt: str | None) -> str:
    return choose_format(
        fmt,
        out,
        formats=REVIEW_FORMATS,
        default="csv",
        suffixes={".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv", ".txt": "csv"},
    )


def _sheet_columns(attribute_names: Sequence[str]) -> list[str]:
    """The reading and decision columns, the attributes (``attr_NAME`` where they clash), offsets, key."""
    attributes = [f"attr_{name}" if name in FIXED_COLUMNS else name for name in attribute_names]
    return [*LEAD_COLUMNS, *attributes, *TAIL_COLUMNS]


def _sheet_record(
    row: dict[str, Any], attributes: dict[str, str], labels: dict[str, str], columns: list[str]
) -> dict[str, Any]:
    flags = " and ".join(name for name in ("negated", "hypothetical") if row[name])
    record: dict[str, Any] = {
        "key": coding_key(row["doc_id"], row["start"], row["end"], row["code"]),
        "doc_id": row["doc_id"],
        "start": row["start"],
        "end": row["end"],
        "before": _context(row["before"], before=True),
        "segment": row["text"],
        "after": _context(row["after"], before=False),
        "code": row["code"],
        "label": labels.get(row["code"], ""),
        "rule": row["rule"],
        "matched": " | ".join(span["text"] for span in row["matched"]),
        "_spans": [(span["start"] - row["start"], span["end"] - row["start"]) for span in row["matched"]],
        "flags": f"{flags} (cue: {row['cue']})" if flags else "",
        "status": row["status"],
        "source": row.get("source") or "rules",
        "probability": "" if row.get("probability") is None else row["probability"],
        "decision": "",
        "correct_code": "",
        "note": "",
    }
    for name, value in attributes.items():
        column = f"attr_{name}" if name in FIXED_COLUMNS else name
        if column in columns:
            record[column] = value
    return record


def _context(text: str, *, before: bool) -> str:
    """Up to CONTEXT_CHARS characters next to the segment, cut at a space, on one line."""
    flat = " ".join(text.split())
    if len(flat) <= CONTEXT_CHARS:
        return flat
    if before:
        cut = flat[-CONTEXT_CHARS:]
        space = cut.find(" ")
        return "… " + (cut[space + 1 :] if 0 <= space < 40 else cut)
    cut = flat[:CONTEXT_CHARS]
    space = cut.rfind(" ")
    return (cut[:space] if space > CONTEXT_CHARS - 40 else cut) + " …"


def _help_lines(
    sample: int | None,
    seed: int | None,
    available: int,
    drawn: int,
    codes: Sequence[str],
    where: Mapping[str, Any] | None,
    pending: bool,
) -> list[str]:
    lines = [
        "One row per coding. Fill in 'decision' (the other columns are for reading):",
        "  accept: the code applies to this segment.",
        "  reject: it does not. If another code applies instead, write it in 'correct_code'.",
        "  add: a code the rules missed. Copy a row of the same segment and write the missing code",
        "       in 'code', or add a new row with doc_id, the segment text (or start and end) and code.",
        "  leave 'decision' empty: not reviewed.",
        "'note' is free text kept with the decision. Do not edit 'key', 'start' or 'end'.",
        "Then run: phantomcode review import THIS_FILE --reviewer YOUR_NAME",
        "",
    ]
    if sample is not None:
        lines.append(
            f"Sample: {drawn} of {available} coded segments drawn at random with seed {seed} "
            f"(--sample {sample} --seed {seed})."
        )
    if codes:
        lines.append(f"Codes: {', '.join(codes)}")
    if where:
        lines.append("Documents: " + "; ".join(f"{k}={v}" for k, v in where.items()))
    if pending:
        lines.append("Only codings without a decision (--pending).")
    return lines


def _highlighted(text: str, spans: Sequence[tuple[int, int]]) -> Any:
    """The segment as xlsx rich text with the matched words in bold red, so a reviewer sees at once
    why the rule fired; plain text when nothing inside it matched."""
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    inside = sorted((max(0, s), min(len(text), e)) for s, e in spans if s < len(text) and e > 0 and s < e)
    if not inside or text.startswith(FORMULA_PREFIXES):
        return text
    bold = InlineFont(b=True, color="C00000")
    parts: list[Any] = []
    cursor = 0
    for start, end in inside:
        start = max(start, cursor)
        if start >= end:
            continue
        if start > cursor:
            parts.append(text[cursor:start])
        parts.append(TextBlock(bold, text[start:end]))
        cursor = end
    if cursor < len(text):
        parts.append(text[cursor:])
    return CellRichText(parts)


def _write_xlsx(path: Path, columns: list[str], records: list[dict[str, Any]], help_lines: list[str]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_NAME
    for number, record in enumerate([dict(zip(columns, columns, strict=True)), *records], start=1):
        for index, column in enumerate(columns, start=1):
            value = record.get(column, "")
            value = xml_text(value) if isinstance(value, str) else value
            if column == "segment":
                value = _highlighted(value, record.get("_spans", []))
            cell = sheet.cell(row=number, column=index, value=value)
            if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
                cell.data_type = "s"  # text, never a formula, in the header (attribute names) too
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = {"key": 28, "before": 40, "segment": 70, "after": 40, "matched": 24, "note": 30, "label": 22}
    wrap = Alignment(wrap_text=True, vertical="top")
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = widths.get(column, 12)
        if column in ("before", "segment", "after") and records:
            for cell in sheet[letter][1:]:
                cell.alignment = wrap
    sheet.freeze_panes = f"{get_column_letter(columns.index('segment') + 2)}2"  # header and up to the segment
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(records) + 1}"
    choice = DataValidation(type="list", formula1='"accept,reject,add"', allow_blank=True)
    choice.error = "Write accept, reject or add (or leave it empty)."
    sheet.add_data_validation(choice)
    letter = get_column_letter(columns.index("decision") + 1)
    choice.add(f"{letter}2:{letter}{max(len(records) + 200, 2)}")
    guide = book.create_sheet(HELP_SHEET)
    for line in help_lines:
        guide.append([line])
    guide.column_dimensions["A"].width = 110
    write_output(path, book.save, binary=True)


# ---------------------------------------------------------------------------------------------
# Reading a sheet back


def read_review_sheet(path: str | Path) -> list[SheetRow]:
    """(row number, cells by lower-case column name) for every non-empty row after the header.

    Row numbers are what a spreadsheet shows (the header is row 1). Cells are text, trimmed, with
    the apostrophe that protected a formula-like value removed. Raises ``UsageError`` when the
    file cannot be read or is not a review sheet.
    """
    return read_sheet(path).rows


class SheetRow(NamedTuple):
    """A filled row of a review sheet: its line (row number) in the file, and its cells by column."""

    line: int
    cells: dict[str, str]


class Sheet(NamedTuple):
    """A review sheet's filled rows, and the encoding a CSV sheet was read with ("xlsx" for xlsx)."""

    rows: list[SheetRow]
    encoding: str


def read_sheet(path: str | Path) -> Sheet:
    """``read_review_sheet``'s rows and the encoding a CSV sheet was read with (xlsx: "xlsx")."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        table, encoding = _xlsx_rows(path), "xlsx"
    else:
        table, encoding = _csv_rows(path)
    if not table:
        raise UsageError(f"{path}: the sheet is empty")
    header = [_cell(value).lower() for value in table[0]]
    missing = [c for c in ("decision", "code") if c not in header]
    if missing or ("key" not in header and "doc_id" not in header):
        raise UsageError(
            f"{path}: not a review sheet: it needs the columns key (or doc_id), code and decision; "
            f"found {', '.join(h for h in header if h) or 'none'}"
        )
    rows: list[SheetRow] = []
    for number, values in enumerate(table[1:], start=2):
        cells = {name: _cell(value) for name, value in zip(header, values, strict=False) if name}
        if any(cells.values()):
            rows.append(SheetRow(number, cells))
    return Sheet(rows, encoding)


def _xlsx_rows(path: Path) -> list[list[Any]]:
    try:
        return read_xlsx_values(path, sheet_name=SHEET_NAME)
    except LimitExceeded as exc:
        raise UsageError(f"{path}: {exc}") from None
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise UsageError(f"{path}: cannot read this xlsx file ({exc})") from None


def _csv_rows(path: Path) -> tuple[list[list[str]], str]:
    try:
        text, encoding = decode_table_bytes(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the review sheet ({exc.strerror})") from None
    except NoteError as exc:
        raise UsageError(f"{path}: cannot read the review sheet: {exc}") from None
    text = normalise_text(text)
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count) if first else ","
    try:
        return read_csv_rows(text, delimiter=delimiter), encoding
    except LimitExceeded as exc:
        raise UsageError(f"{path}: {exc}") from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_PREFIXES:
        return text[1:]
    return text
