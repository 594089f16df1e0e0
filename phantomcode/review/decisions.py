"""Decisions from a filled-in sheet (or the workspace): checked row by row, then stored.

Rows with an unusable decision are reported by their row number (the header is row 1); the good
rows still apply. The store keeps every reviewer's decisions and applies them to the codings
(:mod:`phantomcode.review.relocation`).
"""

from __future__ import annotations

import getpass
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..codebook import Codebook
from ..errors import UsageError
from ..store import Store
from ..store.records import CodingKey
from .sheet import DECISION_WORDS, SUGGESTED, coding_key, parse_coding_key, read_sheet


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


def import_review(
    path: str | Path,
    *,
    project: str | Path | None = None,
    reviewer: str | None = None,
    codebook: str | Path | Codebook | None = None,
) -> ReviewImport:
    """Apply the decisions of a review sheet; every bad row is reported and the others still apply.

    ``reviewer`` defaults to the sheet's ``reviewer`` column, else ``$USER``. Raises
    ``UsageError`` when the sheet cannot be read at all, ``ProjectError`` for the store.
    """
    rows, encoding = read_sheet(path)
    report = ReviewImport(path=str(path), rows=len(rows), encoding=encoding)
    return apply_decisions(rows, report, project=project, reviewer=reviewer, codebook=codebook)


def apply_decisions(
    rows: Sequence[tuple[int, dict[str, str]]],
    report: ReviewImport,
    *,
    project: str | Path | None = None,
    reviewer: str | None = None,
    codebook: str | Path | Codebook | None = None,
    exact_spans: bool = False,
    lock_timeout: float | None = None,
) -> ReviewImport:
    """Check and store decisions given as review-sheet rows: (row number, cells by column name).

    The one path every decision takes, from a sheet (``import_review``), or through
    ``store_decisions`` from the browser workspace and ``import qdpx``, ending in
    ``Store.save_reviews``. ``exact_spans`` keeps a new ``add`` row's start and end as given (a
    passage a reviewer selected) instead of widening them to the stored sentence around them.
    ``lock_timeout`` bounds the wait for another writer (``ProjectBusyError`` after it).
    """
    with Store.open(project, must_exist=True) as store, store.writer(timeout=lock_timeout):
        return store_decisions(store, rows, report, reviewer=reviewer, codebook=codebook, exact_spans=exact_spans)


def store_decisions(
    store: Store,
    rows: Sequence[tuple[int, dict[str, str]]],
    report: ReviewImport,
    *,
    reviewer: str | None = None,
    codebook: str | Path | Codebook | None = None,
    exact_spans: bool = False,
    codes: Iterable[str] = (),
) -> ReviewImport:
    """``apply_decisions`` on a store whose writer lock the caller holds (``import qdpx``, which
    writes documents first). A row may name its ``reviewer`` and ``decided_at`` (another tool's
    coder and time); ``codes`` are known besides the codebook's and the project's."""
    from ..codebook_choice import choose_codebook

    who = reviewer or default_reviewer()
    now = datetime.now(UTC).isoformat(timespec="seconds")
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
            decision.update(
                reviewer=reviewer or cells.get("reviewer") or who, decided_at=cells.get("decided_at") or now
            )
            key = (decision["doc_id"], decision["start"], decision["end"], decision["code"], decision["reviewer"])
            if key in decisions:
                first, earlier = decisions[key]
                if _essence(earlier) != _essence(decision):
                    report.problems.append(
                        f"row {number}: a second, different decision for {coding_key(*key[:4])} (row {first} is kept)"
                    )
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


def withdraw_decisions(
    keys: Sequence[str],
    *,
    reviewer: str | None = None,
    project: str | Path | None = None,
    lock_timeout: float | None = None,
) -> int:
    """Take back ``reviewer``'s decisions (default ``$USER``) on these coding keys (an undo): the
    codings are as the rules made them again, or as another reviewer's latest decision on the same
    coding leaves them, and a coding added by hand is gone. Returns how many decisions there were;
    ``UsageError`` for a string that is not a key."""
    withdrawn = reviewer_keys(keys, reviewer)
    with Store.open(project, must_exist=True) as store, store.writer(timeout=lock_timeout):
        return store.delete_reviews(withdrawn)


def reviewer_keys(keys: Sequence[str], reviewer: str | None) -> list[tuple[str, int, int, str, str]]:
    """(doc_id, start, end, code, reviewer) for each coding key, ``reviewer`` defaulting to
    ``$USER``; ``UsageError`` for a string that is not a key. Parse before taking any lock: a
    caller holding one (the workspace) then writes only keys known to be good."""
    parsed = [parse_coding_key(key) for key in keys]
    bad = [key for key, found in zip(keys, parsed, strict=True) if found is None]
    if bad:
        raise UsageError(f"not a coding key: {', '.join(map(repr, bad))} (doc_id:start-end:code)")
    who = reviewer or default_reviewer()
    return [(*found, who) for found in parsed if found is not None]


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

    def __init__(
        self,
        texts: dict[str, str],
        segments: dict[str, list[tuple[int, int]]],
        codings: set[CodingKey],
        codes: set[str],
        report: ReviewImport,
    ) -> None:
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
        assert key_code is not None  # only add rows may lack a key, and they returned above
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
                "the export?); the decision is kept and applies if the rules make that coding again"
            )
        if decision == "accept":
            return [{**base, "code": key_code, "decision": "accept", "correct_code": None, "note": note}]
        result = [{**base, "code": key_code, "decision": "reject", "correct_code": correct, "note": note}]
        if correct:
            result.append(
                {
                    **base,
                    "code": correct,
                    "decision": "add",
                    "correct_code": None,
                    "note": f"correct code instead of {key_code}" + (f": {note}" if note else ""),
                }
            )
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
            raise _RowProblem(
                f"code {shown!r} disagrees with the key's {code!r}; to change a code write reject "
                f"and put {shown!r} in correct_code"
            )
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
                "(the note changed since the export); the decision is kept and applies if that text returns"
            )
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
                raise _RowProblem(
                    f"start {cells.get('start')!r} and end {cells.get('end')!r} are not offsets "
                    f"within {doc_id} (0 to {len(text)})"
                )
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
