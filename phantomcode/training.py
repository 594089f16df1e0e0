"""Train the learned layer from every label a project has, and find the model to code with.

Labels, later ones overriding earlier ones for the same sentence:

1. the codebook's examples: a positive example has its code, a negative one does not (other
   codes are unknown for them);
2. for the bundled codebook, its bundled labelled sets, shipped as package data
   (:func:`bundled_gold_paths`): the dev gold set (``sample_data/gold.csv``) and the three training
   sets (``sample_data/train/fresh``, ``train/public`` and ``train/fresh2``), every code decided
   for each sentence;
3. ``gold`` files given to :func:`train` (``note_id,sentence,codes``, as for ``evaluate``);
4. review decisions: the codes accepted, added or given as ``correct_code`` apply to the unit; the
   codes rejected do not, and neither does any other code of the codebook: a reviewer who saw the
   sentence and added nothing has said that nothing else applies. Rejecting every row of a
   sentence therefore teaches that it has none of those codes.

1 and 2 are the project's prior, 3 and 4 its own labels, which weigh more (see
:func:`phantomcode.coding.learned.fit`). The model is stored in the project's ``models`` table
with its content hash, the labels used per code, the parameters, library versions and
cross-validated figures. A project without a trained model codes with a default model trained from
1 and 2 (for the bundled codebook, shipped pre-trained in the package), stored in the project on
first use; its labels stay the prior of every model the project trains.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .codebook import Codebook, default_codebook_path, load_codebook
from .codebook_choice import choose_codebook
from .store import ModelRecord, Store

if TYPE_CHECKING:
    from .coding.learned import LabelledSentence, LearnedModel

__all__ = ["CodeFigures", "TrainReport", "bundled_gold_path", "bundled_gold_paths", "learned_model_for", "train"]

TRAINED = "trained"
DEFAULT = "default"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")


@dataclass(frozen=True)
class CodeFigures:
    """Cross-validated figures of one code's classifier, and whether it needs more labels."""

    code: str
    positives: int
    negatives: int
    precision: float
    recall: float
    f1: float
    threshold: float
    needs_more_examples: bool


@dataclass(frozen=True)
class TrainReport:
    """What :func:`train` fitted: the model's content hash and its figures per code."""

    project: str
    model_hash: str
    sentences: int
    sources: dict[str, int]  # labelled sentences per source: example, gold, review
    codes: tuple[CodeFigures, ...]

    @property
    def needing_more(self) -> list[str]:
        return [figures.code for figures in self.codes if figures.needs_more_examples]


# The bundled codebook's labelled sets, in the order they are read (a later one overrides an earlier
# one for the same sentence): the dev gold set, then the three training sets of sample_data/train/.
# Learning from the training sets too raised the default model's dev macro-F1 (see the commit).
BUNDLED_GOLD_FILES = (
    "deflection_gold.csv",
    "deflection_train_fresh.csv",
    "deflection_train_public.csv",
    "deflection_train_fresh2.csv",
)
SHIPPED_MODEL = "deflection_default_model.bin"


def bundled_gold_path() -> Path:
    """The dev gold set shipped with the bundled codebook."""
    return Path(__file__).parent / "data" / BUNDLED_GOLD_FILES[0]


def bundled_gold_paths() -> list[Path]:
    """Every labelled set shipped with the bundled codebook, which its default model learns from."""
    return [Path(__file__).parent / "data" / name for name in BUNDLED_GOLD_FILES]


def train(
    project: str | Path | None = None,
    *,
    gold: Sequence[str | Path] = (),
    seed: int = 0,
    codebook: str | Path | Codebook | None = None,
) -> TrainReport:
    """Fit the learned layer from the project's labels (and ``gold`` files), store it as the
    project's latest model and return its cross-validated figures. Deterministic: the same
    labels and ``seed`` give the same model hash."""
    from .coding.learned import fit

    with Store.open(project, must_exist=True) as store:
        book = choose_codebook(codebook, store)
        sentences = labelled_sentences(
            book, gold=gold, reviews=store.reviewed_units(), prior=prior_sentences(store, book)
        )
        # The fit takes seconds and writes nothing: only saving the model takes the writer lock,
        # so review decisions (a workspace retraining in the background) are never held up by it.
        # A decision made meanwhile is learned by the next train.
        model = fit(sentences, book.code_ids(), seed=seed)
        with store.writer():
            store.save_model(_record(model, TRAINED, book))
        project_path = str(store.path)
    sources: dict[str, int] = {}
    for sentence in sentences:
        sources[sentence.source] = sources.get(sentence.source, 0) + 1
    return TrainReport(project_path, model.content_hash, len(sentences), sources, _figures(model))


