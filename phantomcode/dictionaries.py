"""Existing dictionaries and codebooks as phantomcode YAML codebooks: quanteda YAML, LIWC ``.dic``
and REFI-QDA ``.qdc`` (the last via ``phantomcode.qda``).

- **quanteda** (``dictionary(file = ..., format = "YAML")``): every key whose value is a list (or a
  single entry) is a category and becomes a code; a top-level key holding further keys is a group
  and the categories under it its codes (deeper levels join that group, their path in the label).
  Top-level categories go to a group named after the dictionary.
- **LIWC** ``.dic``: the category table between the two ``%`` lines becomes codes (one group named
  after the dictionary); each entry line (the entry, then its category numbers; tab- or
  space-separated, multi-word entries allowed) adds its entry to those codes.

Entries become terms. ``*`` globs are kept (phantomcode's ``*`` is quanteda's and LIWC's); an
entry without ``*`` means that exact word form in both tools, so it is written ``=entry``
(phantomcode's exact form) unless ``exact_forms=False`` lets phantomcode also match other forms of
the word. Entries phantomcode cannot express (``?`` wildcards, a ``*`` inside Chinese or next to
punctuation) are left out and listed as warnings; a category left without terms is left out too.
A malformed file raises ``CodebookError`` listing every problem with its line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .codebook import CJK
from .codebook.reader import SAFE_TAGS
from .errors import CodebookError, OptionError, Problem, UsageError
from .limits import MAX_CODEBOOK_CHARS, LimitExceeded, check_yaml_shape
from .qda import UniqueIds, code_slug, qdc_to_yaml, read_qdc, yaml_comment, yaml_scalar

__all__ = ["CodebookImport", "import_codebook", "liwc_to_yaml", "quanteda_to_yaml"]

IMPORT_FORMATS = ("qdc", "quanteda", "liwc")
_SUFFIX_FORMATS = {
    ".qdc": "qdc",
    ".qdpx": "qdc",
    ".qde": "qdc",
    ".dic": "liwc",
    ".yml": "quanteda",
    ".yaml": "quanteda",
}


@dataclass(frozen=True)
class CodebookImport:
    """A YAML codebook made from another format, with what the conversion left out."""

    text: str
    fmt: str
    codes: int
    terms: int
    warnings: tuple[str, ...] = ()


@dataclass
class _Category:
    name: str  # shown as the label: "Parent > child" for nested quanteda categories
    group: str
    line: int
    entries: list[tuple[str, int]] = field(default_factory=list)  # (entry, line)


def import_codebook(
    path: str | Path, *, fmt: str | None = None, name: str | None = None, exact_forms: bool = True
) -> CodebookImport:
    """Convert a ``.qdc``, quanteda YAML or LIWC ``.dic`` file (``fmt``, else from its suffix)."""
    path = Path(path)
    fmt = (fmt or _SUFFIX_FORMATS.get(path.suffix.lower()) or "").lower()
    if fmt not in IMPORT_FORMATS:
        raise OptionError(
            f"{path}: say which format it is with {{option}} ({', '.join(IMPORT_FORMATS)})", option="format"
        )
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if fmt == "qdc":
        book = read_qdc(path)
        return CodebookImport(
            text=qdc_to_yaml(path, name=name), fmt=fmt, codes=len(book.codes), terms=0, warnings=tuple(book.notes)
        )
    reader = quanteda_categories if fmt == "quanteda" else liwc_categories
    categories, notes = reader(path)
    return _to_yaml(path, categories, notes, fmt=fmt, name=name, exact_forms=exact_forms)


def quanteda_to_yaml(path: str | Path, **options: object) -> str:
    return import_codebook(path, fmt="quanteda", **options).text  # type: ignore[arg-type]


def liwc_to_yaml(path: str | Path, **options: object) -> str:
    return import_codebook(path, fmt="liwc", **options).text  # type: ignore[arg-type]


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            continue
    raise CodebookError(f"{path}: not UTF-8 text")


# ---------------------------------------------------------------------------------------------
# quanteda YAML


def quanteda_categories(path: str | Path) -> tuple[list[_Category], list[Problem]]:
    """Categories of a quanteda YAML dictionary (and notes); raises ``CodebookError`` listing every problem."""
    path = Path(path)
    text = _read_text(path)
    problems: list[Problem] = []
    try:
        check_yaml_shape(text, max_chars=MAX_CODEBOOK_CHARS)
    except LimitExceeded as exc:
        raise CodebookError(f"{path}: not a quanteda YAML dictionary", [_problem(path, 1, f"refused: {exc}")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise CodebookError(
            f"{path}: not a quanteda YAML dictionary",
            [_problem(path, mark.line + 1 if mark else 1, f"YAML syntax: {exc.problem or exc}")],
        ) from None
    except yaml.YAMLError as exc:
        raise CodebookError(
            f"{path}: not a quanteda YAML dictionary", [_problem(path, 1, f"YAML syntax: {exc}")]
        ) from None
    if not isinstance(root, MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise CodebookError(
            f"{path}: not a quanteda YAML dictionary",
            [_problem(path, line, "the dictionary must be a mapping of category names to entry lists")],
        )
    categories: list[_Category] = []
    stem = path.stem

    def add(node: Node, message: str) -> None:
        problems.append(_problem(path, node.start_mark.line + 1, message))

    def walk(node: MappingNode, trail: tuple[str, ...]) -> None:
        seen: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, ScalarNode) or not key.value.strip():
                add(key, "category names must be plain text")
                continue
            name = key.value.strip()
            if name in seen:
                add(key, f"category {name!r} appears twice here")
                continue
            seen.add(name)
            unsafe = next((n for n in (key, value) if n.tag not in SAFE_TAGS), None)
            if unsafe is not None:
                add(unsafe, f"unsupported YAML tag {unsafe.tag!r} (nothing is run; remove it)")
                continue
            if isinstance(value, MappingNode):
                walk(value, (*trail, name))
                continue
            group = trail[0] if trail else stem
            label = " > ".join((*trail[1:], name))
            category = _Category(name=label, group=group, line=key.start_mark.line + 1)
            items = value.value if isinstance(value, SequenceNode) else [value]
            for item in items:
                if item.tag not in SAFE_TAGS:
                    add(item, f"unsupported YAML tag {item.tag!r} (nothing is run; remove it)")
                elif not isinstance(item, ScalarNode):
                    add(item, f"in {name!r}, each entry must be a word or phrase, not a list or mapping")
                elif item.tag.endswith(":null") or not item.value.strip():
                    continue
                else:
                    category.entries.append((item.value, item.start_mark.line + 1))
            categories.append(category)

    walk(root, ())
    if problems:
        raise CodebookError(f"{path}: {len(problems)} problem(s) in the quanteda dictionary", problems)
    return categories, []


# ---------------------------------------------------------------------------------------------
# LIWC .dic


def liwc_categories(path: str | Path) -> tuple[list[_Category], list[Problem]]:
    """Categories of a LIWC ``.dic`` file (and notes); raises ``CodebookError`` listing every problem."""
    path = Path(path)
    lines = _read_text(path).split("\n")
    problems: list[Problem] = []
    numbered = [(number, line.strip()) for number, line in enumerate(lines, start=1)]
    content = [(n, line) for n, line in numbered if line]
    if not content or content[0][1] != "%":
        first = content[0][0] if content else 1
        raise CodebookError(
            f"{path}: not a LIWC dictionary",
            [
                _problem(
                    path,
                    first,
                    "a LIWC .dic starts with a line holding only '%', then the category table, then another '%' line",
                )
            ],
        )
    closing = next((index for index, (_, line) in enumerate(content[1:], start=1) if line == "%"), None)
    if closing is None:
        raise CodebookError(
            f"{path}: not a LIWC dictionary",
            [_problem(path, content[0][0], "the category table opened here is never closed by a '%' line")],
        )
    by_id: dict[str, _Category] = {}
    skipped: list[Problem] = []
    stem = path.stem
    for number, line in content[1:closing]:
        found = re.match(r"^(\d+)\s+(\S.*)$", line)
        if not found:
            problems.append(
                _problem(path, number, f"a category line is a number and a name, e.g. '1\tfunct'; got {line!r}")
            )
            continue
        number_id, name = found.group(1).lstrip("0") or "0", found.group(2).strip()
        if number_id in by_id:
            problems.append(
                _problem(
                    path,
                    number,
                    f"category number {found.group(1)} is defined twice "
                    f"(first as {by_id[number_id].name!r} on line {by_id[number_id].line})",
                )
            )
            continue
        by_id[number_id] = _Category(name=name, group=stem, line=number)
    for number, line in content[closing + 1 :]:
        entry, numbers, conditional = _liwc_entry(line)
        if not entry:
            problems.append(_problem(path, number, "an entry line is a word or phrase, then its category numbers"))
            continue
        if conditional:
            skipped.append(
                _problem(
                    path.name,
                    number,
                    f"{entry!r}: conditional category rules "
                    f"({' '.join(conditional)}) are not supported; only its plain category "
                    "numbers are used",
                    severity="warning",
                )
            )
        if not numbers:
            if not conditional:
                problems.append(_problem(path, number, f"{entry!r} has no category numbers"))
            continue
        for category_id in numbers:
            category = by_id.get(category_id.lstrip("0") or "0")
            if category is None:
                problems.append(_problem(path, number, f"{entry!r}: category {category_id} is not in the table"))
            else:
                category.entries.append((entry, number))
    if problems:
        raise CodebookError(f"{path}: {len(problems)} problem(s) in the LIWC dictionary", problems)
    return list(by_id.values()), skipped


def _liwc_entry(line: str) -> tuple[str, list[str], list[str]]:
    """(entry, plain category numbers, conditional parts) of one entry line."""
    if "\t" in line:
        fields = [f.strip() for f in line.split("\t") if f.strip()]
        entry, rest = (fields[0], " ".join(fields[1:]).split()) if fields else ("", [])
    else:
        tokens = line.split()
        split = len(tokens)
        while split > 1 and re.fullmatch(r"\d+|.*[()/\[\]].*", tokens[split - 1]):
            split -= 1
        entry, rest = " ".join(tokens[:split]), tokens[split:]
    numbers = [t for t in rest if t.isdigit()]
    conditional = [t for t in rest if not t.isdigit()]
    return entry, numbers, conditional


# ---------------------------------------------------------------------------------------------
# YAML codebook out


def _term(entry: str, *, exact_forms: bool) -> tuple[str | None, str | None]:
    """(term, None) or (None, why phantomcode cannot express the entry)."""
    term = " ".join(entry.split())
    if "?" in term:
        return None, "'?' (one character) is not supported; list the word forms"
    if term.startswith("="):
        term = term[1:].strip()
    for word in term.split():
        if "*" not in word:
            continue
        if CJK.search(word):
            return None, "'*' works on Latin words only; list the Chinese words in full"
        if not word.strip("*"):
            return None, "a '*' alone matches nothing in particular"
        if not re.fullmatch(r"[\w*]+", word):
            return None, "'*' works on words of letters and digits only"
    if not term:
        return None, "empty entry"
    exact = exact_forms and "*" not in term and not CJK.search(term)  # Chinese words do not inflect
    return (f"={term}" if exact else term), None


def _problem(path: str | Path, line: int, message: str, *, severity: str = "error") -> Problem:
    """A dictionary problem: dictionaries have lines but no columns or rule IDs."""
    return Problem(str(path), line, severity=severity, message=message)


def _to_yaml(
    path: Path, categories: list[_Category], notes: list[Problem], *, fmt: str, name: str | None, exact_forms: bool
) -> CodebookImport:
    warnings: list[Problem] = list(notes)
    codes: list[tuple[str, _Category, list[str]]] = []
    unique = UniqueIds()
    for category in categories:
        terms: list[str] = []
        seen: set[str] = set()
        for entry, line in category.entries:
            term, problem = _term(entry, exact_forms=exact_forms)
            if term is None:  # then problem says why
                warnings.append(
                    _problem(path.name, line, f"{entry!r} in {category.name!r} left out: {problem}", severity="warning")
                )
                continue
            if term.casefold() in seen:
                continue
            seen.add(term.casefold())
            terms.append(term)
        if not terms:
            warnings.append(
                _problem(
                    path.name,
                    category.line,
                    f"category {category.name!r} has no usable entries; left out",
                    severity="warning",
                )
            )
            continue
        base = code_slug(category.name, fallback="category")
        if base in unique.taken and category.group != path.stem:
            base = code_slug(f"{category.group} {category.name}", fallback="category")
        codes.append((unique(base), category, terms))
    if not codes:
        raise CodebookError(f"{path}: no category with usable entries", warnings)
    kind = "quanteda YAML dictionary" if fmt == "quanteda" else "LIWC dictionary"
    forms = (
        "Entries without * are exact word forms (written =word), as in the dictionary; delete the '='"
        " to let phantomcode also match other forms of the word."
        if exact_forms
        else "Entries without * also match other forms of the word (phantomcode's lemma matching)."
    )
    lines = [
        f"# Imported by phantomcode from {yaml_comment(path.name)} ({kind}) on {datetime.now(UTC).date().isoformat()}.",
        "# Every category is a code and its entries are its terms. " + forms,
        "# Definitions are placeholders: write what each code means, add examples, then run",
        "#   phantomcode codebook lint FILE && phantomcode codebook test FILE",
    ]
    lines += [f"#   note: {yaml_comment(str(warning))}" for warning in warnings[:50]]
    if len(warnings) > 50:
        lines.append(f"#   ... and {len(warnings) - 50} more notes")
    lines += [
        f"name: {yaml_scalar(name or path.stem)}",
        'version: "1"',
        f"description: {yaml_scalar(f'Imported from {path.name} ({kind})')}",
        "",
        "groups:",
    ]
    groups: dict[str, list[str]] = {}
    for code_id, category, _ in codes:
        groups.setdefault(category.group, []).append(code_id)
    lines += [f"  {yaml_scalar(group)}: [{', '.join(members)}]" for group, members in groups.items()]
    lines += ["", "codes:"]
    for code_id, category, terms in codes:
        lines += [
            f"  - id: {code_id}",
            f"    label: {yaml_scalar(category.name)}",
            f"    definition: {yaml_scalar(f'Category {category.name!r} of {path.name}; write what it means.')}",
            "    terms:",
        ]
        lines += [f"      - {yaml_scalar(term)}" for term in terms]
    return CodebookImport(
        text="\n".join(lines) + "\n",
        fmt=fmt,
        codes=len(codes),
        terms=sum(len(t) for _, _, t in codes),
        warnings=tuple(map(str, warnings)),
    )
