"""The learned layer's prior and the project's own labels: what a trained model starts from, how
much the project's labels weigh against it, and the default model shipped in the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantomcode.codebook import load_codebook
from phantomcode.coding.learned import LabelledSentence, LearnedModel, fit
from phantomcode.ingest import ingest
from phantomcode.store import Store
from phantomcode.training import (
    default_model,
    labelled_sentences,
    learned_model_for,
    shipped_model_path,
    train,
    use_default_model,
)

FEES = [
    "The school wanted thirty thousand yuan before it would take the boy.",
    "They were told to pay a sponsorship sum of twenty thousand yuan.",
    "Outsiders had to hand over eight thousand yuan to enrol.",
    "A charge of five thousand yuan was demanded from migrant parents.",
    "The principal asked the family for ten thousand yuan in cash.",
]
OTHER = [
    "The school was next to a park.",
    "Her son liked his teacher very much.",
    "The bus to the hospital took an hour.",
    "The family rented a room near the market.",
    "He works on building sites in the east of the city.",
]
# Money that is not an enrolment fee: the prior never saw it, the project says it is not `fees`.
WAGES = [
    "The factory paid him thirty thousand yuan a year.",
    "She earned eight thousand yuan at the market.",
    "He sent ten thousand yuan home to his parents.",
]
PROBE = "His wife earned twenty thousand yuan at the factory."

CODEBOOK = "\n".join(
    [
        "name: prior test",
        'version: "1"',
        "codes:",
        "  - id: fees",
        "    label: Fees",
        "    definition: Money only outsiders pay to enrol.",
        "    terms: [fee]",
        "    examples:",
        "      positive:",
        *[f"        - {text}" for text in FEES],
        "      negative:",
        *[f"        - {text}" for text in OTHER],
        "groups:",
        "  mechanisms: [fees]",
        "",
    ]
)


def _prior() -> list[LabelledSentence]:
    return [LabelledSentence(text, frozenset({"fees"}), frozenset(), "example") for text in FEES] + [
        LabelledSentence(text, frozenset(), frozenset({"fees"}), "example") for text in OTHER
    ]


def _probability(sentences: list[LabelledSentence]) -> float:
    return float(fit(sentences, ["fees"]).score_texts([PROBE])[0, 0])


@pytest.mark.parametrize("source", ["review", "gold"])
def test_the_projects_own_labels_outweigh_the_same_labels_in_the_prior(source: str) -> None:
    """Labels a project gave itself (reviews, and gold files given to `train`) count more than the
    same labels among the bundled ones: a probe like the project's rejected sentences falls from
    above one half to well under it, further than when the bundled sets said the same."""
    wages = [LabelledSentence(text, frozenset(), frozenset({"fees"}), source) for text in WAGES]
    as_bundled = [LabelledSentence(text, frozenset(), frozenset({"fees"}), "bundled") for text in WAGES]
    alone, bundled, own = _probability(_prior()), _probability(_prior() + as_bundled), _probability(_prior() + wages)
    assert alone > 0.5 > bundled > own
    assert own < 0.35


def test_a_trained_model_starts_from_the_projects_default_model(tmp_path: Path) -> None:
    """`train` learns from the labels of the default model the project was coded with (here one
    made without two of the codebook's examples, as bench/simulate_review.py --leave-out makes it),
    not from the codebook and bundled sets again."""
    book_path = tmp_path / "book.yaml"
    book_path.write_text(CODEBOOK, encoding="utf-8")
    book = load_codebook(book_path)
    project = tmp_path / "project.db"
    left_out = {FEES[0], OTHER[0]}
    with Store.open(project) as store, store.writer():
        use_default_model(store, book, default_model(book, leave_out=left_out))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n1.txt").write_text(f"{PROBE} They paid the fee in the end.\n", encoding="utf-8")
    ingest(notes, project=project, codebook=book_path, jobs=1)
    with Store.open(project) as store:
        coded_with = learned_model_for(store, book)
    assert {s.text for s in coded_with.training} == set(FEES + OTHER) - left_out
    report = train(project, codebook=book_path)
    with Store.open(project) as store:
        record = store.latest_model()
    assert record is not None
    trained = LearnedModel.from_bytes(record.data)
    assert trained.content_hash == report.model_hash
    assert {s.text for s in trained.training} == set(FEES + OTHER) - left_out


def test_bundled_rows_of_a_default_model_from_before_source_names_stay_the_prior(tmp_path: Path) -> None:
    """Default models stored before bundled rows had their own source called them "gold", the
    name of the project's own gold files now: as a prior they must not weigh as project labels."""
    from phantomcode.training import prior_sentences

    book_path = tmp_path / "book.yaml"
    book_path.write_text(CODEBOOK, encoding="utf-8")
    book = load_codebook(book_path)
    old = fit([*_prior(), LabelledSentence(WAGES[0], frozenset(), frozenset({"fees"}), "gold")], ["fees"])
    with Store.open(tmp_path / "project.db") as store, store.writer():
        use_default_model(store, book, old)
        prior = prior_sentences(store, book)
    assert {s.source for s in prior} == {"example", "bundled"}
    assert next(s for s in prior if s.text == WAGES[0]).source == "bundled"


@pytest.mark.slow
def test_the_bundled_codebook_uses_the_shipped_default_model_without_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default model of the bundled codebook is the one shipped in the package, as long as it
    was trained from today's labels; otherwise rebuild it: python bench/build_default_model.py."""
    import phantomcode.coding.learned as learned

    shipped = LearnedModel.from_bytes(shipped_model_path().read_bytes())
    book = load_codebook()
    assert shipped.training == tuple(labelled_sentences(book)), (
        "the shipped default model is out of date: run python bench/build_default_model.py"
    )

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the default model was trained again")

    monkeypatch.setattr(learned, "fit", no_training)
    assert default_model(book).content_hash == shipped.content_hash


def test_a_changed_label_or_seed_trains_instead_of_using_the_shipped_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import phantomcode.coding.learned as learned

    calls: list[int] = []
    monkeypatch.setattr(learned, "fit", lambda sentences, codes, seed=0: calls.append(len(sentences)))
    book = load_codebook()
    default_model(book, seed=1)
    default_model(book, leave_out={labelled_sentences(book)[-1].text})
    assert calls == [len(labelled_sentences(book)), len(labelled_sentences(book)) - 1]


@pytest.mark.slow
def test_the_shipped_default_model_is_what_the_bundled_labels_train() -> None:
    """Deterministic training: fitting the bundled labels again gives the shipped model's hash."""
    shipped = LearnedModel.from_bytes(shipped_model_path().read_bytes())
    book = load_codebook()
    assert fit(labelled_sentences(book), book.code_ids(), seed=0).content_hash == shipped.content_hash


def test_rows_are_normalised_as_scikit_learn_does_it_empty_rows_too() -> None:
    import numpy
    from scipy.sparse import csr_matrix
    from sklearn.preprocessing import normalize

    from phantomcode.coding.features import normalised

    dense = numpy.array([[0, 0, 0], [3, 4, 0], [0, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=numpy.float32)
    ours = normalised(csr_matrix(dense)).toarray()
    assert numpy.allclose(ours, normalize(csr_matrix(dense)).toarray(), atol=1e-7)
    assert numpy.allclose(ours[1], [0.6, 0.8, 0]) and not ours[[0, 2, 4]].any()


@pytest.mark.slow
def test_coding_with_the_learned_layer_does_not_import_scikit_learn(tmp_path: Path) -> None:
    """Importing scikit-learn costs every coding process a second or more; scoring needs only numpy
    and scipy (training imports it)."""
    import subprocess
    import sys

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n1.txt").write_text(f"{PROBE} They had no stamped rental agreement.\n", encoding="utf-8")
    script = (
        "import sys; from phantomcode.ingest import ingest; "
        f"ingest({str(notes)!r}, project={str(tmp_path / 'p.db')!r}, jobs=1); "
        "print('sklearn' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr
