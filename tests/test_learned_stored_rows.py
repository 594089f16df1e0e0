"""A saved model carries its labelled sentences' feature rows, so that no process coding with it
rebuilds them; a model saved before it did explains exactly the same."""

from __future__ import annotations

import io
import json

import numpy
import pytest

from phantomcode.coding import learned
from phantomcode.coding.features import words_of_texts
from phantomcode.coding.learned import LearnedModel, _top
from phantomcode.training import shipped_model_path

SENTENCE = "She had the operation back in Nanchong because the fund paid more there."


def _unit(model: LearnedModel) -> tuple[object, list[object]]:
    """The feature rows and the words of SENTENCE, as the learned layer sees a unit."""
    return learned._matrix(model.featurizer, [SENTENCE], None), words_of_texts([SENTENCE])


def _without_rows(data: bytes) -> bytes:
    """The same model in the format saved before the rows were stored."""
    size = int.from_bytes(data[:8], "little")
    arrays = numpy.load(io.BytesIO(data[8 + size :]))
    buffer = io.BytesIO()
    numpy.savez_compressed(buffer, **{name: arrays[name] for name in ("coef", "intercept", "thresholds")})
    return data[: 8 + size] + buffer.getvalue()


@pytest.mark.slow
def test_the_shipped_model_explains_without_rebuilding_its_training_rows(monkeypatch) -> None:
    model = LearnedModel.from_bytes(shipped_model_path().read_bytes())
    rows, words = _unit(model)
    monkeypatch.setattr(learned, "_matrix", lambda *args: pytest.fail("the training rows were rebuilt"))
    code = model.codes.index("return_home")
    [explanation] = model.explain(rows, words, [code])
    assert len(explanation.neighbours) == 3
    assert all(n.text in {s.text for s in model.training} for n in explanation.neighbours)


@pytest.mark.slow
def test_a_model_saved_before_the_rows_were_stored_explains_the_same() -> None:
    data = shipped_model_path().read_bytes()
    new, old = LearnedModel.from_bytes(data), LearnedModel.from_bytes(_without_rows(data))
    rows, words = _unit(new)
    codes = list(range(len(new.codes)))  # the sentence explained once for every code
    many, every = rows[[0] * len(codes)], words * len(codes)
    assert new.explain(many, every, codes) == old.explain(many, every, codes)
    assert json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["hash"] == old.content_hash


@pytest.mark.parametrize("seed", range(20))
def test_top_gives_what_a_stable_sort_of_the_whole_row_gives(seed: int) -> None:
    rng = numpy.random.default_rng(seed)
    for _ in range(50):
        values = rng.choice([0.0, 0.1, 0.5, 0.9], size=int(rng.integers(0, 30)))
        if seed % 2:
            values = rng.random(len(values))
        count = int(rng.integers(1, 5))
        assert _top(values, count).tolist() == numpy.argsort(-values, kind="stable")[:count].tolist()
