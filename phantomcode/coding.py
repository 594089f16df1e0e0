"""The matcher engine: apply a codebook to note text and explain every coding.

How a document is coded:

1. The text is cut into paragraphs at blank lines; each gets a language (English or Chinese, by
   its share of hanzi), which sets its negation window. One blank spaCy tokenizer serves both:
   English rules, one token per hanzi, Latin words (pinyin) whole. Consecutive paragraphs share
   one Doc, so per-Doc costs are paid once per note. A ``--model`` pipeline gets one Doc per
   paragraph of its language.
2. Sentences end at ``. ! ?``, at ``。！？`` and at line breaks (unless the paragraph looks
   hard-wrapped): spaCy's sentencizer rule, computed on token arrays. The unit of coding is the
   sentence or the paragraph (``unit`` in the codebook).
3. One :class:`CodeMatcher` call per Doc finds every rule of every code, the negation triggers and
   the sector cues at once. Everything matches lower-case word forms: a term is also added in
   every spelling whose lemma (spacy-lookups-data's table) equals its own, as those spellings
   first occur in the text, so no token needs a lemma. Token patterns (their LEMMA tests
   rewritten the same way) run only on sentences holding a word of each required token; regexes
   only on sentences holding their required literals. Cost grows with tokens, not with codes.
4. Per unit and code: a veto hit cancels the code in that unit; otherwise every hit is checked
   NegEx-style for negation and hypotheticals (trigger words before or after it within the
   codebook's window, stopped by terminators and sentence ends; a trigger that is part of the
   hit's own words, as in "without a lease", does not negate it).
5. One :class:`Coding` per code per unit. Choice: the hit with the fewest flags (clean, then
   hypothetical, then negated), then the first rule in codebook order (terms, patterns, regex,
   near); its ``matched`` spans are all hits of that same rule with the same flags in the unit.
   Hits of other rules are not merged in; :meth:`CodingEngine.explain` shows all of them.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy

from phantomcode.codebook import Codebook, RuleSet
from phantomcode.errors import UsageError

__all__ = ["Candidate", "CodeMatcher", "Coding", "CodingEngine", "ExampleResult", "MatchedSpan",
           "Segment", "check_examples", "detect_language", "pattern_clue", "regex_clue", "split_paragraphs",
           "term_clue"]

_CJK_TOKEN = r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"
_HANZI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE_END = tuple(".!?。！？:;：；\"'”’)")
_EXTRA_PUNCT = ["。", "！", "？", "｡"]
_FLAG_ORDER = {(False, False): 0, (False, True): 1, (True, False): 2, (True, True): 3}


@dataclass(frozen=True)
class MatchedSpan:
    """Words that made a rule fire; offsets into the document text. ``term``: the codebook entry."""

    start: int
    end: int
    text: str
    term: str | None = None


@dataclass(frozen=True)
class Coding:
    code: str
    rule: str  # e.g. "paperwork/terms", "paperwork/near[0]", "class_size/regex[1]"
    start: int
    end: int
    matched: tuple[MatchedSpan, ...]
    negated: bool
    hypothetical: bool
    cue: str | None


@dataclass(frozen=True)
class Candidate(Coding):
    """One rule hit before selection, as shown by :meth:`CodingEngine.explain`: a coding, plus the
    veto that cancelled it, if any."""

    vetoed_by: str | None  # veto rule id and words, e.g. "class_size/veto/terms: small class"


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    unit: str
    sector: str | None
    sector_source: str | None  # "declared" | "inferred" | None
    codings: tuple[Coding, ...]


@dataclass(frozen=True)
class CodedDocument:
    """A document's coded segments, plus its document-level sector.

    Iterating gives the segments, so ``for segment in engine.code_document(text)`` reads naturally.
    The document sector is what reports count a respondent under: the declared ``sector``
    attribute, else the sector whose cues are most frequent in the whole text ("inferred").
    """

    segments: tuple[Segment, ...]
    sector: str | None
    sector_source: str | None

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, index: int) -> Segment:
        return self.segments[index]


class Hit(NamedTuple):
    key: str
    start: int  # token offsets in the paragraph doc
    end: int
    term: str | None
    start_char: int  # character offsets in the paragraph doc
    end_char: int


# -- pipelines -------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _lemma_table() -> dict[str, str]:
    """spacy-lookups-data's English lemma table (word form -> lemma), read from its packaged JSON.

    The same table spaCy's lookup lemmatizer uses; read directly it loads in a few hundredths of a
    second and needs no pipeline.
    """
    import gzip
    import json

    import spacy_lookups_data

    path = Path(spacy_lookups_data.en["lemma_lookup"])
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            data = candidate.read_bytes()
            return json.loads(gzip.decompress(data) if candidate.suffix == ".gz" else data)
    raise UsageError(f"spacy-lookups-data is installed without its English lemma table ({path}); "
                     "reinstall it: pip install --force-reinstall spacy-lookups-data")


@lru_cache(maxsize=1)
def _lemma_inverse() -> dict[str, tuple[str, ...]]:
    """Lemma -> the lower-case word forms the table maps to it (upper-case keys are never looked up)."""
    inverse: dict[str, list[str]] = defaultdict(list)
    for form, lemma in _lemma_table().items():
        if form == form.lower():
            inverse[lemma].append(form)
    return {lemma: tuple(forms) for lemma, forms in inverse.items()}


def _lemma_of(norm: str) -> str:
    return _lemma_table().get(norm, norm)


def _forms_of_lemma(lemma: str) -> set[str]:
    """Every normalised word form whose lemma is ``lemma``: the inverse of :func:`_lemma_of`."""
    forms = set(_lemma_inverse().get(lemma, ()))
    if lemma == lemma.lower() and lemma not in _lemma_table():
        forms.add(lemma)  # a word missing from the table is its own lemma
    return forms


def _with_curly_apostrophes(forms: Iterable[str]) -> set[str]:
    """Forms plus their spelling with a typographic apostrophe, as typed by word processors."""
    forms = set(forms)
    return forms | {form.replace("'", "\u2019") for form in forms if "'" in form}


def _english_with_cjk_infix() -> Any:
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
def _blank_pipeline() -> Any:
    """The tokenizer-only pipeline for English and Chinese paragraphs alike; built once per process.

    English tokenizer rules plus one token per hanzi: Latin words (pinyin, English) stay whole in
    Chinese text and hanzi are split in English text, so one pipeline serves both languages.
    Sentences are set by :func:`_sentence_starts` and lemmas come from the lookup table, so the
    pipeline has no components at all.
    """
    return _english_with_cjk_infix()()


def _add_cjk_infix(nlp: Any) -> None:
    """Cut every hanzi into its own token, on top of a loaded pipeline's own infix rules."""
    finditer = nlp.tokenizer.infix_finditer
    existing = finditer.__self__.pattern if finditer is not None else None
    pattern = f"{existing}|{_CJK_TOKEN}" if existing else _CJK_TOKEN
    nlp.tokenizer.infix_finditer = re.compile(pattern).finditer


@lru_cache(maxsize=1)
def _punct_chars() -> tuple[str, ...]:
    from spacy.pipeline import Sentencizer

    return tuple(sorted(set(Sentencizer.default_punct_chars) | set(_EXTRA_PUNCT)))


