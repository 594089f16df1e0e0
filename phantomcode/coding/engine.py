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
import hashlib
import itertools
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy

from phantomcode.codebook import Codebook
from phantomcode.errors import UsageError

from .combined import add_learned_codings
from .layout import (
    MAX_BLOCK_CHARS,
    _Columns,
    _columns,
    _load_model,
    _looks_hard_wrapped,
    _model_sentence_starts,
    _sentence_starts,
    _Sentences,
    blank_pipeline,
    detect_language,
    split_paragraphs,
    tokenizer_of,
)
from .lemmas import set_lemmas
from .matcher import CodeMatcher
from .negation import _Context
from .records import Candidate, CodedDocument, Coding, Hit, Segment, UnitWords
from .rules import _Rule, _rules_of, matcher_rules

if TYPE_CHECKING:
    import pyarrow
    from spacy.language import Language
    from spacy.tokens import Doc

    from .learned import LearnedModel


_KEY_SETS_REMEMBERED = 100_000  # combinations of keys whose complete rules an engine remembers
_FLAG_ORDER = {(False, False): 0, (False, True): 1, (True, False): 2, (True, True): 3}


class _Lane:
    """A pipeline and its matcher. Without ``--model`` one lane serves English and Chinese alike."""

    def __init__(self, nlp: Language, codebook: Codebook, *, blank: bool) -> None:
        self.nlp = nlp
        self.blank = blank  # tokenizer only: paragraphs can share a Doc, sentences come from the arrays
        self.matcher = CodeMatcher(nlp)
        for rule in matcher_rules(codebook):
            self.matcher.add(
                rule.key,
                terms=rule.terms,
                lemmas=rule.lemmas,
                patterns=[rule.pattern] if rule.pattern is not None else (),
                regex=[rule.regex] if rule.regex is not None else (),
            )

    def docs(self, texts: Iterable[str]) -> Iterator[Doc]:
        return tokenizer_of(self.nlp).pipe(texts) if self.blank else self.nlp.pipe(texts)


class _Paragraph(NamedTuple):
    start: int  # character offsets in the group's text
    end: int
    window: int  # the negation window of the paragraph's language


class _Member(NamedTuple):
    """One paragraph on its way into a :class:`_Group`: its span in the document, its text (line
    breaks of a hard-wrapped paragraph turned into spaces), its lane and negation window."""

    start: int
    end: int
    text: str
    lane: _Lane
    window: int


class _Unit(NamedTuple):
    """A unit of coding with a rule hit: its character span in the document, the sector cues in it
    and its candidates. The last unit of a group may have an empty span and no candidates: it holds
    the sector cues of the group's units without a hit."""

    span: tuple[int, int]
    sectors: Counter[str]
    candidates: list[Candidate]


# Documents parsed together: one tokenizer stream per chunk (coding, and words for re-scoring).
DOCUMENTS_PER_CHUNK = 64


class _AnalysedDocument(NamedTuple):
    text: str
    attributes: Mapping[str, str]
    units: list[_Unit]
    words: UnitWords | None  # every unit with its words, when a learned layer needs them