def learned_model_for(store: Store, book: Codebook, *, seed: int = 0) -> LearnedModel:
    """The model to code with: the project's latest trained one, else its default model for this
    codebook (:func:`default_model`, stored so the next run reuses it)."""
    from .coding.learned import LearnedModel

    record = store.latest_model(kind=TRAINED)
    if record is None:
        record = store.latest_model(kind=DEFAULT)
        if record is not None and record.codebook_hash != book.content_hash:
            record = None
    if record is not None:
        return _shipped_copy(record.content_hash) or LearnedModel.from_bytes(record.data)
    model = default_model(book, seed=seed)
    if not store.readonly:
        use_default_model(store, book, model)
    return model


def default_model(book: Codebook, *, leave_out: Collection[str] = (), seed: int = 0) -> LearnedModel:
    """The model a project codes with before it has trained one: from the codebook's examples and,
    for the bundled codebook, its bundled labelled sets (:func:`bundled_gold_paths`), less the
    sentences in ``leave_out`` (to measure it honestly on them).

    Training it takes seconds, so the one the bundled codebook gives ships in the package
    (:func:`shipped_model_path`, rebuilt by ``bench/build_default_model.py``) and is used when it
    was trained from exactly these labels, with these parameters and seed."""
    from .coding.learned import fit

    sentences = [s for s in labelled_sentences(book) if s.text not in leave_out]
    shipped = _shipped_model(sentences, book.code_ids(), seed)
    return shipped if shipped is not None else fit(sentences, book.code_ids(), seed=seed)


def _shipped_copy(content_hash: str) -> LearnedModel | None:
    """The shipped model if it is the one ``content_hash`` names: the same model, with the feature
    rows of its labelled sentences that a project's copy leaves out (``LearnedModel.to_bytes``)."""
    from .coding.learned import LearnedModel

    path = shipped_model_path()
    if not path.is_file():
        return None
    model = LearnedModel.from_bytes(path.read_bytes())
    return model if model.content_hash == content_hash else None


def shipped_model_path() -> Path:
    """The bundled codebook's default model, trained when the package was built (seed 0)."""
    return Path(__file__).parent / "data" / SHIPPED_MODEL


def _shipped_model(sentences: Sequence[LabelledSentence], codes: Sequence[str], seed: int) -> LearnedModel | None:
    """The shipped model if training on ``sentences`` would give it (same labels, codes,
    parameters and seed 0), else None."""
    from .coding.learned import LearnedModel, Parameters

    path = shipped_model_path()
    if seed != 0 or not path.is_file():
        return None
    model = LearnedModel.from_bytes(path.read_bytes())
    if model.codes != tuple(codes) or model.parameters != Parameters() or model.training != tuple(sentences):
        return None
    return model


def use_default_model(store: Store, book: Codebook, model: LearnedModel) -> None:
    """Make ``model`` the project's default model for ``book``: it codes until a model is trained,
    and its labelled sentences are the prior every trained model starts from."""
    store.save_model(_record(model, DEFAULT, book))


def prior_sentences(store: Store, book: Codebook) -> list[LabelledSentence]:
    """The labels every model of the project starts from: those of its default model for this
    codebook (what it was first coded with), else the codebook's examples and bundled sets."""
    from .coding.learned import LearnedModel

    record = store.latest_model(kind=DEFAULT)
    if record is None or record.codebook_hash != book.content_hash:
        return labelled_sentences(book)
    # A default model learns from no project labels: bundled rows of models made before they had
    # their own source name ("gold") are bundled rows all the same.
    return [
        replace(s, source="bundled") if s.source == "gold" else s for s in LearnedModel.from_bytes(record.data).training
    ]


def labelled_sentences(
    book: Codebook,
    *,
    gold: Sequence[str | Path] = (),
    reviews: Sequence[dict[str, Any]] = (),
    prior: Sequence[LabelledSentence] | None = None,
) -> list[LabelledSentence]:
    """Every labelled sentence, one per distinct text; later sources override earlier ones.
    ``prior``: the sentences to start from instead of the codebook's examples and bundled sets."""
    found: dict[str, LabelledSentence] = {}
    codes = frozenset(book.code_ids())
    if prior is not None:
        found.update((sentence.text, sentence) for sentence in prior)
    else:
        for sentence in _examples(book):
            found[sentence.text] = sentence
        for path in bundled_gold_paths() if _is_bundled(book) else []:
            for sentence in _gold_sentences(path, codes, source="bundled"):
                found[sentence.text] = sentence
    for given in gold:
        for sentence in _gold_sentences(given, codes, source="gold"):
            found[sentence.text] = sentence
    for sentence in _review_sentences(reviews, codes):
        found[sentence.text] = sentence
    return list(found.values())