def _load_model(name: str) -> Any:
    import spacy

    try:
        nlp = spacy.load(name)
    except OSError as exc:
        raise UsageError(f"spaCy pipeline {name!r} is not installed (phantomcode never downloads "
                         "models); install its package or leave out --model") from exc
    _add_cjk_infix(nlp)
    if not nlp.has_pipe("parser") and not nlp.has_pipe("senter") and not nlp.has_pipe("sentencizer"):
        nlp.add_pipe("sentencizer", config={"punct_chars": list(_punct_chars())})
    return nlp


_CONTRACTED = {"wo": "will", "ca": "can", "sha": "shall"}  # won't, can't, shan't


def _set_lemmas(doc: Any) -> None:
    """Set NORM (lower case, straight apostrophes) and LEMMA (looked up by NORM) on every token.

    Only needed by token patterns whose LEMMA or NORM test cannot be rewritten as a LOWER test
    (see :func:`_rewrite_token`); terms and the other patterns match lower-case word forms.
    """
    from spacy.attrs import LEMMA, LOWER, NORM

    if not len(doc):
        return
    strings = doc.vocab.strings
    cache = _norm_lemma_cache(doc.vocab)
    lowers = doc.to_array([LOWER])
    values = []
    for lower in lowers.tolist():
        pair = cache.get(lower)
        if pair is None:
            pair = cache[lower] = _norm_and_lemma(strings, strings[lower])
        values.append(pair)
    array = doc.to_array([NORM, LEMMA])
    array[:] = values
    not_id = strings["not"]
    for i in range(len(values) - 1):
        if values[i + 1][1] == not_id and strings[values[i][1]] in _CONTRACTED:
            array[i, 1] = strings.add(_CONTRACTED[strings[values[i][1]]])
    doc.from_array([NORM, LEMMA], array)


@lru_cache(maxsize=None)
def _norm_lemma_cache(vocab: Any) -> dict[int, tuple[int, int]]:
    """Per-vocabulary cache: LOWER id -> (NORM id, LEMMA id)."""
    return {}


def _norm_and_lemma(strings: Any, lower: str) -> tuple[int, int]:
    norm = lower.replace("\u2019", "'")
    return strings.add(norm), strings.add(_lemma_of(norm))


class _Sentences(NamedTuple):
    """Sentence boundaries of a Doc: ``bounds`` (start, end) token ranges, ``of`` the sentence of
    each token."""

    bounds: list[tuple[int, int]]
    of: list[int]

    @classmethod
    def from_starts(cls, starts: Any) -> _Sentences:
        first_tokens = numpy.flatnonzero(starts).tolist()
        return cls(list(zip(first_tokens, [*first_tokens[1:], len(starts)])), (numpy.cumsum(starts) - 1).tolist())


class _Columns(NamedTuple):
    """Token attributes of one Doc as arrays, read with one ``to_array`` call instead of Token objects."""

    lower: Any  # numpy uint64 arrays
    orth: Any
    is_punct: Any
    is_space: Any
    idx: list[int]  # character offset of each token
    ends: list[int]  # character offset just past each token


def _columns(doc: Any) -> _Columns:
    from spacy.attrs import IDX, IS_PUNCT, IS_SPACE, LENGTH, LOWER, ORTH

    array = doc.to_array([LOWER, ORTH, IDX, LENGTH, IS_PUNCT, IS_SPACE])
    idx = array[:, 2]
    return _Columns(array[:, 0], array[:, 1], array[:, 4].astype(bool), array[:, 5].astype(bool),
                    idx.tolist(), (idx + array[:, 3]).tolist())


def _sentence_starts(doc: Any, columns: _Columns, text: str) -> Any:
    """Sentence starts of a blank-pipeline Doc, as a boolean array; also set on the Doc.

    The rule of spaCy's sentencizer (a sentence starts at the first token that is neither
    punctuation nor a sentence-final mark after such a mark), computed on arrays, plus: a line
    break ends a sentence (``text`` is ``doc.text``; hard-wrapped paragraphs arrive with their
    line breaks already turned into spaces).
    """
    from spacy.attrs import SENT_START

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
    doc.from_array([SENT_START], numpy.where(starts, 1, -1).astype("int64").astype("uint64").reshape(-1, 1))
    return starts


@lru_cache(maxsize=None)
def _punct_ids(vocab: Any) -> Any:
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


def _model_sentence_starts(doc: Any, text: str) -> Any:
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
    spans = []
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
        window = text[start:start + MAX_BLOCK_CHARS]
        cuts = [m for m in _CUT_POINT.finditer(window) if m.start() > 0]
        sentence_cuts = [m for m in cuts if not window[m.start()].isspace()]
        best = (sentence_cuts or cuts or [None])[-1]
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


# -- matcher ---------------------------------------------------------------------------------------
_MAX_PHRASE_SPELLINGS = 512  # above this, a term's word forms go to a token pattern instead
_KEY_SETS_REMEMBERED = 100_000  # combinations of keys whose complete rules an engine remembers


class _TokenPattern(NamedTuple):
    matcher: Any  # a spaCy Matcher holding one pattern
    required: tuple[tuple[str, frozenset[int]], ...]  # (attribute, word ids) per required token


class _Regex(NamedTuple):
    key: str
    regex: re.Pattern[str]
    expression: str
    clues: tuple[tuple[str, ...], ...]  # every match holds one string of each (case-folded); (): unknown


