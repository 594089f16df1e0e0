"""The review queue's ranking, kept between decisions: ``suggest_for_review`` without its fixed costs.

``suggest_for_review`` ranks every unreviewed scored sentence by how close a probability lies to
its code's threshold, plus seeded noise, and spreads the best over documents and codes. Of that,
only which sentences are reviewed changes with a decision: each sentence's closest threshold
depends on the scores (``code`` writes them) and the latest model (``train``), and the noise is the
seed's sequence of draws dealt out in stored order to the sentences not yet reviewed. So
``Ranking`` keeps the first (per sentence, as arrays, without the probabilities: about 300 bytes a
sentence) and the draws (per seed), and a queue after a decision costs one sort and the spread:
the same suggestions as ``review export --suggest`` (tests compare them), several times faster.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store import Store
from ..store.records import Unit, UnitScore
from ..suggest import _NOISE, Suggestion, _candidates, _closest_thresholds, _decision, _spread

if TYPE_CHECKING:
    import numpy

MAX_KEPT_UNITS = 500_000  # scored sentences the queue keeps ranked in memory (about 150 MB)
CHUNK = 50_000  # sentences whose probabilities are in memory at once while the ranking is built


@dataclass
class Ranking:
    """Per scored sentence (with some probability, in stored order): its smallest log-odds
    distance to a threshold and that code; with what sorting and spreading them needs."""

    units: numpy.ndarray  # (doc_id, start, end) tuples
    margins: numpy.ndarray
    codes: numpy.ndarray  # str objects
    code_index: numpy.ndarray  # the code's rank among the codes
    doc_order: numpy.ndarray  # each unit's document's rank among the documents
    starts: numpy.ndarray
    ends: numpy.ndarray
    position: dict[tuple[str, int, int], int]
    _draws: dict[int, numpy.ndarray] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def read(cls, project: str | Path) -> Ranking | None:
        """The project's ranking, or None beyond ``MAX_KEPT_UNITS`` scored sentences (then the
        queue is ``suggest_for_review`` itself)."""
        with Store.open(project, must_exist=True, readonly=True) as store:
            record = store.latest_model()
            thresholds = {fit["code"]: fit["threshold"] for fit in (record.metrics if record else [])}
            if store.count_scores() > MAX_KEPT_UNITS:
                return None
            return cls.of(store.unit_scores(), thresholds)

    @classmethod
    def of(cls, scores: Iterable[UnitScore], thresholds: dict[str, float]) -> Ranking:
        """The ranking of scored sentences (in ``Store.unit_scores`` order) by the model's
        ``thresholds``. Each sentence's margin is its own, so they are computed a chunk at a time."""
        import numpy

        units: list[tuple[str, int, int]] = []
        margins: list[numpy.ndarray] = []
        codes: list[str] = []
        chunk: list[UnitScore] = []
        for unit in scores:
            if unit[3]:
                units.append((sys.intern(unit[0]), unit[1], unit[2]))  # one string per document
                chunk.append(unit)
            if len(chunk) == CHUNK:
                cls._add_margins(chunk, thresholds, margins, codes)
                chunk = []
        cls._add_margins(chunk, thresholds, margins, codes)
        kept = numpy.empty(len(units), dtype=object)
        for index, key in enumerate(units):
            kept[index] = key  # one by one: numpy would read a list of tuples as a 2-d array
        return cls(
            units=kept,
            margins=numpy.concatenate(margins) if margins else numpy.zeros(0),
            codes=numpy.array(codes, dtype=object),
            code_index=numpy.unique(numpy.array(codes), return_inverse=True)[1]
            if codes
            else numpy.zeros(0, dtype=numpy.int64),
            doc_order=numpy.unique(numpy.array([unit[0] for unit in units]), return_inverse=True)[1]
            if units
            else numpy.zeros(0, dtype=numpy.int64),
            starts=numpy.fromiter((unit[1] for unit in units), dtype=numpy.int64, count=len(units)),
            ends=numpy.fromiter((unit[2] for unit in units), dtype=numpy.int64, count=len(units)),
            position={unit: index for index, unit in enumerate(units)},
        )

    @staticmethod
    def _add_margins(
        chunk: list[UnitScore], thresholds: dict[str, float], margins: list[numpy.ndarray], codes: list[str]
    ) -> None:
        if chunk:
            found, closest = _closest_thresholds([unit[3] for unit in chunk], thresholds)
            margins.append(found)
            codes.extend(closest)

    def draws(self, seed: int) -> numpy.ndarray:
        """The seed's noise, one draw per sentence: the k-th unreviewed sentence gets the k-th."""
        import numpy

        with self._lock:
            if seed not in self._draws:  # the latest seed only: any integer may come in a request
                rng = random.Random(seed)
                self._draws = {seed: numpy.array([rng.uniform(0, _NOISE) for _ in range(len(self.units))])}
            return self._draws[seed]

    def ranked(
        self, reviewed: set[tuple[str, int, int]], seed: int, *, spread: int | None = None
    ) -> list[tuple[float, str, Any]]:
        """``suggest._ranked``: (rank, most uncertain code, (doc_id, start, end)) of every
        unreviewed sentence, best first. ``spread``: only those ``suggest._spread`` can reach when
        it picks that many (see ``_reachable``): it then picks the same ones, far faster."""
        import numpy

        unreviewed = numpy.ones(len(self.units), dtype=bool)
        for unit in reviewed:
            index = self.position.get(unit)
            if index is not None:
                unreviewed[index] = False
        keep = numpy.flatnonzero(unreviewed)
        ranks = self.margins[keep] + self.draws(seed)[: len(keep)]
        order = numpy.lexsort((self.ends[keep], self.starts[keep], self.doc_order[keep], ranks))
        if spread is not None:
            order = order[_reachable(self.code_index[keep[order]], self.doc_order[keep[order]], spread)]
        chosen = keep[order]
        return list(zip(ranks[order].tolist(), self.codes[chosen].tolist(), self.units[chosen].tolist(), strict=True))

    def suggest(self, project: str | Path, *, n: int, seed: int = 0) -> list[Suggestion]:
        """What ``suggest_for_review(project, n=n, seed=seed)`` answers, from the kept ranking."""
        with Store.open(project, must_exist=True, readonly=True) as store:
            reviewed = {(r["doc_id"], r["start"], r["end"]) for r in store.reviewed_units()}
            chosen = sorted(_spread(self.ranked(reviewed, seed, spread=n), n))
            probabilities = store.unit_probabilities(chosen)
            texts = store.document_texts({doc_id for doc_id, _, _ in chosen})
            codings = store.unit_codings(texts)
        suggestions = []
        for doc_id, start, end in chosen:
            unit = Unit(doc_id, start, end)
            rules = {
                code: _decision(negated, hypothetical)
                for code, source, negated, hypothetical, _ in codings.get(unit, [])
                if source == "rules"
            }
            suggestions.append(
                Suggestion(doc_id, start, end, texts[doc_id][start:end], _candidates(probabilities[unit], rules))
            )
        return suggestions


def _reachable(codes: numpy.ndarray, docs: numpy.ndarray, n: int) -> numpy.ndarray:
    """Which of the ranked sentences (their codes and documents, best first) ``_spread`` can pick
    when it picks ``n``: of each code, the best up to the one that brings its documents to 2n + 1.

    ``_spread`` walks each code's sentences best first and passes over a sentence only when its
    document already gave one this round, so every sentence it has walked past or picked is in a
    used document, and a round uses at most n. It picks n in all, so a code's kept sentences
    still span at least n + 1 documents after any picks: more than a round can use, so its walk
    never reaches their end. Walking the kept sentences, it thus picks what it picks from all."""
    import numpy

    limit = 2 * n + 1
    reachable = numpy.zeros(len(codes), dtype=bool)
    for code in numpy.unique(codes).tolist():
        where = numpy.flatnonzero(codes == code)
        first_of_each = numpy.sort(numpy.unique(docs[where], return_index=True)[1])
        reachable[where if len(first_of_each) <= limit else where[: first_of_each[limit - 1] + 1]] = True
    return reachable
