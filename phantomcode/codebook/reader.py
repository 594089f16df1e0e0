"""Reading a codebook's YAML: the composed node tree is walked (so every problem carries the
file, line and column of the offending node), every field checked, and the typed objects of
``codebook.model`` built. Only YAML's safe subset is understood: the file is *composed*, never
constructed with a full loader, so a tag such as ``!!python/object`` runs nothing (``CB009``)."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import CodebookError, Problem
from ..limits import MAX_CODEBOOK_CHARS, LimitExceeded, check_yaml_shape
from .model import CODE_ID, LANGUAGES, UNITS, Code, Codebook, Examples, NegationSettings, RuleSet, fold
from .rule_reader import YAML_TAG, check_term, read_examples, read_rules

# The only YAML tags a codebook (or a dictionary) may carry: any other one is refused, never constructed.
SAFE_TAGS = {YAML_TAG + t for t in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")}
_TOP_KEYS = (
    "name",
    "version",
    "description",
    "languages",
    "unit",
    "negation",
    "attributes",
    "sectors",
    "groups",
    "codes",
)
_CODE_KEYS = (
    "id",
    "label",
    "definition",
    "include",
    "exclude",
    "examples",
    "terms",
    "patterns",
    "regex",
    "near",
    "veto",
    "flag_negation",
    "flag_hypothetical",
)
_RULE_KEYS = ("terms", "patterns", "regex", "near")
_NEGATION_KEYS = ("window", "before", "after", "hypothetical_before", "hypothetical_after", "terminators", "ignore")


# libyaml's parser when PyYAML was built with it (the wheels are): node marks carry the same lines
# and columns, ten times faster than the pure-Python parser on a large codebook.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(
    path: Path, *, check_patterns: bool = True, source: bytes | None = None
) -> tuple[Codebook | None, list[Problem]]:
    try:
        data = path.read_bytes() if source is None else source
    except OSError as exc:
        raise CodebookError(f"cannot read codebook {path}: {exc.strerror or exc}") from exc
    reader = NodeReader(str(path), check_patterns=check_patterns)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        reader.add(line, 1, "CB001", f"the file is not UTF-8 text (byte {exc.start}); save it as UTF-8")
        return None, reader.sorted()
    try:
        check_yaml_shape(text, max_chars=MAX_CODEBOOK_CHARS)
    except LimitExceeded as exc:
        reader.add(1, 1, "CB001", f"refused: {exc}")
        return None, reader.sorted()
    try:
        root = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reader.add(line, col, "CB001", f"YAML syntax: {exc.problem or exc}")
        return None, reader.sorted()
    except yaml.YAMLError as exc:
        reader.add(1, 1, "CB001", f"YAML syntax: {exc}")
        return None, reader.sorted()
    if root is None:
        reader.add(1, 1, "CB004", "the codebook is empty")
        return None, reader.sorted()
    reader.check_tags(root)
    content_hash = hashlib.sha256(data).hexdigest()
    try:
        codebook = _build(reader, root, path, content_hash)
    except Exception as exc:  # a defect, or an input nobody foresaw: still a codebook problem, not a traceback
        reader.add(
            1,
            1,
            "CB000",
            f"cannot read this codebook ({exc.__class__.__name__}: {str(exc)[:200]}); please report it with the file",
        )
        return None, reader.sorted()
    if codebook is not None:
        codebook = dataclasses.replace(codebook, source=data)
    problems = reader.sorted()
    return (codebook if not any(p.severity == "error" for p in problems) else None), problems


class NodeReader:
    """Walks composed YAML nodes, collecting problems with positions."""

    def __init__(self, path: str, *, check_patterns: bool = True) -> None:
        self.path = path
        self.check_patterns = check_patterns
        self.problems: list[Problem] = []
        self.unsafe: set[int] = set()

    def add(self, line: int, column: int, rule: str, message: str) -> None:
        severity = "warning" if rule.startswith("W") else "error"
        self.problems.append(Problem(self.path, line, column, rule, severity, message))

    def at(self, node: Node, rule: str, message: str) -> None:
        self.add(node.start_mark.line + 1, node.start_mark.column + 1, rule, message)

    def sorted(self) -> list[Problem]:
        unique = dict.fromkeys(self.problems)
        return sorted(unique, key=lambda p: (p.line, p.column or 0, p.rule or ""))

    def check_tags(self, node: Node, seen: set[int] | None = None) -> None:
        seen = set() if seen is None else seen
        if id(node) in seen:
            return
        seen.add(id(node))
        if node.tag not in SAFE_TAGS:
            self.unsafe.add(id(node))
            self.at(
                node,
                "CB009",
                f"unsupported YAML tag {node.tag!r}: only plain text, numbers, "
                "lists and mappings are allowed (nothing is executed)",
            )
            return
        if isinstance(node, SequenceNode):
            for item in node.value:
                self.check_tags(item, seen)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                self.check_tags(key, seen)
                self.check_tags(value, seen)

    # -- typed readers -------------------------------------------------------------------------
    def mapping(self, node: Node, allowed: tuple[str, ...] | None, where: str) -> dict[str, tuple[Node, Node]]:
        """Keys of a mapping node; reports wrong type, duplicate and unknown keys."""
        if id(node) in self.unsafe:
            return {}
        if not isinstance(node, MappingNode):
            self.at(node, "CB010", f"{where} must be a mapping (key: value lines)")
            return {}
        result: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode) or id(key) in self.unsafe:
                self.at(key, "CB010", f"{where}: keys must be plain text")
                continue
            name = key.value
            if name in result:
                self.at(key, "CB011", f"{where}: key {name!r} appears twice (the second would win)")
                continue
            if allowed is not None and name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
                self.at(key, "CB002", f"{where}: unknown key {name!r}{hint}")
                continue
            result[name] = (key, value)
        return result

    def text(self, node: Node, where: str, *, required: bool = False) -> str | None:
        if id(node) in self.unsafe:
            return None
        if not isinstance(node, ScalarNode):
            self.at(node, "CB010", f"{where} must be text, not a list or mapping")
            return None
        if node.tag == YAML_TAG + "null" or (required and not node.value.strip()):
            if required:
                self.at(node, "CB004", f"{where} is empty")
            return None
        return node.value

    def boolean(self, node: Node, where: str) -> bool | None:
        if id(node) in self.unsafe:
            return None
        value = node.value.lower() if isinstance(node, ScalarNode) else None
        if value in ("true", "yes", "on"):
            return True
        if value in ("false", "no", "off"):
            return False
        self.at(node, "CB010", f"{where} must be true or false")
        return None

    def integer(self, node: Node, where: str, *, minimum: int = 1) -> int | None:
        if id(node) in self.unsafe:
            return None
        digits = node.value.replace("_", "") if isinstance(node, ScalarNode) else ""
        if node.tag != YAML_TAG + "int" or not re.fullmatch(r"\+?[0-9]{1,9}", digits):
            self.at(node, "CB010", f"{where} must be a whole number (digits only)")
            return None
        value = int(digits)
        if value < minimum:
            self.at(node, "CB012", f"{where} must be at least {minimum}")
            return None
        return value

    def text_list(self, node: Node, where: str) -> list[tuple[str, Node]]:
        """A list of text items; a single text item is accepted as a one-item list."""
        if id(node) in self.unsafe:
            return []
        if isinstance(node, ScalarNode) and node.tag == YAML_TAG + "null":
            return []
        items = node.value if isinstance(node, SequenceNode) else [node]
        result = []
        for item in items:
            value = self.text(item, f"each item of {where}")
            if value is None:
                continue
            if not value.strip():
                self.at(item, "CB012", f"{where}: empty item")
                continue
            result.append((value.strip(), item))
        return result

    def sequence(self, node: Node, where: str) -> list[Node]:
        if id(node) in self.unsafe or (isinstance(node, ScalarNode) and node.tag == YAML_TAG + "null"):
            return []
        if not isinstance(node, SequenceNode):
            self.at(node, "CB010", f"{where} must be a list (lines starting with '- ')")
            return []
        return list(node.value)


def _build(reader: NodeReader, root: Node, path: Path, content_hash: str) -> Codebook | None:
    top = reader.mapping(root, _TOP_KEYS, "the codebook")
    if not isinstance(root, MappingNode):
        return None
    values: dict[str, str | None] = {}
    for key in ("name", "version", "description"):
        required = key != "description"
        if key in top:
            values[key] = reader.text(top[key][1], key, required=required)
        elif required:
            reader.at(root, "CB004", f"missing required top-level key {key!r}")
    unit = "sentence"
    if "unit" in top:
        unit = reader.text(top["unit"][1], "unit") or "sentence"
        if unit not in UNITS:
            reader.at(top["unit"][1], "CB012", f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    languages: tuple[str, ...] = LANGUAGES
    if "languages" in top:
        listed = reader.text_list(top["languages"][1], "languages")
        for value, node in listed:
            if value not in LANGUAGES:
                reader.at(node, "CB012", f"unsupported language {value!r}; use en and/or zh")
        languages = tuple(v for v, _ in listed if v in LANGUAGES) or LANGUAGES
    negation = _read_negation(reader, top["negation"][1]) if "negation" in top else NegationSettings()
    attributes = _read_attributes(reader, top["attributes"][1]) if "attributes" in top else {}
    sectors = _read_sectors(reader, top["sectors"][1], attributes) if "sectors" in top else {}
    if "codes" not in top:
        reader.at(root, "CB004", "missing required top-level key 'codes'")
        raw_codes: list[dict[str, Any]] = []
    else:
        raw_codes = _read_codes(reader, top["codes"][1])
    group_of, group_order = _read_groups(reader, top.get("groups", (None, None))[1], raw_codes)
    _check_shared_terms(reader, raw_codes)
    codes = tuple(Code(group=group_of.get(raw["id"], "ungrouped"), **raw) for raw in raw_codes)
    if "ungrouped" in {c.group for c in codes} and "ungrouped" not in group_order:
        group_order = (*group_order, "ungrouped")
    return Codebook(
        name=values.get("name") or "",
        version=values.get("version") or "",
        description=(values.get("description") or "").strip(),
        path=path,
        content_hash=content_hash,
        unit=unit,
        codes=codes,
        languages=languages,
        negation=negation,
        attributes=attributes,
        sectors=sectors,
        group_order=group_order,
    )


def _read_negation(reader: NodeReader, node: Node) -> NegationSettings:
    keys = reader.mapping(node, _NEGATION_KEYS, "negation")
    settings: dict[str, Any] = {}
    if "window" in keys:
        window = keys["window"][1]
        if isinstance(window, MappingNode):
            for lang, (_, value) in reader.mapping(window, LANGUAGES, "negation.window").items():
                number = reader.integer(value, f"negation.window.{lang}")
                if number is not None:
                    settings["window" if lang == "en" else "window_zh"] = number
        else:
            number = reader.integer(window, "negation.window")
            if number is not None:
                settings["window"] = settings["window_zh"] = number
    for name in _NEGATION_KEYS[1:]:
        if name in keys:
            terms = reader.text_list(keys[name][1], f"negation.{name}")
            for term, term_node in terms:
                check_term(reader, term, term_node, f"negation.{name}")
            settings[name] = tuple(t for t, _ in terms)
    return NegationSettings(**settings)


def _read_attributes(reader: NodeReader, node: Node) -> dict[str, dict[str, tuple[str, ...]]]:
    attributes: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, (_, value) in reader.mapping(node, None, "attributes").items():
        vocabulary: dict[str, tuple[str, ...]] = {}
        claimed: dict[str, str] = {}
        for canonical, (key_node, aliases_node) in reader.mapping(value, None, f"attributes.{name}").items():
            aliases = reader.text_list(aliases_node, f"attributes.{name}.{canonical}")
            for alias, alias_node in [(canonical, key_node), *aliases]:
                owner = claimed.setdefault(fold(alias), canonical)
                if owner != canonical:
                    reader.at(
                        alias_node,
                        "CB014",
                        f"attributes.{name}: {alias!r} is given for both {owner!r} and {canonical!r}",
                    )
            vocabulary[canonical] = tuple(a for a, _ in aliases)
        attributes[name] = vocabulary
    return attributes


def _read_sectors(reader: NodeReader, node: Node, attributes: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    known = attributes.get("sector")
    sectors: dict[str, tuple[str, ...]] = {}
    for name, (key_node, value) in reader.mapping(node, None, "sectors").items():
        if known and name not in known:
            reader.at(key_node, "W007", f"sector {name!r} is not a value of attributes.sector ({', '.join(known)})")
        cues = reader.text_list(value, f"sectors.{name}")
        for cue, cue_node in cues:
            check_term(reader, cue, cue_node, f"sectors.{name}")
        sectors[name] = tuple(c for c, _ in cues)
    return sectors


def _read_codes(reader: NodeReader, node: Node) -> list[dict[str, Any]]:
    codes: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for item in reader.sequence(node, "codes"):
        keys = reader.mapping(item, _CODE_KEYS, "a code")
        if not keys and not isinstance(item, MappingNode):
            continue
        code_id = reader.text(keys["id"][1], "id", required=True) if "id" in keys else None
        where = f"code {code_id!r}" if code_id else "a code"
        for required in ("id", "label", "definition"):
            if required not in keys:
                reader.at(item, "CB004", f"{where} is missing {required!r}")
        if code_id is None:
            continue
        if not CODE_ID.match(code_id):
            reader.at(
                keys["id"][1],
                "CB012",
                f"code id {code_id!r} must be lower-case letters, digits and underscores, starting with a letter",
            )
        if code_id in seen:
            reader.at(keys["id"][1], "CB003", f"duplicate code id {code_id!r} (first defined on line {seen[code_id]})")
            continue
        seen[code_id] = item.start_mark.line + 1
        texts = {
            k: (reader.text(keys[k][1], f"{where}: {k}", required=k in ("label", "definition")) if k in keys else None)
            for k in ("label", "definition", "include", "exclude")
        }
        rules = read_rules(reader, keys, where)
        veto = (
            read_rules(reader, reader.mapping(keys["veto"][1], _RULE_KEYS, f"{where}: veto"), f"{where}: veto")
            if "veto" in keys
            else RuleSet()
        )
        if not rules:
            reader.at(item, "CB007", f"{where} has no rules: give it terms, patterns, regex or near")
        flags = {
            k: reader.boolean(keys[k][1], f"{where}: {k}") for k in ("flag_negation", "flag_hypothetical") if k in keys
        }
        examples = read_examples(reader, keys["examples"][1], where) if "examples" in keys else Examples()
        if not examples.positive and not examples.negative:
            reader.at(item, "W003", f"{where} has no examples; 'codebook test' cannot check it")
        codes.append(
            {
                "id": code_id,
                "label": (texts["label"] or "").strip(),
                "definition": " ".join((texts["definition"] or "").split()),
                "include": (texts["include"] or "").strip(),
                "exclude": (texts["exclude"] or "").strip(),
                "examples": examples,
                "rules": rules,
                "veto": veto,
                **{k: v for k, v in flags.items() if v is not None},
                "line": item.start_mark.line + 1,
                "_column": item.start_mark.column + 1,
                "_terms": _term_nodes(reader, keys),
            }
        )
    return codes


def _term_nodes(reader: NodeReader, keys: Mapping[str, tuple[Node, Node]]) -> list[tuple[str, Node]]:
    if "terms" not in keys or id(keys["terms"][1]) in reader.unsafe:
        return []
    node = keys["terms"][1]
    items = node.value if isinstance(node, SequenceNode) else [node]
    return [(i.value.strip(), i) for i in items if isinstance(i, ScalarNode) and i.value.strip()]


def _read_groups(
    reader: NodeReader, node: Node | None, codes: list[dict[str, Any]]
) -> tuple[dict[str, str], tuple[str, ...]]:
    known = {c["id"] for c in codes}
    group_of: dict[str, str] = {}
    order: list[str] = []
    if node is not None:
        for group, (_, members) in reader.mapping(node, None, "groups").items():
            order.append(group)
            for code_id, member in reader.text_list(members, f"groups.{group}"):
                if code_id not in known:
                    close = difflib.get_close_matches(code_id, sorted(known), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    reader.at(member, "CB008", f"groups.{group} lists unknown code {code_id!r}{hint}")
                elif code_id in group_of:
                    where = (
                        f"listed twice in groups.{group}"
                        if group_of[code_id] == group
                        else f"in groups {group_of[code_id]!r} and {group!r}; a code belongs to one group"
                    )
                    reader.at(member, "CB013", f"code {code_id!r} is {where}")
                else:
                    group_of[code_id] = group
    for code in codes:
        if code["id"] not in group_of:
            reader.add(
                code["line"], code["_column"], "W005", f"code {code['id']!r} belongs to no group; shown as 'ungrouped'"
            )
    return group_of, tuple(order)


def _check_shared_terms(reader: NodeReader, codes: list[dict[str, Any]]) -> None:
    owner: dict[str, str] = {}
    for code in codes:
        code.pop("_column")
        for term, node in code.pop("_terms"):
            first = owner.setdefault(fold(term), code["id"])
            if first != code["id"]:
                reader.at(node, "W001", f"term {term!r} is claimed by codes {first!r} and {code['id']!r}")
