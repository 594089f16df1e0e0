"""Human review of the codings: a sheet out, decisions back in, and what they measure.

``export_review`` writes one row per coding (xlsx or csv) with its document's attributes, the
segment with some context either side, code, rule, matched words and a stable key
(``doc_id:start-end:code``), plus empty ``decision``, ``correct_code`` and ``note`` columns.
``import_review`` reads the sheet back and stores each decision with who made it and when:

- ``accept``: the code applies to the segment; ``reject``: it does not (``correct_code`` names the
  code that applies instead, which is then added); ``add``: a code the rules missed, on a copied
  row of the same segment (same key, another ``code``) or on a new row giving ``doc_id``, the
  ``segment`` text (or ``start`` and ``end``) and ``code``.
- Rows with an unusable decision are reported by their row number (the header is row 1); the
  good rows still apply. Cells a spreadsheet would read as formulas were exported with a leading
  apostrophe; it is removed again on import.

Decisions are kept by the store (see ``Store._apply_reviews``): they survive re-coding and
re-ingest, and ones whose text changed are kept and reported, never dropped. ``review_stats``
turns them into per-code figures: measured precision (with a Wilson 95% interval) and codings
the rules missed.
"""

from __future__ import annotations

import csv
import getpass
import json
import math
import os
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .codebook import Codebook
from .errors import NoteError, UsageError
from .export import open_text_output
from .limits import LimitExceeded, read_csv_rows, read_xlsx_values
from .notes import decode_table_bytes, normalise_text
from .outputs import choose_format, write_output
from .report import select
from .sanitise import FORMULA_PREFIXES, neutralise_formula, xml_text
from .store import Store
from .suggest import Suggestion, suggest_for_review

__all__ = ["CodeReview", "ReviewExport", "ReviewImport", "ReviewStats", "StaleDecision", "apply_decisions",
           "coding_key", "export_review", "import_review", "parse_coding_key", "read_review_sheet", "review_stats",
           "withdraw_decisions"]

DECISION_COLUMNS = ["decision", "correct_code", "note"]
# What a reviewer reads and writes comes first: the segment, then the three columns to fill in
# beside it (the pane is frozen after the segment); attributes follow ``status`` and the learned
# layer's ``source`` and ``probability``; offsets and the key, which only the import reads, come last.
LEAD_COLUMNS = ["doc_id", "code", "label", "segment", *DECISION_COLUMNS, "before", "after", "matched", "rule",
                "flags", "status", "source", "probability"]
TAIL_COLUMNS = ["start", "end", "key"]
FIXED_COLUMNS = LEAD_COLUMNS + TAIL_COLUMNS
SUGGESTED = "suggested"  # status of a suggested row the project has no coding for
REVIEW_FORMATS = ("xlsx", "csv")
CONTEXT_CHARS = 150
DECISION_WORDS = {"accept": "accept", "accepted": "accept", "yes": "accept", "y": "accept",
                  "reject": "reject", "rejected": "reject", "no": "reject", "n": "reject",
                  "add": "add", "added": "add"}
_KEY = re.compile(r"^(?P<doc_id>.+):(?P<start>\d+)-(?P<end>\d+):(?P<code>[a-z][a-z0-9_]*)$")
SHEET_NAME = "review"
HELP_SHEET = "how to review"


def coding_key(doc_id: str, start: int, end: int, code: str) -> str:
    """The stable key of a coding: ``doc_id:start-end:code`` (offsets into the stored text)."""
    return f"{doc_id}:{start}-{end}:{code}"


def parse_coding_key(key: str) -> tuple[str, int, int, str] | None:
    """``(doc_id, start, end, code)`` from a key, or None when it is not one."""
    found = _KEY.match(key.strip())
    if not found or int(found["start"]) >= int(found["end"]):
        return None
    return found["doc_id"], int(found["start"]), int(found["end"]), found["code"]


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


