"""Checks that a codebook's regexes and token patterns are safe for the engine, run by lint.

Lint must catch everything the engine would choke on, so each regex is compiled (and a nested
quantifier such as ``(a+)+``, which can backtrack for minutes on one note, is flagged), and each
token pattern is added to a real spaCy ``Matcher`` after its repetition counts are bounded
(spaCy expands ``OP: "{99999999999}"`` into that many tokens) and its ``REGEX`` values compiled.
Every function returns problems as text; the codebook reader places them at the YAML node.
"""

from __future__ import annotations

import re
from typing import Any

try:  # Python 3.11 names it re._parser; sre_parse is the deprecated alias
    from re import _parser as _sre_parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parser

MAX_PATTERN_REPEAT = 100  # OP: "{n,m}" bounds in token patterns
_REPEATS = {_sre_parser.MAX_REPEAT, _sre_parser.MIN_REPEAT, getattr(_sre_parser, "POSSESSIVE_REPEAT", None)}
_OP_COUNTS = re.compile(r"^\{(\d*)(,?)(\d*)\}$")


def regex_problem(expression: str, *, flags: int = re.IGNORECASE) -> str | None:
    """Why ``expression`` cannot be compiled, or None. Never raises."""
    try:
        re.compile(expression, flags)
    except re.error as exc:
        position = f" at character {exc.pos + 1}" if exc.pos is not None else ""
        return f"{exc.msg}{position}"
    except (OverflowError, RecursionError, ValueError, MemoryError) as exc:
        return str(exc) or exc.__class__.__name__
    return None


def nested_quantifier(expression: str) -> bool:
    """True when an unbounded repeat holds another (``(a+)+``, ``(\\w*\\s)*``): a regex engine
    that backtracks can take exponential time on a text that almost matches. A bounded outer
    repeat (``(\\w+\\s+){0,3}``) costs polynomial time at most and is not flagged."""
    try:
        parsed = _sre_parser.parse(expression)
    except Exception:  # an invalid regex is reported by regex_problem
        return False
    return _has_nested_repeat(list(parsed), inside_repeat=False)


def _has_nested_repeat(items: list[tuple[Any, Any]], *, inside_repeat: bool) -> bool:
    for op, argument in items:
        if op in _REPEATS:
            low, high, body = argument
            unbounded = high == _sre_parser.MAXREPEAT
            if inside_repeat and unbounded:
                return True
            if _has_nested_repeat(list(body), inside_repeat=inside_repeat or unbounded):
                return True
        elif op == _sre_parser.SUBPATTERN:
            if _has_nested_repeat(list(argument[-1]), inside_repeat=inside_repeat):
                return True
        elif op == _sre_parser.BRANCH:
            if any(_has_nested_repeat(list(branch), inside_repeat=inside_repeat) for branch in argument[1]):
                return True
        elif op in (_sre_parser.ASSERT, _sre_parser.ASSERT_NOT):
            if _has_nested_repeat(list(argument[1]), inside_repeat=inside_repeat):
                return True
    return False


def token_pattern_problems(pattern: list[Any]) -> list[str]:
    """Why the engine could not use a token pattern (already valid by spaCy's schema), or []."""
    problems = []
    for number, token in enumerate(pattern, start=1):
        if not isinstance(token, dict):
            continue
        problems += [f"token {number}: {problem}" for problem in _token_problems(token)]
    if problems:
        return problems
    return _matcher_problems(pattern)


def _token_problems(token: dict[str, Any]) -> list[str]:
    problems = []
    if "_" in token:
        problems.append("custom attributes ('_') are not available in codebook patterns")
    op = token.get("OP")
    if isinstance(op, str) and op.startswith("{"):
        problems += _op_problems(op)
    for key, value in token.items():
        if isinstance(value, dict) and "REGEX" in value and isinstance(value["REGEX"], str):
            problem = regex_problem(value["REGEX"], flags=0)
            if problem:
                problems.append(f"{key} REGEX {value['REGEX']!r}: {problem}")
    return problems


def _op_problems(op: str) -> list[str]:
    found = _OP_COUNTS.match(op)
    if not found or not (found.group(1) or found.group(3)):
        return [f"OP {op!r} must be {{n}}, {{n,m}}, {{n,}} or {{,m}}"]
    low, comma, high = found.groups()
    numbers = [int(n) for n in (low, high) if n and len(n) <= 6]
    if len(numbers) < len([n for n in (low, high) if n]) or any(n > MAX_PATTERN_REPEAT for n in numbers):
        return [f"OP {op!r}: repeat counts above {MAX_PATTERN_REPEAT} are not supported"]
    if low and high and int(low) > int(high):
        return [f"OP {op!r}: the minimum is larger than the maximum"]
    return []


def _matcher_problems(pattern: list[Any]) -> list[str]:
    """Add the pattern to a spaCy Matcher, as the engine will, and report what it raises."""
    from spacy.matcher import Matcher
    from spacy.vocab import Vocab

    try:
        Matcher(Vocab()).add("check", [pattern])
    except Exception as exc:  # spaCy raises ValueError, KeyError, re.error ... for patterns it cannot use
        return [f"spaCy cannot use it ({exc.__class__.__name__}: {str(exc).splitlines()[0][:200]})"]
    return []
