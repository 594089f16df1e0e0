"""Reading a code's rules from the codebook's YAML nodes: terms (with their ``=`` and ``*`` forms),
spaCy token patterns (validated with spaCy's own schema when asked), regexes (compiled, and
warned about when they can match empty text or backtrack for good) and ``near`` rules, plus the
code's examples. Split from ``reader`` so each stays small; every problem is reported through the
``NodeReader`` it is given, with the node's line and column."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, SequenceNode

from ..rule_checks import nested_quantifier, regex_problem, token_pattern_problems
from .model import CJK, Examples, NearRule, RuleSet, fold

if TYPE_CHECKING:
    from .reader import NodeReader

YAML_TAG = "tag:yaml.org,2002:"
# Token attributes whose values are text: their YAML scalars are read verbatim, so `{LOWER: no}`
# means the word "no" and not the boolean False.
TEXT_ATTRS = {
    "ORTH",
    "TEXT",
    "LOWER",
    "NORM",
    "LEMMA",
    "POS",
    "TAG",
    "MORPH",
    "DEP",
    "ENT_TYPE",
    "ENT_IOB",
    "ENT_ID",
    "ENT_KB_ID",
    "SHAPE",
    "PREFIX",
    "SUFFIX",
    "OP",
}


def read_examples(reader: NodeReader, node: Node, where: str) -> Examples:
    keys = reader.mapping(node, ("positive", "negative"), f"{where}: examples")
    found = {k: tuple(t for t, _ in reader.text_list(keys[k][1], f"{where}: examples.{k}")) for k in keys}
    return Examples(positive=found.get("positive", ()), negative=found.get("negative", ()))


def read_rules(reader: NodeReader, keys: Mapping[str, tuple[Node, Node]], where: str) -> RuleSet:
    terms: list[str] = []
    if "terms" in keys:
        seen: set[str] = set()
        for term, node in reader.text_list(keys["terms"][1], f"{where}: terms"):
            if fold(term) in seen:
                reader.at(node, "W002", f"{where}: term {term!r} is listed twice")
                continue
            seen.add(fold(term))
            if check_term(reader, term, node, f"{where}: terms"):
                terms.append(term)
    patterns = []
    for index, node in enumerate(
        reader.sequence(keys["patterns"][1], f"{where}: patterns") if "patterns" in keys else []
    ):
        pattern = _read_pattern(reader, node, f"{where}: patterns[{index}]")
        if pattern is not None:
            patterns.append(pattern)
    regexes = []
    for expression, node in reader.text_list(keys["regex"][1], f"{where}: regex") if "regex" in keys else []:
        problem = regex_problem(expression)
        if problem is not None:
            reader.at(node, "CB005", f"{where}: invalid regex {_quoted(expression)}: {problem}")
            continue
        if re.compile(expression, re.IGNORECASE).fullmatch(""):
            reader.at(node, "W006", f"{where}: regex {_quoted(expression)} can match empty text")
        if nested_quantifier(expression):
            reader.at(
                node,
                "W008",
                f"{where}: regex {_quoted(expression)} repeats a group that holds a repeat "
                "(like '(a+)+'): it can take minutes on one note; write it without the nesting",
            )
        regexes.append(expression)
    near = []
    for index, node in enumerate(reader.sequence(keys["near"][1], f"{where}: near") if "near" in keys else []):
        rule = _read_near(reader, node, f"{where}: near[{index}]")
        if rule is not None:
            near.append(rule)
    return RuleSet(terms=tuple(terms), patterns=tuple(patterns), regex=tuple(regexes), near=tuple(near))


def _quoted(text: str) -> str:
    """``text`` between quotes as written: ``repr`` would double every backslash of a regex."""
    return f"'{text}'"


def _read_near(reader: NodeReader, node: Node, where: str) -> NearRule | None:
    keys = reader.mapping(node, ("all_of", "within"), where)
    if not keys:
        return None
    within = reader.integer(keys["within"][1], f"{where}: within") if "within" in keys else None
    if "all_of" not in keys:
        reader.at(node, "CB004", f"{where} is missing 'all_of' (two or more lists of terms)")
        return None
    sets = []
    for index, set_node in enumerate(reader.sequence(keys["all_of"][1], f"{where}: all_of")):
        terms = reader.text_list(set_node, f"{where}: all_of[{index}]")
        for term, term_node in terms:
            check_term(reader, term, term_node, f"{where}: all_of[{index}]")
        if not terms:
            reader.at(set_node, "CB012", f"{where}: all_of[{index}] has no terms")
            return None
        sets.append(tuple(t for t, _ in terms))
    if len(sets) < 2:
        reader.at(keys["all_of"][1], "CB012", f"{where}: all_of needs at least two lists of terms")
        return None
    return NearRule(sets=tuple(sets), within=within)


def check_term(reader: NodeReader, term: str, node: Node, where: str) -> bool:
    if term.startswith("="):
        if not term[1:].strip():
            reader.at(node, "CB012", f"{where}: '=' must be followed by a word or phrase")
            return False
        if "*" in term:
            reader.at(node, "CB012", f"{where}: {term!r}: '=' (exact form) and '*' (glob) cannot be combined")
            return False
    for word in term.split():
        if "*" not in word:
            continue
        if CJK.search(word):
            reader.at(
                node, "CB012", f"{where}: glob {word!r}: '*' works on Latin words only; list the Chinese words in full"
            )
            return False
        if not word.strip("*"):
            reader.at(node, "CB012", f"{where}: glob {word!r} needs at least one letter")
            return False
        if not re.fullmatch(r"[\w*]+", word):
            reader.at(
                node,
                "CB012",
                f"{where}: glob {word!r}: '*' works on single words of letters "
                "and digits; write the other parts as separate words or list the forms",
            )
            return False
    return True


def _read_pattern(reader: NodeReader, node: Node, where: str) -> tuple[dict[str, Any], ...] | None:
    tokens = reader.sequence(node, where)
    if not tokens:
        if isinstance(node, SequenceNode):
            reader.at(node, "CB006", f"{where}: a token pattern needs at least one token")
        return None
    try:
        pattern = [_pattern_value(token, False) for token in tokens]
    except Exception as exc:  # YAML's constructors raise ValueError, AttributeError ... on bad tagged values
        reader.at(
            node,
            "CB006",
            f"{where}: invalid token pattern: a value cannot be read ({exc.__class__.__name__}: {str(exc)[:200]})",
        )
        return None
    if not reader.check_patterns:
        return tuple(pattern)
    from spacy.schemas import validate_token_pattern

    errors = validate_token_pattern(pattern)
    reported: set[tuple[str, str]] = set()
    for message in errors:
        found = re.match(r"\[pattern -> (\d+)(?: -> (\w+))?[^\]]*\]\s*(.*)", message)
        if not found:
            reader.at(node, "CB006", f"{where}: invalid token pattern: {message}")
            continue
        index, key, detail = found.groups()
        if (index, key) in reported:
            continue  # spaCy lists one message per alternative type; the first says enough
        reported.add((index, key))
        target: Node = tokens[int(index)]
        if key and isinstance(target, MappingNode):
            target = next((k for k, _ in target.value if k.value == key), target)
        reader.at(
            target,
            "CB006",
            f"{where}: invalid token pattern: token {int(index) + 1}{f' {key}' if key else ''}: {detail}",
        )
    if errors:
        return None
    unusable = token_pattern_problems(pattern)
    for problem in unusable:
        reader.at(node, "CB006", f"{where}: invalid token pattern: {problem}")
    return None if unusable else tuple(pattern)


def _pattern_value(node: Node, as_text: bool) -> Any:
    """Python value of a pattern node; values under text attributes are read verbatim."""
    if isinstance(node, MappingNode):
        return {k.value: _pattern_value(v, as_text or k.value in TEXT_ATTRS) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [_pattern_value(v, as_text) for v in node.value]
    if as_text and node.tag != YAML_TAG + "null":
        return node.value
    return SafeConstructor().construct_object(node, deep=True)
