"""The matcher engine: apply a codebook to note text and explain every coding.

How a document is coded:

1. The text is cut into paragraphs at blank lines; each paragraph is processed with the English
   or the Chinese pipeline, chosen by its share of Chinese characters. Both pipelines are blank
   spaCy pipelines built without downloads: hanzi are one token per character (spaCy's "char"
   segmentation) while Latin words stay whole in both, so pinyin and hanzi terms match in
   English and Chinese paragraphs alike. English lemmas come from spacy-lookups-data's table
   and are lower-case.
2. Sentences end at ``. ! ?``, at ``。！？`` and at line breaks (unless the paragraph looks
   hard-wrapped). The unit of coding is the sentence or the paragraph (``unit`` in the codebook).
3. One :class:`CodeMatcher` call per paragraph finds every rule of every code, the negation
   triggers and the sector cues at once: terms go to two PhraseMatchers (word forms and
   lemmas), globs are expanded lazily into the word-form PhraseMatcher as new words are seen,
   each token pattern has a Matcher that runs only when the pattern's required word occurs,
   regexes run once over the paragraph text. Cost grows with tokens, not with codes.
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
import multiprocessing
import re
import signal
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from phantomcode.codebook import Codebook, RuleSet, load_codebook
from phantomcode.errors import UsageError

__all__ = ["Candidate", "CodeMatcher", "Coding", "CodingEngine", "ExampleResult", "MatchedSpan",
           "Segment", "check_examples", "detect_language", "split_paragraphs"]

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
def _lemma_table() -> Any:
    """spacy-lookups-data's English lemma table, from the blank English pipeline's lemmatizer."""
    return _blank_pipeline("en").get_pipe("lemmatizer").lookups.get_table("lemma_lookup")


def _add_cjk_infix(nlp: Any) -> None:
    finditer = nlp.tokenizer.infix_finditer
    existing = finditer.__self__.pattern if finditer is not None else None
    pattern = f"{existing}|{_CJK_TOKEN}" if existing else _CJK_TOKEN
    nlp.tokenizer.infix_finditer = re.compile(pattern).finditer


@lru_cache(maxsize=None)
def _blank_pipeline(lang: str) -> Any:
    """Blank ``en`` (with lookup lemmatizer) or ``zh`` pipeline; built once per process."""
    import spacy
    from spacy.lang.en import English
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex

    nlp = spacy.blank(lang)
    if lang == "zh":
        defaults = English.Defaults
        nlp.tokenizer = Tokenizer(
            nlp.vocab, rules=defaults.tokenizer_exceptions,
            prefix_search=compile_prefix_regex(defaults.prefixes).search,
            suffix_search=compile_suffix_regex(defaults.suffixes).search,
            infix_finditer=compile_infix_regex(defaults.infixes).finditer,
            token_match=defaults.token_match, url_match=defaults.url_match)
    else:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()  # loads the lookup tables from spacy-lookups-data, offline
        nlp.disable_pipe("lemmatizer")  # its table is used by _set_lemmas, on lower-cased forms
    _add_cjk_infix(nlp)
    nlp.add_pipe("sentencizer", config={"punct_chars": _punct_chars()})
    return nlp


def _punct_chars() -> list[str]:
    from spacy.pipeline import Sentencizer

    return sorted(set(Sentencizer.default_punct_chars) | set(_EXTRA_PUNCT))


def _load_model(name: str) -> Any:
    import spacy

    try:
        nlp = spacy.load(name)
    except OSError as exc:
        raise UsageError(f"spaCy pipeline {name!r} is not installed (phantomcode never downloads "
                         "models); install its package or leave out --model") from exc
    _add_cjk_infix(nlp)
    if not nlp.has_pipe("parser") and not nlp.has_pipe("senter") and not nlp.has_pipe("sentencizer"):
        nlp.add_pipe("sentencizer", config={"punct_chars": _punct_chars()})
    return nlp


_CONTRACTED = {"wo": "will", "ca": "can", "sha": "shall"}  # won't, can't, shan't


def _set_lemmas(doc: Any) -> None:
    """Set NORM (lower case, straight apostrophes) and LEMMA (looked up by NORM) on every token.

    Terms and documents go through this same function, so they always agree. The lookup
    lemmatizer keys its table on the exact text, so capitalised words ("Required"), tokens of the
    Chinese pipeline and of a ``--model`` pipeline (whose own lemmas would not match the terms'
    lemmas) are all looked up here.
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
    return strings.add(norm), strings.add(_lemma_table().get(norm, norm))


