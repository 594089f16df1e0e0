"""The learned layer: one logistic regression per code over hashed n-grams, beside the rules.

Rules keep their codings. The model adds a coding where its probability reaches the code's
threshold and the rules did not code that unit with that code at all (a rule hit flagged as
negated or hypothetical vetoes the model too). Every learned coding carries its probability, the
model's content hash and an explanation: the labelled sentences most like it, with their codes,
and the n-grams of the sentence that weighed most for the code.

Thresholds are set per code from cross-validated probabilities: the lowest threshold whose
out-of-fold precision reaches ``target_precision``, so a scholar can quote the precision the
model was held to. Training is deterministic: the same labels and parameters give the same
weights and the same hash.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy

from .features import (
    _MIX2,
    BITS,
    SALTS,
    FeatureWeights,
    Featurizer,
    _hash,
    normalised,
    rows_of_sentences,
    words_of_texts,
)

MIN_POSITIVES = 3  # fewer positive labels: the code is left to the rules
NEEDS_MORE = 15  # fewer positives than this, or a cross-validated precision under target: ask for more
# Probabilities kept for review suggestions: those of at least SCORE_FLOOR and SCORE_SHARE of the
# code's threshold (units far below every threshold are not worth a reviewer's time).
SCORE_FLOOR = 0.1
SCORE_SHARE = 0.5
# Sources of labels a project gave itself (the others, "example" and "bundled", are its prior).
PROJECT_SOURCES = frozenset({"review", "gold"})


@dataclass(frozen=True)
class LabelledSentence:
    """A sentence whose codes a person decided: ``positives`` apply, ``negatives`` do not; any
    other code is unknown for it. ``context``: the neighbouring sentences, if known."""

    text: str
    positives: frozenset[str]
    negatives: frozenset[str]
    source: str  # "example", "bundled" (the bundled codebook's sets), "gold" (given to train), "review"
    context: str = ""
    group: str = ""  # the note it comes from: cross-validation never splits a note (empty: its own group)


@dataclass(frozen=True)
class CodeFit:
    """How the model for one code was trained and how well it did in cross-validation."""

    code: str
    positives: int
    negatives: int
    precision: float
    recall: float
    f1: float
    threshold: float
    needs_more: bool


@dataclass(frozen=True)
class Neighbour:
    text: str
    codes: tuple[str, ...]
    similarity: float


@dataclass(frozen=True)
class Explanation:
    """Why the model coded a unit: the most similar labelled sentences, the n-grams that weighed most."""

    neighbours: tuple[Neighbour, ...]
    ngrams: tuple[tuple[str, float], ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "neighbours": [asdict(n) for n in self.neighbours],
                "ngrams": [{"ngram": g, "weight": w} for g, w in self.ngrams],
            },
            ensure_ascii=False,
        )

    def summary(self) -> str:
        """One line: 'like "..." (paperwork); words: lease, stamped'."""
        like = "; ".join(f"like {n.text[:60]!r} ({', '.join(n.codes) or 'no code'})" for n in self.neighbours[:2])
        words = ", ".join(g for g, _ in self.ngrams[:3])
        return f"{like}; words: {words}" if words else like


@dataclass(frozen=True)
class Parameters:
    c: float = 4.0
    folds: int = 5
    target_precision: float = 0.85
    # The model only adds what the rules missed, the hardest sentences: on data it was not trained on,
    # its additions below 0.6 were right 22-48% of the time (bench/LEARNING.md, section D).
    min_threshold: float = 0.6
    weights: FeatureWeights = FeatureWeights()
    # A sentence the project labelled counts this many times (see fit): 10 let two review rounds
    # carry over to the unreviewed sentences better than 3 or 30 on the training sets (bench/LEARNING.md).
    project_weight: float = 10.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "c": self.c,
            "folds": self.folds,
            "target_precision": self.target_precision,
            "min_threshold": self.min_threshold,
            "features": asdict(self.weights),
            "bits": BITS,
            "project_weight": self.project_weight,
        }


@dataclass
class LearnedModel:
    """Weights per code plus the labelled sentences, kept for explanations."""

    codes: tuple[str, ...]
    coef: Any  # numpy float32, 2**BITS x len(codes)
    intercept: Any  # numpy float64, len(codes)
    thresholds: Any  # numpy float64, len(codes)
    training: tuple[LabelledSentence, ...]
    fits: tuple[CodeFit, ...]
    parameters: Parameters
    content_hash: str = ""
    _train_matrix: Any = field(default=None, repr=False)
    _featurizer: Featurizer | None = field(default=None, repr=False)

    # -- scoring -------------------------------------------------------------------------------
    @property
    def featurizer(self) -> Featurizer:
        if self._featurizer is None:
            from .layout import blank_pipeline

            self._featurizer = Featurizer(blank_pipeline().vocab.strings, self.parameters.weights)
        return self._featurizer

    def probabilities(self, matrix: Any) -> Any:
        """units x codes probabilities."""
        logits = numpy.asarray(matrix @ self.coef, dtype=numpy.float64) + self.intercept
        return 1.0 / (1.0 + numpy.exp(-logits))

    def score_texts(self, texts: Sequence[str], contexts: Sequence[str] | None = None) -> Any:
        return self.probabilities(_matrix(self.featurizer, texts, contexts))

    def train_matrix(self) -> Any:
        """The labelled sentences' feature rows, transposed (columns x sentences) for similarity."""
        if self._train_matrix is None:
            matrix = _matrix(self.featurizer, [s.text for s in self.training], [s.context for s in self.training])
            self._train_matrix = matrix.T.tocsr()
        return self._train_matrix

    # -- explanations ---------------------------------------------------------------------------
    def explain(
        self, rows: Any, words: Sequence[Any], code_indexes: Sequence[int], *, neighbours: int = 3
    ) -> list[Explanation]:
        """An explanation per unit: ``rows`` its feature rows, ``words`` the LOWER ids of its
        words, ``code_indexes`` the code explained."""
        if not len(words):
            return []
        similar = (rows @ self.train_matrix()).toarray()
        explanations = []
        for index, (unit_words, k) in enumerate(zip(words, code_indexes, strict=True)):
            order = _top(similar[index], neighbours)
            near = tuple(
                Neighbour(
                    self.training[j].text, tuple(sorted(self.training[j].positives)), round(float(similar[index, j]), 3)
                )
                for j in order
                if similar[index, j] > 0
            )
            explanations.append(Explanation(near, self._ngrams(unit_words, k)))
        return explanations

    def _ngrams(self, words: Any, k: int, top: int = 3) -> tuple[tuple[str, float], ...]:
        """The unit's own words and word pairs whose weights for code ``k`` are largest."""
        strings = self.featurizer.strings
        weights = self.coef[_hash(words, SALTS["word"]), k]
        names = [strings[int(w)] for w in words.tolist()]
        found = dict(zip(names, weights.tolist(), strict=True))
        if len(words) > 1:
            pairs = words[:-1] * _MIX2 + words[1:]
            found.update(
                zip(
                    (f"{a} {b}" for a, b in zip(names, names[1:], strict=False)),
                    self.coef[_hash(pairs, SALTS["bigram"]), k].tolist(),
                    strict=True,
                )
            )
        best = sorted(((w, name) for name, w in found.items() if w > 0), key=lambda item: (-item[0], item[1]))
        return tuple((name, round(w, 3)) for w, name in best[:top])

    # -- persistence ----------------------------------------------------------------------------
    def to_bytes(self, *, with_rows: bool = False) -> bytes:
        """The model's bytes; ``with_rows``: with its labelled sentences' feature rows too, which a
        process explaining its codings otherwise rebuilds (half a second for 2,000 sentences) but
        which nearly double the size. The shipped model and the engine sent to workers carry them;
        the copies a project keeps do not."""
        buffer = io.BytesIO()
        arrays = {"coef": self.coef, "intercept": self.intercept, "thresholds": self.thresholds}
        if with_rows:
            similar = self.train_matrix()
            arrays |= {
                "similar_data": similar.data,
                "similar_indices": similar.indices,
                "similar_indptr": similar.indptr,
            }
        numpy.savez_compressed(buffer, **arrays)
        meta = json.dumps(self._metadata(), ensure_ascii=False, sort_keys=True).encode("utf-8")
        return len(meta).to_bytes(8, "little") + meta + buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LearnedModel:
        size = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + size])
        arrays = numpy.load(io.BytesIO(data[8 + size :]))
        params = meta["parameters"]
        parameters = Parameters(
            params["c"],
            params["folds"],
            params["target_precision"],
            params["min_threshold"],
            FeatureWeights(**params["features"]),
            params.get("project_weight", params.get("review_weight", 1.0)),
        )
        training = tuple(
            LabelledSentence(
                s["text"],
                frozenset(s["positives"]),
                frozenset(s["negatives"]),
                s["source"],
                s["context"],
                s.get("group", ""),  # models stored before folds were grouped by note
            )
            for s in meta["training"]
        )
        fits = tuple(CodeFit(**f) for f in meta["fits"])
        model = cls(
            tuple(meta["codes"]),
            arrays["coef"],
            arrays["intercept"],
            arrays["thresholds"],
            training,
            fits,
            parameters,
            meta["hash"],
        )
        if "similar_data" in arrays:  # saved without them: rebuilt on demand
            model._train_matrix = _stored_train_matrix(arrays, len(training))
        return model

    def _metadata(self) -> dict[str, Any]:
        return {
            "codes": list(self.codes),
            "parameters": self.parameters.as_dict(),
            "hash": self.content_hash,
            "training": [
                {
                    "text": s.text,
                    "positives": sorted(s.positives),
                    "negatives": sorted(s.negatives),
                    "source": s.source,
                    "context": s.context,
                    "group": s.group,
                }
                for s in self.training
            ],
            "fits": [asdict(f) for f in self.fits],
        }


