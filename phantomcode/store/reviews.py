"""The ``reviews`` and ``reviewer_decisions`` tables: review decisions, and the rows they change.

Review decisions live in ``reviews``, keyed like codings by document, offsets and code, with the
segment text the reviewer judged; ``reviewer_decisions`` keeps every reviewer's own. Each time a
document's codings are (re)written, its decisions are applied to them again (``apply_reviews``),
so decisions outlive re-coding and re-ingest. How a decision applies, and follows its text when a
note was edited, is review logic (:mod:`phantomcode.review.relocation`); this module only reads
and writes the rows (``ReviewRows``). accept/add set status 'accepted' and clear the rules'
negation/hypothetical flags (the reviewer says the code applies; ``cue`` keeps the trigger word);
reject sets 'rejected'; an ``add`` the rules did not make is inserted with rule REVIEW_ADD_RULE.
The rules' own view ("auto") is thus: not review/add, no cue, no flags (``AUTO_COUNTED``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .base import StoreBase
from .records import CodingKey, DecisionKey, Proposals, ReviewerDecision, SavedDecisions, Span, Unit
from .reports import report_docs
from .schema import AUTO_COUNTED, COUNTED, REVIEW_ADD_RULE, REVIEW_FRESH, in_list, json_list, source_condition


class StoredDecision(NamedTuple):
    """A decision as ``reviews`` holds it, with the text the reviewer judged."""

    review_id: int
    start: int
    end: int
    code: str
    decision: str
    text: str


class ReviewedDocument(NamedTuple):
    """What applying decisions needs of their document."""

    text: str
    coded_with: str | None
    sector: str | None
    sector_source: str | None


class ReviewRows:
    """The rows that applying a document's decisions reads and changes, inside the caller's transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def decisions(self, doc_id: str) -> list[StoredDecision]:
        """The decisions on a document, in text order."""
        return [
            StoredDecision(*row)
            for row in self.db.execute(
                "SELECT review_id, start, end, code, decision, text FROM reviews WHERE doc_id = ?"
                " ORDER BY start, end, code",
                (doc_id,),
            )
        ]

    def document(self, doc_id: str) -> ReviewedDocument | None:
        row = self.db.execute(
            "SELECT text, coded_with, sector, sector_source FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return ReviewedDocument(*row) if row is not None else None

    def reset(self, doc_id: str) -> None:
        """A document's codings as the rules left them: statuses reset, review/add codings and the
        segments only they had removed."""
        self.db.execute("UPDATE codings SET status = 'auto' WHERE doc_id = ? AND status != 'auto'", (doc_id,))
        self.db.execute("DELETE FROM codings WHERE doc_id = ? AND rule = ?", (doc_id, REVIEW_ADD_RULE))
        self.db.execute(
            "DELETE FROM segments WHERE doc_id = ? AND NOT EXISTS"
            " (SELECT 1 FROM codings c WHERE c.segment_id = segments.segment_id)",
            (doc_id,),
        )

    def move(self, review_id: int, start: int, end: int) -> None:
        """A decision follows its text to new offsets."""
        self.db.execute("UPDATE reviews SET start = ?, end = ? WHERE review_id = ?", (start, end, review_id))

    def reject(self, key: CodingKey) -> None:
        self.db.execute(
            "UPDATE codings SET status = 'rejected' WHERE doc_id = ? AND start = ? AND end = ? AND code = ?", key
        )

    def accept(self, key: CodingKey) -> bool:
        """Mark the coding with this key accepted (flags cleared); whether there was one."""
        return (
            self.db.execute(
                "UPDATE codings SET status = 'accepted', negated = 0, hypothetical = 0"
                " WHERE doc_id = ? AND start = ? AND end = ? AND code = ?",
                key,
            ).rowcount
            > 0
        )

    def add(self, key: CodingKey, document: ReviewedDocument) -> None:
        """Insert an accepted coding the rules did not make (rule REVIEW_ADD_RULE).

        A passage inside a stored sentence belongs to it (one unit for agree, one segment in
        counts); only a passage no stored segment holds becomes a segment of its own.
        """
        doc_id, start, end, code = key
        segment = self.db.execute(
            "SELECT segment_id FROM segments WHERE doc_id = ? AND start <= ? AND end >= ? ORDER BY end - start LIMIT 1",
            (doc_id, start, end),
        ).fetchone()
        if segment is None:
            unit = self.db.execute("SELECT unit FROM segments WHERE doc_id = ? LIMIT 1", (doc_id,)).fetchone()
            segment_id = self.db.execute(
                "INSERT INTO segments (doc_id, start, end, unit, sector, sector_source) VALUES (?, ?, ?, ?, ?, ?)",
                (doc_id, start, end, unit[0] if unit else "sentence", document.sector, document.sector_source),
            ).lastrowid
        else:
            segment_id = segment[0]
        self.db.execute(
            "INSERT INTO codings (segment_id, doc_id, code, rule, start, end, matched, status,"
            " codebook_hash) VALUES (?, ?, ?, ?, ?, ?, '[]', 'accepted', ?)",
            (segment_id, doc_id, code, REVIEW_ADD_RULE, start, end, document.coded_with or ""),
        )


def apply_reviews(db: sqlite3.Connection, doc_id: str) -> None:
    """Write a document's review decisions onto its codings, inside the caller's transaction."""
    from ..review.relocation import apply_to_codings  # review builds on the store, not the reverse

    apply_to_codings(ReviewRows(db), doc_id)


class ReviewsTable(StoreBase):
    """Review decisions: stored per reviewer, applied to codings, read for review, agreement and training."""

    REVIEW_ADD_RULE = REVIEW_ADD_RULE
    REVIEW_FRESH = REVIEW_FRESH
    AUTO_COUNTED = AUTO_COUNTED

    def review_codings(
        self,
        *,
        codes: Sequence[str] = (),
        where: Mapping[str, Sequence[str]] | None = None,
        include_flagged: bool = False,
        pending: bool = False,
        context: int = 200,
        doc_ids: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Codings to review in document order, with up to ``context`` characters either side.

        ``where`` filters documents as reports do; ``pending`` keeps codings without a decision;
        negated and hypothetical codings only with ``include_flagged``.
        """
        cte, params = report_docs((), where or {})
        conditions, condition_params = [], []
        if codes:
            conditions.append(in_list("c.code"))
            condition_params.append(json_list(codes))
        if not include_flagged:
            conditions.append("c.negated = 0 AND c.hypothetical = 0")
        if doc_ids is not None:
            conditions.append(in_list("c.doc_id"))
            condition_params.append(json_list(sorted(set(doc_ids))))
        if pending:
            conditions.append("r.review_id IS NULL")
        where_sql = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self.connection.execute(
            f"{cte} SELECT c.doc_id, c.start, c.end, c.code, c.rule, c.matched, c.negated, c.hypothetical,"
            " c.cue, c.status, c.source, c.probability, substr(d.text, c.start + 1, c.end - c.start) AS text,"
            " substr(d.text, max(c.start - ?, 0) + 1, c.start - max(c.start - ?, 0)) AS before,"
            " substr(d.text, c.end + 1, ?) AS after, r.decision"
            " FROM report_docs f JOIN codings c ON c.doc_id = f.doc_id JOIN documents d ON d.doc_id = c.doc_id"
            " LEFT JOIN reviews r ON r.doc_id = c.doc_id AND r.start = c.start AND r.end = c.end AND r.code = c.code"
            f"{where_sql} ORDER BY c.doc_id, c.start, c.code",
            [*params, context, context, context, *condition_params],
        )
        result = []
        for row in rows:
            record = dict(row)
            record["matched"] = json.loads(record["matched"])
            record["negated"], record["hypothetical"] = bool(record["negated"]), bool(record["hypothetical"])
            result.append(record)
        return result

    def review_segments(self, doc_ids: Iterable[str]) -> dict[str, list[tuple[int, int]]]:
        """doc_id -> stored segment spans, to snap a reviewer's added sentence onto its unit."""
        spans: dict[str, list[tuple[int, int]]] = {}
        rows = self.connection.execute(
            f"SELECT doc_id, start, end FROM segments WHERE {in_list('doc_id')} ORDER BY doc_id, start",
            (json_list(set(doc_ids)),),
        )
        for row in rows:
            spans.setdefault(row[0], []).append((row[1], row[2]))
        return spans

    def review_coding_keys(self, doc_ids: Iterable[str], *, rules_only: bool = False) -> set[CodingKey]:
        """(doc_id, start, end, code) of every coding of these documents (``rules_only``: those the
        rules made, not those a review added)."""
        made_by = f" AND rule != '{REVIEW_ADD_RULE}'" if rules_only else ""
        return {
            CodingKey(*row)
            for row in self.connection.execute(
                f"SELECT doc_id, start, end, code FROM codings WHERE {in_list('doc_id')}{made_by}",
                (json_list(set(doc_ids)),),
            )
        }

    def decisions_of(self, doc_ids: Iterable[str]) -> dict[CodingKey, str]:
        """(doc_id, start, end, code) -> decision, for every decision on these documents."""
        rows = self.connection.execute(
            f"SELECT doc_id, start, end, code, decision FROM reviews WHERE {in_list('doc_id')}",
            (json_list(sorted(set(doc_ids))),),
        )
        return {CodingKey(row[0], row[1], row[2], row[3]): row[4] for row in rows}

    def review_decisions(self, *, doc_ids: Collection[str] | None = None) -> list[dict[str, Any]]:
        """Every stored decision (on the documents ``doc_ids`` only, if given), with ``fresh`` (its
        text is still at its offsets), ``coding_exists`` (the project has a coding with its key)
        and ``proposal`` (that coding is one the rules count)."""
        same_key = "c.doc_id = r.doc_id AND c.start = r.start AND c.end = r.end AND c.code = r.code"
        among = f" WHERE {in_list('r.doc_id')}" if doc_ids is not None else ""
        rows = self.connection.execute(
            f"SELECT r.*, coalesce({REVIEW_FRESH}, 0) AS fresh, d.doc_id IS NOT NULL AS document_exists,"
            f" EXISTS (SELECT 1 FROM codings c WHERE {same_key}) AS coding_exists,"
            f" EXISTS (SELECT 1 FROM codings c WHERE {same_key} AND {AUTO_COUNTED}) AS proposal"
            f" FROM reviews r LEFT JOIN documents d ON d.doc_id = r.doc_id{among} ORDER BY r.doc_id, r.start, r.code",
            [] if doc_ids is None else [json_list(doc_ids)],
        )
        flags = ("fresh", "document_exists", "coding_exists", "proposal")
        return [{**dict(row), **{flag: bool(row[flag]) for flag in flags}} for row in rows]

    def review_proposals(self, *, doc_ids: Collection[str] | None = None) -> dict[str, Proposals]:
        """code -> (codings the rules count, of which no decision yet): what review measures (in
        the documents ``doc_ids`` only, if given)."""
        among = f" AND {in_list('c.doc_id')}" if doc_ids is not None else ""
        rows = self.connection.execute(
            "SELECT c.code, count(*), sum(r.review_id IS NULL) FROM codings c LEFT JOIN reviews r"
            " ON r.doc_id = c.doc_id AND r.start = c.start AND r.end = c.end AND r.code = c.code"
            f" WHERE {AUTO_COUNTED}{among} GROUP BY c.code",
            [] if doc_ids is None else [json_list(doc_ids)],
        )
        return {row[0]: Proposals(row[1], row[2]) for row in rows}

    def save_reviews(self, decisions: Sequence[dict[str, Any]]) -> SavedDecisions:
        """Store decisions (doc_id, start, end, code, decision, correct_code, note, reviewer,
        decided_at, text) and apply them to their documents; return how many were new, changed and unchanged,
        counted per reviewer: a second coder's decisions are new even where they agree.

        Every reviewer's decisions are kept (``reviewer_decisions``, for agreement between coders);
        the one that applies to a key is the latest that differs, an identical one is left alone
        (keeping its first reviewer and time).
        """
        new = changed = unchanged = 0
        touched: set[str] = set()
        with self.transaction() as db:
            for item in decisions:
                key = (item["doc_id"], item["start"], item["end"], item["code"])
                values = (item["decision"], item.get("correct_code"), item.get("note"), item["text"])
                mine = db.execute(
                    "SELECT decision, correct_code, note, text FROM reviewer_decisions WHERE doc_id = ?"
                    " AND start = ? AND end = ? AND code = ? AND reviewer = ?",
                    (*key, item["reviewer"]),
                ).fetchone()
                if mine is not None and tuple(mine) == values:
                    unchanged += 1
                else:
                    new, changed = (new + 1, changed) if mine is None else (new, changed + 1)
                    db.execute(
                        "INSERT OR REPLACE INTO reviewer_decisions (doc_id, start, end, code, reviewer,"
                        " decision, correct_code, note, decided_at, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*key, item["reviewer"], *values[:3], item["decided_at"], item["text"]),
                    )
                old = db.execute(
                    "SELECT decision, correct_code, note, text FROM reviews"
                    " WHERE doc_id = ? AND start = ? AND end = ? AND code = ?",
                    key,
                ).fetchone()
                if old is not None and tuple(old) == values:
                    continue
                db.execute(
                    "INSERT INTO reviews (doc_id, start, end, code, decision, correct_code, note, reviewer,"
                    " decided_at, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (doc_id, start, end, code)"
                    " DO UPDATE SET decision = excluded.decision, correct_code = excluded.correct_code,"
                    " note = excluded.note, reviewer = excluded.reviewer, decided_at = excluded.decided_at,"
                    " text = excluded.text",
                    (*key, *values[:3], item["reviewer"], item["decided_at"], item["text"]),
                )
                touched.add(item["doc_id"])
            for doc_id in sorted(touched):
                apply_reviews(db, doc_id)
        return SavedDecisions(new, changed, unchanged)

    def delete_reviews(self, keys: Sequence[tuple[str, int, int, str, str]]) -> int:
        """Remove reviewers' decisions (doc_id, start, end, code, reviewer) and their effect; how
        many were removed. Where another reviewer decided the same coding, that reviewer's latest
        decision applies instead."""
        removed = 0
        same_key = "doc_id = ? AND start = ? AND end = ? AND code = ?"
        with self.transaction() as db:
            for *key, reviewer in keys:
                removed += db.execute(
                    f"DELETE FROM reviewer_decisions WHERE {same_key} AND reviewer = ?", (*key, reviewer)
                ).rowcount
                if db.execute(f"DELETE FROM reviews WHERE {same_key} AND reviewer = ?", (*key, reviewer)).rowcount:
                    db.execute(
                        "INSERT INTO reviews (doc_id, start, end, code, decision, correct_code, note, reviewer,"
                        " decided_at, text) SELECT doc_id, start, end, code, decision, correct_code, note,"
                        f" reviewer, decided_at, text FROM reviewer_decisions WHERE {same_key}"
                        " ORDER BY decided_at DESC LIMIT 1",
                        key,
                    )
            for doc_id in sorted({key[0] for key in keys}):
                ReviewRows(db).reset(doc_id)  # a document left without decisions is not reset by applying none
                apply_reviews(db, doc_id)
        return removed

    def reviewed_units(self) -> list[dict[str, Any]]:
        """Every review decision with its document's text: what training learns from."""
        rows = self.connection.execute(
            "SELECT r.doc_id, r.start, r.end, r.code, r.decision, r.text, d.text AS document FROM reviews r"
            " JOIN documents d ON d.doc_id = r.doc_id ORDER BY r.doc_id, r.start, r.end, r.code"
        )
        return [dict(row) for row in rows]

    def reviewer_decisions(self) -> list[ReviewerDecision]:
        """Every reviewer's own decisions (``review_decisions`` has the one that applies per coding)."""
        return [
            ReviewerDecision(*row)
            for row in self.connection.execute(
                "SELECT doc_id, start, end, code, reviewer, decision, correct_code, note, decided_at, text"
                " FROM reviewer_decisions ORDER BY doc_id, start, end, code, reviewer"
            )
        ]

    def reviewers(self) -> list[str]:
        """Everyone who has decisions in the project, by name."""
        rows = self.connection.execute("SELECT DISTINCT reviewer FROM reviewer_decisions ORDER BY 1")
        return [row[0] for row in rows]

    def agreement_spans(
        self, view: str, *, reviewer: str | None = None, source: str | None = None
    ) -> dict[str, list[Span]]:
        """doc_id -> [(start, end, code)]: ``auto`` = what the rules and the learned model count,
        review ignored; ``reviewed`` = what counts after review, plus accepted codings the rules no
        longer make; with ``reviewer``, after that reviewer's own decisions (a second coder's, say).
        ``source`` ('rules', 'learned') keeps only the codings of one source (and review additions)."""
        same_key = "x.doc_id = c.doc_id AND x.start = c.start AND x.end = c.end AND x.code = c.code"
        params: tuple[str, ...] = ()
        auto_counted = AUTO_COUNTED + source_condition(source)
        if view == "auto":
            sql = f"SELECT c.doc_id, c.start, c.end, c.code FROM codings c WHERE {auto_counted}"
        elif view == "reviewed" and reviewer is not None:
            sql = (
                f"SELECT c.doc_id, c.start, c.end, c.code FROM codings c WHERE {auto_counted} AND NOT EXISTS"
                f" (SELECT 1 FROM reviewer_decisions x WHERE {same_key} AND x.reviewer = ?"
                " AND x.decision = 'reject')"
                " UNION SELECT r.doc_id, r.start, r.end, r.code FROM reviewer_decisions r JOIN documents d"
                f" ON d.doc_id = r.doc_id WHERE r.reviewer = ? AND r.decision IN ('accept', 'add')"
                f" AND {REVIEW_FRESH}"
            )
            params = (reviewer, reviewer)
        elif view == "reviewed":
            sql = (
                f"SELECT c.doc_id, c.start, c.end, c.code FROM codings c WHERE {COUNTED}{source_condition(source)}"
                " UNION SELECT r.doc_id, r.start, r.end, r.code FROM reviews r JOIN documents d"
                f" ON d.doc_id = r.doc_id WHERE r.decision IN ('accept', 'add') AND {REVIEW_FRESH}"
            )
        else:
            raise ValueError(f"unknown view {view!r}")
        spans: dict[str, list[Span]] = {}
        for row in self.connection.execute(sql, params):
            spans.setdefault(row[0], []).append(Span(row[1], row[2], row[3]))
        return spans

    def reviewer_spans(self, reviewers: Sequence[str]) -> dict[str, list[Span]]:
        """doc_id -> [(start, end, code)] that these reviewers accepted or added (hand coding, e.g.
        imported from another QDA tool), where the text they coded is still at its offsets.

        Read from ``reviewer_decisions``, which keeps each reviewer's own decisions: ``reviews``
        holds only the one that applies, so a coder overruled by a later one would lose codings.
        """
        spans: dict[str, list[Span]] = {}
        for row in self.connection.execute(
            "SELECT r.doc_id, r.start, r.end, r.code FROM reviewer_decisions r JOIN documents d"
            " ON d.doc_id = r.doc_id WHERE r.decision IN ('accept', 'add')"
            f" AND {in_list('r.reviewer')} AND {REVIEW_FRESH}",
            (json_list(reviewers),),
        ):
            spans.setdefault(row[0], []).append(Span(row[1], row[2], row[3]))
        return spans

    def reviewer_decision_keys(self, reviewers: Sequence[str], doc_ids: Iterable[str]) -> list[DecisionKey]:
        """(doc_id, start, end, code, reviewer) of every decision these reviewers made on these
        documents, current or stale."""
        return [
            DecisionKey(*row)
            for row in self.connection.execute(
                "SELECT doc_id, start, end, code, reviewer FROM reviewer_decisions"
                f" WHERE {in_list('reviewer')} AND {in_list('doc_id')} ORDER BY 1, 2, 3, 4, 5",
                (json_list(reviewers), json_list(sorted(set(doc_ids)))),
            )
        ]

    def agreement_units(self, *, reviewed_only: bool = False, reviewer: str | None = None) -> list[Unit]:
        """Stored segments (doc_id, start, end); ``reviewed_only``: those with a current decision
        (of ``reviewer``, when given)."""
        if reviewed_only:
            table, mine = ("reviewer_decisions", " AND r.reviewer = ?") if reviewer is not None else ("reviews", "")
            sql = (
                f"SELECT DISTINCT r.doc_id, r.start, r.end FROM {table} r JOIN documents d ON d.doc_id = r.doc_id"
                f" WHERE {REVIEW_FRESH}{mine} ORDER BY 1, 2, 3"
            )
        else:
            sql = "SELECT doc_id, start, end FROM segments ORDER BY doc_id, start, end"
        params = (reviewer,) if reviewed_only and reviewer is not None else ()
        return [Unit(row[0], row[1], row[2]) for row in self.connection.execute(sql, params)]

    def pending_spans(self, *, reviewer: str | None = None) -> list[Unit]:
        """(doc_id, start, end) of every coding the rules count that has no review decision yet (of
        ``reviewer``, when given)."""
        params: tuple[str, ...] = ()
        if reviewer is None:
            sql = f"SELECT DISTINCT c.doc_id, c.start, c.end FROM codings c WHERE {AUTO_COUNTED} AND c.status = 'auto'"
        else:
            sql = (
                f"SELECT DISTINCT c.doc_id, c.start, c.end FROM codings c WHERE {AUTO_COUNTED} AND NOT EXISTS"
                " (SELECT 1 FROM reviewer_decisions x WHERE x.doc_id = c.doc_id AND x.start = c.start"
                " AND x.end = c.end AND x.code = c.code AND x.reviewer = ?)"
            )
            params = (reviewer,)
        return [Unit(row[0], row[1], row[2]) for row in self.connection.execute(sql, params)]