def _mark_line_breaks(doc: Any, text: str) -> None:
    """A line break ends a sentence (for paragraphs that are not hard-wrapped). ``text``: doc.text."""
    if "\n" not in text or doc.has_annotation("DEP"):
        return
    for token in doc[:-1]:
        if token.is_space and "\n" in token.text:
            doc[token.i + 1].is_sent_start = True


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
class CodeMatcher:
    """All rules of a codebook for one pipeline, matched in one pass, spaCy-Matcher style.

    ``add(key, terms=..., patterns=..., regex=...)`` registers a rule under a key; calling the
    matcher on a Doc returns :class:`Hit` tuples (key, token span, the term that matched).
    """

    def __init__(self, nlp: Any) -> None:
        from spacy.matcher import PhraseMatcher

        self.nlp = nlp
        self.vocab = nlp.vocab
        self._lower = PhraseMatcher(self.vocab, attr="NORM")  # NORM: lower case, straight apostrophes
        self._lemma = PhraseMatcher(self.vocab, attr="LEMMA")
        self._patterns: list[tuple[Any, str | None, frozenset[int]]] = []  # (Matcher, anchor attr, ids)
        self._ids: dict[int, tuple[str, str | None]] = {}
        self._keys: set[str] = set()
        self._regexes: list[tuple[str, re.Pattern[str], str]] = []
        self._globs: list[re.Pattern[str]] = []
        self._glob_index: dict[str, int] = {}
        self._glob_terms: list[tuple[str, list[str | int]]] = []  # (match key, words or glob ids)
        self._glob_uses: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self._glob_words: dict[int, set[str]] = defaultdict(set)
        self._seen_words: set[int] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def _match_id(self, key: str, term: str | None) -> str:
        """A unique match key for one term (or pattern) of a rule; hits map back to (key, term)."""
        match_key = f"{key}\x1f{term}"
        self._ids[self.vocab.strings.add(match_key)] = (key.split("\x1f")[0], term)
        return match_key

    def add(self, key: str, *, terms: Iterable[str] = (), patterns: Iterable[Sequence[Mapping]] = (),
            regex: Iterable[str] = (), lemmas: bool = True) -> None:
        """Register rules under ``key``. Terms match on word forms and, if ``lemmas``, on lemmas too."""
        from spacy.matcher import Matcher

        self._keys.add(key)
        for term in terms:
            term = " ".join(term.split())
            match_key = self._match_id(key, term)
            exact = term.startswith("=")  # "=points": this word form only, not "point"
            phrase = term[1:].strip() if exact else term
            words = phrase.split()
            if any("*" in word for word in words):
                self._add_glob_term(match_key, words)
                continue
            doc = self.nlp.make_doc(phrase)
            _set_lemmas(doc)
            self._lower.add(match_key, [doc])
            if lemmas and not exact and _LATIN_WORD.search(phrase):  # hanzi have no inflections
                self._lemma.add(match_key, [doc])
        for index, pattern in enumerate(patterns):
            matcher = Matcher(self.vocab, validate=True)
            matcher.add(self._match_id(f"{key}\x1f{index}", None), [list(pattern)])
            attr, words = _pattern_anchor(pattern)
            self._patterns.append((matcher, attr, frozenset(self.vocab.strings.add(w) for w in words)))
        for expression in regex:
            self._regexes.append((key, re.compile(expression, re.IGNORECASE), expression))

    def _add_glob_term(self, match_key: str, words: list[str]) -> None:
        spec: list[str | int] = []
        for word in words:
            if "*" in word:
                glob = word.lower()
                if glob not in self._glob_index:
                    parts = (re.escape(p) for p in glob.split("*"))
                    self._glob_index[glob] = len(self._globs)
                    self._globs.append(re.compile(".*".join(parts)))
                spec.append(self._glob_index[glob])
            else:
                doc = self.nlp.make_doc(word)
                _set_lemmas(doc)
                spec.extend(t.norm_ for t in doc)
        term_index = len(self._glob_terms)
        self._glob_terms.append((match_key, spec))
        for position, item in enumerate(spec):
            if isinstance(item, int):
                self._glob_uses[item].append((term_index, position))
        # words seen before this term was added must be checked again
        self._seen_words.clear()

    def _expand_globs(self, doc: Any) -> None:
        """Add concrete phrases for glob terms whose globs match words not seen before."""
        from spacy.attrs import NORM
        from spacy.tokens import Doc

        if not self._globs:
            return
        for word_id in doc.count_by(NORM):
            if word_id in self._seen_words:
                continue
            self._seen_words.add(word_id)
            word = self.vocab.strings[word_id]
            for glob_id, glob in enumerate(self._globs):
                if word in self._glob_words[glob_id] or not glob.fullmatch(word):
                    continue
                self._glob_words[glob_id].add(word)
                for term_index, position in self._glob_uses[glob_id]:
                    match_key, spec = self._glob_terms[term_index]
                    choices = [[word] if i == position else
                               (sorted(self._glob_words[item]) if isinstance(item, int) else [item])
                               for i, item in enumerate(spec)]
                    phrases = []
                    for words in itertools.product(*choices):
                        phrase = Doc(self.vocab, words=list(words))
                        for token, norm in zip(phrase, words):
                            token.norm_ = norm
                        phrases.append(phrase)
                    self._lower.add(match_key, phrases)

    def _pattern_matches(self, doc: Any) -> Iterator[tuple[int, int, int]]:
        """(match id, start, end) of the token patterns, each run only where it can match.

        Each pattern has its own Matcher. A pattern with a required word (its "anchor") runs only
        on the sentences that contain that word, so patterns cost little on text they cannot match.
        """
        from spacy.attrs import LEMMA, LOWER, ORTH

        if not self._patterns or not len(doc):
            return
        columns: dict[str, tuple[list[int], set[int]]] = {}
        sentence_spans = None
        for matcher, attr, anchors in self._patterns:
            if attr is None:
                yield from matcher(doc)
                continue
            if attr not in columns:
                column = doc.to_array([{"LOWER": LOWER, "LEMMA": LEMMA, "ORTH": ORTH}[attr]]).tolist()
                columns[attr] = (column, set(column))
            column, present = columns[attr]
            if anchors.isdisjoint(present):
                continue
            positions = [i for i, value in enumerate(column) if value in anchors]
            if sentence_spans is None:
                sentence_spans = list(doc.sents)
                sentence_starts = [span.start for span in sentence_spans]
            for index in sorted({bisect.bisect_right(sentence_starts, i) - 1 for i in positions}):
                span = sentence_spans[index]
                for match_id, start, end in matcher(span):
                    yield match_id, span.start + start, span.start + end

    def __call__(self, doc: Any, text: str | None = None) -> list[Hit]:
        """Every hit in ``doc`` (whose ``doc.text`` may be passed as ``text`` to save rebuilding it)."""
        self._expand_globs(doc)
        found: dict[tuple[str, int, int], Hit] = {}
        matches = itertools.chain(self._lower(doc) if len(self._lower) else (),
                                  self._lemma(doc) if len(self._lemma) else (), self._pattern_matches(doc))
        for match_id, start, end in matches:
            key, term = self._ids[match_id]
            if (key, start, end) not in found:
                last = doc[end - 1]
                found[(key, start, end)] = Hit(key, start, end, term, doc[start].idx, last.idx + len(last))
        text = doc.text if text is None else text
        for key, regex, expression in self._regexes:
            for match in regex.finditer(text):
                if match.end() == match.start():
                    continue
                span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
                if span is not None and len(span):
                    found.setdefault((key, span.start, span.end),
                                     Hit(key, span.start, span.end, expression, match.start(), match.end()))
        return sorted(found.values(), key=lambda h: (h.start, h.end, h.key))


