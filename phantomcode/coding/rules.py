"""A codebook as the engine sees it: the keyed word lists, patterns and regexes the matcher runs,
and the rules (with their order) that the hits complete."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from phantomcode.codebook import Codebook, RuleSet

from .negation import _NEGATION_LISTS


@dataclass(frozen=True)
class _Rule:
    code: str
    rule_id: str
    order: int
    keys: tuple[str, ...]  # one key, or one key per set of a near rule
    within: int | None = None
    veto: bool = False


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
    ids = (
        ([f"{prefix}/terms"] if ruleset.terms else [])
        + [f"{prefix}/patterns[{i}]" for i in range(len(ruleset.patterns))]
        + [f"{prefix}/regex[{i}]" for i in range(len(ruleset.regex))]
    )
    rules = [_Rule(code, rule_id, order, (rule_id,), veto=veto) for order, rule_id in enumerate(ids)]
    for index, near in enumerate(ruleset.near):
        rule_id = f"{prefix}/near[{index}]"
        keys = tuple(f"{rule_id}/{i}" for i in range(len(near.sets)))
        rules.append(_Rule(code, rule_id, len(rules), keys, near.within, veto))
    return rules
