"""The whole-project figures the pages show, and how a decision updates them (``cache.Figure``).

A decision, a hand coding, an undo or a memo touches one document. Every figure here is a sum
over documents: a report cell counts documents (each in one group) and their coded segments, the
codebook page counts segments and documents per code, and review stats count each document's
proposals and decisions. So the figures are computed once by the library (``build_report``,
``review_stats``, ``Store.code_counts``), exactly as ``phantomcode report`` and ``review stats``
compute them, and then, after each of the workspace's writes, the touched document's share is
read before and after the write, from the same queries limited to that document, and the
difference applied. Tests compare every figure with a fresh computation after each kind of write.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..codebook import Codebook
from ..report import Report, build_report
from ..review import ReviewStats, summarise_review
from ..review.stats import review_inputs
from ..store import Store
from ..store.records import CodeCount, Proposals


class ReportFigure:
    """``build_report`` by one attribute: its cells' documents, segments and share."""

    def part(self, store: Store, value: Report, doc_ids: Collection[str]) -> Counter[tuple[Any, ...]]:
        rows = store.report_code_counts(
            value.by,
            where=value.where,
            codes=value.codes,
            accepted_only=value.status == "accepted",
            doc_ids=doc_ids,
        )
        width = len(value.by)
        counts: Counter[tuple[Any, ...]] = Counter()
        for row in rows:
            cell = (tuple(row[:width]), row[width])
            counts[(*cell, "documents")] += row[width + 1]
            counts[(*cell, "segments")] += row[width + 2]
        return counts

    def updated(self, value: Report, before: Counter[tuple[Any, ...]], after: Counter[tuple[Any, ...]]) -> Report:
        change = Counter(after)
        change.subtract(before)
        records = []
        for record in value.records:
            cell = (tuple(record[name] for name in value.by), record["code"])
            documents, segments = change[(*cell, "documents")], change[(*cell, "segments")]
            if documents or segments:
                record = {
                    **record,
                    "documents": record["documents"] + documents,
                    "segments": record["segments"] + segments,
                }
                record["share"] = record["documents"] / record["group_documents"]
            records.append(record)
        return dataclasses.replace(value, records=records)


def report(project: Any, codebook: Codebook, by: str, status: str | None) -> Report:
    """The report by ``by`` computed afresh, as ``phantomcode report --by`` computes it."""
    return build_report(project, codebook, by=by, status=status)


class CodeCountFigure:
    """``Store.code_counts``: segments and documents per code (the codebook page)."""

    def part(self, store: Store, value: dict[str, CodeCount], doc_ids: Collection[str]) -> dict[str, CodeCount]:
        return store.code_counts(doc_ids=doc_ids)

    def updated(
        self, value: dict[str, CodeCount], before: dict[str, CodeCount], after: dict[str, CodeCount]
    ) -> dict[str, CodeCount]:
        counts = {}
        for code in sorted({*value, *after}):  # the query's order: GROUP BY code
            old, gone, new = (source.get(code, CodeCount(0, 0)) for source in (value, before, after))
            count = CodeCount(
                old.segments - gone.segments + new.segments, old.documents - gone.documents + new.documents
            )
            if count.segments or count.documents:
                counts[code] = count
        return counts


class ReviewPart(NamedTuple):
    proposals: dict[str, Proposals]
    decisions: list[dict[str, Any]]


@dataclass(frozen=True)
class KeptReview:
    """``review_stats`` with what it was computed from, so that a document's share can be replaced."""

    order: tuple[str, ...]
    proposals: dict[str, Proposals]
    decisions: dict[str, list[dict[str, Any]]]  # by document, in the store's order
    stats: ReviewStats

    @classmethod
    def of(
        cls, order: Sequence[str], proposals: Mapping[str, Proposals], decisions: Sequence[dict[str, Any]]
    ) -> KeptReview:
        return cls(
            tuple(order), dict(proposals), _by_document(decisions), summarise_review(order, proposals, decisions)
        )


def _by_document(decisions: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for decision in decisions:
        grouped.setdefault(decision["doc_id"], []).append(decision)
    return grouped


def review(project: Any, codebook: Codebook) -> KeptReview:
    """What ``review_stats(project=..., codebook=...)`` reads, and its result."""
    with Store.open(project, readonly=True) as store:
        return KeptReview.of(*review_inputs(store, codebook))


class ReviewFigure:
    """``review_stats``: proposals, pending, decisions, precision per code (overview and codebook)."""

    def part(self, store: Store, value: KeptReview, doc_ids: Collection[str]) -> ReviewPart:
        return ReviewPart(store.review_proposals(doc_ids=doc_ids), store.review_decisions(doc_ids=doc_ids))

    def updated(self, value: KeptReview, before: ReviewPart, after: ReviewPart) -> KeptReview:
        proposals = {}
        for code in sorted({*value.proposals, *after.proposals}):  # the query's order: GROUP BY code
            old, gone, new = (
                source.get(code, Proposals(0, 0)) for source in (value.proposals, before.proposals, after.proposals)
            )
            count = Proposals(old.proposals - gone.proposals + new.proposals, old.pending - gone.pending + new.pending)
            if count.proposals:
                proposals[code] = count
        by_document = dict(value.decisions)
        for doc_id in {d["doc_id"] for d in before.decisions}:
            by_document.pop(doc_id, None)
        by_document.update(_by_document(after.decisions))
        decisions = [d for doc_id in sorted(by_document) for d in by_document[doc_id]]  # ORDER BY doc_id
        return KeptReview.of(value.order, proposals, decisions)
