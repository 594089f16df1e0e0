"""The ``segments`` and ``codings`` tables: what the rules and the learned model coded."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from .base import StoreBase
from .memos import relocate_memos
from .records import CodeCount, CodedRows, CodingCounts, Span, TermCount, Unit, UnitCoding
from .reports import counted_condition
from .reviews import ReviewRows, apply_reviews
from .schema import COUNTED, REVIEW_ADD_RULE, in_list, json_list


def replace_codings(
    db: sqlite3.Connection, documents: Sequence[tuple[str, CodedRows]], codebook_hash: str, run_id: int
) -> None:
    """Swap documents' segments and codings for new ones, a few statements for the whole batch.

    Segment IDs are given here (after the largest in use: the caller holds the writer lock), so
    codings can name their segment without a round trip per segment. Review decisions are then
    applied to the documents that have any.
    """
    doc_ids = [(doc_id,) for doc_id, _ in documents]
    db.executemany("DELETE FROM codings WHERE doc_id = ?", doc_ids)
    db.executemany("DELETE FROM segments WHERE doc_id = ?", doc_ids)
    _replace_scores(db, documents)
    next_id = _next_segment_id(db)
    segments: list[tuple[Any, ...]] = []
    codings: list[tuple[Any, ...]] = []
    for doc_id, coded in documents:
        segments.extend((next_id + index, doc_id, *segment) for index, segment in enumerate(coded.segments))
        codings.extend((next_id + coding[0], doc_id, *coding[1:], codebook_hash, run_id) for coding in coded.codings)
        next_id += len(coded.segments)
    _insert_segments_and_codings(db, segments, codings)
    _after_coding(db, [doc_id for doc_id, _ in documents])


def replace_learned(
    db: sqlite3.Connection, documents: Sequence[tuple[str, CodedRows]], codebook_hash: str, run_id: int
) -> None:
    """Swap documents' model codings, scores and model for new ones; their rule codings stay.

    ``documents``: each document's model part as ``coded_rows`` gives it (its segments are the
    units holding the model's codings; where the rules have a segment at the same span, the
    coding joins it, as it would in a full coding). First the document is brought back to the
    rules' own codings, as a full coding writes them before applying reviews: statuses reset,
    codings of the model and of review ``add`` decisions removed with the segments only they
    held. Then the new rows go in and the review decisions are applied again, so the result is
    the rows a full coding with the same codebook and model writes.
    """
    db.executemany("DELETE FROM codings WHERE doc_id = ? AND source != 'rules'", [(d,) for d, _ in documents])
    rows = ReviewRows(db)
    for doc_id, _ in documents:
        rows.reset(doc_id)  # what applying decisions again starts from, as in a full coding
    _replace_scores(db, documents)
    segment_of = {
        (row[0], row[1], row[2]): row[3]
        for row in db.execute(
            f"SELECT doc_id, start, end, segment_id FROM segments WHERE {in_list('doc_id')}",
            (json_list(doc_id for doc_id, _ in documents),),
        )
    }
    next_id = _next_segment_id(db)
    segments: list[tuple[Any, ...]] = []
    codings: list[tuple[Any, ...]] = []
    for doc_id, coded in documents:
        ids = []
        for segment in coded.segments:
            key = (doc_id, segment[0], segment[1])
            if key not in segment_of:
                segment_of[key] = next_id
                segments.append((next_id, doc_id, *segment))
                next_id += 1
            ids.append(segment_of[key])
        codings.extend((ids[coding[0]], doc_id, *coding[1:], codebook_hash, run_id) for coding in coded.codings)
    _insert_segments_and_codings(db, segments, codings)
    _after_coding(db, [doc_id for doc_id, _ in documents])


def _replace_scores(db: sqlite3.Connection, documents: Sequence[tuple[str, CodedRows]]) -> None:
    """The documents' unit scores and model, replaced by those of ``documents``."""
    db.executemany("DELETE FROM scores WHERE doc_id = ?", [(doc_id,) for doc_id, _ in documents])
    db.executemany(
        "UPDATE documents SET model_hash = ? WHERE doc_id = ?",
        [(coded.model_hash, doc_id) for doc_id, coded in documents],
    )
    db.executemany(
        "INSERT INTO scores (doc_id, start, end, probabilities, model_hash) VALUES (?, ?, ?, ?, ?)",
        [(doc_id, *score, coded.model_hash) for doc_id, coded in documents for score in coded.scores],
    )