def export_review(*, project: str | Path | None = None, out: str | Path | None = None, fmt: str | None = None,
                  codes: Sequence[str] = (), where: Mapping[str, str | Sequence[str]] | None = None,
                  sample: int | None = None, seed: int | None = None, pending: bool = False,
                  include_flagged: bool = False, codebook: str | Path | Codebook | None = None,
                  suggest: int | None = None) -> ReviewExport:
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
    from .codebook_choice import choose_codebook

    fmt = _sheet_format(out, fmt)
    if fmt == "xlsx" and (out is None or str(out) == "-"):
        raise UsageError("an xlsx review sheet needs --out FILE.xlsx (csv can go to stdout)")
    if sample is not None and sample < 1:
        raise UsageError("--sample must be at least 1")
    if suggest is not None and (suggest < 1 or sample is not None):
        raise UsageError("--suggest needs a number of sentences of at least 1, and no --sample")
    with Store.open(project, readonly=True) as store:
        book = choose_codebook(codebook, store)
        selection = select(store, book, where=where, codes=codes or None,
                           extra_codes=[*store.code_counts(), *store.review_proposals()])
        filter_codes = selection.codes if codes else []
        if suggest is not None:
            seed = 0 if seed is None else seed
            suggestions = suggest_for_review(store.path, n=suggest, seed=seed)
            rows = store.review_codings(codes=filter_codes, where=selection.where, include_flagged=True,
                                        pending=pending, context=CONTEXT_CHARS + 40,
                                        doc_ids={s.doc_id for s in suggestions})
            rows = _suggested_rows(store, rows, suggestions)
        else:
            rows = store.review_codings(codes=filter_codes, where=selection.where, include_flagged=include_flagged,
                                        pending=pending, context=CONTEXT_CHARS + 40)
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
        _write_xlsx(Path(out), columns, records, _help_lines(sample, seed, available, len(segments), codes, where,
                                                             pending))
    else:
        with open_text_output(out, bom=True) as handle:  # a BOM: Excel then reads the hanzi as UTF-8
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
            writer.writer.writerow([neutralise_formula(column) for column in columns])  # user text too
            for record in records:
                writer.writerow({k: neutralise_formula(v) for k, v in record.items()})
    return ReviewExport(out=str(out or "-"), fmt=fmt, rows=len(records), segments=len(segments),
                        segments_available=available, seed=seed if sample is not None or suggest is not None else None)


def _suggested_rows(store: Store, codings: list[dict[str, Any]], suggestions: list[Suggestion]
                    ) -> list[dict[str, Any]]:
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
                row = {"doc_id": suggestion.doc_id, "start": suggestion.start, "end": suggestion.end,
                       "code": candidate.code, "rule": "", "matched": [], "negated": False, "hypothetical": False,
                       "cue": None, "status": SUGGESTED, "source": "learned", "text": suggestion.text,
                       "before": text[max(0, suggestion.start - context):suggestion.start],
                       "after": text[suggestion.end:suggestion.end + context]}
            rows.append({**row, "probability": candidate.probability})
    return rows


def _sheet_format(out: str | Path | None, fmt: str | None) -> str:
    return choose_format(fmt, out, formats=REVIEW_FORMATS, default="csv",
                         suffixes={".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv", ".txt": "csv"})


def _sheet_columns(attribute_names: Sequence[str]) -> list[str]:
    """The reading and decision columns, the attributes (``attr_NAME`` where they clash), offsets, key."""
    attributes = [f"attr_{name}" if name in FIXED_COLUMNS else name for name in attribute_names]
    return [*LEAD_COLUMNS, *attributes, *TAIL_COLUMNS]


