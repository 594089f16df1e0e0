"""Text layout: pipelines, paragraphs, languages and sentences.

The text is cut into paragraphs at blank lines; each gets a language (English or Chinese, by its
share of hanzi). One blank spaCy tokenizer serves both: English rules, one token per hanzi, Latin
words (pinyin) whole. Sentences end at ``. ! ?``, at ``。！？`` and at line breaks (unless the
paragraph looks hard-wrapped): spaCy's sentencizer rule, computed on token arrays.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

import numpy

from phantomcode.errors import UsageError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc
    from spacy.vocab import Vocab
    from thinc.types import Ints2d

_CJK_TOKEN = r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"
_HANZI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE_END = tuple(".!?。！？:;：；\"'”’)")
_EXTRA_PUNCT = ["。", "！", "？", "｡"]


def _english_with_cjk_infix() -> type[Language]:
    """spaCy's English language class whose tokenizer also cuts every hanzi into its own token.

    The blank pipeline gets its infixes at construction; :func:`_add_cjk_infix` (for ``--model``
    pipelines, already built) makes the tokenizer reload its special cases, 0.1 s more per process.
    """
    from spacy.lang.en import English, EnglishDefaults

    class Defaults(EnglishDefaults):
        infixes = [*(EnglishDefaults.infixes or ()), _CJK_TOKEN]

    class EnglishCJK(English):
        lang = "en"

    EnglishCJK.Defaults = Defaults
    return EnglishCJK


@lru_cache(maxsize=1)
def blank_pipeline() -> Language:
    """The tokenizer-only pipeline for English and Chinese paragraphs alike; built once per process.

    Public so that a notebook or a test can build Docs exactly as the engine does and run a
    :class:`~phantomcode.coding.CodeMatcher` on them.

    English tokenizer rules plus one token per hanzi: Latin words (pinyin, English) stay whole in
    Chinese text and hanzi are split in English text, so one pipeline serves both languages.
    Sentences are set by :func:`_sentence_starts` and lemmas come from the lookup table, so the
    pipeline has no components at all.
    """
    return _english_with_cjk_infix()()


class Tokenizer(Protocol):
    """What the engine uses of spaCy's Tokenizer (a Cython class without type stubs)."""

    infix_finditer: Any  # a compiled regex's bound finditer (its pattern is read back), or None

    def pipe(self, texts: Iterable[str]) -> Iterator[Doc]: ...


def tokenizer_of(nlp: Language) -> Tokenizer:
    """The pipeline's tokenizer, as the class it is: spaCy types ``Language.tokenizer`` as any
    callable from text to Doc, so its ``pipe`` and infix rules are invisible to the type checker."""
    return cast("Tokenizer", nlp.tokenizer)


def _add_cjk_infix(nlp: Language) -> None:
    """Cut every hanzi into its own token, on top of a loaded pipeline's own infix rules."""
    tokenizer = tokenizer_of(nlp)
    finditer = tokenizer.infix_finditer
    existing = finditer.__self__.pattern if finditer is not None else None
    pattern = f"{existing}|{_CJK_TOKEN}" if existing else _CJK_TOKEN
    tokenizer.infix_finditer = re.compile(pattern).finditer


@lru_cache(maxsize=1)
def _punct_chars() -> tuple[str, ...]:
    from spacy.pipeline import Sentencizer

    return tuple(sorted(set(Sentencizer.default_punct_chars) | set(_EXTRA_PUNCT)))


def _load_model(name: str) -> Language:
    import spacy

    try:
        nlp = spacy.load(name)
    except OSError as exc:
        raise UsageError(
            f"spaCy pipeline {name!r} is not installed (phantomcode never downloads "
            "models); install its package or leave out --model"
        ) from exc
    _add_cjk_infix(nlp)
    if not nlp.has_pipe("parser") and not nlp.has_pipe("senter") and not nlp.has_pipe("sentencizer"):
        nlp.add_pipe("sentencizer", config={"punct_chars": list(_punct_chars())})
    return nlp


class _Sentences(NamedTuple):
    """Sentence boundaries of a Doc: ``bounds`` (start, end) token ranges, ``of`` the sentence of
    each token."""

    bounds: list[tuple[int, int]]
    of: list[int]

    @classmethod
    def from_starts(cls, starts: Any) -> _Sentences:
        first_tokens = numpy.flatnonzero(starts).tolist()
        return cls(list(itertools.pairwise([*first_tokens, len(starts)])), (numpy.cumsum(starts) - 1).tolist())


class _Columns(NamedTuple):
    """Token attributes of one Doc as arrays, read with one ``to_array`` call instead of Token objects."""

    lower: Any  # numpy uint64 arrays
    orth: Any
    is_punct: Any
    is_space: Any
    idx: list[int]  # character offset of each token
    ends: list[int]  # character offset just past each token


def _columns(doc: Doc) -> _Columns:
    array = doc.to_array(["LOWER", "ORTH", "IDX", "LENGTH", "IS_PUNCT", "IS_SPACE"])
    idx = array[:, 2]
    return _Columns(
        array[:, 0],
        array[:, 1],
        array[:, 4].astype(bool),
        array[:, 5].astype(bool),
        idx.tolist(),
        (idx + array[:, 3]).tolist(),
    )


