"""The records the coding engine hands out and passes between its stages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .learned import Explanation

RULES = "rules"
LEARNED = "learned"


@dataclass(frozen=True)
class MatchedSpan:
    """Words that made a rule fire; offsets into the document text. ``term``: the codebook entry."""

    start: int
    end: int
    text: str
    term: str | None = None


@dataclass(frozen=True)
class Coding:
    code: str
    rule: str  # e.g. "paperwork/terms", "paperwork/near[0]", "class_size/regex[1]"
    start: int
    end: int
    matched: tuple[MatchedSpan, ...]
    negated: bool
    hypothetical: bool
    cue: str | None
    # Where the coding comes from: "rules", or "learned" (the model, with its probability, content
    # hash and an explanation); keyword-only, so rule codings are built as before.
    source: str = field(default=RULES, kw_only=True)
    probability: float | None = field(default=None, kw_only=True)
    model_hash: str | None = field(default=None, kw_only=True)
    explanation: Explanation | None = field(default=None, kw_only=True, compare=False)


@dataclass(frozen=True)
class Candidate(Coding):
    """One rule hit before selection, as shown by :meth:`CodingEngine.explain`: a coding, plus the
    veto that cancelled it, if any."""

    vetoed_by: str | None  # veto rule id and words, e.g. "class_size/veto/terms: small class"


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    unit: str
    sector: str | None
    sector_source: str | None  # "declared" | "inferred" | None
    codings: tuple[Coding, ...]


@dataclass(frozen=True)
class CodedDocument:
    """A document's coded segments, plus its document-level sector.

    Iterating gives the segments, so ``for segment in engine.code_document(text)`` reads naturally.
    The document sector is what reports count a respondent under: the declared ``sector``
    attribute, else the sector whose cues are most frequent in the whole text ("inferred").
    """

    segments: tuple[Segment, ...]
    sector: str | None
    sector_source: str | None
    # The model's probabilities for units where one reaches ``SCORE_FLOOR`` (review suggestions
    # pick among them); empty without a learned layer.
    scores: tuple[UnitScores, ...] = ()

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, index: int) -> Segment:
        return self.segments[index]


class UnitScores(NamedTuple):
    """The model's probability per code (those above the floor) for one unit of a document."""

    start: int
    end: int
    probabilities: tuple[tuple[str, float], ...]


class UnitWords(NamedTuple):
    """Every unit of a document with its word tokens (LOWER ids), for the learned layer."""

    spans: list[tuple[int, int]]
    words: list  # a numpy uint64 array per unit


class Hit(NamedTuple):
    key: str
    start: int  # token offsets in the paragraph doc
    end: int
    term: str | None
    start_char: int  # character offsets in the paragraph doc
    end_char: int