class _Layout(NamedTuple):
    """A group's Doc read for coding: its token columns, sentences, units of coding (token ranges)
    and the unit of each token."""

    columns: _Columns
    sentences: _Sentences
    units: list[tuple[int, int]]
    unit_of: list[int]


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

    def __init__(self, codebook: Codebook, *, model: str | None = None, learned: LearnedModel | None = None) -> None:
        self.codebook = codebook
        self.model = model
        self.learned = learned  # the model whose codings join the rules' (None: rules only)
        if learned is not None:
            learned.train_matrix()  # built once here, so that forked workers share it
        self._rules = [r for code in codebook.codes for r in _rules_of(code.id, code.id, code.rules)]
        self._vetoes = [
            r for code in codebook.codes for r in _rules_of(f"{code.id}/veto", code.id, code.veto, veto=True)
        ]
        self._all_rules = self._rules + self._vetoes
        self._rule_index: dict[str, list[int]] = defaultdict(list)  # match key -> rules using it
        for index, rule in enumerate(self._all_rules):
            for key in rule.keys:
                self._rule_index[key].append(index)
        model_nlp = _load_model(model) if model else None
        if model_nlp is not None and model_nlp.lang not in codebook.languages:
            raise UsageError(
                f"spaCy pipeline {model!r} is for language {model_nlp.lang!r}; the "
                f"codebook covers {', '.join(codebook.languages)}"
            )
        self._lanes: dict[str, _Lane] = {}
        blank_lane = None
        for lang in codebook.languages:
            if model_nlp is not None and model_nlp.lang == lang:
                self._lanes[lang] = _Lane(model_nlp, codebook, blank=False)
                continue
            blank_lane = blank_lane or _Lane(blank_pipeline(), codebook, blank=True)
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
        while chunk := list(itertools.islice(iterator, DOCUMENTS_PER_CHUNK)):
            analysed = list(self._analyse_chunk(chunk))
            coded = [self._select(document) for document in analysed]
            if self.learned is not None:
                coded = add_learned_codings(self.learned, coded, [d.words for d in analysed], self.codebook)
            yield from coded

    def code_batch(self, docs: Iterable[tuple[str, str, Mapping[str, str]]]) -> pyarrow.Table:
        """Code ``(doc_id, text, attributes)`` documents into one row per coding, in the versioned
        schema of :data:`phantomcode.batch.CODINGS_SCHEMA` (needs the ``dask`` extra's pyarrow)."""
        from phantomcode.batch import codings_table

        docs = list(docs)
        coded = self.code_documents((text, attributes) for _, text, attributes in docs)
        return codings_table([(doc_id, result) for (doc_id, _, _), result in zip(docs, coded, strict=True)], self)

    def __reduce__(self) -> tuple[Any, tuple[bytes, str, str | None, bytes | None]]:
        """Pickled as the codebook's bytes, the model's name and the learned model's bytes (so a
        Dask worker codes exactly as a local ingest): whatever else the engine holds is rebuilt,
        once per thread (see :func:`engine_from_source`)."""
        if not self.codebook.source:
            raise UsageError(
                f"codebook {self.codebook.path} was not loaded from bytes; an engine "
                "built from it cannot be sent to other processes"
            )
        learned = self.learned.to_bytes(with_rows=True) if self.learned is not None else None
        return engine_from_source, (self.codebook.source, str(self.codebook.path), self.model, learned)

    def explain(self, text: str, attributes: Mapping[str, str] | None = None) -> list[Candidate]:
        """Every rule hit in ``text``, vetoed, negated and hypothetical ones included."""
        analysed = next(iter(self._analyse_chunk([(text, attributes or {})])))
        return [candidate for unit in analysed.units for candidate in unit.candidates]

    # -- analysis --------------------------------------------------------------------------------
    def _groups(self, text: str) -> list[_Group]:
        """The document's paragraphs, with their language, gathered into Docs.

        Consecutive paragraphs share a Doc when their lane has a blank pipeline and the Doc stays
        within ``MAX_BLOCK_CHARS``; a ``--model`` pipeline (whose parser could join sentences
        across paragraphs) gets one Doc per paragraph.
        """
        members: list[list[_Member]] = []
        for start, end in split_paragraphs(text):
            paragraph = text[start:end]
            lang = detect_language(paragraph)
            lane = self._lanes.get(lang) or next(iter(self._lanes.values()))
            if _looks_hard_wrapped(paragraph):
                paragraph = paragraph.replace("\n", " ")
            entry = _Member(start, end, paragraph, lane, self._windows.get(lang, self.codebook.negation.window))
            first = members[-1][0] if members else None
            if first is not None and first.lane is lane and lane.blank and end - first.start <= MAX_BLOCK_CHARS:
                members[-1].append(entry)
            else:
                members.append([entry])
        return [_group(text, group) for group in members]

    def _parse_chunk(self, texts: Sequence[str]) -> list[list[tuple[_Group, Doc]]]:
        """Each document's groups with their Docs, in input order: the pipelines run over every
        group of a chunk of documents, one stream per lane."""
        groups = [self._groups(text) for text in texts]
        docs: dict[tuple[int, int], Doc] = {}
        for lane in {id(lane): lane for lane in self._lanes.values()}.values():
            wanted = [
                (i, j)
                for i, doc_groups in enumerate(groups)
                for j, group in enumerate(doc_groups)
                if group.lane is lane
            ]
            texts_of_lane = (groups[i][j].text for i, j in wanted)
            docs.update(zip(wanted, lane.docs(texts_of_lane), strict=True))
        return [[(group, docs[(i, j)]) for j, group in enumerate(doc_groups)] for i, doc_groups in enumerate(groups)]

    def _analyse_chunk(self, chunk: list[tuple[str, Mapping[str, str]]]) -> Iterator[_AnalysedDocument]:
        """Parse a chunk of documents (``_parse_chunk``), then analyse each document, in input order."""
        parsed = self._parse_chunk([text for text, _ in chunk])
        for (text, attributes), groups in zip(chunk, parsed, strict=True):
            units = []
            words = UnitWords([], []) if self.learned is not None else None
            for group, doc in groups:
                units.extend(self._analyse_group(text, group, doc, words))
            yield _AnalysedDocument(text, attributes, units, words)

    def unit_words(self, texts: Iterable[str]) -> Iterator[UnitWords]:
        """Every unit of each text with its words, in input order: what :meth:`code_documents`
        hands the learned layer, made by the same steps (paragraphs, lanes, tokenizer, sentences,
        units) without the rules' matching and judging. Re-scoring with a new model needs only these."""
        iterator = iter(texts)
        while chunk := list(itertools.islice(iterator, DOCUMENTS_PER_CHUNK)):
            for groups in self._parse_chunk(chunk):
                words = UnitWords([], [])
                for group, doc in groups:
                    _add_words(words, group, doc, self._layout(group, doc))
                yield words

    def _layout(self, group: _Group, doc: Doc) -> _Layout:
        """The token columns, sentences and units of coding of one group's Doc."""
        columns = _columns(doc)
        sentences = _Sentences.from_starts(
            _sentence_starts(doc, columns, group.text) if group.lane.blank else _model_sentence_starts(doc, group.text)
        )
        if self.codebook.unit == "sentence":
            return _Layout(columns, sentences, sentences.bounds, sentences.of)
        token_starts = [bisect.bisect_left(columns.idx, p.start) for p in group.paragraphs]
        units = list(itertools.pairwise([*token_starts, len(columns.idx)]))
        unit_of = (numpy.searchsorted(token_starts, numpy.arange(len(columns.idx)), side="right") - 1).tolist()
        return _Layout(columns, sentences, units, unit_of)

    def _analyse_group(self, text: str, group: _Group, doc: Doc, words: UnitWords | None) -> list[_Unit]:
        """The units of one group with a rule hit, plus one unit without a span that holds the
        sector cues of all other units. Every unit and its words are added to ``words``, if given."""
        matcher = group.lane.matcher
        if matcher.needs_lemmas:
            set_lemmas(doc)  # NORM and LEMMA only: the layout and the words read LOWER
        layout = self._layout(group, doc)
        columns, sentences, units, unit_of = layout
        idx, ends = columns.idx, columns.ends
        windows = [(idx[start], ends[end - 1]) for start, end in units if end > start]
        if words is not None:
            _add_words(words, group, doc, layout)
        hits = matcher.hits(doc, columns, sentences, group.text, windows)
        if not hits:
            return []
        paragraph_starts = [p.start for p in group.paragraphs]
        word_counts = numpy.concatenate(([0], numpy.cumsum(~(columns.is_punct | columns.is_space)))).tolist()
        context = _Context(group.offset, text, sentences.of, word_counts)
        by_unit: dict[int, dict[str, list[Hit]]] = defaultdict(lambda: defaultdict(list))
        for hit in hits:
            unit = unit_of[hit.start]
            if hit.end > units[unit][1]:
                continue  # crosses the end of its unit
            by_unit[unit][hit.key].append(hit)
        results: list[_Unit] = []
        other_cues: Counter[str] = Counter()
        sector_of = self._sector_of_key
        for unit, keyed in sorted(by_unit.items()):
            sectors = Counter({sector_of[k]: len(v) for k, v in keyed.items() if k in sector_of})
            start, end = units[unit]
            chars = _strip_span(group.text[idx[start] : ends[end - 1]], group.offset + idx[start])
            complete = self._complete_rules(keyed)
            if chars is None or not any(not self._all_rules[i].veto for i in complete):
                other_cues.update(sectors)
                continue
            paragraph = group.paragraphs[bisect.bisect_right(paragraph_starts, idx[start]) - 1]
            context.load_triggers(keyed, paragraph.window)
            results.append(_Unit(chars, sectors, self._candidates(complete, keyed, context, chars)))
        if other_cues:
            results.append(_Unit((group.offset, group.offset), other_cues, []))
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

    def _candidates(
        self, present: list[int], keyed: Mapping[str, list[Hit]], context: _Context, chars: tuple[int, int]
    ) -> list[Candidate]:
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
                combos = [min(combos, key=lambda c: (_FLAG_ORDER[context.flags(c, *flags[rule.code])[:2]], _extent(c)))]
            for combo in combos:
                negated, hypothetical, cue = context.flags(combo, *flags[rule.code])
                matched = tuple(context.matched_span(hit) for hit in combo)  # combos are in text order
                candidates.append(
                    Candidate(
                        rule.code,
                        rule.rule_id,
                        chars[0],
                        chars[1],
                        matched,
                        negated,
                        hypothetical,
                        cue,
                        vetoes.get(rule.code),
                    )
                )
        return candidates

    # -- selection -------------------------------------------------------------------------------
    def _select(self, analysed: _AnalysedDocument) -> CodedDocument:
        """One Segment per unit with codings, each with its declared or inferred sector."""
        attributes, units = analysed.attributes, analysed.units
        declared = None
        if attributes.get("sector"):
            normalized, _ = self.codebook.normalize_attributes({"sector": attributes["sector"]})
            declared = normalized["sector"]
        document_sectors = sum((unit.sectors for unit in units), Counter())
        order = {name: i for i, name in enumerate(self.codebook.sectors)}

        def most_cued(counts: Counter) -> str | None:
            return min(counts, key=lambda s: (-counts[s], order.get(s, 0))) if counts else None

        segments = []
        sector: str | None
        source: str | None
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