def _next_segment_id(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT coalesce(max(segment_id), 0) + 1 FROM segments").fetchone()[0])


def _insert_segments_and_codings(
    db: sqlite3.Connection, segments: list[tuple[Any, ...]], codings: list[tuple[Any, ...]]
) -> None:
    db.executemany(
        "INSERT INTO segments (segment_id, doc_id, start, end, unit, sector, sector_source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        segments,
    )
    db.executemany(
        "INSERT INTO codings (segment_id, doc_id, code, rule, start, end, matched, negated, hypothetical, cue,"
        " source, probability, model_hash, explanation, codebook_hash, run_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        codings,
    )


def _after_coding(db: sqlite3.Connection, doc_ids: list[str]) -> None:
    """Apply review decisions to the documents that have any, and move memos with their passages."""
    for doc_id in _reviewed_among(db, doc_ids):
        apply_reviews(db, doc_id)
    relocate_memos(db, doc_ids)


def _reviewed_among(db: sqlite3.Connection, doc_ids: list[str]) -> list[str]:
    """Those of ``doc_ids`` with review decisions, in the order given."""
    rows = db.execute(f"SELECT DISTINCT doc_id FROM reviews WHERE {in_list('doc_id')}", (json_list(doc_ids),))
    reviewed = {row[0] for row in rows}
    return [doc_id for doc_id in doc_ids if doc_id in reviewed]


class RuledDocument(NamedTuple):
    """What re-scoring a stored document with another model needs: its text, its sector (for
    the segments the model's codings make) and the codes its rule codings gave each unit
    (negated and hypothetical ones too: they veto the model's)."""

    doc_id: str
    text: str
    sector: str | None
    sector_source: str | None
    ruled: dict[tuple[int, int], set[str]]


class CodingsTable(StoreBase):
    """Reads of the codings; they are written with their documents (``DocumentsTable``), or alone
    when only the model changed (``save_learned``)."""

    def save_learned(self, batch: Sequence[tuple[str, CodedRows]], *, codebook_hash: str, run_id: int) -> None:
        """Replace stored documents' model codings, scores and model (``replace_learned``) in one
        transaction; their rule codings, segments and attributes stay as they are."""
        with self.transaction() as db:
            replace_learned(db, batch, codebook_hash, run_id)

    def ruled_documents(self, doc_ids: Sequence[str]) -> list[RuledDocument]:
        """One page of documents as re-scoring reads them (``RuledDocument``), in the order given."""
        ids = json_list(doc_ids)
        ruled: dict[str, dict[tuple[int, int], set[str]]] = {}
        for doc_id, start, end, code in self.connection.execute(
            "SELECT doc_id, start, end, code FROM codings"
            f" WHERE {in_list('doc_id')} AND source = 'rules' AND rule != ?",
            (ids, REVIEW_ADD_RULE),
        ):
            ruled.setdefault(doc_id, {}).setdefault((start, end), set()).add(code)
        found = {
            row[0]: RuledDocument(row[0], row[1], row[2], row[3], ruled.get(row[0], {}))
            for row in self.connection.execute(
                f"SELECT doc_id, text, sector, sector_source FROM documents WHERE {in_list('doc_id')}", (ids,)
            )
        }
        return [found[doc_id] for doc_id in doc_ids if doc_id in found]

    def doc_ids_with_accepted_flags(self) -> set[str]:
        """Documents with a rule coding whose negation or hypothetical flag a review decision
        cleared: it keeps its cue but lost its flags, which only coding the text again restores."""
        return {
            row[0]
            for row in self.connection.execute(
                "SELECT DISTINCT doc_id FROM codings WHERE source = 'rules' AND cue IS NOT NULL"
                " AND negated = 0 AND hypothetical = 0"
            )
        }

    def mark_coded_with(self, doc_ids: Sequence[str], codebook_hash: str) -> None:
        """Record that documents code the same with another codebook: their codings stay, now
        attributed to it (the run that made them is kept)."""
        ids = json_list(doc_ids)
        with self.transaction() as db:
            db.execute(f"UPDATE documents SET coded_with = ? WHERE {in_list('doc_id')}", (codebook_hash, ids))
            db.execute(f"UPDATE codings SET codebook_hash = ? WHERE {in_list('doc_id')}", (codebook_hash, ids))

    def count_codings(self) -> CodingCounts:
        """(all codings, codings that count: not negated, hypothetical or rejected)."""
        row = self.connection.execute(f"SELECT count(*), coalesce(sum({COUNTED}), 0) FROM codings c").fetchone()
        return CodingCounts(row[0], row[1])

    def coding_rows(self, *, code: str | None = None, counted_only: bool = False) -> Iterator[dict[str, Any]]:
        """One row per coding with its segment text and sector, in document order; attributes not included."""
        conditions = [COUNTED] if counted_only else []
        params: list[Any] = []
        if code is not None:
            conditions.append("c.code = ?")
            params.append(code)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self.connection.execute(
            "SELECT c.coding_id, c.doc_id, c.start, c.end, substr(d.text, c.start + 1, c.end - c.start) AS text,"
            " c.code, c.rule, c.matched, c.negated, c.hypothetical, c.cue, c.status, s.sector AS segment_sector,"
            " s.sector_source, c.codebook_hash, c.source, c.probability, c.model_hash, c.explanation"
            " FROM codings c JOIN segments s USING (segment_id) JOIN documents d ON d.doc_id = c.doc_id"
            f" {where} ORDER BY c.doc_id, c.start, c.code",
            params,
        )
        for row in rows:
            record = dict(row)
            record["matched"] = json.loads(record["matched"])
            record["negated"], record["hypothetical"] = bool(record["negated"]), bool(record["hypothetical"])
            yield record

    def term_counts(self) -> list[TermCount]:
        """(code, matched codebook term, segments, documents) over counted codings."""
        rows = self.connection.execute(
            "SELECT c.code, json_extract(m.value, '$.term') AS term, count(DISTINCT c.segment_id),"
            f" count(DISTINCT c.doc_id) FROM codings c, json_each(c.matched) m WHERE {COUNTED}"
            " GROUP BY c.code, term ORDER BY c.code, term"
        )
        return [TermCount(*row) for row in rows]

    def code_counts(self, *, source: str | None = None, doc_ids: Collection[str] | None = None) -> dict[str, CodeCount]:
        """code -> (segments, documents) over counted codings (of one ``source``, if given; in
        the documents ``doc_ids`` only, if given: their share of the whole project's counts)."""
        among = f" AND {in_list('c.doc_id')}" if doc_ids is not None else ""
        rows = self.connection.execute(
            "SELECT c.code, count(DISTINCT c.segment_id), count(DISTINCT c.doc_id) FROM codings c"
            f" WHERE {counted_condition(False, source)}{among} GROUP BY c.code",
            [] if doc_ids is None else [json_list(doc_ids)],
        )
        return {row[0]: CodeCount(row[1], row[2]) for row in rows}

    def coding_codes(self) -> set[str]:
        """Every code the project has codings of (from the code index: no table scan)."""
        return {row[0] for row in self.connection.execute("SELECT DISTINCT code FROM codings")}

    def counted_spans(self, *, source: str | None = None) -> dict[str, list[Span]]:
        """doc_id -> [(start, end, code)] of every counted coding (of one ``source``, if given):
        what evaluation compares to gold."""
        spans: dict[str, list[Span]] = {}
        for row in self.connection.execute(
            f"SELECT c.doc_id, c.start, c.end, c.code FROM codings c WHERE {counted_condition(False, source)}"
        ):
            spans.setdefault(row[0], []).append(Span(row[1], row[2], row[3]))
        return spans

    def document_code_presence(self, *, accepted_only: bool = False) -> dict[str, set[str]]:
        """doc_id -> codes with at least one counted coding (only accepted ones with ``accepted_only``)."""
        condition = f"{COUNTED} AND c.status = 'accepted'" if accepted_only else COUNTED
        presence: dict[str, set[str]] = {}
        for row in self.connection.execute(f"SELECT DISTINCT c.doc_id, c.code FROM codings c WHERE {condition}"):
            presence.setdefault(row[0], set()).add(row[1])
        return presence

    def exchange_codings(self, *, include_unreviewed: bool = False) -> list[dict[str, Any]]:
        """Counted codings for REFI-QDA export: accepted ones, or every one not rejected, with the
        decision's reviewer, time and note."""
        condition = COUNTED if include_unreviewed else f"{COUNTED} AND c.status = 'accepted'"
        rows = self.connection.execute(
            "SELECT c.doc_id, c.start, c.end, c.code, c.rule, c.matched, c.status, c.source, c.probability,"
            " r.reviewer, r.decided_at, r.note"
            " FROM codings c LEFT JOIN reviews r ON r.doc_id = c.doc_id AND r.start = c.start AND r.end = c.end"
            f" AND r.code = c.code WHERE {condition} ORDER BY c.doc_id, c.start, c.end, c.code"
        )
        return [{**dict(row), "matched": json.loads(row["matched"])} for row in rows]

    def unit_codings(self, doc_ids: Iterable[str]) -> dict[Unit, list[UnitCoding]]:
        """(doc_id, start, end) -> [(code, source, negated, hypothetical, status)] of the codings of
        some documents."""
        found: dict[Unit, list[UnitCoding]] = {}
        for row in self.connection.execute(
            "SELECT doc_id, start, end, code, source, negated, hypothetical, status FROM codings"
            f" WHERE {in_list('doc_id')}",
            (json_list(sorted(set(doc_ids))),),
        ):
            found.setdefault(Unit(row[0], row[1], row[2]), []).append(
                UnitCoding(row[3], row[4], bool(row[5]), bool(row[6]), row[7])
            )
        return found