class CodeMatcher:
    """All rules of a codebook for one pipeline, matched in one pass, spaCy-Matcher style.

    ``add(key, terms=..., patterns=..., regex=...)`` registers a rule under a key; calling the
    matcher on a Doc returns :class:`Hit` tuples (key, token span, the term that matched).

    Everything matches lower-case word forms, so documents need no lemmas: a term is added in
    every spelling whose lemma equals the term's (``stamp`` also as ``stamps``, ``stamped``, ...,
    from the inverse of the lookup lemma table) and with typographic apostrophes, and a token
    pattern's LEMMA and NORM tests are rewritten as LOWER tests the same way. All spellings of all
    terms sit in one PhraseMatcher (a trie over the tokens), so cost grows with tokens, not terms.
    """

    def __init__(self, nlp: Any) -> None:
        from spacy.matcher import PhraseMatcher

        self.nlp = nlp
        self.vocab = nlp.vocab
        self._phrases = PhraseMatcher(self.vocab, attr="LOWER")
        self._patterns: list[_TokenPattern] = []
        self._required_ids: dict[str, set[int]] = defaultdict(set)  # attribute -> ids of required words
        self._required_tables: dict[str, Any] = {}  # the same as sorted arrays, built on first use
        self._ids: dict[int, tuple[str, str | None, bool]] = {}  # match id -> (key, term, exact)
        self._keys: set[str] = set()
        self._regexes: list[_Regex] = []
        self._globs: list[re.Pattern[str]] = []
        self._glob_index: dict[str, int] = {}
        self._glob_terms: list[tuple[str, list[set[str] | int]]] = []  # (match key, spellings or glob ids)
        self._glob_uses: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self._glob_words: dict[int, set[str]] = defaultdict(set)
        self._seen_words: set[int] = set()  # LOWER ids already checked against the globs
        self._inflected: list[tuple[str, list[set[str]]]] = []  # (match key, spellings per word)
        self._inflected_index: dict[str, list[tuple[int, int]]] = defaultdict(list)  # spelling -> uses
        self._known_ids: set[int] = set()  # LOWER ids already checked against the inflected spellings
        self._known_words: set[str] = set()
        self.needs_lemmas = False  # a pattern tests LEMMA or NORM in a way no LOWER test can replace

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def _match_id(self, key: str, term: str | None, *, exact: bool = False) -> str:
        """A unique match key for one term (or pattern) of a rule; hits map back to (key, term, exact).

        ``exact``: the term's own spelling, as opposed to another form of its lemma. When two terms
        of a rule match the same words ("refuse" and "refused" on "refused"), the one spelled as
        the text is the one reported.
        """
        match_key = f"{key}\x1f{term}" + ("\x1f=" if exact else "")
        self._ids[self.vocab.strings.add(match_key)] = (key.split("\x1f")[0], term, exact)
        return match_key

    def add(self, key: str, *, terms: Iterable[str] = (), patterns: Iterable[Sequence[Mapping]] = (),
            regex: Iterable[str] = (), lemmas: bool = True) -> None:
        """Register rules under ``key``. Terms match on word forms and, if ``lemmas``, on lemmas too."""
        self._keys.add(key)
        for term in terms:
            term = " ".join(term.split())
            exact = term.startswith("=")  # "=points": this word form only, not "point"
            phrase = term[1:].strip() if exact else term
            words = phrase.split()
            if any("*" in word for word in words):
                self._add_glob_term(self._match_id(key, term), words)
                continue
            spelled = self._spellings(phrase, by_lemma=False)
            self._add_spellings(self._match_id(key, term, exact=True), spelled)
            if lemmas and not exact and _LATIN_WORD.search(phrase):  # hanzi have no inflections
                inflected = self._spellings(phrase, by_lemma=True)
                if inflected != spelled:
                    self._add_inflected(self._match_id(key, term), inflected)
        for index, pattern in enumerate(patterns):
            self._add_pattern(self._match_id(f"{key}\x1f{index}", None), pattern)
        for expression in regex:
            clues = _regex_clues(expression)
            self._regexes.append(_Regex(key, re.compile(expression, re.IGNORECASE), expression, clues))

    def _spellings(self, phrase: str, by_lemma: bool) -> list[set[str]]:
        return _spellings(self.nlp, phrase, by_lemma)

    def _add_spellings(self, match_key: str, slots: list[set[str]]) -> None:
        """Add every combination of spellings as a phrase, or one token pattern if there are too many."""
        from spacy.tokens import Doc

        combinations = _product_size(slots)
        if not slots or not combinations:
            return
        if combinations > _MAX_PHRASE_SPELLINGS:
            pattern = [{"LOWER": {"IN": sorted(slot)}} for slot in slots]
            self._add_pattern(match_key, pattern, validate=False)
            return
        self._phrases.add(match_key, [Doc(self.vocab, words=list(words))
                                      for words in itertools.product(*map(sorted, slots))])

    def _add_inflected(self, match_key: str, slots: list[set[str]]) -> None:
        """Register a term's other word forms; phrases are added as their words turn up in text.

        A term like "send back" has dozens of spellings ("sends back", "sent back", ...) and a
        codebook thousands of terms: building them all costs a second per process, while a corpus
        uses few. :meth:`_learn_words` adds each combination once all its words have been seen.
        """
        if not slots or _product_size(slots) > _MAX_PHRASE_SPELLINGS:
            self._add_spellings(match_key, slots)  # as one token pattern
            return
        index = len(self._inflected)
        self._inflected.append((match_key, slots))
        for position, slot in enumerate(slots):
            for word in slot:
                self._inflected_index[word].append((index, position))
        self._add_spellings(match_key, [slot & self._known_words for slot in slots])

    def _learn_words(self, lowers: set[int]) -> None:
        """Add the inflected spellings that words seen for the first time complete."""
        new = lowers - self._known_ids
        if not new:
            return
        self._known_ids |= new
        for word_id in new:
            word = self.vocab.strings[word_id]
            self._known_words.add(word)
            for index, position in self._inflected_index.get(word, ()):
                match_key, slots = self._inflected[index]
                self._add_spellings(match_key, [{word} if i == position else slot & self._known_words
                                                for i, slot in enumerate(slots)])

    def _add_pattern(self, match_key: str, pattern: Sequence[Mapping], *, validate: bool = True) -> None:
        from spacy.matcher import Matcher

        rewritten = [_rewrite_token(token) for token in pattern]
        if any(token is None for token in rewritten):
            self.needs_lemmas = True
            rewritten = [dict(token) for token in pattern]
        matcher = Matcher(self.vocab, validate=validate)
        matcher.add(match_key, [rewritten])
        required = tuple((attr, frozenset(self.vocab.strings.add(word) for word in words))
                         for attr, words in _required_words(rewritten))
        for attr, ids in required:
            self._required_ids[attr].update(ids)
        self._required_tables.clear()
        self._patterns.append(_TokenPattern(matcher, required))

    def _add_glob_term(self, match_key: str, words: list[str]) -> None:
        spec: list[set[str] | int] = []
        for word in words:
            if "*" in word:
                glob = word.lower()
                if glob not in self._glob_index:
                    parts = (re.escape(p) for p in glob.split("*"))
                    self._glob_index[glob] = len(self._globs)
                    self._globs.append(re.compile(".*".join(parts)))
                spec.append(self._glob_index[glob])
            else:
                spec.extend(self._spellings(word, by_lemma=False))
        term_index = len(self._glob_terms)
        self._glob_terms.append((match_key, spec))
        for position, item in enumerate(spec):
            if isinstance(item, int):
                self._glob_uses[item].append((term_index, position))
        # words seen before this term was added must be checked again
        self._seen_words.clear()

    def _expand_globs(self, lowers: set[int]) -> None:
        """Add concrete phrases for glob terms whose globs match words not seen before."""
        if not self._globs:
            return
        for word_id in lowers - self._seen_words:
            self._seen_words.add(word_id)
            word = self.vocab.strings[word_id]
            norm = word.replace("\u2019", "'")
            for glob_id, glob in enumerate(self._globs):
                if word in self._glob_words[glob_id] or not glob.fullmatch(norm):
                    continue
                self._glob_words[glob_id].add(word)
                for term_index, position in self._glob_uses[glob_id]:
                    match_key, spec = self._glob_terms[term_index]
                    slots = [{word} if i == position else
                             (self._glob_words[item] if isinstance(item, int) else item)
                             for i, item in enumerate(spec)]
                    self._add_spellings(match_key, slots)

    def _pattern_matches(self, doc: Any, columns: _Columns, sentences: _Sentences) -> Iterator[tuple[int, int, int]]:
        """(match id, start, end) of the token patterns, each run only on the sentences that hold
        a word of every one of its required tokens (spaCy's Matcher costs time per token, while
        most sentences lack at least one of a pattern's words)."""
        if not self._patterns:
            return
        sentences_of = self._sentences_of_required_words(doc, columns, sentences)
        for pattern in self._patterns:
            candidates: set[int] | None = None
            for attr, ids in pattern.required:
                present = ids & sentences_of[attr].keys()
                found = set().union(*(sentences_of[attr][word] for word in present))
                candidates = found if candidates is None else candidates & found
                if not candidates:
                    break
            if candidates is None:
                yield from pattern.matcher(doc)
                continue
            for sentence in sorted(candidates):
                start, end = sentences.bounds[sentence]
                for match_id, first, last in pattern.matcher(doc[start:end]):
                    yield match_id, start + first, start + last

    def _sentences_of_required_words(self, doc: Any, columns: _Columns, sentences: _Sentences
                                     ) -> dict[str, dict[int, set[int]]]:
        """attribute -> word id -> the sentences it occurs in, for the words patterns require."""
        from spacy.attrs import LEMMA

        if not self._required_tables:
            self._required_tables.update({attr: _id_table(ids) for attr, ids in self._required_ids.items()})
        found: dict[str, dict[int, set[int]]] = {}
        for attr, table in self._required_tables.items():
            column = {"LOWER": columns.lower, "ORTH": columns.orth}.get(attr)
            if column is None:
                column = doc.to_array([LEMMA])
            by_word: dict[int, set[int]] = defaultdict(set)
            positions = numpy.flatnonzero(_is_member(column, table)).tolist()
            for position, word in zip(positions, column[positions].tolist()):
                by_word[word].add(sentences.of[position])
            found[attr] = by_word
        return found

    def __call__(self, doc: Any, text: str | None = None) -> list[Hit]:
        """Every hit in ``doc`` (whose ``doc.text`` may be passed as ``text`` to save rebuilding it)."""
        text = doc.text if text is None else text
        columns = _columns(doc)
        starts = (_model_sentence_starts(doc, text) if doc.has_annotation("SENT_START")
                  else _sentence_starts(doc, columns, text))
        return self.hits(doc, columns, _Sentences.from_starts(starts), text, [(0, len(text))])  # one window

    def hits(self, doc: Any, columns: _Columns, sentences: _Sentences, text: str,
             windows: Sequence[tuple[int, int]]) -> list[Hit]:
        """Every hit in ``doc``; ``text`` is its text and ``windows`` the (start, end) character
        ranges that regexes run over, in order: the units of coding (a match across two units
        could not code either)."""
        lowers = set(columns.lower.tolist())
        self._learn_words(lowers)
        self._expand_globs(lowers)
        idx, ends = columns.idx, columns.ends
        found: dict[tuple[str, int, int], Hit] = {}
        spelled_as_text: set[tuple[str, int, int]] = set()
        matches = itertools.chain(self._phrases(doc) if len(self._phrases) else (),
                                  self._pattern_matches(doc, columns, sentences))
        for match_id, start, end in matches:
            key, term, exact = self._ids[match_id]
            where = (key, start, end)
            if where not in found or (exact and where not in spelled_as_text):
                found[where] = Hit(key, start, end, term, idx[start], ends[end - 1])
                if exact:
                    spelled_as_text.add(where)
        if self._regexes:
            self._regex_hits(doc, text, windows, found)
        return sorted(found.values(), key=_HIT_ORDER)

    def _regex_hits(self, doc: Any, text: str, windows: Sequence[tuple[int, int]],
                    found: dict[tuple[str, int, int], Hit]) -> None:
        """Regex hits, each regex run only over the windows that hold one string of each of its clues."""
        folded = text.casefold()
        aligned = len(folded) == len(text)  # case folding kept every offset ("ß" -> "ss" does not)
        window_starts = [start for start, _ in windows]
        holds = _ClueScan(folded)
        for rule in self._regexes:
            if not all(map(holds, rule.clues)):  # most selective clue first: most rules stop there
                continue
            if not rule.clues or not aligned:
                self._run_regex(doc, text, rule, windows, found)
                continue
            first, *others = rule.clues
            where = {bisect.bisect_right(window_starts, position) - 1
                     for literal in first for position in _occurrences(folded, literal)}
            chosen = (windows[i] for i in sorted(where) if i >= 0)
            self._run_regex(doc, text, rule, [(start, end) for start, end in chosen
                                              if _holds_clues(folded[start:end], others)], found)

    @staticmethod
    def _run_regex(doc: Any, text: str, rule: _Regex, windows: Iterable[tuple[int, int]],
                   found: dict[tuple[str, int, int], Hit]) -> None:
        for start, end in windows:
            for match in rule.regex.finditer(text, start, end):
                if match.end() == match.start():
                    continue
                span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
                if span is not None and len(span):
                    found.setdefault((rule.key, span.start, span.end),
                                     Hit(rule.key, span.start, span.end, rule.expression, match.start(), match.end()))


