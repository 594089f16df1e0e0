"""``*`` wildcards matched in linear time, for glob terms in codebooks and ``kwic`` terms.

Compiled to regular expressions (``a.*a.*a.*b``), a glob with several stars backtracks: the
term ``a*a*a*a*b`` against one 3,000-letter word hung ingest. A ``*``-only pattern needs no
backtracking: its first part must start the word, its last part end it, and each part between
is found leftmost after the previous one (taking the leftmost occurrence never loses a match).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

_WORD = re.compile(r"\w+")
_GLOB_WORD = re.compile(r"[\w*]+")


class Glob:
    """A pattern where ``*`` stands for any run of characters (none included); ``fullmatch``
    costs one pass over the text per part."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.parts = pattern.split("*")

    def fullmatch(self, text: str) -> bool:
        first, *middle, last = self.parts if len(self.parts) > 1 else (self.parts[0], "")
        if len(self.parts) == 1:
            return text == first
        if len(text) < len(first) + len(last) or not text.startswith(first) or not text.endswith(last):
            return False
        position, end = len(first), len(text) - len(last)
        for part in middle:
            found = text.find(part, position, end)
            if found < 0:
                return False
            position = found + len(part)
        return True


def can_scan_words(term: str) -> bool:
    """True when every word of ``term`` is letters, digits and ``*``: then ``glob_phrase_spans``
    finds it; other terms (punctuation inside a word) go through a regular expression."""
    words = term.split()
    return bool(words) and all(_GLOB_WORD.fullmatch(word) for word in words)


def glob_phrase_spans(text: str, term: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of whole words in ``text`` matching the words of ``term`` in
    order, case-insensitively, separated by white space only; linear in the text per word."""
    globs = [Glob(word.casefold()) for word in term.split()]
    tokens = [(match.start(), match.end(), match.group().casefold()) for match in _WORD.finditer(text)]
    for first in range(len(tokens) - len(globs) + 1):
        window = tokens[first : first + len(globs)]
        if all(glob.fullmatch(word) for glob, (_, _, word) in zip(globs, window, strict=True)) and all(
            text[before[1] : after[0]].isspace() for before, after in pairwise(window)
        ):
            yield window[0][0], window[-1][1]
