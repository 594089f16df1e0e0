"""The ``documents`` and ``doc_attributes`` tables: stored notes, their files and attributes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .base import StoreBase, _now
from .codings import replace_codings
from .memos import relocate_memos
from .records import (
    AttributeRow,
    CodedRows,
    DocumentRecord,
    DocumentText,
    Sector,
    SegmentRecord,
    StoredState,
    ValueCount,
)
from .reviews import apply_reviews
from .schema import in_list, json_list


def _write_attributes(db: sqlite3.Connection, documents: Sequence[tuple[str, list[AttributeRow]]]) -> None:
    db.executemany("DELETE FROM doc_attributes WHERE doc_id = ?", [(doc_id,) for doc_id, _ in documents])
    db.executemany(
        "INSERT INTO doc_attributes (doc_id, name, value, raw) VALUES (?, ?, ?, ?)",
        [(doc_id, *row) for doc_id, rows in documents for row in rows],
    )


def _retire_replaced(db: sqlite3.Connection, renamed: list[tuple[str, str]]) -> None:
    """Documents whose file now gives another ID: their review decisions move to the new ID
    (unless it has a decision on the same span and code already) and apply there, and the
    old documents are deleted."""
    if not renamed:
        return
    moves = [(new, old) for old, new in renamed]
    db.executemany("UPDATE OR IGNORE reviews SET doc_id = ? WHERE doc_id = ?", moves)
    db.executemany("UPDATE OR IGNORE reviewer_decisions SET doc_id = ? WHERE doc_id = ?", moves)
    db.executemany("UPDATE OR IGNORE memos SET doc_id = ? WHERE doc_id = ?", moves)
    db.executemany("DELETE FROM documents WHERE doc_id = ?", [(old,) for old, _ in renamed])
    for _, new in renamed:
        apply_reviews(db, new)
    relocate_memos(db, [new for _, new in renamed])


class DocumentsTable(StoreBase):
    """Stored notes: written with their codings (one transaction per batch), read for re-coding and exports."""

    def stored_states(self) -> dict[str, StoredState]:
        """Every document's identity, hashes and file stat, without its text: cheap even for 100,000 notes."""
        rows = self.connection.execute(
            "SELECT doc_id, root, source, source_hash, meta_hash, coded_with, size, mtime_ns FROM documents"
        )
        return {row["doc_id"]: StoredState(*row) for row in rows}

    def save_documents(
        self, batch: Sequence[tuple[DocumentRecord, CodedRows]], *, codebook_hash: str, run_id: int
    ) -> None:
        """Write documents and replace their codings, all in one transaction."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO documents (doc_id, root, source, source_hash, meta_hash, content_hash, encoding, text,"
                " attributes, ingested_at, run_id, coded_with, sector, sector_source, size, mtime_ns)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (doc_id) DO UPDATE SET root = excluded.root, source = excluded.source,"
                " source_hash = excluded.source_hash, meta_hash = excluded.meta_hash,"
                " content_hash = excluded.content_hash, encoding = excluded.encoding, text = excluded.text,"
                " attributes = excluded.attributes, ingested_at = excluded.ingested_at, run_id = excluded.run_id,"
                " coded_with = excluded.coded_with, sector = excluded.sector,"
                " sector_source = excluded.sector_source, size = excluded.size, mtime_ns = excluded.mtime_ns",
                [
                    (
                        r.doc_id,
                        r.root,
                        r.source,
                        r.source_hash,
                        r.meta_hash,
                        r.content_hash,
                        r.encoding,
                        r.text,
                        json.dumps(r.attributes, ensure_ascii=False, sort_keys=True),
                        now,
                        run_id,
                        codebook_hash,
                        coded.sector,
                        coded.sector_source,
                        r.size,
                        r.mtime_ns,
                    )
                    for r, coded in batch
                ],
            )
            _write_attributes(db, [(record.doc_id, record.attribute_rows) for record, _ in batch])
            replace_codings(db, [(record.doc_id, coded) for record, coded in batch], codebook_hash, run_id)
            _retire_replaced(db, [(record.replaces, record.doc_id) for record, _ in batch if record.replaces])

    def save_codings(
        self, batch: Sequence[tuple[str, list[AttributeRow], CodedRows]], *, codebook_hash: str, run_id: int
    ) -> None:
        """Replace the codings and canonical attributes of stored documents, in one transaction.

        Each item is (doc_id, attribute rows, coded rows).
        """
        with self.transaction() as db:
            _write_attributes(db, [(doc_id, rows) for doc_id, rows, _ in batch])
            db.executemany(
                "UPDATE documents SET coded_with = ?, sector = ?, sector_source = ? WHERE doc_id = ?",
                [(codebook_hash, coded.sector, coded.sector_source, doc_id) for doc_id, _, coded in batch],
            )
            replace_codings(db, [(doc_id, coded) for doc_id, _, coded in batch], codebook_hash, run_id)

    def refresh_file_stats(self, stats: Sequence[tuple[str, int, int]]) -> None:
        """Record (doc_id, size, mtime_ns) of files found byte-identical although their stat changed."""
        if not stats:
            return
        with self.transaction() as db:
            db.executemany(
                "UPDATE documents SET size = ?, mtime_ns = ? WHERE doc_id = ?",
                [(size, mtime_ns, doc_id) for doc_id, size, mtime_ns in stats],
            )

    def remove_documents(self, doc_ids: Iterable[str]) -> int:
        """Delete documents with their attributes, segments and codings (``--prune``); how many went."""
        with self.transaction() as db:
            return db.execute(f"DELETE FROM documents WHERE {in_list('doc_id')}", (json_list(doc_ids),)).rowcount

    def doc_ids_by_codebook(self, *, not_coded_with: str) -> dict[str | None, list[str]]:
        """IDs of the documents coded with another codebook than ``not_coded_with``, in order,
        grouped by the codebook hash they were coded with (None: never coded)."""
        grouped: dict[str | None, list[str]] = {}
        for doc_id, coded_with in self.connection.execute(
            "SELECT doc_id, coded_with FROM documents WHERE coded_with IS NOT ? ORDER BY doc_id", (not_coded_with,)
        ):
            grouped.setdefault(coded_with, []).append(doc_id)
        return grouped

    def doc_ids(self) -> list[str]:
        """Stored document IDs in order."""
        return [row[0] for row in self.connection.execute("SELECT doc_id FROM documents ORDER BY doc_id")]

    def texts_and_attributes(self, doc_ids: Sequence[str]) -> list[DocumentText]:
        """(doc_id, text, raw attributes) of one page of documents, in the order given."""
        rows = self.connection.execute(
            f"SELECT doc_id, text, attributes FROM documents WHERE {in_list('doc_id')}", (json_list(doc_ids),)
        )
        found = {row[0]: DocumentText(row[0], row[1], json.loads(row[2])) for row in rows}
        return [found[doc_id] for doc_id in doc_ids if doc_id in found]

    def iter_documents(self, *, batch_size: int = 500) -> Iterator[dict[str, Any]]:
        """Stored documents in ID order, streamed in pages so memory stays flat on big projects."""
        last = ""
        while True:
            rows = self.connection.execute(
                "SELECT doc_id, root, source, text, attributes, encoding FROM documents"
                " WHERE doc_id > ? ORDER BY doc_id LIMIT ?",
                (last, batch_size),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                record = dict(row)
                record["attributes"] = json.loads(record["attributes"])
                yield record
            last = rows[-1]["doc_id"]

    def document_sectors(self) -> dict[str, Sector]:
        """doc_id -> the document's sector, declared or inferred from its cues."""
        return {
            row[0]: Sector(row[1], row[2])
            for row in self.connection.execute("SELECT doc_id, sector, sector_source FROM documents ORDER BY doc_id")
        }

    def segments(self) -> list[SegmentRecord]:
        """Every stored segment, in document and text order."""
        return [
            SegmentRecord(*row)
            for row in self.connection.execute(
                "SELECT segment_id, doc_id, start, end, unit, sector, sector_source FROM segments"
                " ORDER BY doc_id, start, end"
            )
        ]

    def count_documents(self) -> int:
        """How many documents the project holds."""
        return self.connection.execute("SELECT count(*) FROM documents").fetchone()[0]

    def document_texts(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """doc_id -> stored text of those of ``doc_ids`` the project has, in ID order."""
        rows = self.connection.execute(
            f"SELECT doc_id, text FROM documents WHERE {in_list('doc_id')} ORDER BY doc_id", (json_list(set(doc_ids)),)
        )
        return {row[0]: row[1] for row in rows}

    def attribute_values(self) -> dict[str, list[ValueCount]]:
        """Each attribute with its (canonical) values and how many documents carry each."""
        rows = self.connection.execute(
            "SELECT name, value, count(*) AS n FROM doc_attributes GROUP BY name, value ORDER BY name, n DESC, value"
        )
        values: dict[str, list[ValueCount]] = {}
        for row in rows:
            values.setdefault(row["name"], []).append(ValueCount(row["value"], row["n"]))
        return values

    def canonical_attribute_table(self) -> dict[str, dict[str, str]]:
        """doc_id -> {attribute: canonical value}, for joining onto coding rows."""
        table: dict[str, dict[str, str]] = {}
        for row in self.connection.execute("SELECT doc_id, name, value FROM doc_attributes"):
            table.setdefault(row["doc_id"], {})[row["name"]] = row["value"]
        return table

    def attribute_names(self) -> list[str]:
        """Every stored attribute's name, sorted."""
        return [r[0] for r in self.connection.execute("SELECT DISTINCT name FROM doc_attributes ORDER BY name")]
