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
    word), ``units`` (how many), ``doc`` (the document of each unit: context stops at its edges)."""

    lowers: Any  # numpy uint64
    row: Any  # numpy int64
    units: int
    doc: Any  # numpy int64, one per unit


def _hash(values: Any, salt: int | Any) -> Any:
    """Column indexes of 64-bit ids (an array) under a salt, or an array of salts: multiplicative
    hashing in numpy's wrapping uint64 arithmetic (arrays wrap silently; scalars would warn)."""
    salts = _SALTED[salt] if isinstance(salt, int) else _SALTED_ARRAY[salt]
    return (((values ^ salts) * _MIX) >> _SHIFT).astype(numpy.int64)


_SALTED = {
    salt: numpy.array([salt * 0x5851F42D4C957F2D & 0xFFFFFFFFFFFFFFFF], dtype=numpy.uint64) for salt in SALTS.values()
}
_SALTED_ARRAY = numpy.array([0, *(_SALTED[salt][0] for salt in sorted(_SALTED))], dtype=numpy.uint64)


def string_id(text: str) -> int:
    """A 64-bit id of a string, stable across processes and machines (spaCy's MurmurHash, as its
    LOWER ids): for lemmas and character n-grams."""
    from spacy.strings import hash_string  # type: ignore[attr-defined]  # Cython module without stubs for it

    return int(hash_string(text))


def _char_grams(word: str) -> list[str]:
    marked = f"<{word}>"
    if len(word) < 3:
        return []
    return [marked[i : i + n] for n in (3, 4, 5) for i in range(len(marked) - n + 1)]


class Featurizer:
    """Turns word tokens into a sparse matrix; remembers each word's features (per process)."""

    def __init__(self, strings: Any, weights: FeatureWeights = FeatureWeights()) -> None:
        self.strings = strings  # a spaCy StringStore: LOWER id -> word
        self.weights = weights
        # Every word seen so far has a slot: its features are columns[starts[slot]:][:lengths[slot]]
        # of flat arrays, so a batch gathers them with array indexing, not one array per word.
        self._slot: dict[int, int] = {}
        self._pending: list[tuple[Any, Any]] = []
        self._columns = numpy.zeros(0, dtype=numpy.int64)
        self._weights = numpy.zeros(0)
        self._starts = numpy.zeros(0, dtype=numpy.int64)
        self._lengths = numpy.zeros(0, dtype=numpy.int64)

    def _slots(self, words: list[int]) -> Any:
        """The slot of each word, adding the features of words not seen before (hashed at once)."""
        slot = self._slot
        found, new = [], []
        for word in words:
            index = slot.get(word)
            if index is None:
                index = slot[word] = len(slot)
                new.append(word)
            found.append(index)
        if new:
            ids, salts, weights, lengths = self._features_of(new)
            self._starts = numpy.concatenate((self._starts, len(self._columns) + numpy.cumsum(lengths) - lengths))
            self._lengths = numpy.concatenate((self._lengths, lengths))
            self._columns = numpy.concatenate((self._columns, _hash(ids, salts)))
            self._weights = numpy.concatenate((self._weights, weights))
        return numpy.array(found, dtype=numpy.int64)

    def _features_of(self, words: list[int]) -> tuple[Any, Any, Any, Any]:
        """(ids, salts, weights, count per word) of words' own features: the word, its lemma and
        its character n-grams."""
        ids: list[int] = []
        salts: list[int] = []
        weights: list[float] = []
        lengths = []
        word_weight, lemma_weight = self.weights.word, self.weights.word * 0.5
        for lower in words:
            word = self.strings[lower].replace("\u2019", "'")
            grams = _char_grams(word)
            ids += [lower, string_id(_lemma_of(word)), *map(string_id, grams)]
            salts += [SALTS["word"], SALTS["lemma"], *[SALTS["char"]] * len(grams)]
            char = self.weights.char / max(1, len(grams)) ** 0.5
            weights += [word_weight, lemma_weight, *[char] * len(grams)]
            lengths.append(2 + len(grams))
        return (
            numpy.array(ids, dtype=numpy.uint64),
            numpy.array(salts, dtype=numpy.int64),
            numpy.array(weights),
            numpy.array(lengths, dtype=numpy.int64),
        )

    def matrix(self, rows: Rows, *, normalise: bool = True) -> Any:
        """The feature matrix (scipy CSR, ``rows.units`` x ``2**BITS``), rows L2-normalised."""
        from scipy.sparse import csr_matrix

        lowers, row = rows.lowers, rows.row
        columns, rows_of, data = [], [], []
        if len(lowers):
            unique, inverse = numpy.unique(lowers, return_inverse=True)
            slots = self._slots(unique.tolist())
            lengths, starts = self._lengths[slots], self._starts[slots]
            flat_columns, flat_weights = self._columns, self._weights
            per_token = lengths[inverse]
            offsets = numpy.repeat(
                starts[inverse] - numpy.concatenate(([0], numpy.cumsum(per_token)[:-1])), per_token
            ) + numpy.arange(per_token.sum())
            columns.append(flat_columns[offsets])
            data.append(flat_weights[offsets])
            rows_of.append(numpy.repeat(row, per_token))
            same = row[1:] == row[:-1]
            if same.any():
                pairs = lowers[:-1][same] * _MIX2 + lowers[1:][same]
                columns.append(_hash(pairs, SALTS["bigram"]))
                data.append(numpy.full(int(same.sum()), self.weights.bigram))
                rows_of.append(row[:-1][same])
            if self.weights.context:
                for shift in (-1, 1):
                    target = row + shift
                    inside = (target >= 0) & (target < rows.units)
                    inside[inside] &= rows.doc[target[inside]] == rows.doc[row[inside]]
                    columns.append(_hash(lowers[inside], SALTS["context"]))
                    data.append(numpy.full(int(inside.sum()), self.weights.context))
                    rows_of.append(target[inside])
        if not columns or not rows.units:
            return csr_matrix((rows.units, 2**BITS), dtype=numpy.float32)
        matrix = csr_matrix(
            (numpy.concatenate(data).astype(numpy.float32), (numpy.concatenate(rows_of), numpy.concatenate(columns))),
            shape=(rows.units, 2**BITS),
        )
        numpy.sqrt(matrix.data, out=matrix.data)  # duplicates were summed: a word said five times is not five
        # times the evidence
        return normalised(matrix) if normalise else matrix