_HIT_ORDER = operator.attrgetter("start", "end", "key")


def _product_size(slots: Sequence[set[str]]) -> int:
    size = 1
    for slot in slots:
        size *= len(slot)
    return size


class _ClueScan:
    """Whether a text holds a string of a clue; each string is looked for once per text."""

    def __init__(self, folded: str) -> None:
        self.folded = folded
        self.found: dict[str, bool] = {}

    def __call__(self, clue: tuple[str, ...]) -> bool:
        for literal in clue:
            present = self.found.get(literal)
            if present is None:
                present = self.found[literal] = literal in self.folded
            if present:
                return True
        return False


def _holds_clues(folded: str, clues: Iterable[tuple[str, ...]]) -> bool:
    return all(any(map(folded.__contains__, clue)) for clue in clues)


def _occurrences(text: str, literal: str) -> Iterator[int]:
    position = text.find(literal)
    while position >= 0:
        yield position
        position = text.find(literal, position + 1)


def _spellings(nlp: Any, phrase: str, by_lemma: bool) -> list[set[str]]:
    """For each token of ``phrase``: the lower-case spellings that match it."""
    norms = [token.lower_.replace("\u2019", "'") for token in nlp.make_doc(phrase)]
    if not by_lemma:
        return [_with_curly_apostrophes([norm]) for norm in norms]
    lemmas = [_lemma_of(norm) for norm in norms]
    slots = []
    for i, lemma in enumerate(lemmas):
        forms = _forms_of_lemma(lemma)
        if i + 1 < len(lemmas) and lemmas[i + 1] == "not":  # "ca n't" is "can not"
            forms |= {short for short, full in _CONTRACTED.items() if full == lemma}
        slots.append(_with_curly_apostrophes(forms))
    return slots


def term_clue(term: str, *, lemmas: bool = True) -> frozenset[str] | None:
    """Lower-case strings one of which the lower-cased text contains wherever ``term`` can match
    (the spellings of its longest word), or None if there are none (a bare glob).

    What a codebook change can affect is decided with these: a document whose text holds no clue
    of any changed term codes the same with the old and the new codebook.
    """
    term = " ".join(term.split())
    exact = term.startswith("=")
    phrase = term[1:].strip() if exact else term
    if "*" in phrase:
        fragments = [part for word in phrase.lower().split() for part in word.split("*") if part]
        longest = max(fragments, key=len, default="")
        return frozenset(_with_curly_apostrophes([longest])) if longest else None
    by_lemma = lemmas and not exact and bool(_LATIN_WORD.search(phrase))
    slots = [slot for slot in _spellings(_blank_pipeline(), phrase, by_lemma) if all(slot)]
    return _most_selective(slots)


