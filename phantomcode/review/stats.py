"""What the decisions measure, per code: precision with a Wilson 95% interval, and missed codings."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..codebook import Codebook
from ..store import Store
from ..store.records import Proposals


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
    with Store.open(project, readonly=True) as store:
        return summarise_review(*review_inputs(store, codebook))


class ReviewInputs(NamedTuple):
    """What ``review_stats`` reads: the codes in order, ``Store.review_proposals`` and
    ``Store.review_decisions`` (the workspace keeps them and updates them per document)."""

    order: list[str]
    proposals: dict[str, Proposals]
    decisions: list[dict[str, Any]]


def review_inputs(store: Store, codebook: str | Path | Codebook | None) -> ReviewInputs:
    """``ReviewInputs`` of an open project, the codes in ``codebook``'s order (see ``review_stats``)."""
    from ..codebook_choice import choose_codebook

    order = choose_codebook(codebook, store, check_patterns=False).code_ids()
    return ReviewInputs(order, store.review_proposals(), store.review_decisions())


def summarise_review(
    order: Sequence[str], proposals: Mapping[str, Proposals], decisions: Sequence[dict[str, Any]]
) -> ReviewStats:
    """``review_stats`` from what it reads: the codebook's code order, ``Store.review_proposals``
    and ``Store.review_decisions`` (the workspace keeps these and updates them per document)."""
    fresh = [d for d in decisions if d["fresh"]]
    stale = tuple(
        StaleDecision(
            d["doc_id"],
            d["start"],
            d["end"],
            d["code"],
            d["decision"],
            d["reviewer"],
            d["decided_at"],
            d["text"],
            d["document_exists"],
        )
        for d in decisions
        if not d["fresh"]
    )
    counts: dict[str, Counter] = {}
    for d in fresh:
        counts.setdefault(d["code"], Counter())[_kind(d)] += 1
    found = set(proposals) | set(counts)
    codes = [code for code in order if code in found] + sorted(found - set(order))
    per_code = tuple(_code_review(code, *proposals.get(code, (0, 0)), counts.get(code, Counter())) for code in codes)
    totals: Counter[str] = Counter()
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
    return CodeReview(
        code=code,
        proposals=proposals,
        pending=pending,
        reviewed=accepted + rejected,
        accepted=accepted,
        rejected=rejected,
        added=tally["add"],
        lost=tally["lost"],
        precision=accepted / (accepted + rejected) if accepted + rejected else None,
        precision_low=low,
        precision_high=high,
    )


class Interval(NamedTuple):
    """A confidence interval's bounds; both None where there is nothing to estimate from."""

    low: float | None
    high: float | None


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> Interval:
    """Wilson score interval for a proportion (95% by default); (None, None) without trials."""
    if trials == 0:
        return Interval(None, None)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(max(0.0, centre - spread), min(1.0, centre + spread))


def stats_records(stats: ReviewStats) -> Iterator[dict[str, Any]]:
    """Rows for CSV/JSON output, floats rounded to 4 places."""
    for row in stats.rows():
        yield {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}


def stats_json(stats: ReviewStats) -> str:
    return json.dumps(
        {"codes": list(stats_records(stats)), "decisions": stats.decisions, "stale": [s.__dict__ for s in stats.stale]},
        ensure_ascii=False,
        indent=2,
    )
