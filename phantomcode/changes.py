"""What a codebook change can affect: which stored documents must be re-coded after an edit.

Researchers refine a codebook a term at a time and re-code after each edit. Re-coding every
document for one new term wastes minutes on a large project, so the old and the new codebook
are compared. Their *structure* (codes and their order, flags, windows, the number of rules of
each kind, ``within`` distances, unit, languages, sectors, attribute vocabularies) must be equal;
then every difference lies in a list of words (terms, near sets, vetoes, negation triggers,
sector cues) or in one regex or token pattern, and each has a *clue* (see
:func:`phantomcode.coding.term_clue`): strings one of which the text must contain for that rule
to match at all. A document whose text contains no clue of any changed rule codes exactly as it
did, so it keeps its codings. Any other change, or a rule without a clue, re-codes everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .codebook import Codebook, RuleSet

__all__ = ["CodebookChange", "codebook_change"]


@dataclass(frozen=True)
class CodebookChange:
    """``everything``: every document may code differently (``reason`` says why). Otherwise only
    documents whose lower-cased text holds one of ``words`` or whose case-folded text holds one
    of ``literals`` can; ``changed`` names the rules that differ."""

    everything: bool
    reason: str
    changed: tuple[str, ...] = ()
    words: frozenset[str] = frozenset()
    literals: frozenset[str] = frozenset()

    def affects(self, text: str) -> bool:
        if self.everything:
            return True
        if self.words:
            lowered = text.lower()
            if any(map(lowered.__contains__, self.words)):
                return True
        if self.literals:
            folded = text.casefold()
            return any(map(folded.__contains__, self.literals))
        return False


def codebook_change(old: Codebook, new: Codebook) -> CodebookChange:
    """How coding with ``new`` can differ from coding with ``old``."""
    if _structure(old) != _structure(new):
        return CodebookChange(
            True,
            "the codebook's structure changed (codes, flags, windows, unit, "
            "sectors, attribute values or the number of rules)",
        )
    from .coding import matcher_rules, pattern_clue, regex_clue, term_clue

    changed: list[str] = []
    words: set[str] = set()
    literals: set[str] = set()
    # Equal structures give the same rules under the same keys, in the same order.
    for before, after in zip(matcher_rules(old), matcher_rules(new), strict=True):
        for term in sorted(set(before.terms) ^ set(after.terms)):
            clue = term_clue(term, lemmas=after.lemmas)
            if clue is None:
                return CodebookChange(True, f"{after.key}: {term!r} has no fixed letters to look for")
            changed.append(f"{after.key}: {term}")
            words |= clue
        if (before.regex, before.pattern) == (after.regex, after.pattern):
            continue
        clues = [
            regex_clue(rule.regex)
            if rule.regex is not None
            else pattern_clue(rule.pattern)
            if rule.pattern is not None
            else None
            for rule in (before, after)
        ]
        if None in clues:
            return CodebookChange(True, f"{after.key}: the changed rule has no fixed words to look for")
        changed.append(after.key)
        for clue in clues:
            (literals if after.regex is not None else words).update(clue or ())
    if not changed:
        return CodebookChange(False, "no rule changed")
    return CodebookChange(
        False, f"{len(changed)} rule change(s)", tuple(changed), frozenset(words), frozenset(literals)
    )


def _structure(book: Codebook) -> str:
    """Everything that affects coding except the contents of word lists, regexes and patterns."""
    codes = [
        {
            "id": code.id,
            "flags": [code.flag_negation, code.flag_hypothetical],
            "rules": _ruleset_shape(code.rules),
            "veto": _ruleset_shape(code.veto),
        }
        for code in book.codes
    ]
    negation = book.negation
    return json.dumps(
        {
            "unit": book.unit,
            "languages": list(book.languages),
            "codes": codes,
            "windows": [negation.window, negation.window_zh],
            "sectors": list(book.sectors),
            "attributes": {k: dict(v) for k, v in book.attributes.items()},
        },
        sort_keys=True,
        default=list,
    )


def _ruleset_shape(rules: RuleSet) -> dict[str, Any]:
    return {
        "terms": bool(rules.terms),
        "patterns": len(rules.patterns),
        "regex": len(rules.regex),
        "near": [[len(near.sets), near.within] for near in rules.near],
    }
