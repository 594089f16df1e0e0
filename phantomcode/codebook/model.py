"""The codebook as typed, frozen objects: codes with their rules and examples, negation settings,
attribute vocabularies. Built only by ``codebook.reader``; everything downstream reads these."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

UNITS = ("sentence", "paragraph")
LANGUAGES = ("en", "zh")
CODE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class NearRule:
    """Fires when a term of every set occurs in one unit (or, with ``within``, that many words apart)."""

    sets: tuple[tuple[str, ...], ...]
    within: int | None = None


@dataclass(frozen=True)
class RuleSet:
    """The four rule kinds; used both for a code's rules and for its veto section."""

    terms: tuple[str, ...] = ()
    patterns: tuple[tuple[dict[str, Any], ...], ...] = ()
    regex: tuple[str, ...] = ()
    near: tuple[NearRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms or self.patterns or self.regex or self.near)

    def counts(self) -> dict[str, int]:
        return {
            "terms": len(self.terms),
            "patterns": len(self.patterns),
            "regex": len(self.regex),
            "near": len(self.near),
        }


@dataclass(frozen=True)
class Examples:
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


@dataclass(frozen=True)
class Code:
    id: str
    label: str
    group: str
    definition: str
    include: str = ""
    exclude: str = ""
    examples: Examples = field(default_factory=Examples)
    rules: RuleSet = field(default_factory=RuleSet)
    veto: RuleSet = field(default_factory=RuleSet)
    flag_negation: bool = True  # False: hits of this code are never flagged as negated
    flag_hypothetical: bool = True  # False: ... nor as hypothetical
    line: int = 0


DEFAULT_TRIGGERS: dict[str, tuple[str, ...]] = {
    "before": (
        "not",
        "no",
        "never",
        "without",
        "neither",
        "nor",
        "didn't need",
        "did not need",
        "无需",
        "不用",
        "不需要",
        "没有要求",
        "没要求",
        "并没有",
        "从来没有",
        "从没",
        "未",
    ),
    "after": ("not needed", "not required", "not necessary", "was not", "were not", "不需要", "不用", "没有要求"),
    "hypothetical_before": (
        "if",
        "in case",
        "might",
        "could have",
        "would have",
        "whether",
        "如果",
        "要是",
        "假如",
        "万一",
    ),
    "hypothetical_after": ("if needed", "if necessary", "如果需要"),
    "terminators": (
        "but",
        "however",
        "although",
        "though",
        "yet",
        "except",
        "instead",
        "但",
        "但是",
        "可是",
        "不过",
        "然而",
        "却",
    ),
    "ignore": ("not only", "no doubt", "not just", "no matter", "不但", "不仅", "不得不"),
}


@dataclass(frozen=True)
class NegationSettings:
    """NegEx-style settings: trigger words before/after a hit within ``window`` words."""

    window: int = 6
    window_zh: int = 8
    before: tuple[str, ...] = DEFAULT_TRIGGERS["before"]
    after: tuple[str, ...] = DEFAULT_TRIGGERS["after"]
    hypothetical_before: tuple[str, ...] = DEFAULT_TRIGGERS["hypothetical_before"]
    hypothetical_after: tuple[str, ...] = DEFAULT_TRIGGERS["hypothetical_after"]
    terminators: tuple[str, ...] = DEFAULT_TRIGGERS["terminators"]
    ignore: tuple[str, ...] = DEFAULT_TRIGGERS["ignore"]


@dataclass(frozen=True)
class Codebook:
    name: str
    version: str
    description: str
    path: Path
    content_hash: str
    unit: str
    codes: tuple[Code, ...]
    languages: tuple[str, ...] = LANGUAGES
    negation: NegationSettings = field(default_factory=NegationSettings)
    attributes: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    sectors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    group_order: tuple[str, ...] = ()
    # The file's bytes, so that an engine can ship to other machines as a few KB and rebuild itself.
    source: bytes = field(default=b"", repr=False, compare=False)

    def code(self, code_id: str) -> Code:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(code_id)

    def code_ids(self) -> list[str]:
        return [code.id for code in self.codes]

    def group_of(self, code_id: str) -> str:
        return self.code(code_id).group

    @property
    def groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {name: [] for name in self.group_order}
        for code in self.codes:
            groups.setdefault(code.group, []).append(code.id)
        return groups

    def normalize_attributes(self, attributes: Mapping[str, str]) -> NormalizedAttributes:
        """Map attribute values to their canonical form; unknown values are kept with a warning."""
        normalized: dict[str, str] = {}
        warnings: list[str] = []
        for name, value in attributes.items():
            vocabulary = self.attributes.get(name)
            if not vocabulary or value is None or str(value).strip() == "":
                normalized[name] = value
                continue
            canonical = _alias_index(vocabulary).get(fold(str(value)))
            if canonical is None:
                warnings.append(f"{name}: unknown value {str(value)!r} kept as is; add it to the codebook's vocabulary")
                normalized[name] = value
            else:
                normalized[name] = canonical
        return NormalizedAttributes(normalized, warnings)


class NormalizedAttributes(NamedTuple):
    """Attribute values mapped to the codebook's canonical forms, and a warning per unknown value."""

    values: dict[str, str]
    warnings: list[str]


def fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _alias_index(vocabulary: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for canonical, aliases in vocabulary.items():
        for alias in (canonical, *aliases):
            index.setdefault(fold(alias), canonical)
    return index