def _sheet_record(row: dict[str, Any], attributes: dict[str, str], labels: dict[str, str],
                  columns: list[str]) -> dict[str, Any]:
    flags = " and ".join(name for name in ("negated", "hypothetical") if row[name])
    record: dict[str, Any] = {
        "key": coding_key(row["doc_id"], row["start"], row["end"], row["code"]),
        "doc_id": row["doc_id"], "start": row["start"], "end": row["end"],
        "before": _context(row["before"], before=True), "segment": row["text"],
        "after": _context(row["after"], before=False), "code": row["code"], "label": labels.get(row["code"], ""),
        "rule": row["rule"], "matched": " | ".join(span["text"] for span in row["matched"]),
        "_spans": [(span["start"] - row["start"], span["end"] - row["start"]) for span in row["matched"]],
        "flags": f"{flags} (cue: {row['cue']})" if flags else "", "status": row["status"],
        "source": row.get("source") or "rules",
        "probability": "" if row.get("probability") is None else row["probability"],
        "decision": "", "correct_code": "", "note": ""}
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
        return "… " + (cut[space + 1:] if 0 <= space < 40 else cut)
    cut = flat[:CONTEXT_CHARS]
    space = cut.rfind(" ")
    return (cut[:space] if space > CONTEXT_CHARS - 40 else cut) + " …"


def _help_lines(sample: int | None, seed: int | None, available: int, drawn: int, codes: Sequence[str],
                where: Mapping[str, Any] | None, pending: bool) -> list[str]:
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
        lines.append(f"Sample: {drawn} of {available} coded segments drawn at random with seed {seed} "
                     f"(--sample {sample} --seed {seed}).")
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
    for number, record in enumerate([dict(zip(columns, columns)), *records], start=1):
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


def read_review_sheet(path: str | Path) -> list[tuple[int, dict[str, str]]]:
    """(row number, cells by lower-case column name) for every non-empty row after the header.

    Row numbers are what a spreadsheet shows (the header is row 1). Cells are text, trimmed, with
    the apostrophe that protected a formula-like value removed. Raises ``UsageError`` when the
    file cannot be read or is not a review sheet.
    """
    return _read_sheet(path)[0]


def _read_sheet(path: str | Path) -> tuple[list[tuple[int, dict[str, str]]], str]:
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
        raise UsageError(f"{path}: not a review sheet: it needs the columns key (or doc_id), code and decision; "
                         f"found {', '.join(h for h in header if h) or 'none'}")
    rows = []
    for number, values in enumerate(table[1:], start=2):
        cells = {name: _cell(value) for name, value in zip(header, values) if name}
        if any(cells.values()):
            rows.append((number, cells))
    return rows, encoding


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


# ---------------------------------------------------------------------------------------------
# Import


@dataclass
class ReviewImport:
    """What ``import_review`` did. ``problems``: rows not applied; ``warnings``: applied, but look."""

    path: str
    rows: int = 0
    decisions: Counter = field(default_factory=Counter)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stale: int = 0
    encoding: str = "utf-8"  # how a CSV sheet was decoded; "xlsx" for a workbook

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def import_review(path: str | Path, *, project: str | Path | None = None, reviewer: str | None = None,
                  codebook: str | Path | Codebook | None = None) -> ReviewImport:
    """Apply the decisions of a review sheet; every bad row is reported and the others still apply.

    ``reviewer`` defaults to the sheet's ``reviewer`` column, else ``$USER``. Raises
    ``UsageError`` when the sheet cannot be read at all, ``ProjectError`` for the store.
    """
    rows, encoding = _read_sheet(path)
    report = ReviewImport(path=str(path), rows=len(rows), encoding=encoding)
    return apply_decisions(rows, report, project=project, reviewer=reviewer, codebook=codebook)


