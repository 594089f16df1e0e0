"""The ranking behind ``review export --suggest`` and the workspace's queue: computed over arrays,
it must give exactly what the scalar formula gives, unit by unit and in the same order."""

from __future__ import annotations

import math
import random

import pytest

from phantomcode.suggest import _NOISE, _ranked, _spread


def ranked_one_by_one(scores, thresholds, reviewed, seed):
    """The definition: per unit, the smallest |logit(p) - logit(threshold)| (ties to the first code
    by name) plus one seeded noise draw; best first, ties by (doc_id, start, end)."""

    def logit(p: float) -> float:
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))

    rng = random.Random(seed)
    ranked = []
    for doc_id, start, end, probabilities in scores:
        if (doc_id, start, end) in reviewed:
            continue
        margins = {
            code: abs(logit(p) - logit(min(thresholds.get(code, 0.5), 0.99))) for code, p in probabilities.items()
        }
        code = min(margins, key=lambda c: (margins[c], c))
        ranked.append((margins[code] + rng.uniform(0, _NOISE), code, (doc_id, start, end, probabilities)))
    ranked.sort(key=lambda item: (item[0], item[2][:3]))
    return ranked


def scored_units(count: int, seed: int) -> list[tuple[str, int, int, dict[str, float]]]:
    """Units as the store yields them (by doc_id, start), probabilities rounded to 4 places as
    stored, with ties between codes, the extremes 0 and 1, and codes without a threshold."""
    draw = random.Random(seed)
    codes = ["fees", "hukou", "deterred", "paperwork", "return_home", "户口"]
    units = []
    for number in range(count):
        doc_id, start = f"D{number // 7:04d}", (number % 7) * 40
        chosen = draw.sample(codes, draw.randint(1, 4))
        probability = round(draw.random(), 4)
        units.append(
            (
                doc_id,
                start,
                start + 30 + draw.randint(0, 9),
                {code: draw.choice([probability, round(draw.random(), 4), 0.0, 1.0]) for code in chosen},
            )
        )
    return units


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_ranking_over_arrays_equals_the_unit_by_unit_definition(seed) -> None:
    units = scored_units(3000, seed)
    thresholds = {"fees": 0.35, "hukou": 0.5, "deterred": 0.995, "paperwork": 0.2}
    reviewed = {unit[:3] for unit in units[::11]}
    expected = ranked_one_by_one(units, thresholds, reviewed, seed)
    assert _ranked(iter(units), thresholds, reviewed, seed) == expected
    assert _spread(_ranked(iter(units), thresholds, reviewed, seed), 50) == _spread(expected, 50)


def test_nothing_to_rank_gives_an_empty_list() -> None:
    units = scored_units(20, 3)
    assert _ranked(iter(units), {}, {unit[:3] for unit in units}, 0) == []