def _is_bundled(book: Codebook) -> bool:
    """The bundled codebook, or a copy of it keeping its name (an edited copy keeps its codes)."""
    try:
        bundled = load_codebook(default_codebook_path(), check_patterns=False)
    except Exception:  # noqa: BLE001 - a broken installation just trains without the bundled gold
        return False
    return book.name == bundled.name


def _examples(book: Codebook) -> list[LabelledSentence]:
    from .coding.learned import LabelledSentence

    sentences = []
    for code in book.codes:
        sentences += [
            LabelledSentence(text, frozenset({code.id}), frozenset(), "example") for text in code.examples.positive
        ]
        sentences += [
            LabelledSentence(text, frozenset(), frozenset({code.id}), "example") for text in code.examples.negative
        ]
    return sentences


def _gold_sentences(path: str | Path, codes: frozenset[str], *, source: str) -> list[LabelledSentence]:
    """Gold rows as sentences; the neighbouring rows of the same note are their context."""
    from .coding.learned import LabelledSentence
    from .evaluate import read_gold

    units = [unit for unit in read_gold(path) if unit.sentence]
    sentences = []
    for index, unit in enumerate(units):
        neighbours = [
            units[j].sentence
            for j in (index - 1, index + 1)
            if 0 <= j < len(units) and units[j].note_id == unit.note_id
        ]
        positives = unit.codes & codes
        sentences.append(
            LabelledSentence(unit.sentence, positives, codes - positives, source, " ".join(neighbours), unit.note_id)
        )
    return sentences


def _review_sentences(reviews: Sequence[dict[str, Any]], codes: frozenset[str]) -> list[LabelledSentence]:
    from .coding.learned import LabelledSentence

    units: dict[tuple[str, int, int], dict[str, Any]] = {}
    for review in reviews:
        unit = units.setdefault(
            (review["doc_id"], review["start"], review["end"]),
            {"text": review["text"], "document": review["document"], "yes": set(), "no": set()},
        )
        (unit["no"] if review["decision"] == "reject" else unit["yes"]).add(review["code"])
    sentences = []
    for (doc_id, start, end), unit in units.items():
        positives = frozenset(unit["yes"] & codes)
        context = _neighbours(unit["document"], start, end) if unit["document"][start:end] == unit["text"] else ""
        sentences.append(LabelledSentence(unit["text"], positives, codes - positives, "review", context, doc_id))
    return sentences


def _neighbours(text: str, start: int, end: int) -> str:
    """The sentence before and the sentence after ``text[start:end]``, roughly cut."""
    before = [part for part in _SENTENCE_END.split(text[max(0, start - 400) : start].strip()) if part.strip()]
    after = [part for part in _SENTENCE_END.split(text[end : end + 400].strip()) if part.strip()]
    return " ".join([*before[-1:], *after[:1]])


def _figures(model: LearnedModel) -> tuple[CodeFigures, ...]:
    return tuple(
        CodeFigures(f.code, f.positives, f.negatives, f.precision, f.recall, f.f1, f.threshold, f.needs_more)
        for f in model.fits
    )


def _record(model: LearnedModel, kind: str, book: Codebook) -> ModelRecord:
    from dataclasses import asdict

    labels: dict[str, Any] = {"sentences": len(model.training), "sources": {}}
    for sentence in model.training:
        labels["sources"][sentence.source] = labels["sources"].get(sentence.source, 0) + 1
    labels["per_code"] = {f.code: {"positives": f.positives, "negatives": f.negatives} for f in model.fits}
    return ModelRecord(
        model.content_hash,
        kind,
        book.content_hash,
        labels,
        model.parameters.as_dict(),
        _versions(),
        [asdict(f) for f in model.fits],
        model.to_bytes(),
    )


def _versions() -> dict[str, str]:
    """The versions of what a model depends on, read from the installed distributions (importing
    scikit-learn to ask would cost a coding run a second or more)."""
    from importlib.metadata import version

    return {"phantomcode": __version__, **{name: version(name) for name in ("scikit-learn", "scipy", "numpy", "spacy")}}