def apply_decisions(rows: Sequence[tuple[int, dict[str, str]]], report: ReviewImport, *,
                    project: str | Path | None = None, reviewer: str | None = None,
                    codebook: str | Path | Codebook | None = None, exact_spans: bool = False,
                    lock_timeout: float | None = None) -> ReviewImport:
    """Check and store decisions given as review-sheet rows: (row number, cells by column name).

    The one path every decision takes, from a sheet (``import_review``), the browser workspace
    or ``import qdpx`` (through ``store_decisions``), ending in ``Store.save_reviews``. ``exact_spans`` keeps a
    new ``add`` row's start and end as given (a passage a reviewer selected) instead of widening
    them to the stored sentence around them. ``lock_timeout`` bounds the wait for another writer
    (``ProjectBusyError`` after it).
    """
    with Store.open(project, must_exist=True) as store, store.writer(timeout=lock_timeout):
        return store_decisions(store, rows, report, reviewer=reviewer, codebook=codebook, exact_spans=exact_spans)


def store_decisions(store: Store, rows: Sequence[tuple[int, dict[str, str]]], report: ReviewImport, *,
                    reviewer: str | None = None, codebook: str | Path | Codebook | None = None,
                    exact_spans: bool = False, codes: Iterable[str] = ()) -> ReviewImport:
    """``apply_decisions`` on a store whose writer lock the caller holds (``import qdpx``, which
    writes documents first). A row may name its ``reviewer`` and ``decided_at`` (another tool's
    coder and time); ``codes`` are known besides the codebook's and the project's."""
    from .codebook_choice import choose_codebook

    who = reviewer or default_reviewer()
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    book = choose_codebook(codebook, store)
    known_codes = set(book.code_ids()) | set(codes)
    if not _named_codes(rows) <= known_codes:  # a code the codebook lacks: is it one the project has?
        known_codes |= set(store.code_counts()) | set(store.review_proposals())
    doc_ids = {cells.get("doc_id") or (parse_coding_key(cells.get("key", "")) or ("",))[0] for _, cells in rows}
    texts = store.document_texts(d for d in doc_ids if d)
    segments = {} if exact_spans else store.review_segments(texts)
    resolver = _RowResolver(texts, segments, store.review_coding_keys(texts), known_codes, report)
    decisions: dict[tuple[str, int, int, str, str], tuple[int, dict[str, Any]]] = {}
    for number, cells in rows:
        for decision in resolver.resolve(number, cells):
            decision.update(reviewer=reviewer or cells.get("reviewer") or who,
                            decided_at=cells.get("decided_at") or now)
            key = (decision["doc_id"], decision["start"], decision["end"], decision["code"], decision["reviewer"])
            if key in decisions:
                first, earlier = decisions[key]
                if _essence(earlier) != _essence(decision):
                    report.problems.append(f"row {number}: a second, different decision for "
                                           f"{coding_key(*key[:4])} (row {first} is kept)")
                continue
            decisions[key] = (number, decision)
    chosen = [decision for _, decision in decisions.values()]
    report.decisions = Counter(d["decision"] for d in chosen)
    report.new, report.changed, report.unchanged = store.save_reviews(chosen)
    report.stale = sum(not d["fresh"] for d in store.review_decisions())
    return report


def _named_codes(rows: Sequence[tuple[int, dict[str, str]]]) -> set[str]:
    """Every code the rows name: their code and correct_code, and the code in their key."""
    named = {cells.get(column) or "" for _, cells in rows for column in ("code", "correct_code")}
    named |= {found[3] for _, cells in rows if (found := parse_coding_key(cells.get("key", ""))) is not None}
    return named - {""}


def withdraw_decisions(keys: Sequence[str], *, reviewer: str | None = None, project: str | Path | None = None,
                       lock_timeout: float | None = None) -> int:
    """Take back ``reviewer``'s decisions (default ``$USER``) on these coding keys (an undo): the
    codings are as the rules made them again, or as another reviewer's latest decision on the same
    coding leaves them, and a coding added by hand is gone. Returns how many decisions there were;
    ``UsageError`` for a string that is not a key."""
    parsed = [parse_coding_key(key) for key in keys]
    bad = [key for key, found in zip(keys, parsed) if found is None]
    if bad:
        raise UsageError(f"not a coding key: {', '.join(map(repr, bad))} (doc_id:start-end:code)")
    who = reviewer or default_reviewer()
    with Store.open(project, must_exist=True) as store, store.writer(timeout=lock_timeout):
        return store.delete_reviews([(*found, who) for found in parsed if found is not None])