def _top(values: Any, count: int) -> Any:
    """Indexes of the ``count`` largest values, largest first, ties in index order: what a stable
    argsort of the whole row gives, without sorting thousands of similarities per explanation."""
    if len(values) <= count:
        return numpy.argsort(-values, kind="stable")
    floor = numpy.partition(values, len(values) - count)[len(values) - count]
    candidates = numpy.flatnonzero(values >= floor)
    return candidates[numpy.argsort(-values[candidates], kind="stable")][:count]


def _stored_train_matrix(arrays: Any, sentences: int) -> Any:
    """The labelled sentences' feature rows as :meth:`LearnedModel.to_bytes` stored them."""
    from scipy.sparse import csr_matrix

    parts = (arrays["similar_data"], arrays["similar_indices"], arrays["similar_indptr"])
    return csr_matrix(parts, shape=(2**BITS, sentences))


def _matrix(featurizer: Featurizer, texts: Sequence[str], contexts: Sequence[str] | None) -> Any:
    """Feature rows of standalone sentences, the words of their ``contexts`` as context features."""
    words = words_of_texts(texts)
    matrix = featurizer.matrix(rows_of_sentences(words, range(len(words))), normalise=False)
    if contexts is not None and any(contexts) and featurizer.weights.context:
        context_words = words_of_texts(contexts)
        lowers = numpy.concatenate(context_words) if context_words else numpy.zeros(0, dtype=numpy.uint64)
        row = numpy.repeat(numpy.arange(len(texts)), [len(w) for w in context_words])
        matrix = matrix + _context_matrix(lowers.astype(numpy.uint64), row, len(texts), featurizer.weights.context)
    return normalised(matrix.tocsr()) if len(texts) else matrix.tocsr()