def _pattern_anchor(pattern: Sequence[Mapping[str, Any]]) -> tuple[str | None, list[str]]:
    """A token every match must contain: (attribute, allowed values), or (None, []) if none."""
    for token in pattern:
        if token.get("OP", "1") not in ("1", "+") and not re.fullmatch(r"\{[1-9]\d*(,\d*)?\}", token.get("OP", "")):
            continue
        for attr in ("LOWER", "LEMMA", "ORTH", "TEXT"):
            value = token.get(attr)
            if isinstance(value, Mapping) and set(value) == {"IN"}:
                value = value["IN"]
            if isinstance(value, str):
                value = [value]
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return ("ORTH" if attr == "TEXT" else attr), value
    return None, []


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
    """A pipeline and its matcher, for one language."""

    def __init__(self, nlp: Any, codebook: Codebook, rules: list[tuple[str, RuleSet]]) -> None:
        self.nlp = nlp
        self.matcher = CodeMatcher(nlp)
        for prefix, ruleset in rules:
            _add_ruleset(self.matcher, prefix, ruleset)
        for sector, cues in codebook.sectors.items():
            self.matcher.add(f"sector:{sector}", terms=cues)
        for name in _NEGATION_LISTS:  # exact word forms: "could have" must not match "can have"
            self.matcher.add(f"negation:{name}", terms=getattr(codebook.negation, name), lemmas=False)