def _essence(decision: dict[str, Any]) -> tuple:
    return decision["decision"], decision.get("correct_code"), decision.get("note")


def default_reviewer() -> str:
    """Who decides when nobody says: ``$USER``, else the login name."""
    try:
        return os.environ.get("USER") or getpass.getuser() or "unknown"
    except (KeyError, OSError):
        return "unknown"


class _RowResolver:
    """Turns one sheet row into decisions (a reject with a correct_code gives two), or a problem."""

    def __init__(self, texts: dict[str, str], segments: dict[str, list[tuple[int, int]]],
                 codings: set[tuple[str, int, int, str]], codes: set[str], report: ReviewImport) -> None:
        self.texts = texts
        self.segments = segments
        self.codings = codings
        self.codes = codes
        self.report = report

    def resolve(self, number: int, cells: dict[str, str]) -> list[dict[str, Any]]:
        try:
            return self._resolve(number, cells)
        except _RowProblem as problem:
            self.report.problems.append(f"row {number}: {problem}")
            return []

    def _resolve(self, number: int, cells: dict[str, str]) -> list[dict[str, Any]]:
        raw = cells.get("decision", "")
        correct = cells.get("correct_code") or None
        note = cells.get("note") or None
        if not raw:
            if correct or note:
                raise _RowProblem("correct_code or note without a decision; write accept, reject or add")
            return []
        decision = DECISION_WORDS.get(raw.lower())
        if decision is None:
            raise _RowProblem(f"unknown decision {raw!r}; write accept, reject or add")
        if cells.get("key"):
            doc_id, start, end, key_code = self._from_key(cells)
            text = self._check_text(number, doc_id, start, end, cells.get("segment", ""))
        else:
            if decision != "add":
                raise _RowProblem(f"{decision} needs the row's key (only add rows may be new rows)")
            doc_id, start, end, text = self._locate(cells)
            key_code = None
        base = {"doc_id": doc_id, "start": start, "end": end, "text": text}
        if decision == "add":
            code = self._known(correct or cells.get("code", ""), "code")
            if code == key_code:
                raise _RowProblem(f"add repeats the row's own code {code!r}; write accept to confirm it")
            return [{**base, "code": code, "decision": "add", "correct_code": None, "note": note}]
        if decision == "accept" and correct and correct != key_code:
            raise _RowProblem("correct_code goes with reject (this code does not apply, that one does)")
        if decision == "reject" and correct:
            correct = self._known(correct, "correct_code")
            if correct == key_code:
                raise _RowProblem(f"correct_code is the rejected code {correct!r} itself")
        uncoded = (doc_id, start, end, key_code) not in self.codings
        if decision == "accept" and uncoded and cells.get("status") == SUGGESTED:
            # the model's suggestion, confirmed: a code the project did not have there yet
            return [{**base, "code": key_code, "decision": "add", "correct_code": None, "note": note}]
        if uncoded and text == self.texts[doc_id][start:end]:
            self.report.warnings.append(
                f"row {number}: the project has no coding {coding_key(doc_id, start, end, key_code)} (re-coded since "
                "the export?); the decision is kept and applies if the rules make that coding again")
        if decision == "accept":
            return [{**base, "code": key_code, "decision": "accept", "correct_code": None, "note": note}]
        result = [{**base, "code": key_code, "decision": "reject", "correct_code": correct, "note": note}]
        if correct:
            result.append({**base, "code": correct, "decision": "add", "correct_code": None,
                           "note": f"correct code instead of {key_code}" + (f": {note}" if note else "")})
        return result

    def _from_key(self, cells: dict[str, str]) -> tuple[str, int, int, str]:
        parsed = parse_coding_key(cells["key"])
        if parsed is None:
            raise _RowProblem(f"key {cells['key']!r} is not doc_id:start-end:code; copy it unchanged from the export")
        doc_id, start, end, code = parsed
        if cells.get("doc_id") and cells["doc_id"] != doc_id:
            raise _RowProblem(f"doc_id {cells['doc_id']!r} disagrees with the key {cells['key']!r}")
        shown = cells.get("code")
        decision = DECISION_WORDS.get(cells.get("decision", "").lower())
        if shown and shown != code and decision != "add":
            raise _RowProblem(f"code {shown!r} disagrees with the key's {code!r}; to change a code write reject "
                              f"and put {shown!r} in correct_code")
        for column, value in (("start", start), ("end", end)):
            if cells.get(column) and cells[column] != str(value):
                raise _RowProblem(f"{column} {cells[column]!r} disagrees with the key {cells['key']!r}")
        if doc_id not in self.texts:
            raise _RowProblem(f"no document {doc_id!r} in the project")
        if end > len(self.texts[doc_id]):
            raise _RowProblem(f"offsets {start}-{end} lie beyond the end of {doc_id} (the note changed?)")
        return doc_id, start, end, code

    def _check_text(self, number: int, doc_id: str, start: int, end: int, shown: str) -> str:
        """The text the decision is about: what the reviewer saw, else what is stored now."""
        current = self.texts[doc_id][start:end]
        if shown and shown != current:
            self.report.warnings.append(
                f"row {number}: the note's text at {doc_id}:{start}-{end} is no longer the segment in the sheet "
                "(the note changed since the export); the decision is kept and applies if that text returns")
            return shown
        return current

    def _locate(self, cells: dict[str, str]) -> tuple[str, int, int, str]:
        doc_id = cells.get("doc_id", "")
        if not doc_id:
            raise _RowProblem("a new add row needs doc_id, code and the segment text (or start and end)")
        text = self.texts.get(doc_id)
        if text is None:
            raise _RowProblem(f"no document {doc_id!r} in the project")
        segment = cells.get("segment", "")
        if cells.get("start") or cells.get("end"):
            start, end = _offset(cells.get("start")), _offset(cells.get("end"))
            if start is None or end is None or not 0 <= start < end <= len(text):
                raise _RowProblem(f"start {cells.get('start')!r} and end {cells.get('end')!r} are not offsets "
                                  f"within {doc_id} (0 to {len(text)})")
            if segment and text[start:end] != segment:
                raise _RowProblem(f"the segment text is not what {doc_id} has at {start}-{end}")
        elif segment:
            start = text.find(segment)
            if start < 0:
                raise _RowProblem(f"the segment text is not in {doc_id}; copy it exactly from the note")
            count = text.count(segment)
            if count > 1:
                raise _RowProblem(f"the segment text occurs {count} times in {doc_id}; give start and end")
            end = start + len(segment)
        else:
            raise _RowProblem("a new add row needs the segment text or start and end")
        for s, e in self.segments.get(doc_id, []):
            if s <= start and end <= e:
                start, end = s, e
                break
        return doc_id, start, end, text[start:end]

    def _known(self, code: str, column: str) -> str:
        if not code:
            raise _RowProblem(f"{column} is empty")
        if code not in self.codes:
            raise _RowProblem(f"{column} {code!r} is not a code of the codebook or the project")
        return code


