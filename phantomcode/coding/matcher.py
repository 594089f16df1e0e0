"""The :class:`CodeMatcher`: every rule of a codebook matched on a Doc in one pass."""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy

from phantomcode.errors import UsageError

from ..globs import Glob
from .clues import _regex_clues, _required_words, _rewrite_token
from .layout import (
    _LATIN_WORD,
    _Columns,
    _columns,
    _id_table,
    _is_member,
    _model_sentence_starts,
    _sentence_starts,
    _Sentences,
)
from .lemmas import _spellings
from .records import Hit

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MAX_PHRASE_SPELLINGS = 512  # above this, a term's word forms go to a token pattern instead


class _TokenPattern(NamedTuple):
    matcher: Any  # a spaCy Matcher holding one pattern
    required: tuple[tuple[str, frozenset[int]], ...]  # (attribute, word ids) per required token


class _Regex(NamedTuple):
    key: str
    regex: re.Pattern[str]
    expression: str
    clues: tuple[tuple[str, ...], ...]  # every match holds one string of each (case-folded); (): unknown


class _MatchId(NamedTuple):
    """What a match id of the phrase matcher or a token pattern stands for."""

    key: str  # the rule's key
    term: str | None  # the codebook term, None for a pattern
    exact: bool  # the term's own spelling, not another form of its lemma


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

    def __init__(self, nlp: Language) -> None:
        from spacy.matcher import PhraseMatcher

        self.nlp = nlp
        self.vocab = nlp.vocab
        self._phrases = PhraseMatcher(self.vocab, attr="LOWER")
        self._patterns: list[_TokenPattern] = []
        self._required_ids: dict[str, set[int]] = defaultdict(set)  # attribute -> ids of required words
        self._required_tables: dict[str, Any] = {}  # the same as sorted arrays, built on first use
        self._ids: dict[int, _MatchId] = {}
        self._keys: set[str] = set()
        self._regexes: list[_Regex] = []
        self._globs: list[Glob] = []
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

    @property
    def pattern_count(self) -> int:
        """How many spaCy token patterns run on each Doc: the codebook's patterns plus every term
        with more than :data:`MAX_PHRASE_SPELLINGS` spellings. Each costs time per candidate
        sentence, where the phrase matcher's cost grows with tokens only."""
        return len(self._patterns)

    def _match_id(self, key: str, term: str | None, *, exact: bool = False) -> str:
        """A unique match key for one term (or pattern) of a rule; hits map back to (key, term, exact).

        ``exact``: the term's own spelling, as opposed to another form of its lemma. When two terms
        of a rule match the same words ("refuse" and "refused" on "refused"), the one spelled as
        the text is the one reported.
        """
        match_key = f"{key}\x1f{term}" + ("\x1f=" if exact else "")
        self._ids[self.vocab.strings.add(match_key)] = _MatchId(key.split("\x1f")[0], term, exact)
        return match_key

    def add(
        self,
        key: str,
        *,
        terms: Iterable[str] = (),
        patterns: Iterable[Sequence[Mapping]] = (),
        regex: Iterable[str] = (),
        lemmas: bool = True,
    ) -> None:
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
        if combinations > MAX_PHRASE_SPELLINGS:
            pattern = [{"LOWER": {"IN": sorted(slot)}} for slot in slots]
            self._add_pattern(match_key, pattern, validate=False)
            return
        self._phrases.add(
            match_key, [Doc(self.vocab, words=list(words)) for words in itertools.product(*map(sorted, slots))]
        )

    def _add_inflected(self, match_key: str, slots: list[set[str]]) -> None:
        """Register a term's other word forms; phrases are added as their words turn up in text.

        A term like "send back" has dozens of spellings ("sends back", "sent back", ...) and a
        codebook thousands of terms: building them all costs a second per process, while a corpus
        uses few. :meth:`_learn_words` adds each combination once all its words have been seen.
        """
        if not slots or _product_size(slots) > MAX_PHRASE_SPELLINGS:
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
                self._add_spellings(
                    match_key, [{word} if i == position else slot & self._known_words for i, slot in enumerate(slots)]
                )

    def _add_pattern(self, match_key: str, pattern: Sequence[Mapping], *, validate: bool = True) -> None:
        from spacy.matcher import Matcher

        attempts = [_rewrite_token(token) for token in pattern]
        rewritten = [token for token in attempts if token is not None]
        if len(rewritten) < len(attempts):
            self.needs_lemmas = True
            rewritten = [dict(token) for token in pattern]
        matcher = Matcher(self.vocab, validate=validate)
        matcher.add(match_key, [rewritten])
        required = tuple(
            (attr, frozenset(self.vocab.strings.add(word) for word in words))
            for attr, words in _required_words(rewritten)
        )
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
                    self._glob_index[glob] = len(self._globs)
                    self._globs.append(Glob(glob))  # linear time: see phantomcode.globs
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
                    slots = [
                        {word} if i == position else (self._glob_words[item] if isinstance(item, int) else item)
                        for i, item in enumerate(spec)
                    ]
                    self._add_spellings(match_key, slots)

    def _pattern_matches(self, doc: Doc, columns: _Columns, sentences: _Sentences) -> Iterator[tuple[int, int, int]]:
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

    def _sentences_of_required_words(
        self, doc: Doc, columns: _Columns, sentences: _Sentences
    ) -> dict[str, dict[int, set[int]]]:
        """attribute -> word id -> the sentences it occurs in, for the words patterns require."""
        if not self._required_tables:
            self._required_tables.update({attr: _id_table(ids) for attr, ids in self._required_ids.items()})
        found: dict[str, dict[int, set[int]]] = {}
        for attr, table in self._required_tables.items():
            column = {"LOWER": columns.lower, "ORTH": columns.orth}.get(attr)
            if column is None:
                column = doc.to_array(["LEMMA"])
            by_word: dict[int, set[int]] = defaultdict(set)
            positions = numpy.flatnonzero(_is_member(column, table)).tolist()
            for position, word in zip(positions, column[positions].tolist(), strict=True):
                by_word[word].add(sentences.of[position])
            found[attr] = by_word
        return found

    def __call__(self, doc: Doc, text: str | None = None) -> list[Hit]:
        """Every hit in ``doc`` (whose ``doc.text`` may be passed as ``text`` to save rebuilding it)."""
        text = doc.text if text is None else text
        columns = _columns(doc)
        starts = (
            _model_sentence_starts(doc, text)
            if doc.has_annotation("SENT_START")
            else _sentence_starts(doc, columns, text)
        )
        return self.hits(doc, columns, _Sentences.from_starts(starts), text, [(0, len(text))])  # one window

    def hits(
        self, doc: Doc, columns: _Columns, sentences: _Sentences, text: str, windows: Sequence[tuple[int, int]]
    ) -> list[Hit]:
        """Every hit in ``doc``; ``text`` is its text and ``windows`` the (start, end) character
        ranges that regexes run over, in order: the units of coding (a match across two units
        could not code either)."""
        self._check_annotation(doc)
        lowers = set(columns.lower.tolist())
        self._learn_words(lowers)
        self._expand_globs(lowers)
        idx, ends = columns.idx, columns.ends
        found: dict[tuple[str, int, int], Hit] = {}
        spelled_as_text: set[tuple[str, int, int]] = set()
        matches = itertools.chain(
            self._phrases(doc) if len(self._phrases) else (), self._pattern_matches(doc, columns, sentences)
        )
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

    def _check_annotation(self, doc: Doc) -> None:
        """Refuse a Doc without the lemmas a pattern tests, as spaCy's Matcher does: matched
        anyway, such a pattern would silently find nothing."""
        if self.needs_lemmas and len(doc) and not doc.has_annotation("LEMMA"):
            raise UsageError(
                "a token pattern of this matcher tests LEMMA or NORM in a way no LOWER test "
                "can replace, and the Doc has no lemmas: call "
                "phantomcode.coding.set_lemmas(doc) first (CodingEngine does)"
            )

    def _regex_hits(
        self, doc: Doc, text: str, windows: Sequence[tuple[int, int]], found: dict[tuple[str, int, int], Hit]
    ) -> None:
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
            where = {
                bisect.bisect_right(window_starts, position) - 1
                for literal in first
                for position in _occurrences(folded, literal)
            }
            chosen = (windows[i] for i in sorted(where) if i >= 0)
            self._run_regex(
                doc,
                text,
                rule,
                [(start, end) for start, end in chosen if _holds_clues(folded[start:end], others)],
                found,
            )

    @staticmethod
    def _run_regex(
        doc: Doc, text: str, rule: _Regex, windows: Iterable[tuple[int, int]], found: dict[tuple[str, int, int], Hit]
    ) -> None:
        for start, end in windows:
            for match in rule.regex.finditer(text, start, end):
                if match.end() == match.start():
                    continue
                span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
                if span is not None and len(span):
                    found.setdefault(
                        (rule.key, span.start, span.end),
                        Hit(rule.key, span.start, span.end, rule.expression, match.start(), match.end()),
                    )


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
