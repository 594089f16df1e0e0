"""The ``runs`` and ``codebooks`` tables: what each command did, with which codebook."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .. import __version__
from .base import StoreBase, _now
from .records import CodebookName, KeptCodebook, LastCodebook, RunInfo


def _run_info(row: sqlite3.Row) -> RunInfo:
    values = dict(row)
    values["stats"] = json.loads(values["stats"] or "{}")
    return RunInfo(**values)


class RunsTable(StoreBase):
    """Each command's run (begun, then completed, interrupted or failed) and the codebooks kept."""

    def begin_run(
        self,
        command: str,
        *,
        codebook_name: str | None = None,
        codebook_version: str | None = None,
        codebook_hash: str | None = None,
        codebook_path: str | None = None,
    ) -> int:
        """Record that ``command`` started (status 'running'); its run ID."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (command, codebook_name, codebook_version, codebook_hash, codebook_path,"
                " tool_version, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (command, codebook_name, codebook_version, codebook_hash, codebook_path, __version__, _now()),
            )
            return int(cursor.lastrowid or 0)  # an INSERT always sets it

    def finish_run(self, run_id: int, *, status: str, stats: dict[str, Any]) -> None:
        """Record how a run ended (completed, interrupted, failed) and what it did."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE run_id = ?",
                (_now(), status, json.dumps(stats, ensure_ascii=False), run_id),
            )

    def last_run(self, *, completed_only: bool = False) -> RunInfo | None:
        """The latest run (completed, with ``completed_only``), or None."""
        where = "WHERE status = 'completed'" if completed_only else ""
        row = self.connection.execute(f"SELECT * FROM runs {where} ORDER BY run_id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return _run_info(row)

    def runs(self) -> list[RunInfo]:
        """Every run, oldest first."""
        return [_run_info(row) for row in self.connection.execute("SELECT * FROM runs ORDER BY run_id")]

    def run_stats(self, command: str) -> list[dict[str, Any]]:
        """The stats of every completed run of ``command``, oldest first."""
        rows = self.connection.execute(
            "SELECT stats FROM runs WHERE command = ? AND status = 'completed' ORDER BY run_id", (command,)
        )
        return [json.loads(row[0] or "{}") for row in rows]

    def known_codebook(self, content_hash: str) -> CodebookName | None:
        """(name, version) of the codebook with these bytes, when a completed run used it."""
        row = self.connection.execute(
            "SELECT codebook_name, codebook_version FROM runs WHERE codebook_hash = ? AND status = 'completed'"
            " AND codebook_name IS NOT NULL ORDER BY run_id DESC LIMIT 1",
            (content_hash,),
        ).fetchone()
        return CodebookName(row[0], row[1] or "") if row else None

    def save_codebook_source(self, content_hash: str, source: bytes) -> None:
        """Keep the bytes of a codebook documents are coded with (once per distinct codebook)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO codebooks (content_hash, source, tool_version, saved_at) VALUES (?, ?, ?, ?)",
                (content_hash, source, __version__, _now()),
            )

    def codebook_source(self, content_hash: str) -> KeptCodebook | None:
        """(bytes, phantomcode version that coded with it) of a kept codebook, or None."""
        row = self.connection.execute(
            "SELECT source, tool_version FROM codebooks WHERE content_hash = ?", (content_hash,)
        ).fetchone()
        return KeptCodebook(bytes(row[0]), row[1]) if row else None

    def last_codebook(self) -> LastCodebook | None:
        """(path as recorded, content hash, name, version) of the codebook the most recent run used."""
        row = self.connection.execute(
            "SELECT codebook_path, codebook_hash, codebook_name, codebook_version FROM runs"
            " WHERE codebook_path IS NOT NULL ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        return LastCodebook(row[0], row[1] or "", row[2], row[3]) if row else None
