"""Agreement between gold codes and predicted codes, unit by unit (usually sentences).

Each code is scored as a two-class problem (present / absent in each unit): counts tp, fp, fn, tn,
then precision, recall, F1 and Cohen's kappa. Conventions for empty denominators, chosen so that a
score is never NaN and never flatters a system that predicts nothing:

- precision with no predictions (tp + fp = 0): 1.0 if the gold has no positives either (fn = 0),
  else 0.0;
- recall with no gold positives (tp + fn = 0): 1.0 if nothing was predicted (fp = 0), else 0.0;
- F1 = 0.0 when precision + recall = 0;
- kappa when chance agreement is 1 (both sides constant and equal): 1.0.

A code absent from both gold and predictions therefore scores 1.0 everywhere; leave it out of
``codes`` if it should not lift the macro average. Micro averages pool the 2x2 counts of all codes;
macro averages are the unweighted means of the per-code figures.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any

__all__ = ["CodeMetrics", "MetricsReport", "sentence_metrics", "score_counts"]


@dataclass(frozen=True)
class CodeMetrics:
    code: str
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float
    kappa: float

    @property
    def support(self) -> int:
        """Gold positives."""
        return self.tp + self.fn


@dataclass(frozen=True)
class MetricsReport:
    units: int
    per_code: tuple[CodeMetrics, ...]
    micro: CodeMetrics  # code "micro": pooled counts
    macro: CodeMetrics  # code "macro": mean of per-code figures, summed counts

    def code(self, code: str) -> CodeMetrics:
        for metrics in self.per_code:
            if metrics.code == code:
                return metrics
        raise KeyError(code)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per code, then micro and macro: ready for a table or ``pandas.DataFrame``."""
        return [
            {
                "code": m.code,
                "tp": m.tp,
                "fp": m.fp,
                "fn": m.fn,
                "tn": m.tn,
                "support": m.support,
                "precision": m.precision,
                "recall": m.recall,
                "f1": m.f1,
                "kappa": m.kappa,
            }
            for m in (*self.per_code, self.micro, self.macro)
        ]


def score_counts(code: str, tp: int, fp: int, fn: int, tn: int) -> CodeMetrics:
    """Precision, recall, F1 and Cohen's kappa from one 2x2 table (conventions in the module doc)."""
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else (1.0 if fp == 0 else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    n = tp + fp + fn + tn
    observed = (tp + tn) / n if n else 1.0
    chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n) if n else 1.0
    kappa = (observed - chance) / (1 - chance) if chance < 1 else 1.0
    return CodeMetrics(code, tp, fp, fn, tn, precision, recall, f1, kappa)


def sentence_metrics(gold: Sequence[Set[str]], predicted: Sequence[Set[str]], codes: Sequence[str]) -> MetricsReport:
    """Per-code, micro and macro agreement; ``gold[i]`` and ``predicted[i]`` are unit i's codes.

    Codes outside ``codes`` are ignored. Raises ``ValueError`` when the sequences differ in length.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"gold has {len(gold)} units but predicted has {len(predicted)}")
    per_code = []
    for code in codes:
        tp = fp = fn = tn = 0
        for wanted, got in zip(gold, predicted, strict=True):
            if code in wanted:
                tp, fn = (tp + 1, fn) if code in got else (tp, fn + 1)
            else:
                fp, tn = (fp + 1, tn) if code in got else (fp, tn + 1)
        per_code.append(score_counts(code, tp, fp, fn, tn))
    totals = [sum(getattr(m, field) for m in per_code) for field in ("tp", "fp", "fn", "tn")]
    micro = score_counts("micro", *totals)
    count = len(per_code) or 1
    macro = CodeMetrics(
        "macro",
        *totals,
        *(sum(getattr(m, field) for m in per_code) / count for field in ("precision", "recall", "f1", "kappa")),
    )
    return MetricsReport(units=len(gold), per_code=tuple(per_code), micro=micro, macro=macro)
