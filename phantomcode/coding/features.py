"""Sentence features for the learned layer: hashed word and character n-grams, one pass per batch.

Features come from the word tokens the engine already has (spaCy's LOWER ids, 64-bit hashes of
the lower-case word), so coding a corpus tokenizes it once for rules and model alike:

- the word and its lemma (spacy-lookups-data's table), and the character 3- to 5-grams of the
  word with boundary marks (``<le``, ``lea``, ... ``se>``): paraphrases share word parts, and
  Chinese, one token per hanzi, needs no segmenter;
- word bigrams within the sentence (in Chinese, character bigrams);
- the words of the neighbouring sentences, apart ("the formula" is explained by the sentence
  before it), with a lower weight.

Each feature is hashed into ``2**BITS`` columns; a word's features are worked out once per process
and then only looked up, so the cost per token is a few array operations. Rows are L2-normalised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy

from .lemmas import _lemma_of

BITS = 18
_MIX = numpy.uint64(0x9E3779B97F4A7C15)
_MIX2 = numpy.uint64(0xC2B2AE3D27D4EB4F)
_SHIFT = numpy.uint64(64 - BITS)
SALTS = {"word": 1, "lemma": 2, "char": 3, "bigram": 4, "context": 5}


@dataclass(frozen=True)
class FeatureWeights:
    """How much each kind of feature counts in a row before normalisation."""

    word: float = 1.0
    char: float = 0.5
    bigram: float = 0.7
    context: float = 0.35


class Rows(NamedTuple):
    """Word tokens of many units: ``lowers`` (LOWER ids of their words), ``row`` (the unit of each
    word), ``count`` units, ``doc`` (the document of each unit: context stops at its edges)."""

    lowers: Any  # numpy uint64
    row: Any  # numpy int64
    count: int
    doc: Any  # numpy int64, one per unit


def _hash(values: Any, salt: Any) -> Any:
    """Column indexes of 64-bit ids under a salt (or an array of salts): multiplicative hashing,
    in numpy's wrapping uint64 arithmetic."""
    salts = numpy.asarray(salt, dtype=numpy.uint64) * numpy.uint64(0x5851F42D4C957F2D)
    with numpy.errstate(over="ignore"):
        mixed = (values ^ salts) * _MIX
    return (mixed >> _SHIFT).astype(numpy.int64)


def string_id(text: str) -> int:
    """A 64-bit id of a string, stable across processes and machines (spaCy's MurmurHash, as its
    LOWER ids): for lemmas and character n-grams."""
    from spacy.strings import hash_string

    return hash_string(text)


def _char_grams(word: str) -> list[str]:
    marked = f"<{word}>"
    if len(word) < 3:
        return []
    return [marked[i:i + n] for n in (3, 4, 5) for i in range(len(marked) - n + 1)]


