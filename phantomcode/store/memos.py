"""The ``memos`` table: one memo per document (start = end = 0, code '') and per coding (its key),
kept apart from codings so that re-coding and re-ingest never touch them."""

from __future__ import annotations

from typing import Any

from .base import StoreBase, _now


class MemosTable(StoreBase):
    """Memos written in the review workspace."""

    def save_memo(self, doc_id: str, *, start: int = 0, end: int = 0, code: str = "", text: str, author: str) -> None:
        """Write (or, with empty ``text``, delete) the memo on a document or on one coding."""
        key = (doc_id, start, end, code)
        with self.transaction() as db:
            if not text.strip():
                db.execute("DELETE FROM memos WHERE doc_id = ? AND start = ? AND end = ? AND code = ?", key)
                return
            db.execute("INSERT INTO memos (doc_id, start, end, code, text, author, written_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (doc_id, start, end, code) DO UPDATE SET"
                       " text = excluded.text, author = excluded.author, written_at = excluded.written_at",
                       (*key, text, author, _now()))

    def memos(self, doc_id: str) -> list[dict[str, Any]]:
        """A document's memos: its own (code '') first, then those on codings in text order."""
        rows = self.connection.execute(
            "SELECT doc_id, start, end, code, text, author, written_at FROM memos WHERE doc_id = ?"
            " ORDER BY code != '', start, end, code", (doc_id,))
        return [dict(row) for row in rows]