def pattern_clue(pattern: Sequence[Mapping[str, Any]]) -> frozenset[str] | None:
    """Like :func:`term_clue`, for a token pattern: the words of one of its required tokens."""
    rewritten = [_rewrite_token(token) or dict(token) for token in pattern]
    slots = []
    for attr, words in _required_words(rewritten):
        if attr == "LEMMA":  # left as LEMMA only when no LOWER test could replace it
            return None
        slots.append({word.lower() for word in words})
    return _most_selective(slots)


def regex_clue(expression: str) -> frozenset[str] | None:
    """Like :func:`term_clue`, for a regex: case-folded literals, one of which every match holds."""
    clues = _regex_clues(expression)
    return frozenset(clues[0]) if clues else None


def _most_selective(slots: Sequence[Set[str]]) -> frozenset[str] | None:
    """The set whose shortest string is longest: long words are rare in text."""
    slots = [slot for slot in slots if slot and all(slot)]
    return frozenset(max(slots, key=lambda slot: min(map(len, slot)))) if slots else None


def _rewrite_token(token: Mapping[str, Any]) -> dict[str, Any] | None:
    """A pattern token with its LEMMA / NORM test turned into the equivalent LOWER test, or None
    when that cannot be done (a REGEX or comparison on LEMMA, a modal verb whose lemma depends on
    the next word, or a token that also tests LOWER)."""
    rewritten = dict(token)
    for attr in ("LEMMA", "NORM"):
        if attr not in token:
            continue
        if "LOWER" in rewritten:
            return None
        value = rewritten.pop(attr)
        spell = _forms_of_lemma if attr == "LEMMA" else (lambda v: {v})
        if isinstance(value, str):
            values, operator = [value], "IN"
        elif isinstance(value, Mapping) and len(value) == 1 and set(value) <= {"IN", "NOT_IN"}:
            operator, values = next(iter(value.items()))
        else:
            return None
        if not all(isinstance(v, str) for v in values):
            return None
        if attr == "LEMMA" and set(values) & set(_CONTRACTED.values()):
            return None
        rewritten["LOWER"] = {operator: sorted(_with_curly_apostrophes(set().union(*map(spell, values))))}
    return rewritten


