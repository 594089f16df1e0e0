"""The ``memos`` table: one memo per document (start = end = 0, code '') and per coding (its key),
kept apart from codings so that re-coding and re-ingest never touch them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from .base import StoreBase, _now
from .schema import in_list, json_list


def relocate_memos(db: sqlite3.Connection, doc_ids: Sequence[str]) -> None:
    """Move memos on codings to where their passage now is, as review decisions move
    (``review.relocation.relocate``), inside the caller's transaction."""
    from ..review.relocation import relocate  # review builds on the store, not the reverse

    rows = db.execute(
        "SELECT m.memo_id, m.passage, d.text FROM memos m JOIN documents d ON d.doc_id = m.doc_id"
        " WHERE m.code != '' AND m.passage IS NOT NULL"
        " AND substr(d.text, m.start + 1, m.end - m.start) != m.passage"
        f" AND {in_list('m.doc_id')}",
        (json_list(doc_ids),),
    ).fetchall()
    for memo_id, passage, text in rows:
        moved = relocate(text, passage)
        if moved is not None:
            db.execute("UPDATE OR IGNORE memos SET start = ?, end = ? WHERE memo_id = ?", (*moved, memo_id))


class MemosTable(StoreBase):
    """Memos written in the review workspace."""

    def save_memo(self, doc_id: str, *, start: int = 0, end: int = 0, code: str = "", text: str, author: str) -> None:
        """Write (or, with empty ``text``, delete) the memo on a document or on one coding."""
        key = (doc_id, start, end, code)
        with self.transaction() as db:
            if not text.strip():
                db.execute("DELETE FROM memos WHERE doc_id = ? AND start = ? AND end = ? AND code = ?", key)
                return
            db.execute(
                "INSERT INTO memos (doc_id, start, end, code, text, author, written_at, passage)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT substr(text, ? + 1, ? - ?) FROM documents"
                " WHERE doc_id = ? AND ? != '')) ON CONFLICT (doc_id, start, end, code) DO UPDATE SET"
                " text = excluded.text, author = excluded.author, written_at = excluded.written_at,"
                " passage = excluded.passage",
                (*key, text, author, _now(), start, end, start, doc_id, code),
            )

    def memos(self, doc_id: str) -> list[dict[str, Any]]:
        """A document's memos: its own (code '') first, then those on codings in text order."""
        rows = self.connection.execute(
            "SELECT doc_id, start, end, code, text, author, written_at FROM memos WHERE doc_id = ?"
            " ORDER BY code != '', start, end, code",
            (doc_id,),
        )
        return [dict(row) for row in rows]