def _add_words(words: UnitWords, group: _Group, doc: Doc, layout: _Layout) -> None:
    """Append each unit's span (stripped, in document offsets) and the LOWER ids of its words.

    A ``--model`` pipeline has its own vocabulary, while the features read the blank one's: its
    words are added there."""
    columns = layout.columns
    is_word = ~(columns.is_punct | columns.is_space)
    idx, ends = columns.idx, columns.ends
    if not group.lane.blank:
        strings = blank_pipeline().vocab.strings
        for lower in set(columns.lower.tolist()):
            strings.add(doc.vocab.strings[lower])
    for start, end in layout.units:
        if end <= start:
            continue
        chars = _strip_span(group.text[idx[start] : ends[end - 1]], group.offset + idx[start])
        if chars is not None:
            words.spans.append(chars)
            words.words.append(columns.lower[start:end][is_word[start:end]])


def word_lowers(doc: Doc) -> Any:
    """LOWER ids of a Doc's word tokens (not punctuation or space), as the learned layer reads them."""
    columns = _columns(doc)
    return columns.lower[~(columns.is_punct | columns.is_space)]


# Engines rebuilt by unpickling, by (codebook hash, model, learned model hash, thread): a Dask worker
# runs many tasks, each carrying the engine, and builds it once per thread. Per thread because an
# engine's matchers learn word forms as they meet them: one engine must not code in two threads at once.
_REBUILT: dict[tuple[str, str | None, str | None, int], CodingEngine] = {}


