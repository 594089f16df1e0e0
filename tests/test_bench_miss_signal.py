"""bench/miss_signal.py: its misses are exactly the gold pairs ``evaluate`` counts as missed."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_scripts import bench_module

from phantomcode.evaluate import evaluate, read_gold

GOLD = Path(__file__).resolve().parents[1] / "sample_data" / "gold.csv"


@pytest.mark.slow
def test_misses_match_evaluate_and_rule_codings_match_the_rules(sample_db: Path) -> None:
    miss_signal = bench_module("miss_signal")
    sentences = miss_signal.sentences(sample_db, GOLD)
    codes = sorted(set().union(*(u.codes for u in read_gold(GOLD))))
    combined = evaluate(GOLD, project=sample_db, codes=codes, predictions="combined").metrics
    rules = evaluate(GOLD, project=sample_db, codes=codes, predictions="rules").metrics

    assert len(sentences) == combined.units
    assert sum(len(s.gold - s.coded) for s in sentences) == sum(m.fn for m in combined.per_code) > 0
    assert sum(len(s.rule_coded & s.gold) for s in sentences) == sum(m.tp for m in rules.per_code)
    assert sum(len(s.rule_coded - s.gold) for s in sentences) == sum(m.fp for m in rules.per_code)


def test_bands_split_at_the_signal_line_and_the_floor() -> None:
    miss_signal = bench_module("miss_signal")
    assert [miss_signal.band(p) for p in (0.0, 0.29, 0.3, 0.59, 0.6, 0.99)] == [
        "no signal",
        "no signal",
        "signal under the floor",
        "signal under the floor",
        "floor to threshold or above",
        "floor to threshold or above",
    ]


def test_neighbour_additions_need_a_coded_neighbour_in_the_same_note() -> None:
    miss_signal = bench_module("miss_signal")
    S = miss_signal.Sentence
    found = [
        S("A", frozenset({"paperwork"}), {"paperwork"}, {"paperwork"}, {"paperwork": 0.9}, set()),
        S("A", frozenset({"paperwork"}), set(), set(), {"paperwork": 0.45, "extra_fees": 0.5}, set()),  # right
        S("A", frozenset(), set(), set(), {"paperwork": 0.4}, set()),  # neighbours uncoded or in another note
        S("B", frozenset(), set(), set(), {"paperwork": 0.5}, set()),  # wrong: the next sentence is coded
        S("B", frozenset(), {"paperwork"}, {"paperwork"}, {}, set()),
        S("B", frozenset(), set(), set(), {"paperwork": 0.35}, {"paperwork"}),  # flagged negated: never added
        S("B", frozenset(), {"paperwork"}, {"paperwork"}, {}, set()),
        S("B", frozenset(), set(), set(), {"paperwork": 0.2}, set()),  # no signal: never added
    ]
    added = miss_signal.neighbour_additions(found)
    assert (added[True], added[False]) == (1, 1)