def _add_ruleset(matcher: CodeMatcher, prefix: str, ruleset: RuleSet) -> None:
    if ruleset.terms:
        matcher.add(f"{prefix}/terms", terms=ruleset.terms)
    for index, pattern in enumerate(ruleset.patterns):
        matcher.add(f"{prefix}/patterns[{index}]", patterns=[pattern])
    for index, expression in enumerate(ruleset.regex):
        matcher.add(f"{prefix}/regex[{index}]", regex=[expression])
    for index, near in enumerate(ruleset.near):
        for set_index, terms in enumerate(near.sets):
            matcher.add(f"{prefix}/near[{index}]/{set_index}", terms=terms)


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


class _Block(NamedTuple):
    offset: int
    text: str
    lang: str


class CodingEngine:
    """Applies one codebook to documents. Pipelines and matchers are built once, in ``__init__``."""

    def __init__(self, codebook: Codebook, *, model: str | None = None) -> None:
        self.codebook = codebook
        self.model = model
        rulesets = [(code.id, code.rules) for code in codebook.codes]
        rulesets += [(f"{code.id}/veto", code.veto) for code in codebook.codes if code.veto]
        self._rules = [r for code in codebook.codes for r in _rules_of(code.id, code.id, code.rules)]
        self._vetoes = [r for code in codebook.codes
                        for r in _rules_of(f"{code.id}/veto", code.id, code.veto, veto=True)]
        self._all_rules = self._rules + self._vetoes
        self._rule_index: dict[str, list[int]] = defaultdict(list)  # match key -> rules using it
        for index, rule in enumerate(self._all_rules):
            for key in rule.keys:
                self._rule_index[key].append(index)
        self._lanes: dict[str, _Lane] = {}
        model_nlp = _load_model(model) if model else None
        if model_nlp is not None and model_nlp.lang not in codebook.languages:
            raise UsageError(f"spaCy pipeline {model!r} is for language {model_nlp.lang!r}; the "
                             f"codebook covers {', '.join(codebook.languages)}")
        for lang in codebook.languages:
            nlp = model_nlp if model_nlp is not None and model_nlp.lang == lang else _blank_pipeline(lang)
            self._lanes[lang] = _Lane(nlp, codebook, rulesets)
        self._windows = {"en": codebook.negation.window, "zh": codebook.negation.window_zh}
        self._flags = {code.id: (code.flag_negation, code.flag_hypothetical) for code in codebook.codes}
        self._rule_order = {rule.rule_id: i for i, rule in enumerate(self._rules)}

    # -- public API ------------------------------------------------------------------------------
    def code_document(self, text: str, attributes: Mapping[str, str] | None = None) -> CodedDocument:
        """Segments of ``text`` with at least one coding (negated or hypothetical ones included)."""
        return next(self.code_documents([(text, attributes or {})]))

    def code_documents(self, items: Iterable[tuple[str, Mapping[str, str]]], *,
                       jobs: int = 1) -> Iterator[CodedDocument]:
        """Code many documents; results come in input order. ``jobs > 1`` uses worker processes."""
        if jobs > 1:
            yield from _code_in_pool(self, items, jobs)
            return
        iterator = iter(items)
        while chunk := list(itertools.islice(iterator, 64)):
            for text, attributes, units in self._analyse_chunk(chunk):
                yield self._select(text, attributes, units)

    def explain(self, text: str, attributes: Mapping[str, str] | None = None) -> list[Candidate]:
        """Every rule hit in ``text``, vetoed, negated and hypothetical ones included."""
        _, _, units = next(iter(self._analyse_chunk([(text, attributes or {})])))
        return [candidate for unit in units for candidate in unit[2]]

    # -- analysis --------------------------------------------------------------------------------
    def _blocks(self, text: str) -> list[_Block]:
        """Paragraphs with their offset and language; hard-wrapped line breaks become spaces."""
        blocks = []
        for start, end in split_paragraphs(text):
            paragraph = text[start:end]
            lang = detect_language(paragraph)
            if lang not in self._lanes:
                lang = next(iter(self._lanes))
            if _looks_hard_wrapped(paragraph):
                paragraph = paragraph.replace("\n", " ")
            blocks.append(_Block(start, paragraph, lang))
        return blocks

    def _analyse_chunk(self, chunk: list[tuple[str, Mapping[str, str]]]
                       ) -> Iterator[tuple[str, Mapping[str, str], list[tuple]]]:
        """Run the pipelines over every paragraph of a chunk of documents (one ``nlp.pipe`` per
        language), then analyse each document: (text, attributes, units) in input order."""
        blocks = [self._blocks(text) for text, _ in chunk]
        docs: dict[tuple[int, int], Any] = {}
        for lang, lane in self._lanes.items():
            wanted = [(i, j) for i, doc_blocks in enumerate(blocks)
                      for j, block in enumerate(doc_blocks) if block.lang == lang]
            texts = (blocks[i][j].text for i, j in wanted)
            for position, doc in zip(wanted, lane.nlp.pipe(texts)):
                docs[position] = doc
        for i, (text, attributes) in enumerate(chunk):
            units = []
            for j, block in enumerate(blocks[i]):
                doc = docs[(i, j)]
                _set_lemmas(doc)
                _mark_line_breaks(doc, block.text)
                units.extend(self._analyse_block(text, block, doc, self._lanes[block.lang]))
            yield text, attributes, units

    def _analyse_block(self, text: str, block: _Block, doc: Any, lane: _Lane) -> list[tuple]:
        """(segment span, sector cue counts, candidates) for each unit of one paragraph."""
        from spacy.attrs import IS_PUNCT, IS_SPACE

        hits = lane.matcher(doc, block.text)
        sentences = [(s.start, s.end) for s in doc.sents]
        sentence_of = [0] * (len(doc) + 1)
        for index, (start, end) in enumerate(sentences):
            sentence_of[start:end] = [index] * (end - start)
        words = [0, *itertools.accumulate(int(not (punct or space))
                                          for punct, space in doc.to_array([IS_PUNCT, IS_SPACE]).tolist())]
        units = sentences if self.codebook.unit == "sentence" else [(0, len(doc))]
        unit_of = sentence_of if self.codebook.unit == "sentence" else [0] * (len(doc) + 1)
        context = _Context(doc, block.offset, text, sentence_of, words, self._windows[block.lang])
        by_unit: dict[int, dict[str, list[Hit]]] = defaultdict(lambda: defaultdict(list))
        for hit in hits:
            unit = unit_of[hit.start]
            if hit.end > units[unit][1]:
                continue  # crosses the end of its unit
            by_unit[unit][hit.key].append(hit)
        results = []
        for unit, keyed in sorted(by_unit.items()):
            start, end = units[unit]
            start_char = doc[start].idx
            end_char = doc[end - 1].idx + len(doc[end - 1])
            chars = _strip_span(block.text[start_char:end_char], block.offset + start_char)
            if chars is None:
                continue
            context.load_triggers(keyed)
            sectors = Counter({k.split(":", 1)[1]: len(v) for k, v in keyed.items() if k.startswith("sector:")})
            results.append((chars, sectors, self._candidates(keyed, context, chars)))
        return results

    def _candidates(self, keyed: Mapping[str, list[Hit]], context: _Context,
                    chars: tuple[int, int]) -> list[Candidate]:
        flags = self._flags
        present = sorted({i for key in keyed for i in self._rule_index.get(key, ())})
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
                matched = tuple(context.matched_span(hit) for hit in sorted(combo, key=lambda h: h.start))
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
    """Hits of a rule in one unit: single hits, or for near rules one hit per set."""
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
    """Per-paragraph state used to judge negation and to build matched spans."""

    def __init__(self, doc: Any, offset: int, text: str, sentence_of: list[int], words: list[int],
                 window: int) -> None:
        self.doc = doc
        self.offset = offset
        self.text = text
        self.sentence_of = sentence_of
        self.words = words
        self.window = window
        self.triggers: dict[str, list[Hit]] = {}

    def load_triggers(self, keyed: Mapping[str, list[Hit]]) -> None:
        """Trigger hits of this unit: longest match wins, and ``ignore`` phrases switch triggers off."""
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