class _RowProblem(Exception):
    """One row cannot be applied; the message says why and what to write instead."""


def _offset(value: str | None) -> int | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return int(number) if number is not None and number.is_integer() and number >= 0 else None


# ---------------------------------------------------------------------------------------------
# Stats


@dataclass(frozen=True)
class CodeReview:
    """One code's review. ``proposals``: codings the rules count; ``accepted`` and ``rejected``:
    decisions on them, so precision = accepted / (accepted + rejected), with its Wilson 95%
    interval; ``added``: codings the rules missed (added rows, and accepted codings the rules had
    flagged as negated or hypothetical); ``lost``: accepted codings the rules no longer make."""

    code: str
    proposals: int
    pending: int
    reviewed: int
    accepted: int
    rejected: int
    added: int
    lost: int
    precision: float | None
    precision_low: float | None
    precision_high: float | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class StaleDecision:
    """A decision whose text is no longer at its offsets (or whose note is gone)."""

    doc_id: str
    start: int
    end: int
    code: str
    decision: str
    reviewer: str
    decided_at: str
    text: str
    document_exists: bool


@dataclass(frozen=True)
class ReviewStats:
    per_code: tuple[CodeReview, ...]
    total: CodeReview
    stale: tuple[StaleDecision, ...]
    decisions: int

    def rows(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in (*self.per_code, self.total)]