class Featurizer:
    """Turns word tokens into a sparse matrix; remembers each word's features (per process)."""

    def __init__(self, strings: Any, weights: FeatureWeights = FeatureWeights()) -> None:
        self.strings = strings  # a spaCy StringStore: LOWER id -> word
        self.weights = weights
        self._word_features: dict[int, tuple[Any, Any]] = {}  # LOWER id -> (columns, weights)

    def feature_names(self, word: str) -> list[tuple[str, int, float]]:
        """(name, column, weight) of a word's own features, for explanations."""
        lower = self.strings.add(word.lower())
        names = [f"{word.lower()}", f"lemma:{_lemma_of(word.lower())}", *(f"chars:{g}" for g in
                                                                         _char_grams(word.lower()))]
        columns, weights = self._features_of(lower)
        return list(zip(names, columns.tolist(), weights.tolist()))

    def _features_of(self, lower: int) -> tuple[Any, Any]:
        known = self._word_features.get(lower)
        if known is not None:
            return known
        word = self.strings[lower].replace("\u2019", "'")
        ids = [lower, string_id(_lemma_of(word))]
        salts = [SALTS["word"], SALTS["lemma"]]
        grams = _char_grams(word)
        ids += [string_id(gram) for gram in grams]
        salts += [SALTS["char"]] * len(grams)
        columns = _hash(numpy.array(ids, dtype=numpy.uint64), numpy.array(salts, dtype=numpy.uint64))
        char = self.weights.char / max(1, len(grams)) ** 0.5
        weights = numpy.array([self.weights.word, self.weights.word * 0.5] + [char] * len(grams))
        self._word_features[lower] = (columns, weights)
        return columns, weights

    def matrix(self, rows: Rows, *, normalise: bool = True) -> Any:
        """The feature matrix (scipy CSR, ``rows.count`` x ``2**BITS``), rows L2-normalised."""
        from scipy.sparse import csr_matrix
        from sklearn.preprocessing import normalize

        lowers, row = rows.lowers, rows.row
        columns, rows_of, data = [], [], []
        if len(lowers):
            unique, inverse = numpy.unique(lowers, return_inverse=True)
            features = [self._features_of(int(word)) for word in unique.tolist()]
            lengths = numpy.array([len(c) for c, _ in features])
            flat_columns = numpy.concatenate([c for c, _ in features])
            flat_weights = numpy.concatenate([w for _, w in features])
            starts = numpy.concatenate(([0], numpy.cumsum(lengths)[:-1]))
            per_token = lengths[inverse]
            offsets = numpy.repeat(starts[inverse] - numpy.concatenate(([0], numpy.cumsum(per_token)[:-1])),
                                   per_token) + numpy.arange(per_token.sum())
            columns.append(flat_columns[offsets])
            data.append(flat_weights[offsets])
            rows_of.append(numpy.repeat(row, per_token))
            same = row[1:] == row[:-1]
            if same.any():
                with numpy.errstate(over="ignore"):
                    pairs = lowers[:-1][same] * _MIX2 + lowers[1:][same]
                columns.append(_hash(pairs, SALTS["bigram"]))
                data.append(numpy.full(int(same.sum()), self.weights.bigram))
                rows_of.append(row[:-1][same])
            if self.weights.context:
                for shift in (-1, 1):
                    target = row + shift
                    inside = (target >= 0) & (target < rows.count)
                    inside[inside] &= rows.doc[target[inside]] == rows.doc[row[inside]]
                    columns.append(_hash(lowers[inside], SALTS["context"]))
                    data.append(numpy.full(int(inside.sum()), self.weights.context))
                    rows_of.append(target[inside])
        if not columns or not rows.count:
            return csr_matrix((rows.count, 2 ** BITS), dtype=numpy.float32)
        matrix = csr_matrix((numpy.concatenate(data).astype(numpy.float32),
                             (numpy.concatenate(rows_of), numpy.concatenate(columns))),
                            shape=(rows.count, 2 ** BITS))
        matrix.sum_duplicates()
        numpy.sqrt(matrix.data, out=matrix.data)  # a word said five times is not five times the evidence
        return normalize(matrix, copy=False) if normalise else matrix


def words_of_texts(texts: Sequence[str]) -> list[Any]:
    """LOWER ids of the word tokens of each text, tokenized as the engine tokenizes notes."""
    from .layout import _blank_pipeline
    from .engine import word_lowers

    nlp = _blank_pipeline()
    return [word_lowers(doc) for doc in nlp.tokenizer.pipe(texts)]


def rows_of_sentences(sentences: Sequence[Any], groups: Iterable[int]) -> Rows:
    """Rows from per-sentence word arrays; ``groups``: the document of each sentence (consecutive
    sentences of one document are neighbours)."""
    counts = [len(words) for words in sentences]
    lowers = numpy.concatenate(sentences) if sentences else numpy.zeros(0, dtype=numpy.uint64)
    row = numpy.repeat(numpy.arange(len(sentences)), counts)
    return Rows(lowers.astype(numpy.uint64), row, len(sentences), numpy.array(list(groups), dtype=numpy.int64))