def engine_from_source(source: bytes, path: str, model: str | None, learned: bytes | None = None) -> CodingEngine:
    """The engine for a codebook's bytes, a model name and the learned model's bytes (None: rules
    only), built on first use in this thread."""
    from phantomcode.codebook import load_codebook

    from .learned import LearnedModel

    learned_key = hashlib.sha256(learned).hexdigest() if learned is not None else None
    key = (hashlib.sha256(source).hexdigest(), model, learned_key, threading.get_ident())
    engine = _REBUILT.get(key)
    if engine is None:
        engine = _REBUILT[key] = CodingEngine(
            load_codebook(path, source=source),
            model=model,
            learned=LearnedModel.from_bytes(learned) if learned is not None else None,
        )
    return engine


def _group(text: str, members: list[_Member]) -> _Group:
    """One Doc's worth of paragraphs: their texts joined by the original text between them."""
    offset = members[0].start
    pieces, paragraphs, position = [], [], offset
    for start, end, paragraph, _, window in members:
        pieces.append(text[position:start] + paragraph)
        paragraphs.append(_Paragraph(start - offset, end - offset, window))
        position = end
    return _Group(offset, "".join(pieces), members[0].lane, paragraphs)


def _choose_codings(candidates: list[Candidate], rule_order: Mapping[str, int]) -> list[Coding]:
    by_code: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_code[candidate.code].append(candidate)
    codings = []
    for code, found in by_code.items():
        best = min(
            found, key=lambda c: (_FLAG_ORDER[(c.negated, c.hypothetical)], rule_order[c.rule], c.matched[0].start)
        )
        same = [
            c for c in found if c.rule == best.rule and (c.negated, c.hypothetical) == (best.negated, best.hypothetical)
        ]
        matched = tuple(sorted({span for c in same for span in c.matched}, key=lambda s: (s.start, s.end)))
        codings.append(
            Coding(code, best.rule, best.start, best.end, matched, best.negated, best.hypothetical, best.cue)
        )
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
    sets = [keyed.get(key, []) for key in rule.keys]
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