def _required_words(pattern: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """For each token every match must contain and that names its words: (attribute, words)."""
    required = []
    for token in pattern:
        op = token.get("OP", "1")
        if op not in ("1", "+") and not re.fullmatch(r"\{[1-9]\d*(,\d*)?\}", op):
            continue
        for attr in ("LOWER", "LEMMA", "ORTH", "TEXT"):
            value = token.get(attr)
            if isinstance(value, Mapping) and set(value) == {"IN"}:
                value = value["IN"]
            if isinstance(value, str):
                value = [value]
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                required.append(("ORTH" if attr == "TEXT" else attr, value))
                break
    return required


def _regex_clues(expression: str) -> tuple[tuple[str, ...], ...]:
    r"""Sets of case-folded strings such that every match of ``expression`` holds one string of
    each set, most selective first; () if none is known.

    Codebook regexes mostly start with word alternatives (``\b(two|three|\d+)\s+(trips|visits)\b``)
    that the regex engine tries at every position of a paragraph; ``in`` on the case-folded text is
    a far faster scan, so a regex runs only in the sentences that hold a string of each set.
    """
    try:
        parsed = re._parser.parse(expression, re.IGNORECASE)  # type: ignore[attr-defined]
    except (re.error, AttributeError):
        return ()
    clues = {tuple(sorted({option.casefold() for option in options}))
             for options in _required_sets(list(parsed))}
    return tuple(sorted(clues, key=lambda clue: (-min(map(len, clue)), clue)))


def _required_sets(items: list[tuple[Any, Any]]) -> list[Set[str]]:
    """Every set of strings one of which each match of a regex sequence contains."""
    constants = re._constants  # type: ignore[attr-defined]
    found: list[Set[str]] = []
    run: list[str] = []
    for op, value in items:
        if op is constants.LITERAL:
            run.append(chr(value))
            continue
        if run:
            found.append({"".join(run)})
        run = []
        options = _required_in_item(op, value)
        if options and all(options):
            found.append(options)
    if run:
        found.append({"".join(run)})
    return found


def _required_in_sequence(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The most selective set of strings one of which every match of a regex sequence contains."""
    return _most_selective(_required_sets(items))


def _required_in_item(op: Any, value: Any) -> Set[str] | None:
    constants = re._constants  # type: ignore[attr-defined]
    if op is constants.SUBPATTERN:
        return _required_in_sequence(list(value[-1]))
    if op is constants.BRANCH:
        options = [_required_in_sequence(list(alternative)) for alternative in value[1]]
        return set().union(*options) if all(options) else None
    if op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and value[0] >= 1:
        return _required_in_sequence(list(value[2]))
    if op is constants.IN and value and all(kind is constants.LITERAL for kind, _ in value):
        return {chr(char) for _, char in value}
    return None


# -- engine ----------------------------------------------------------------------------------------
_NEGATION_LISTS = ("before", "after", "hypothetical_before", "hypothetical_after", "terminators", "ignore")


@dataclass(frozen=True)
class _Rule:
    code: str
    rule_id: str
    order: int
    keys: tuple[str, ...]  # one key, or one key per set of a near rule
    within: int | None = None
    veto: bool = False


class _Lane:
    """A pipeline and its matcher. Without ``--model`` one lane serves English and Chinese alike."""

    def __init__(self, nlp: Any, codebook: Codebook, *, blank: bool) -> None:
        self.nlp = nlp
        self.blank = blank  # tokenizer only: paragraphs can share a Doc, sentences come from the arrays
        self.matcher = CodeMatcher(nlp)
        for rule in matcher_rules(codebook):
            self.matcher.add(rule.key, terms=rule.terms, lemmas=rule.lemmas,
                             patterns=[rule.pattern] if rule.pattern is not None else (),
                             regex=[rule.regex] if rule.regex is not None else ())

    def docs(self, texts: Iterable[str]) -> Iterator[Any]:
        return self.nlp.tokenizer.pipe(texts) if self.blank else self.nlp.pipe(texts)


class MatcherRule(NamedTuple):
    """One entry of a codebook as the matcher sees it: a word list, one token pattern or one regex
    under its key (``paperwork/terms``, ``paperwork/veto/near[0]/1``, ``sector:education``,
    ``negation:before`` ...)."""

    key: str
    terms: tuple[str, ...] = ()
    pattern: tuple[dict[str, Any], ...] | None = None
    regex: str | None = None
    lemmas: bool = True  # terms match every form of their lemma, not only their own spelling


def matcher_rules(codebook: Codebook) -> Iterator[MatcherRule]:
    """Everything the engine matches, under the keys its rules and hits use: each code's rules,
    then the vetoes, the sector cues and the negation triggers."""
    rulesets = [(code.id, code.rules) for code in codebook.codes]
    rulesets += [(f"{code.id}/veto", code.veto) for code in codebook.codes if code.veto]
    for prefix, ruleset in rulesets:
        if ruleset.terms:
            yield MatcherRule(f"{prefix}/terms", terms=ruleset.terms)
        for index, pattern in enumerate(ruleset.patterns):
            yield MatcherRule(f"{prefix}/patterns[{index}]", pattern=pattern)
        for index, expression in enumerate(ruleset.regex):
            yield MatcherRule(f"{prefix}/regex[{index}]", regex=expression)
        for index, near in enumerate(ruleset.near):
            for set_index, terms in enumerate(near.sets):
                yield MatcherRule(f"{prefix}/near[{index}]/{set_index}", terms=terms)
    for sector, cues in codebook.sectors.items():
        yield MatcherRule(f"sector:{sector}", terms=cues)
    for name in _NEGATION_LISTS:  # exact word forms: "could have" must not match "can have"
        yield MatcherRule(f"negation:{name}", terms=getattr(codebook.negation, name), lemmas=False)


def _rules_of(prefix: str, code: str, ruleset: RuleSet, *, veto: bool = False) -> list[_Rule]:
    """The rules of a rule set, in codebook order: terms, patterns, regex, near."""
    ids = ([f"{prefix}/terms"] if ruleset.terms else []) + \
        [f"{prefix}/patterns[{i}]" for i in range(len(ruleset.patterns))] + \
        [f"{prefix}/regex[{i}]" for i in range(len(ruleset.regex))]
    rules = [_Rule(code, rule_id, order, (rule_id,), veto=veto) for order, rule_id in enumerate(ids)]
    for index, near in enumerate(ruleset.near):
        rule_id = f"{prefix}/near[{index}]"
        keys = tuple(f"{rule_id}/{i}" for i in range(len(near.sets)))
        rules.append(_Rule(code, rule_id, len(rules), keys, near.within, veto))
    return rules


class _Paragraph(NamedTuple):
    start: int  # character offsets in the group's text
    end: int
    window: int  # the negation window of the paragraph's language


class _Group(NamedTuple):
    """Consecutive paragraphs analysed as one Doc: per-Doc overhead is paid once per document,
    not once per paragraph. ``text`` is the document text from ``offset`` with hard-wrapped line
    breaks turned into spaces (same length, so offsets carry over)."""

    offset: int
    text: str
    lane: _Lane
    paragraphs: list[_Paragraph]


class CodingEngine:
    """Applies one codebook to documents. Pipelines and matchers are built once, in ``__init__``."""

    def __init__(self, codebook: Codebook, *, model: str | None = None) -> None:
        self.codebook = codebook
        self.model = model
        self._rules = [r for code in codebook.codes for r in _rules_of(code.id, code.id, code.rules)]
        self._vetoes = [r for code in codebook.codes
                        for r in _rules_of(f"{code.id}/veto", code.id, code.veto, veto=True)]
        self._all_rules = self._rules + self._vetoes
        self._rule_index: dict[str, list[int]] = defaultdict(list)  # match key -> rules using it
        for index, rule in enumerate(self._all_rules):
            for key in rule.keys:
                self._rule_index[key].append(index)
        model_nlp = _load_model(model) if model else None
        if model_nlp is not None and model_nlp.lang not in codebook.languages:
            raise UsageError(f"spaCy pipeline {model!r} is for language {model_nlp.lang!r}; the "
                             f"codebook covers {', '.join(codebook.languages)}")
        self._lanes: dict[str, _Lane] = {}
        blank_lane = None
        for lang in codebook.languages:
            if model_nlp is not None and model_nlp.lang == lang:
                self._lanes[lang] = _Lane(model_nlp, codebook, blank=False)
                continue
            blank_lane = blank_lane or _Lane(_blank_pipeline(), codebook, blank=True)
            self._lanes[lang] = blank_lane
        self._windows = {"en": codebook.negation.window, "zh": codebook.negation.window_zh}
        self._flags = {code.id: (code.flag_negation, code.flag_hypothetical) for code in codebook.codes}
        self._rule_order = {rule.rule_id: i for i, rule in enumerate(self._rules)}
        self._complete_by_keys: dict[frozenset[str], list[int]] = {}
        self._sector_of_key = {f"sector:{sector}": sector for sector in codebook.sectors}

    # -- public API ------------------------------------------------------------------------------
    def code_document(self, text: str, attributes: Mapping[str, str] | None = None) -> CodedDocument:
        """Segments of ``text`` with at least one coding (negated or hypothetical ones included)."""
        return next(self.code_documents([(text, attributes or {})]))

    def code_documents(self, items: Iterable[tuple[str, Mapping[str, str]]]) -> Iterator[CodedDocument]:
        """Code many documents, in input order, a chunk at a time (one tokenizer stream per chunk).

        For several cores, :func:`phantomcode.ingest` and :func:`phantomcode.code_project` run
        engines in worker processes (:mod:`phantomcode.workers`).
        """
        iterator = iter(items)
        while chunk := list(itertools.islice(iterator, 64)):
            for text, attributes, units in self._analyse_chunk(chunk):
                yield self._select(text, attributes, units)

    def explain(self, text: str, attributes: Mapping[str, str] | None = None) -> list[Candidate]:
        """Every rule hit in ``text``, vetoed, negated and hypothetical ones included."""
        _, _, units = next(iter(self._analyse_chunk([(text, attributes or {})])))
        return [candidate for unit in units for candidate in unit[2]]

    # -- analysis --------------------------------------------------------------------------------
    def _groups(self, text: str) -> list[_Group]:
        """The document's paragraphs, with their language, gathered into Docs.

        Consecutive paragraphs share a Doc when their lane has a blank pipeline and the Doc stays
        within ``MAX_BLOCK_CHARS``; a ``--model`` pipeline (whose parser could join sentences
        across paragraphs) gets one Doc per paragraph.
        """
        members: list[list[tuple[int, int, str, _Lane, int]]] = []  # (start, end, text, lane, window)
        for start, end in split_paragraphs(text):
            paragraph = text[start:end]
            lang = detect_language(paragraph)
            lane = self._lanes.get(lang) or next(iter(self._lanes.values()))
            if _looks_hard_wrapped(paragraph):
                paragraph = paragraph.replace("\n", " ")
            entry = (start, end, paragraph, lane, self._windows.get(lang, self.codebook.negation.window))
            first = members[-1][0] if members else None
            if first is not None and first[3] is lane and lane.blank and end - first[0] <= MAX_BLOCK_CHARS:
                members[-1].append(entry)
            else:
                members.append([entry])
        return [_group(text, group) for group in members]

    def _analyse_chunk(self, chunk: list[tuple[str, Mapping[str, str]]]
                       ) -> Iterator[tuple[str, Mapping[str, str], list[tuple]]]:
        """Run the pipelines over every group of a chunk of documents (one stream per lane), then
        analyse each document: (text, attributes, units) in input order."""
        groups = [self._groups(text) for text, _ in chunk]
        docs: dict[tuple[int, int], Any] = {}
        for lane in {id(lane): lane for lane in self._lanes.values()}.values():
            wanted = [(i, j) for i, doc_groups in enumerate(groups)
                      for j, group in enumerate(doc_groups) if group.lane is lane]
            texts = (groups[i][j].text for i, j in wanted)
            docs.update(zip(wanted, lane.docs(texts)))
        for i, (text, attributes) in enumerate(chunk):
            units = []
            for j, group in enumerate(groups[i]):
                units.extend(self._analyse_group(text, group, docs[(i, j)]))
            yield text, attributes, units

    def _analyse_group(self, text: str, group: _Group, doc: Any) -> list[tuple]:
        """(segment span, sector cue counts, candidates) for each unit of one group with a rule hit,
        plus one unit without a span that holds the sector cues of all other units."""
        matcher = group.lane.matcher
        if matcher.needs_lemmas:
            _set_lemmas(doc)
        columns = _columns(doc)
        sentences = _Sentences.from_starts(_sentence_starts(doc, columns, group.text) if group.lane.blank
                                           else _model_sentence_starts(doc, group.text))
        idx, ends = columns.idx, columns.ends
        if self.codebook.unit == "sentence":
            units, unit_of = sentences.bounds, sentences.of
        else:
            token_starts = [bisect.bisect_left(idx, p.start) for p in group.paragraphs]
            units = list(zip(token_starts, [*token_starts[1:], len(idx)]))
            unit_of = (numpy.searchsorted(token_starts, numpy.arange(len(idx)), side="right") - 1).tolist()
        windows = [(idx[start], ends[end - 1]) for start, end in units if end > start]
        hits = matcher.hits(doc, columns, sentences, group.text, windows)
        if not hits:
            return []
        paragraph_starts = [p.start for p in group.paragraphs]
        words = numpy.concatenate(([0], numpy.cumsum(~(columns.is_punct | columns.is_space)))).tolist()
        context = _Context(group.offset, text, sentences.of, words)
        by_unit: dict[int, dict[str, list[Hit]]] = defaultdict(lambda: defaultdict(list))
        for hit in hits:
            unit = unit_of[hit.start]
            if hit.end > units[unit][1]:
                continue  # crosses the end of its unit
            by_unit[unit][hit.key].append(hit)
        results = []
        other_cues: Counter[str] = Counter()
        sector_of = self._sector_of_key
        for unit, keyed in sorted(by_unit.items()):
            sectors = Counter({sector_of[k]: len(v) for k, v in keyed.items() if k in sector_of})
            start, end = units[unit]
            chars = _strip_span(group.text[idx[start]:ends[end - 1]], group.offset + idx[start])
            complete = self._complete_rules(keyed)
            if chars is None or not any(not self._all_rules[i].veto for i in complete):
                other_cues.update(sectors)
                continue
            paragraph = group.paragraphs[bisect.bisect_right(paragraph_starts, idx[start]) - 1]
            context.load_triggers(keyed, paragraph.window)
            results.append((chars, sectors, self._candidates(complete, keyed, context, chars)))
        if other_cues:
            results.append(((group.offset, group.offset), other_cues, []))
        return results

    def _complete_rules(self, keyed: Mapping[str, list[Hit]]) -> list[int]:
        """Indexes of the rules with a hit for each of their keys in a unit: a near rule needs
        every one of its sets, and most units hold words of one set only ("sent", "documents").
        Units repeat the same few combinations of keys, so each combination is worked out once."""
        keys = frozenset(keyed)
        complete = self._complete_by_keys.get(keys)
        if complete is None:
            rules = {i for key in keys for i in self._rule_index.get(key, ())}
            complete = sorted(i for i in rules if keys.issuperset(self._all_rules[i].keys))
            if len(self._complete_by_keys) >= _KEY_SETS_REMEMBERED:
                self._complete_by_keys.clear()
            self._complete_by_keys[keys] = complete
        return complete

    def _candidates(self, present: list[int], keyed: Mapping[str, list[Hit]], context: _Context,
                    chars: tuple[int, int]) -> list[Candidate]:
        """Candidates of one unit from its complete rules (``present``); vetoes apply per code."""
        flags = self._flags
        vetoes: dict[str, str] = {}
        for rule in (self._all_rules[i] for i in present if self._all_rules[i].veto):
            if rule.code not in vetoes:
                for combo in _combinations(rule, keyed, context):
                    vetoes[rule.code] = f"{rule.rule_id}: " + " ... ".join(context.text_of(h) for h in combo)
                    break
        candidates = []
        for rule in (self._all_rules[i] for i in present if not self._all_rules[i].veto):
            combos = _combinations(rule, keyed, context)
            if len(rule.keys) > 1 and combos:
                combos = [min(combos, key=lambda c: (_FLAG_ORDER[context.flags(c, *flags[rule.code])[:2]],
                                                     _extent(c)))]
            for combo in combos:
                negated, hypothetical, cue = context.flags(combo, *flags[rule.code])
                matched = tuple(context.matched_span(hit) for hit in combo)  # combos are in text order
                candidates.append(Candidate(rule.code, rule.rule_id, chars[0], chars[1], matched,
                                            negated, hypothetical, cue, vetoes.get(rule.code)))
        return candidates

    # -- selection -------------------------------------------------------------------------------
    def _select(self, text: str, attributes: Mapping[str, str], units: list[tuple]) -> CodedDocument:
        """One Segment per unit with codings, each with its declared or inferred sector."""
        declared = None
        if attributes.get("sector"):
            normalized, _ = self.codebook.normalize_attributes({"sector": attributes["sector"]})
            declared = normalized["sector"]
        document_sectors = sum((unit[1] for unit in units), Counter())
        order = {name: i for i, name in enumerate(self.codebook.sectors)}

        def most_cued(counts: Counter) -> str | None:
            return min(counts, key=lambda s: (-counts[s], order.get(s, 0))) if counts else None

        segments = []
        for (start, end), sectors, candidates in units:
            codings = _choose_codings([c for c in candidates if c.vetoed_by is None], self._rule_order)
            if not codings:
                continue
            if declared:
                sector, source = declared, "declared"
            else:
                sector = most_cued(sectors or document_sectors)
                source = "inferred" if sector else None
            segments.append(Segment(start, end, self.codebook.unit, sector, source, tuple(codings)))
        if declared:
            return CodedDocument(tuple(segments), declared, "declared")
        inferred = most_cued(document_sectors)
        return CodedDocument(tuple(segments), inferred, "inferred" if inferred else None)


def _group(text: str, members: list[tuple[int, int, str, _Lane, int]]) -> _Group:
    """One Doc's worth of paragraphs: their texts joined by the original text between them."""
    offset = members[0][0]
    pieces, paragraphs, position = [], [], offset
    for start, end, paragraph, _, window in members:
        pieces.append(text[position:start] + paragraph)
        paragraphs.append(_Paragraph(start - offset, end - offset, window))
        position = end
    return _Group(offset, "".join(pieces), members[0][3], paragraphs)


def _choose_codings(candidates: list[Candidate], rule_order: Mapping[str, int]) -> list[Coding]:
    by_code: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_code[candidate.code].append(candidate)
    codings = []
    for code, found in by_code.items():
        best = min(found, key=lambda c: (_FLAG_ORDER[(c.negated, c.hypothetical)], rule_order[c.rule],
                                         c.matched[0].start))
        same = [c for c in found if c.rule == best.rule and (c.negated, c.hypothetical) ==
                (best.negated, best.hypothetical)]
        matched = tuple(sorted({span for c in same for span in c.matched}, key=lambda s: (s.start, s.end)))
        codings.append(Coding(code, best.rule, best.start, best.end, matched, best.negated,
                              best.hypothetical, best.cue))
    codings.sort(key=lambda c: rule_order[c.rule])
    return codings


def _strip_span(text: str, start: int) -> tuple[int, int] | None:
    stripped = text.strip()
    if not stripped:
        return None
    begin = start + len(text) - len(text.lstrip())
    return begin, begin + len(stripped)


def _extent(combo: Sequence[Hit]) -> int:
    return max(h.end for h in combo) - min(h.start for h in combo)


def _combinations(rule: _Rule, keyed: Mapping[str, list[Hit]], context: _Context) -> list[tuple[Hit, ...]]:
    """Hits of a rule in one unit: single hits, or for near rules one hit per set, in text order."""
    if len(rule.keys) == 1:
        return [(hit,) for hit in keyed.get(rule.keys[0], ())]
    sets = [keyed.get(key) for key in rule.keys]
    if not all(sets):
        return []
    combos = []
    for combo in itertools.islice(itertools.product(*sets), 256):
        ordered = sorted(combo, key=lambda h: h.start)
        if any(a.end > b.start for a, b in itertools.pairwise(ordered)):
            continue  # one word cannot serve two sets
        if rule.within is not None and context.gap(ordered[0], ordered[-1]) > rule.within:
            continue
        combos.append(tuple(ordered))
    return combos


class _Context:
    """Per-Doc state used to judge negation and to build matched spans; ``offset``: the Doc's
    position in ``text``, ``sentence_of`` and ``words`` (running word count) indexed by token."""

    def __init__(self, offset: int, text: str, sentence_of: list[int], words: list[int]) -> None:
        self.offset = offset
        self.text = text
        self.sentence_of = sentence_of
        self.words = words
        self.window = 0
        self.triggers: dict[str, list[Hit]] = {}

    def load_triggers(self, keyed: Mapping[str, list[Hit]], window: int) -> None:
        """Trigger hits of one unit, and the negation window of its language: longest match wins,
        and ``ignore`` phrases switch triggers off."""
        self.window = window
        ignored = keyed.get("negation:ignore", [])
        self.triggers = {}
        for name in _NEGATION_LISTS:
            hits = keyed.get(f"negation:{name}", [])
            self.triggers[name] = [
                h for h in hits
                if not any(_inside(h, i) for i in ignored)
                and not any(_inside(h, o) and (o.start, o.end) != (h.start, h.end) for o in hits)]

    def gap(self, first: Hit, last: Hit) -> int:
        """Words strictly between the end of ``first`` and the start of ``last``."""
        return max(0, self.words[last.start] - self.words[first.end]) if last.start >= first.end else 0

    def text_of(self, hit: Hit) -> str:
        start = self.offset + hit.start_char
        return self.text[start:self.offset + hit.end_char]

    def matched_span(self, hit: Hit) -> MatchedSpan:
        start, end = self.offset + hit.start_char, self.offset + hit.end_char
        return MatchedSpan(start, end, self.text[start:end], hit.term)

    def flags(self, combo: Sequence[Hit], negation: bool = True,
              hypothetical: bool = True) -> tuple[bool, bool, str | None]:
        neg_cue = self._cue(combo, "before", "after") if negation else None
        hyp_cue = self._cue(combo, "hypothetical_before", "hypothetical_after") if hypothetical else None
        return neg_cue is not None, hyp_cue is not None, neg_cue or hyp_cue

    def _cue(self, combo: Sequence[Hit], before: str, after: str) -> str | None:
        """The nearest trigger in scope of the hit, or None.

        A trigger that lies inside the hit's own words (the rule asked for it, as in "without a
        lease") means the hit is not negated. Otherwise a ``before`` trigger must start at or
        before the hit and an ``after`` trigger end at or after it, within the window, in the
        same sentence, with no terminator in between.
        """
        before_hits, after_hits = self.triggers.get(before, []), self.triggers.get(after, [])
        if not before_hits and not after_hits:
            return None  # most units: no trigger of this kind at all
        if any(_inside(t, h) for t in (*before_hits, *after_hits) for h in combo):
            return None
        first, last = combo[0], combo[-1]
        terminators = self.triggers.get("terminators", [])
        found: list[tuple[int, Hit]] = []
        for trigger in before_hits:
            if trigger.start > first.start or self.sentence_of[trigger.start] != self.sentence_of[first.start]:
                continue
            gap_end = min(trigger.end, first.start)
            if any(gap_end <= t.start and t.end <= first.start for t in terminators):
                continue
            found.append((self.words[first.start] - self.words[gap_end], trigger))
        for trigger in after_hits:
            if trigger.end < last.end or self.sentence_of[trigger.end - 1] != self.sentence_of[last.end - 1]:
                continue
            gap_start = max(trigger.start, last.end)
            if any(last.end <= t.start and t.end <= gap_start for t in terminators):
                continue
            found.append((self.words[gap_start] - self.words[last.end], trigger))
        in_window = [(distance, t) for distance, t in found if distance <= self.window]
        return self.text_of(min(in_window, key=lambda f: f[0])[1]) if in_window else None


def _inside(inner: Hit, outer: Hit) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


# -- codebook examples ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ExampleResult:
    """One codebook example run through the engine: ``detail`` says which rule fired or why none did."""

    code: str
    kind: str  # "positive" | "negative"
    text: str
    passed: bool
    detail: str


def check_examples(codebook: Codebook, engine: CodingEngine | None = None) -> list[ExampleResult]:
    """Run every example: positives must get their code un-negated, negatives must not get it."""
    engine = engine or CodingEngine(codebook)
    results = []
    for code in codebook.codes:
        for kind, texts in (("positive", code.examples.positive), ("negative", code.examples.negative)):
            for text in texts:
                candidates = [c for c in engine.explain(text) if c.code == code.id]
                clean = [c for c in candidates if not (c.vetoed_by or c.negated or c.hypothetical)]
                passed = bool(clean) == (kind == "positive")
                shown = clean if kind == "negative" else candidates
                detail = "; ".join(_describe(c) for c in shown) or "no rule fired"
                results.append(ExampleResult(code.id, kind, text, passed, detail))
    return results


def _describe(candidate: Candidate) -> str:
    words = " ... ".join(span.text for span in candidate.matched)
    text = f"{candidate.rule} fired on {words!r}"
    if candidate.vetoed_by:
        return f"{text} but was vetoed by {candidate.vetoed_by}"
    flags = [name for name, on in (("negated", candidate.negated), ("hypothetical", candidate.hypothetical)) if on]
    return f"{text} but was {' and '.join(flags)} (cue {candidate.cue!r})" if flags else text
