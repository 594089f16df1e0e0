"""How review decisions apply to a document's codings, and follow their text when a note is edited.

Each time a document's codings are (re)written, the store applies its decisions to them again
(through ``apply_to_codings``), so decisions outlive re-coding and re-ingest. A decision whose
text is no longer at its offsets is *stale*: it is kept and reported, follows its text when that
text (20 characters or more) now occurs exactly once elsewhere in the note, and applies again
when the text comes back. The store only reads and writes the rows (``ReviewRows``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..store.records import CodingKey

if TYPE_CHECKING:
    from ..store.reviews import ReviewRows

# Shorter texts occur too often by chance (a code word, a date) to say where a decision went.
MIN_RELOCATE_CHARS = 20


def apply_to_codings(rows: ReviewRows, doc_id: str) -> None:
    """Write a document's review decisions onto its codings.

    Idempotent: statuses are reset and earlier review/add codings removed first, so a changed
    decision never leaves an old effect behind.
    """
    decisions = rows.decisions(doc_id)
    if not decisions:
        return
    document = rows.document(doc_id)
    if document is None:
        return
    rows.reset(doc_id)
    taken = {(d.start, d.end, d.code) for d in decisions}
    for decision in decisions:
        start, end = decision.start, decision.end
        if document.text[start:end] != decision.text:
            moved = relocate(document.text, decision.text)
            if moved is None or (*moved, decision.code) in taken:
                continue
            taken.add((*moved, decision.code))
            start, end = moved
            rows.move(decision.review_id, start, end)
        key = CodingKey(doc_id, start, end, decision.code)
        if decision.decision == "reject":
            rows.reject(key)
        elif not rows.accept(key) and decision.decision == "add":
            rows.add(key, document)


class Offsets(NamedTuple):
    """Where a passage now lies in a document's text (character offsets, end exclusive)."""

    start: int
    end: int


def relocate(text: str, reviewed: str) -> Offsets | None:
    """The reviewed text's new offsets when it occurs exactly once in the edited note."""
    if len(reviewed) < MIN_RELOCATE_CHARS:
        return None
    first = text.find(reviewed)
    if first < 0 or text.find(reviewed, first + 1) >= 0:
        return None
    return Offsets(first, first + len(reviewed))
