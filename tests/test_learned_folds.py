"""Cross-validation in ``train`` is grouped by note: a note's sentences are never split between the
part a fold trains on and the part it scores, so the figures are not inflated by look-alike
sentences of the same note (issue 13, item C(i))."""

from __future__ import annotations

import numpy
import pytest

from phantomcode.coding import learned
from phantomcode.coding.learned import LabelledSentence, LearnedModel, fit, grouped_folds, note_groups
from phantomcode.training import _gold_sentences, _review_sentences

CODES = ("paperwork", "class_size")


def _sentences() -> list[LabelledSentence]:
    """Twelve notes of five sentences each, paperwork in notes 0-5, class_size in notes 6-11,
    plus codebook-example-like sentences that belong to no note."""
    sentences = []
    for note in range(12):
        code = CODES[note // 6]
        for index in range(5):
            word = "lease stamped contract" if code == "paperwork" else "class full waiting list"
            text = f"note {note} sentence {index}: the {word} again {index * note}"
            sentences.append(
                LabelledSentence(text, frozenset({code}), frozenset(CODES) - {code}, "gold", group=f"n{note}")
            )
    sentences += [
        LabelledSentence(f"example {i} lease", frozenset({"paperwork"}), frozenset(), "example") for i in range(3)
    ]
    return sentences


@pytest.mark.slow  # imports scikit-learn
def test_grouped_folds_never_split_a_note_and_are_deterministic() -> None:
    sentences = _sentences()
    groups = note_groups(sentences)
    labels = numpy.array([int("paperwork" in s.positives) for s in sentences])
    folds = grouped_folds(labels, groups, 5, seed=0)
    assert len(folds) == 5
    covered = numpy.concatenate([test for _, test in folds])
    assert sorted(covered.tolist()) == list(range(len(sentences)))  # every sentence scored once
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])  # no note on both sides
    again = grouped_folds(labels, groups, 5, seed=0)
    assert all((a == b).all() and (c == d).all() for (a, c), (b, d) in zip(folds, again, strict=True))


def test_sentences_without_a_note_are_groups_of_their_own_and_a_note_id_is_one_group() -> None:
    sentences = _sentences()
    groups = note_groups(sentences)
    assert len(set(groups[:5].tolist())) == 1  # note 0's five sentences
    assert len(set(groups[-3:].tolist())) == 3  # three examples, three groups
    assert len(set(groups.tolist())) == 12 + 3


@pytest.mark.slow
def test_folds_are_capped_by_the_number_of_notes() -> None:
    labels = numpy.array([1, 0, 1, 0, 1, 0])
    groups = numpy.array([0, 0, 1, 1, 2, 2])
    folds = grouped_folds(labels, groups, 5, seed=0)
    assert len(folds) == 3
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    assert grouped_folds(labels, numpy.zeros(6, dtype=int), 5, seed=0) == []  # one note: no folds


def test_gold_rows_and_review_decisions_carry_their_note(tmp_path) -> None:
    gold = tmp_path / "gold.csv"
    gold.write_text("note_id,sentence,codes\nn1,The lease was refused.,paperwork\nn2,Full class.,class_size\n")
    found = _gold_sentences(gold, frozenset(CODES), source="gold")
    assert [s.group for s in found] == ["n1", "n2"]
    reviews = [
        {"doc_id": "d7", "start": 0, "end": 5, "text": "Hello", "document": "Hello there.", "code": "paperwork"}
        | {"decision": "reject"}
    ]
    assert [s.group for s in _review_sentences(reviews, frozenset(CODES))] == ["d7"]


@pytest.mark.slow
def test_the_note_of_each_label_is_stored_with_the_model_and_counts_in_its_hash() -> None:
    sentences = _sentences()
    model = fit(sentences, CODES, seed=0)
    restored = LearnedModel.from_bytes(model.to_bytes())
    assert [s.group for s in restored.training] == [s.group for s in sentences]
    assert learned._content_hash(restored) == model.content_hash  # recomputed from what was stored
    regrouped = sentences[:-3] + [
        LabelledSentence(s.text, s.positives, s.negatives, s.source, group="n0") for s in sentences[-3:]
    ]
    assert fit(regrouped, CODES, seed=0).content_hash != model.content_hash