def _context_matrix(lowers: Any, row: Any, count: int, weight: float) -> Any:
    from scipy.sparse import csr_matrix

    matrix = csr_matrix(
        (numpy.full(len(lowers), weight, dtype=numpy.float32), (row, _hash(lowers, SALTS["context"]))),
        shape=(count, 2**BITS),
    )
    numpy.sqrt(matrix.data, out=matrix.data)
    return matrix


# -- training --------------------------------------------------------------------------------------
def fit(
    sentences: Sequence[LabelledSentence], codes: Sequence[str], *, seed: int = 0, parameters: Parameters = Parameters()
) -> LearnedModel:
    """Train one classifier per code on the sentences whose label for it is known, with
    cross-validated figures and a threshold per code; deterministic for a given ``seed``.

    The project's own labels (reviews, gold files given to ``train``: ``PROJECT_SOURCES``) count
    ``project_weight`` times as much as its prior's (the codebook's examples, bundled sets)."""
    sentences = tuple(sentences)
    featurizer = Featurizer(_strings(), parameters.weights)
    matrix = _matrix(featurizer, [s.text for s in sentences], [s.context for s in sentences])
    own = numpy.array([s.source in PROJECT_SOURCES for s in sentences], dtype=bool)
    groups = note_groups(sentences)
    coef = numpy.zeros((2**BITS, len(codes)), dtype=numpy.float32)
    intercept = numpy.full(len(codes), -20.0)
    thresholds = numpy.full(len(codes), 1.01)
    fits = []
    for k, code in enumerate(codes):
        known = numpy.array(
            [i for i, s in enumerate(sentences) if code in s.positives or code in s.negatives], dtype=numpy.int64
        )
        labels = numpy.array([code in sentences[i].positives for i in known], dtype=int)
        positives, negatives = int(labels.sum()), int(len(labels) - labels.sum())
        if positives < MIN_POSITIVES or negatives < MIN_POSITIVES:
            fits.append(CodeFit(code, positives, negatives, 0.0, 0.0, 0.0, 1.01, True))
            continue
        x = matrix[known]
        weight = numpy.where(own[known], parameters.project_weight, 1.0)
        out_of_fold = _cross_validate(x, labels, weight, groups[known], parameters, seed)
        threshold = _threshold(out_of_fold, labels, parameters)
        precision, recall, f1 = _scores(out_of_fold >= threshold, labels)
        model = _classifier(parameters, seed).fit(x, labels, sample_weight=weight)
        coef[:, k] = model.coef_[0].astype(numpy.float32)
        intercept[k] = float(model.intercept_[0])
        thresholds[k] = threshold
        fits.append(
            CodeFit(
                code,
                positives,
                negatives,
                round(precision, 4),
                round(recall, 4),
                round(f1, 4),
                round(float(threshold), 4),
                positives < NEEDS_MORE or precision < parameters.target_precision,
            )
        )
    model = LearnedModel(tuple(codes), coef, intercept, thresholds, sentences, tuple(fits), parameters)
    model.content_hash = _content_hash(model)
    model._train_matrix, model._featurizer = matrix.T.tocsr(), featurizer
    return model