def normalised(matrix: Any) -> Any:
    """A CSR matrix's rows scaled in place to unit length (empty rows stay empty): what
    scikit-learn's ``normalize`` does, without importing scikit-learn (a second or more per
    process) where only scoring happens."""
    lengths = numpy.diff(matrix.indptr)
    rows = numpy.repeat(numpy.arange(matrix.shape[0]), lengths)
    squares = numpy.bincount(rows, weights=numpy.square(matrix.data, dtype=numpy.float64), minlength=matrix.shape[0])
    norms = numpy.sqrt(numpy.where(squares > 0, squares, 1.0))
    matrix.data /= norms[rows].astype(matrix.data.dtype)
    return matrix


def words_of_texts(texts: Sequence[str]) -> list[Any]:
    """LOWER ids of the word tokens of each text, tokenized as the engine tokenizes notes."""
    from .engine import word_lowers
    from .layout import blank_pipeline, tokenizer_of

    return [word_lowers(doc) for doc in tokenizer_of(blank_pipeline()).pipe(texts)]


def rows_of_sentences(sentences: Sequence[Any], groups: Iterable[int]) -> Rows:
    """Rows from per-sentence word arrays; ``groups``: the document of each sentence (consecutive
    sentences of one document are neighbours)."""
    counts = [len(words) for words in sentences]
    lowers = numpy.concatenate(sentences) if sentences else numpy.zeros(0, dtype=numpy.uint64)
    row = numpy.repeat(numpy.arange(len(sentences)), counts)
    return Rows(lowers.astype(numpy.uint64), row, len(sentences), numpy.array(list(groups), dtype=numpy.int64))
