"""Active learning: the sentences whose review would teach the learned layer most.

Coding stores, for every unit where the model gives some code a probability of at least
``SCORE_FLOOR``, those probabilities. A unit is informative when a probability lies near its
code's threshold: the model cannot tell. :func:`suggest_for_review` ranks unreviewed units by the
smallest distance (on the log-odds scale) between a probability and its threshold, with a little
seeded noise so that another seed draws another, equally uncertain, sample; then picks them in
rounds that take at most one unit per document and rotate over the codes they are uncertain
about, so a round spreads over documents and codes. Units no rule fired on take part like any
other: they are where the rules' misses are.

Each suggestion lists its candidate codes: the codes the model gives at least ``SHOWN``, always
its most likely code, and every code the rules gave the unit, each with the model's probability
and the rule's decision (``coded``, ``negated``, ``hypothetical`` or ``none``).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .store import Store
from .store.records import Unit

if TYPE_CHECKING:
    import numpy

__all__ = ["SuggestedCode", "Suggestion", "suggest_for_review"]

SHOWN = 0.2
_NOISE = 0.5  # log-odds: ties and near-ties are broken at random, by the seed


@dataclass(frozen=True)
class SuggestedCode:
    """One code proposed for a suggested unit."""

    code: str
    probability: float | None  # None: below the stored floor (see phantomcode.coding.learned.SCORE_FLOOR)
    rule_decision: str  # "coded", "negated", "hypothetical", "none"


@dataclass(frozen=True)
class Suggestion:
    doc_id: str
    start: int
    end: int
    text: str
    candidates: tuple[SuggestedCode, ...]


def suggest_for_review(
    project: str | Path | None = None,
    *,
    n: int,
    seed: int = 0,
) -> list[Suggestion]:
    """The ``n`` unreviewed units whose judgement would teach the model most (see module doc),
    in document order."""
    with Store.open(project, must_exist=True, readonly=True) as store:
        record = store.latest_model()
        thresholds = {fit["code"]: fit["threshold"] for fit in (record.metrics if record else [])}
        reviewed = {(r["doc_id"], r["start"], r["end"]) for r in store.reviewed_units()}
        ranked = _ranked(store.unit_scores(), thresholds, reviewed, seed)
        chosen = _spread(ranked, n)
        texts = store.document_texts({doc_id for doc_id, _, _, _ in chosen})
        codings = store.unit_codings(texts)
    suggestions = []
    for doc_id, start, end, probabilities in sorted(chosen, key=lambda unit: unit[:3]):
        rules = {
            code: _decision(negated, hypothetical)
            for code, source, negated, hypothetical, _ in codings.get(Unit(doc_id, start, end), [])
            if source == "rules"
        }
        suggestions.append(Suggestion(doc_id, start, end, texts[doc_id][start:end], _candidates(probabilities, rules)))
    return suggestions


def _ranked(
    scores: Iterable[tuple[str, int, int, dict[str, float]]],
    thresholds: dict[str, float],
    reviewed: set[tuple[str, int, int]],
    seed: int,
) -> list[tuple[float, str, tuple]]:
    """(uncertainty rank, most uncertain code, unit) for every unreviewed scored unit, best first.

    Computed over arrays, since a project has tens of thousands of scored units: one noise draw
    per unit in stored order (as a loop would draw them, so a seed gives the same sample), each
    unit's smallest margin (ties to the first code by name), then one sort by (rank, doc_id,
    start, end)."""
    units = [unit for unit in scores if unit[:3] not in reviewed and unit[3]]
    if not units:
        return []
    import numpy  # here, not at the top: the CLI imports this module and starts without numpy

    rng = random.Random(seed)
    noise = numpy.array([rng.uniform(0, _NOISE) for _ in units])
    margins, codes = _closest_thresholds([unit[3] for unit in units], thresholds)
    ranks = margins + noise
    doc_order = numpy.unique(numpy.array([unit[0] for unit in units]), return_inverse=True)[1]
    starts = numpy.fromiter((unit[1] for unit in units), dtype=numpy.int64, count=len(units))
    ends = numpy.fromiter((unit[2] for unit in units), dtype=numpy.int64, count=len(units))
    order = numpy.lexsort((ends, starts, doc_order, ranks))
    return [(float(ranks[i]), codes[i], units[i]) for i in order.tolist()]


def _closest_thresholds(
    probabilities: list[dict[str, float]], thresholds: dict[str, float]
) -> tuple[numpy.ndarray, list[str]]:
    """Per unit, the smallest log-odds distance between a probability and its code's threshold,
    and that code. Logits come from ``_logit`` once per distinct probability (they are stored
    rounded), so every figure is the one the scalar formula gives."""
    import numpy

    names = sorted({code for unit in probabilities for code in unit})
    index = {code: i for i, code in enumerate(names)}
    sizes = numpy.fromiter((len(unit) for unit in probabilities), dtype=numpy.int64, count=len(probabilities))
    total = int(sizes.sum())
    unit_of = numpy.repeat(numpy.arange(len(probabilities)), sizes)
    code_of = numpy.fromiter((index[code] for unit in probabilities for code in unit), dtype=numpy.int64, count=total)
    values = numpy.fromiter((p for unit in probabilities for p in unit.values()), dtype=numpy.float64, count=total)
    distinct, which = numpy.unique(values, return_inverse=True)
    logits = numpy.array([_logit(p) for p in distinct.tolist()])[which]
    limits = numpy.array([_logit(min(thresholds.get(code, 0.5), 0.99)) for code in names])
    margins = numpy.abs(logits - limits[code_of])
    order = numpy.lexsort((code_of, margins, unit_of))
    first = order[numpy.r_[True, unit_of[order][1:] != unit_of[order][:-1]]]
    return margins[first], [names[i] for i in code_of[first].tolist()]


def _spread(ranked: list[tuple[float, str, tuple]], n: int) -> list[tuple]:
    """Up to ``n`` units: in rounds, at most one per document per round, codes taking turns."""
    chosen: list[tuple] = []
    remaining = ranked
    while remaining and len(chosen) < n:
        by_code: dict[str, list[tuple]] = defaultdict(list)
        for _, code, unit in remaining:
            by_code[code].append(unit)
        used_docs: set[str] = set()
        taken: set[tuple] = set()
        queues = {code: iter(units) for code, units in sorted(by_code.items())}
        while queues and len(chosen) < n:
            for code in list(queues):
                found: tuple | None = next((u for u in queues[code] if u[0] not in used_docs), None)
                if found is None:
                    del queues[code]
                    continue
                chosen.append(found)
                taken.add(found[:3])
                used_docs.add(found[0])
                if len(chosen) >= n:
                    break
        remaining = [item for item in remaining if item[2][:3] not in taken]
        if not taken:
            break
    return chosen


def _candidates(probabilities: dict[str, float], rules: dict[str, str]) -> tuple[SuggestedCode, ...]:
    ordered = sorted(probabilities.items(), key=lambda item: (-item[1], item[0]))
    shown = [code for i, (code, p) in enumerate(ordered) if i == 0 or p >= SHOWN]
    shown += [code for code in sorted(rules) if code not in shown]
    return tuple(SuggestedCode(code, probabilities.get(code), rules.get(code, "none")) for code in shown)


def _decision(negated: bool, hypothetical: bool) -> str:
    return "negated" if negated else "hypothetical" if hypothetical else "coded"


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