def _strings() -> Any:
    from .layout import blank_pipeline

    return blank_pipeline().vocab.strings


def _classifier(parameters: Parameters, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        C=parameters.c, solver="liblinear", dual=True, class_weight="balanced", random_state=seed, max_iter=1000
    )


def note_groups(sentences: Sequence[LabelledSentence]) -> Any:
    """A group number per sentence: one per note ``group`` (the same note ID in two sources is one
    group: most likely the same note, and a group too many costs nothing), one of its own for a
    sentence with no note (a codebook example)."""
    numbers: dict[tuple[str, str], int] = {}
    found = []
    for index, sentence in enumerate(sentences):
        key = ("note", sentence.group) if sentence.group else ("example", str(index))
        found.append(numbers.setdefault(key, len(numbers)))
    return numpy.array(found, dtype=numpy.int64)


def grouped_folds(labels: Any, groups: Any, folds: int, seed: int) -> list[tuple[Any, Any]]:
    """(train, test) index arrays of stratified folds that never split a group (a note): the
    sentences of one note are alike, so a fold holding some of them would inflate the figures.
    Deterministic for a given ``seed``; at most one fold per group."""
    from sklearn.model_selection import StratifiedGroupKFold

    folds = min(folds, len(numpy.unique(groups)))
    if folds < 2:
        return []
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    return list(splitter.split(numpy.zeros(len(labels)), labels, groups))


def _cross_validate(x: Any, labels: Any, weight: Any, groups: Any, parameters: Parameters, seed: int) -> Any:
    """Out-of-fold probabilities over note-grouped folds (a fold whose training part has one
    class only predicts that part's share of positives)."""
    folds = min(parameters.folds, int(labels.sum()), int(len(labels) - labels.sum()))
    out = numpy.full(len(labels), float(labels.mean()))
    for train, test in grouped_folds(labels, groups, folds, seed):
        if len(numpy.unique(labels[train])) < 2:
            out[test] = float(labels[train].mean())
            continue
        model = _classifier(parameters, seed).fit(x[train], labels[train], sample_weight=weight[train])
        out[test] = model.predict_proba(x[test])[:, 1]
    return out


def _threshold(probabilities: Any, labels: Any, parameters: Parameters) -> float:
    """The lowest threshold (at least ``min_threshold``) whose out-of-fold precision reaches the
    target; above every probability (nothing coded) when none does."""
    best = 1.01
    for threshold in sorted(set(numpy.round(probabilities[labels == 1], 4).tolist()), reverse=True):
        if threshold < parameters.min_threshold:
            break
        precision, _, _ = _scores(probabilities >= threshold, labels)
        if precision >= parameters.target_precision:
            best = threshold
    return best


def _scores(predicted: Any, labels: Any) -> tuple[float, float, float]:
    tp = int((predicted & (labels == 1)).sum())
    fp = int((predicted & (labels == 0)).sum())
    fn = int((~predicted & (labels == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _content_hash(model: LearnedModel) -> str:
    """sha256 of what the model is: parameters, codes, labelled sentences, weights and thresholds."""
    digest = hashlib.sha256()
    meta = model._metadata()
    meta.pop("hash")
    digest.update(json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    for array in (model.coef, numpy.round(model.intercept, 6), numpy.round(model.thresholds, 6)):
        digest.update(numpy.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
