"""The shipped model carries its labelled sentences' feature rows, so that no process coding with
it rebuilds them; the copies a project keeps leave them out, and explain exactly the same."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest

from phantomcode.codebook import load_codebook
from phantomcode.coding import learned
from phantomcode.coding.features import words_of_texts
from phantomcode.coding.learned import LearnedModel, _top
from phantomcode.store import Store
from phantomcode.training import learned_model_for, shipped_model_path

SENTENCE = "She had the operation back in Nanchong because the fund paid more there."


def _unit(model: LearnedModel) -> tuple[object, list[object]]:
    """The feature rows and the words of SENTENCE, as the learned layer sees a unit."""
    return learned._matrix(model.featurizer, [SENTENCE], None), words_of_texts([SENTENCE])


def _rebuilding_fails(monkeypatch) -> None:
    monkeypatch.setattr(learned, "_matrix", lambda *args: pytest.fail("the training rows were rebuilt"))


@pytest.mark.slow
def test_the_shipped_model_explains_without_rebuilding_its_training_rows(monkeypatch) -> None:
    model = LearnedModel.from_bytes(shipped_model_path().read_bytes())
    rows, words = _unit(model)
    _rebuilding_fails(monkeypatch)
    [explanation] = model.explain(rows, words, [model.codes.index("return_home")])
    assert len(explanation.neighbours) == 3
    assert all(n.text in {s.text for s in model.training} for n in explanation.neighbours)


@pytest.mark.slow
def test_a_copy_without_the_rows_is_smaller_and_explains_the_same() -> None:
    data = shipped_model_path().read_bytes()
    full = LearnedModel.from_bytes(data)
    bare = full.to_bytes()
    assert len(bare) < 0.75 * len(data)
    rebuilt = LearnedModel.from_bytes(bare)
    rows, words = _unit(full)
    codes = list(range(len(full.codes)))  # the sentence explained once for every code
    many, every = rows[[0] * len(codes)], words * len(codes)
    assert full.explain(many, every, codes) == rebuilt.explain(many, every, codes)


@pytest.mark.slow
def test_a_project_keeps_the_default_model_without_rows_and_codes_with_the_shipped_ones(
    tmp_path: Path, monkeypatch
) -> None:
    book = load_codebook()
    with Store.open(tmp_path / "p.db") as store:
        stored_model = learned_model_for(store, book)
        record = store.latest_model(kind="default")
    assert record is not None and len(record.data) < 0.75 * shipped_model_path().stat().st_size
    with Store.open(tmp_path / "p.db") as store:
        again = learned_model_for(store, book)
    assert again.content_hash == stored_model.content_hash == record.content_hash
    rows, words = _unit(again)
    _rebuilding_fails(monkeypatch)
    assert again.explain(rows, words, [0])


@pytest.mark.parametrize("seed", range(20))
def test_top_gives_what_a_stable_sort_of_the_whole_row_gives(seed: int) -> None:
    rng = numpy.random.default_rng(seed)
    for _ in range(50):
        values = rng.choice([0.0, 0.1, 0.5, 0.9], size=int(rng.integers(0, 30)))
        if seed % 2:
            values = rng.random(len(values))
        count = int(rng.integers(1, 5))
        assert _top(values, count).tolist() == numpy.argsort(-values, kind="stable")[:count].tolist()
