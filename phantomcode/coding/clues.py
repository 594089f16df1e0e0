"""Clues: strings one of which a text must hold for a rule to match it.

The matcher runs token patterns and regexes only on sentences holding their clues, and
:mod:`phantomcode.changes` re-codes after a codebook edit only the documents holding a clue of an
edited rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from typing import Any

from .layout import _LATIN_WORD, blank_pipeline
from .lemmas import _CONTRACTED, _forms_of_lemma, _spellings, _with_curly_apostrophes


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
    slots = [slot for slot in _spellings(blank_pipeline(), phrase, by_lemma) if all(slot)]
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
    clues = {tuple(sorted({option.casefold() for option in options})) for options in _required_sets(list(parsed))}
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
        known = [option for option in options if option]
        return set().union(*known) if len(known) == len(options) else None
    if op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and value[0] >= 1:
        return _required_in_sequence(list(value[2]))
    if op is constants.IN and value and all(kind is constants.LITERAL for kind, _ in value):
        return {chr(char) for _, char in value}
    return None
