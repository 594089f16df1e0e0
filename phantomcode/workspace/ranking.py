"""The review queue's ranking, kept between decisions: ``suggest_for_review`` without its fixed costs.

``suggest_for_review`` ranks every unreviewed scored sentence by how close a probability lies to
its code's threshold, plus seeded noise, and spreads the best over documents and codes. Of that,
only which sentences are reviewed changes with a decision: each sentence's closest threshold
depends on the scores (``code`` writes them) and the latest model (``train``), and the noise is the
seed's sequence of draws dealt out in stored order to the sentences not yet reviewed. So
``Ranking`` keeps the first (per sentence, as arrays) and the draws (per seed), and a queue after
a decision costs one pass over the reviewed sentences, one sort and the spread: the same
suggestions as ``review export --suggest`` (a test compares them after decisions), in about a
third of the time.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store import Store
from ..store.records import Unit, UnitScore
from ..suggest import _NOISE, Suggestion, _candidates, _closest_thresholds, _decision, _spread

if TYPE_CHECKING:
    import numpy

MAX_KEPT_UNITS = 50_000  # scored sentences kept in memory for the queue (about 1 KB each)


@dataclass
class Ranking:
    """Per scored sentence (with some probability, in stored order): its smallest log-odds
    distance to a threshold and that code; with what sorting and spreading them needs."""

    units: numpy.ndarray  # UnitScore objects
    margins: numpy.ndarray
    codes: numpy.ndarray  # str objects
    doc_order: numpy.ndarray  # each unit's document's rank among the documents
    starts: numpy.ndarray
    ends: numpy.ndarray
    position: dict[tuple[str, int, int], int]
    _draws: dict[int, numpy.ndarray] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def read(cls, project: str | Path) -> Ranking | None:
        """The project's ranking, or None beyond ``MAX_KEPT_UNITS`` scored sentences (then the
        queue is ``suggest_for_review`` itself, which reads them each time)."""
        with Store.open(project, must_exist=True, readonly=True) as store:
            record = store.latest_model()
            thresholds = {fit["code"]: fit["threshold"] for fit in (record.metrics if record else [])}
            scored: list[UnitScore] = []
            for unit in store.unit_scores():
                if unit.probabilities:
                    scored.append(unit)
                if len(scored) > MAX_KEPT_UNITS:
                    return None
        return cls.of(scored, thresholds)

    @classmethod
    def of(cls, scored: Sequence[UnitScore], thresholds: dict[str, float]) -> Ranking:
        """The ranking of sentences with probabilities (``Store.unit_scores`` order) by the
        model's ``thresholds``."""
        import numpy

        units = numpy.empty(len(scored), dtype=object)
        units[:] = [None] * len(scored)
        for index, unit in enumerate(scored):
            units[index] = unit
        if scored:
            margins, codes = _closest_thresholds([unit.probabilities for unit in scored], thresholds)
            doc_order = numpy.unique(numpy.array([unit.doc_id for unit in scored]), return_inverse=True)[1]
        else:
            margins, codes, doc_order = numpy.zeros(0), [], numpy.zeros(0, dtype=numpy.int64)
        return cls(
            units=units,
            margins=margins,
            codes=numpy.array(codes, dtype=object),
            doc_order=doc_order,
            starts=numpy.fromiter((unit.start for unit in scored), dtype=numpy.int64, count=len(scored)),
            ends=numpy.fromiter((unit.end for unit in scored), dtype=numpy.int64, count=len(scored)),
            position={(unit.doc_id, unit.start, unit.end): index for index, unit in enumerate(scored)},
        )

    def draws(self, seed: int) -> numpy.ndarray:
        """The seed's noise, one draw per sentence: the k-th unreviewed sentence gets the k-th."""
        import numpy

        with self._lock:
            if seed not in self._draws:
                rng = random.Random(seed)
                self._draws[seed] = numpy.array([rng.uniform(0, _NOISE) for _ in range(len(self.units))])
            return self._draws[seed]

    def ranked(self, reviewed: set[tuple[str, int, int]], seed: int) -> list[tuple[float, str, Any]]:
        """``suggest._ranked``: (rank, most uncertain code, unit) of every unreviewed sentence, best first."""
        import numpy

        unreviewed = numpy.ones(len(self.units), dtype=bool)
        for unit in reviewed:
            index = self.position.get(unit)
            if index is not None:
                unreviewed[index] = False
        keep = numpy.flatnonzero(unreviewed)
        ranks = self.margins[keep] + self.draws(seed)[: len(keep)]
        order = numpy.lexsort((self.ends[keep], self.starts[keep], self.doc_order[keep], ranks))
        chosen = keep[order]
        return list(zip(ranks[order].tolist(), self.codes[chosen].tolist(), self.units[chosen].tolist(), strict=True))

    def suggest(self, project: str | Path, *, n: int, seed: int = 0) -> list[Suggestion]:
        """What ``suggest_for_review(project, n=n, seed=seed)`` answers, from the kept ranking."""
        with Store.open(project, must_exist=True, readonly=True) as store:
            reviewed = {(r["doc_id"], r["start"], r["end"]) for r in store.reviewed_units()}
            chosen = _spread(self.ranked(reviewed, seed), n)
            texts = store.document_texts({doc_id for doc_id, _, _, _ in chosen})
            codings = store.unit_codings(texts)
        suggestions = []
        for doc_id, start, end, probabilities in sorted(chosen, key=lambda unit: unit[:3]):
            rules = {
                code: _decision(negated, hypothetical)
                for code, source, negated, hypothetical, _ in codings.get(Unit(doc_id, start, end), [])
                if source == "rules"
            }
            suggestions.append(
                Suggestion(doc_id, start, end, texts[doc_id][start:end], _candidates(probabilities, rules))
            )
        return suggestions