def review_stats(*, project: str | Path | None = None, codebook: str | Path | Codebook | None = None) -> ReviewStats:
    """Per code (in the codebook's order, the project's own unless ``codebook`` is given; then codes
    the codebook lacks): proposals, pending, reviewed, accepted, rejected, added, lost, precision."""
    from .codebook_choice import choose_codebook

    with Store.open(project, readonly=True) as store:
        order = choose_codebook(codebook, store, check_patterns=False).code_ids()
        proposals = store.review_proposals()
        decisions = store.review_decisions()
    fresh = [d for d in decisions if d["fresh"]]
    stale = tuple(StaleDecision(d["doc_id"], d["start"], d["end"], d["code"], d["decision"], d["reviewer"],
                                d["decided_at"], d["text"], d["document_exists"]) for d in decisions if not d["fresh"])
    counts: dict[str, Counter] = {}
    for d in fresh:
        counts.setdefault(d["code"], Counter())[_kind(d)] += 1
    found = set(proposals) | set(counts)
    codes = [code for code in order if code in found] + sorted(found - set(order))
    per_code = tuple(_code_review(code, *proposals.get(code, (0, 0)), counts.get(code, Counter())) for code in codes)
    totals = Counter()
    for tally in counts.values():
        totals.update(tally)
    total = _code_review("total", sum(p for p, _ in proposals.values()), sum(q for _, q in proposals.values()), totals)
    return ReviewStats(per_code=per_code, total=total, stale=stale, decisions=len(decisions))


def _kind(decision: dict[str, Any]) -> str:
    """What a current decision measures: accept/reject of a coding the rules count (precision); add,
    or accept of a coding the rules flagged as negated or hypothetical (a missed coding); lost (an
    accepted coding the rules no longer make); or nothing (a reject of a flagged coding). An add
    the rules now make too (hand coding imported before the rules ran) confirms it: an accept."""
    if decision["decision"] == "add":
        return "accept" if decision["proposal"] else "add"
    if decision["proposal"]:
        return decision["decision"]
    if decision["decision"] == "accept":
        return "add" if decision["coding_exists"] else "lost"
    return "confirmed_flag"


def _code_review(code: str, proposals: int, pending: int, tally: Counter) -> CodeReview:
    accepted, rejected = tally["accept"], tally["reject"]
    low, high = wilson_interval(accepted, accepted + rejected)
    return CodeReview(code=code, proposals=proposals, pending=pending, reviewed=accepted + rejected,
                      accepted=accepted, rejected=rejected, added=tally["add"], lost=tally["lost"],
                      precision=accepted / (accepted + rejected) if accepted + rejected else None,
                      precision_low=low, precision_high=high)


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion (95% by default); (None, None) without trials."""
    if trials == 0:
        return None, None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


def stats_records(stats: ReviewStats) -> Iterator[dict[str, Any]]:
    """Rows for CSV/JSON output, floats rounded to 4 places."""
    for row in stats.rows():
        yield {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}


def stats_json(stats: ReviewStats) -> str:
    return json.dumps({"codes": list(stats_records(stats)), "decisions": stats.decisions,
                       "stale": [s.__dict__ for s in stats.stale]}, ensure_ascii=False, indent=2)
