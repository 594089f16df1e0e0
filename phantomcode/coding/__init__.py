"""The matcher engine: apply a codebook to note text and explain every coding.

One module per concern: :mod:`.layout` (pipelines, paragraphs, languages, sentences),
:mod:`.lemmas` (word forms), :mod:`.clues` (strings a rule needs), :mod:`.matcher` (the
:class:`CodeMatcher`), :mod:`.negation` (negation and hypotheticals), :mod:`.rules` (a codebook as
keyed rules), :mod:`.engine` (the :class:`CodingEngine`), :mod:`.examples` (codebook examples) and
:mod:`.records` (what they hand each other and out).
"""

from .clues import pattern_clue, regex_clue, term_clue
from .engine import CodingEngine
from .examples import ExampleResult, check_examples
from .layout import MAX_BLOCK_CHARS, blank_pipeline, detect_language, split_paragraphs
from .lemmas import set_lemmas
from .matcher import MAX_PHRASE_SPELLINGS, CodeMatcher
from .records import Candidate, CodedDocument, Coding, Hit, MatchedSpan, Segment
from .rules import MatcherRule, matcher_rules

__all__ = [
    "MAX_BLOCK_CHARS",
    "MAX_PHRASE_SPELLINGS",
    "Candidate",
    "CodeMatcher",
    "CodedDocument",
    "Coding",
    "CodingEngine",
    "ExampleResult",
    "Hit",
    "MatchedSpan",
    "MatcherRule",
    "Segment",
    "blank_pipeline",
    "check_examples",
    "detect_language",
    "matcher_rules",
    "pattern_clue",
    "regex_clue",
    "set_lemmas",
    "split_paragraphs",
    "term_clue",
]
