"""Sentence-level agreement: every figure below was computed by hand."""

from __future__ import annotations

import pytest

from phantomcode.metrics import score_counts, sentence_metrics

GOLD = [{"a"}, {"a", "b"}, set(), {"b"}, {"a"}]
PREDICTED = [{"a"}, {"a"}, {"b"}, {"b"}, set()]


def test_per_code_counts_and_scores() -> None:
    report = sentence_metrics(GOLD, PREDICTED, ["a", "b", "c"])
    a, b, c = report.per_code
    assert (a.tp, a.fp, a.fn, a.tn, a.support) == (2, 0, 1, 2, 3)
    assert (a.precision, a.recall, a.f1) == pytest.approx((1.0, 2 / 3, 0.8))
    # po = 4/5, pe = (2*3 + 3*2) / 25 = 0.48, kappa = 0.32 / 0.52
    assert a.kappa == pytest.approx(0.32 / 0.52)
    assert (b.tp, b.fp, b.fn, b.tn) == (1, 1, 1, 2)
    assert (b.precision, b.recall, b.f1) == pytest.approx((0.5, 0.5, 0.5))
    # po = 3/5, pe = (2*2 + 3*3) / 25 = 0.52, kappa = 0.08 / 0.48
    assert b.kappa == pytest.approx(0.08 / 0.48)
    # a code nobody used: perfect agreement on absence
    assert (c.tp, c.fp, c.fn, c.tn) == (0, 0, 0, 5)
    assert (c.precision, c.recall, c.f1, c.kappa) == (1.0, 1.0, 1.0, 1.0)
    assert report.units == 5 and report.code("b") is b


def test_micro_pools_counts_and_macro_averages_scores() -> None:
    report = sentence_metrics(GOLD, PREDICTED, ["a", "b", "c"])
    micro, macro = report.micro, report.macro
    assert (micro.tp, micro.fp, micro.fn, micro.tn) == (3, 1, 2, 9)
    assert (micro.precision, micro.recall, micro.f1) == pytest.approx((0.75, 0.6, 0.9 / 1.35))
    # po = 12/15, pe = (4*5 + 11*10) / 225
    assert micro.kappa == pytest.approx((0.8 - 130 / 225) / (1 - 130 / 225))
    assert macro.precision == pytest.approx((1 + 0.5 + 1) / 3)
    assert macro.recall == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert macro.f1 == pytest.approx((0.8 + 0.5 + 1) / 3)
    assert macro.kappa == pytest.approx((0.32 / 0.52 + 0.08 / 0.48 + 1) / 3)
    assert [row["code"] for row in report.rows()] == ["a", "b", "c", "micro", "macro"]
    assert report.rows()[0]["support"] == 3


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((0, 0, 4, 6), (0.0, 0.0, 0.0, 0.0)),  # nothing predicted, gold had 4: precision 0, not 1
        ((0, 3, 0, 7), (0.0, 0.0, 0.0, 0.0)),  # predicted 3, gold had none: recall 0
        ((5, 0, 0, 0), (1.0, 1.0, 1.0, 1.0)),  # everything positive on both sides: chance = 1
        ((0, 5, 5, 0), (0.0, 0.0, 0.0, -1.0)),  # perfect disagreement
    ],
)
def test_empty_denominators_follow_the_documented_conventions(
    counts: tuple[int, ...], expected: tuple[float, ...]
) -> None:
    m = score_counts("x", *counts)
    assert (m.precision, m.recall, m.f1, m.kappa) == pytest.approx(expected)


def test_codes_outside_the_list_are_ignored() -> None:
    report = sentence_metrics([{"a", "zzz"}], [{"a", "yyy"}], ["a"])
    assert [m.code for m in report.per_code] == ["a"]
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (1, 0, 0)


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="2 units but predicted has 1"):
        sentence_metrics([set(), set()], [set()], ["a"])
