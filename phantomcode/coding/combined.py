"""Rules and model together: the model's codings join the rules' where the rules said nothing.

For each unit (sentence or paragraph) of a chunk of documents, the model's probability per code
is computed in one matrix product. A code is added as a ``learned`` coding when its probability
reaches the code's threshold and the rules have no coding of that code in the unit: a rule
coding, even one flagged as negated or hypothetical, is the rules' judgement and stands (so
"the school did not ask for any documents" never becomes ``paperwork`` through the model).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy

from .features import rows_of_sentences
from .learned import SCORE_FLOOR, SCORE_SHARE
from .records import LEARNED, CodedDocument, Coding, Segment, UnitScores, UnitWords

if TYPE_CHECKING:
    from phantomcode.codebook import Codebook

    from .learned import LearnedModel

LEARNED_RULE = "learned"


class LearnedPart(NamedTuple):
    """What the model adds to one document: its codings by unit span, and its probabilities."""

    codings: dict[tuple[int, int], list[Coding]]
    scores: tuple[UnitScores, ...]


def add_learned_codings(
    model: LearnedModel, documents: Sequence[CodedDocument], words: Sequence[UnitWords | None], codebook: Codebook
) -> list[CodedDocument]:
    """The documents with the model's codings added and its probabilities kept (see module doc)."""
    parts = learned_parts(model, [_rule_codes(document) for document in documents], words, codebook)
    return [
        _with_learned(document, part.codings, part.scores, codebook.unit)
        for document, part in zip(documents, parts, strict=True)
    ]


def learned_parts(
    model: LearnedModel,
    ruled: Sequence[Mapping[tuple[int, int], Collection[str]]],
    words: Sequence[UnitWords | None],
    codebook: Codebook,
) -> list[LearnedPart]:
    """The model's part of each document, given the codes the rules gave each unit (``ruled``:
    flagged codings included, as they veto the model) and every unit's words.

    Re-scoring stored documents with a new model calls this with the stored rule codings: the
    rules' half of a coding never depends on the model."""
    spans = [span for unit_words in words for span in (unit_words.spans if unit_words else [])]
    if not spans:
        return [LearnedPart({}, ()) for _ in words]
    owner = [d for d, unit_words in enumerate(words) for _ in (unit_words.spans if unit_words else [])]
    arrays = [array for unit_words in words for array in (unit_words.words if unit_words else [])]
    matrix = model.featurizer.matrix(rows_of_sentences(arrays, owner))
    usable = numpy.array([code in codebook.code_ids() for code in model.codes])
    probabilities = model.probabilities(matrix) * usable
    chosen = probabilities >= model.thresholds
    added: list[tuple[int, int, float]] = []  # (unit, code index, probability)
    for unit, k in zip(*numpy.nonzero(chosen), strict=True):
        unit, k = int(unit), int(k)
        if model.codes[k] not in ruled[owner[unit]].get(spans[unit], ()):
            added.append((unit, k, float(probabilities[unit, k])))
    explanations = model.explain(
        matrix[[u for u, _, _ in added]] if added else matrix[:0],
        [arrays[u] for u, _, _ in added],
        [k for _, k, _ in added],
    )
    learned: dict[int, dict[tuple[int, int], list[Coding]]] = {}
    for (unit, k, probability), explanation in zip(added, explanations, strict=True):
        start, end = spans[unit]
        coding = Coding(
            model.codes[k],
            LEARNED_RULE,
            start,
            end,
            (),
            False,
            False,
            None,
            source=LEARNED,
            probability=round(probability, 4),
            model_hash=model.content_hash,
            explanation=explanation,
        )
        learned.setdefault(owner[unit], {}).setdefault((start, end), []).append(coding)
    scores: dict[int, list[UnitScores]] = {}
    floor = numpy.maximum(SCORE_FLOOR, SCORE_SHARE * numpy.minimum(model.thresholds, 1.0))
    near = probabilities >= floor
    units = numpy.flatnonzero(near.any(axis=1))
    orders = numpy.argsort(-probabilities[units], axis=1, kind="stable").tolist()
    rounded = numpy.round(probabilities[units], 4).tolist()
    for unit, order, row, close in zip(units.tolist(), orders, rounded, near[units].tolist(), strict=True):
        kept = tuple((model.codes[k], row[k]) for k in order if close[k])
        scores.setdefault(owner[unit], []).append(UnitScores(*spans[unit], kept))
    return [LearnedPart(learned.get(d, {}), tuple(scores.get(d, ()))) for d in range(len(words))]


def _rule_codes(document: CodedDocument) -> dict[tuple[int, int], set[str]]:
    """Codes the rules gave each unit, flagged ones included (they veto the model)."""
    return {(segment.start, segment.end): {coding.code for coding in segment.codings} for segment in document}


def _with_learned(
    document: CodedDocument, learned: dict[tuple[int, int], list[Coding]], scores: tuple[UnitScores, ...], unit: str
) -> CodedDocument:
    learned = dict(learned)  # the caller's part stays whole
    segments = []
    for segment in document.segments:
        extra = learned.pop((segment.start, segment.end), None)
        segments.append(dataclasses.replace(segment, codings=segment.codings + tuple(extra)) if extra else segment)
    for (start, end), codings in learned.items():
        segments.append(Segment(start, end, unit, document.sector, document.sector_source, tuple(codings)))
    segments.sort(key=lambda segment: (segment.start, segment.end))
    return dataclasses.replace(document, segments=tuple(segments), scores=scores)