# -- worker processes ------------------------------------------------------------------------------
_WORKER_ENGINE: CodingEngine | None = None
_WORKER_ERROR: Exception | None = None
_PARENT_ENGINE: CodingEngine | None = None  # inherited by forked workers


def _init_worker(path: str, content_hash: str, model: str | None) -> None:
    """Build the engine once per worker process from the codebook path.

    A forked worker reuses the parent's engine when it is for the same codebook file, which saves
    a second or two per worker. An initializer that raised would be retried forever, so a failure
    is kept and raised by the first task instead.
    """
    global _WORKER_ENGINE, _WORKER_ERROR
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool
    parent = _PARENT_ENGINE
    if parent is not None and parent.codebook.content_hash == content_hash and parent.model == model:
        _WORKER_ENGINE = parent
        return
    try:
        codebook = load_codebook(path)
        if codebook.content_hash != content_hash:
            raise UsageError(f"codebook {path} changed on disk while coding; run again")
        _WORKER_ENGINE = CodingEngine(codebook, model=model)
    except Exception as exc:  # noqa: BLE001 - re-raised in _code_one, in the parent process
        _WORKER_ERROR = exc


def _code_one(item: tuple[str, dict[str, str]]) -> CodedDocument:
    if _WORKER_ERROR is not None:
        raise _WORKER_ERROR
    assert _WORKER_ENGINE is not None, "worker not initialised"
    return _WORKER_ENGINE.code_document(*item)


def _code_in_pool(engine: CodingEngine, items: Iterable[tuple[str, Mapping[str, str]]], jobs: int,
                  batch_size: int = 256) -> Iterator[CodedDocument]:
    """Code in ``jobs`` worker processes, in input order. The input is read in this thread only
    (it may be a generator that is not thread-safe), one batch ahead of the results handed out."""
    global _PARENT_ENGINE
    args = (str(Path(engine.codebook.path)), engine.codebook.content_hash, engine.model)
    iterator = iter(items)
    chunksize = max(1, batch_size // (jobs * 4))
    _PARENT_ENGINE = engine
    try:
        pool = multiprocessing.Pool(jobs, initializer=_init_worker, initargs=args)
    finally:
        _PARENT_ENGINE = None
    with pool:
        pending = None
        while True:
            batch = [(text, dict(attributes or {})) for text, attributes in itertools.islice(iterator, batch_size)]
            submitted = pool.map_async(_code_one, batch, chunksize=chunksize) if batch else None
            if pending is not None:
                yield from pending.get()
            if submitted is None:
                return
            pending = submitted
