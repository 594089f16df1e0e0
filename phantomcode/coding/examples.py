"""Codebook examples run through the engine: positives must get their code, negatives must not."""

from __future__ import annotations

from dataclasses import dataclass

from phantomcode.codebook import Codebook

from .engine import CodingEngine
from .records import Candidate


@dataclass(frozen=True)
class ExampleResult:
    """One codebook example run through the engine: ``detail`` says which rule fired or why none did."""

    code: str
    kind: str  # "positive" | "negative"
    text: str
    passed: bool
    detail: str


def check_examples(codebook: Codebook, engine: CodingEngine | None = None) -> list[ExampleResult]:
    """Run every example: positives must get their code un-negated, negatives must not get it."""
    engine = engine or CodingEngine(codebook)
    results = []
    for code in codebook.codes:
        for kind, texts in (("positive", code.examples.positive), ("negative", code.examples.negative)):
            for text in texts:
                candidates = [c for c in engine.explain(text) if c.code == code.id]
                clean = [c for c in candidates if not (c.vetoed_by or c.negated or c.hypothetical)]
                passed = bool(clean) == (kind == "positive")
                shown = clean if kind == "negative" else candidates
                detail = "; ".join(_describe(c) for c in shown) or "no rule fired"
                results.append(ExampleResult(code.id, kind, text, passed, detail))
    return results


def _describe(candidate: Candidate) -> str:
    words = " ... ".join(span.text for span in candidate.matched)
    text = f"{candidate.rule} fired on {words!r}"
    if candidate.vetoed_by:
        return f"{text} but was vetoed by {candidate.vetoed_by}"
    flags = [name for name, on in (("negated", candidate.negated), ("hypothetical", candidate.hypothetical)) if on]
    return f"{text} but was {' and '.join(flags)} (cue {candidate.cue!r})" if flags else text