def _sentence_starts(doc: Doc, columns: _Columns, text: str) -> Any:
    """Sentence starts of a blank-pipeline Doc, as a boolean array; also set on the Doc.

    The rule of spaCy's sentencizer (a sentence starts at the first token that is neither
    punctuation nor a sentence-final mark after such a mark), computed on arrays, plus: a line
    break ends a sentence (``text`` is ``doc.text``; hard-wrapped paragraphs arrive with their
    line breaks already turned into spaces).
    """
    count = len(columns.idx)
    starts = numpy.zeros(count, dtype=bool)
    if not count:
        return starts
    final = _is_member(columns.orth, _punct_ids(doc.vocab))
    punctish = columns.is_punct | final
    words = numpy.flatnonzero(~punctish)
    finals_before = numpy.concatenate(([0], numpy.cumsum(final)))
    previous = numpy.concatenate(([-1], words[:-1]))
    starts[words[finals_before[words] - finals_before[previous + 1] > 0]] = True
    starts[0] = True
    if "\n" in text:
        breaks = columns.is_space & _is_member(columns.orth, _id_table(_newline_ids(doc.vocab, columns)))
        starts[1:] |= breaks[:-1]
    sent_starts = numpy.where(starts, 1, -1).astype("int64").astype("uint64").reshape(-1, 1)
    doc.from_array(["SENT_START"], cast("Ints2d", sent_starts))
    return starts


@cache
def _punct_ids(vocab: Vocab) -> Any:
    return _id_table(vocab.strings.add(char) for char in _punct_chars())


def _id_table(ids: Iterable[int]) -> Any:
    """Sorted ids for :func:`_is_member`."""
    return numpy.array(sorted(set(ids)), dtype="uint64")


def _is_member(column: Any, table: Any) -> Any:
    """``numpy.isin`` for hash ids in a sorted table: one binary search per token, not a pass per id."""
    if not len(table):
        return numpy.zeros(len(column), dtype=bool)
    positions = numpy.minimum(numpy.searchsorted(table, column), len(table) - 1)
    return table[positions] == column


def _newline_ids(vocab: Any, columns: _Columns) -> list[int]:
    """Ids of the whitespace tokens that hold a line break (few distinct ones per document)."""
    spaces = set(columns.orth[columns.is_space].tolist())
    return [orth for orth in spaces if "\n" in vocab.strings[orth]]


def _model_sentence_starts(doc: Doc, text: str) -> Any:
    """Sentence starts of a Doc from a ``--model`` pipeline (its parser, senter or sentencizer),
    plus line breaks unless a parser decided the sentences."""

    if "\n" in text and not doc.has_annotation("DEP"):
        for token in doc[:-1]:
            if token.is_space and "\n" in token.text:
                doc[token.i + 1].is_sent_start = True
    starts = numpy.zeros(len(doc), dtype=bool)
    starts[[sentence.start for sentence in doc.sents]] = True
    return starts


# -- text layout -------------------------------------------------------------------------------------
def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph (text between blank lines), stripped of surrounding space.

    A paragraph longer than ``MAX_BLOCK_CHARS`` (a pasted transcript with no blank lines) is cut at
    sentence ends, so spaCy never sees a text over its length limit and memory stays bounded.
    """
    spans: list[tuple[int, int]] = []
    position = 0
    for match in itertools.chain(_PARAGRAPH_BREAK.finditer(text), [None]):
        end = match.start() if match else len(text)
        chunk = text[position:end]
        stripped = chunk.strip()
        if stripped:
            start = position + (len(chunk) - len(chunk.lstrip()))
            spans.extend(_cut_long_block(text, start, start + len(stripped)))
        position = match.end() if match else len(text)
    return spans


MAX_BLOCK_CHARS = 100_000
_CUT_POINT = re.compile(r"[.!?。！？]\s+|\s+")


def _cut_long_block(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Pieces of at most ``MAX_BLOCK_CHARS``, cut after the last sentence end (else whitespace)."""
    while end - start > MAX_BLOCK_CHARS:
        window = text[start : start + MAX_BLOCK_CHARS]
        cuts = [m for m in _CUT_POINT.finditer(window) if m.start() > 0]
        sentence_cuts = [m for m in cuts if not window[m.start()].isspace()]
        best = (sentence_cuts or cuts)[-1] if cuts else None
        piece_end = start + (best.start() + (0 if window[best.start()].isspace() else 1) if best else MAX_BLOCK_CHARS)
        yield start, piece_end
        start = start + (best.end() if best else MAX_BLOCK_CHARS)
    yield start, end


def detect_language(text: str) -> str:
    """``zh`` when hanzi outnumber Latin words (a hanzi is about one word), else ``en``."""
    hanzi = len(_HANZI.findall(text))
    return "zh" if hanzi and hanzi >= len(_LATIN_WORD.findall(text)) else "en"


def _looks_hard_wrapped(paragraph: str) -> bool:
    lines = paragraph.split("\n")
    if len(lines) < 3:
        return False
    body = [line.rstrip() for line in lines[:-1]]
    wrapped = [line for line in body if 50 <= len(line) <= 100 and not line.endswith(_SENTENCE_END)]
    return len(wrapped) >= 0.7 * len(body)
