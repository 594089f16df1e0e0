"""Checking what a report (or review sheet, kwic, agree) selects: attributes, filter values,
codes and groups, each against the project and the codebook, so every command accepts the same."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..codebook import Codebook
from ..errors import OptionError, UsageError
from ..store import CODING_SOURCES, Store

MISSING = Store.REPORT_MISSING
MEASURES = ("documents", "segments")
STATUSES = ("accepted",)
TIDY_COLUMNS = ["code", "documents", "segments", "group_documents", "share"]
COOCCURRENCE_COLUMNS = ["code_a", "code_b", "documents", "segments"]
QUOTE_COLUMNS = ["code", "rank", "doc_id", "start", "end", "text", "matched", "status"]
Where = Mapping[str, "str | Sequence[str]"]


@dataclass(frozen=True)
class Selection:
    """A checked report selection: attributes, filters (canonical values), codes in codebook order."""

    by: tuple[str, ...]
    where: dict[str, Sequence[str]]  # canonical values per attribute, as the store's queries take them
    codes: list[str]
    accepted_only: bool
    source: str | None = None  # only codings from 'rules' or 'learned'; None: all


def select(
    store: Store,
    codebook: Codebook,
    *,
    by: str | Sequence[str] | None = (),
    where: Where | None = None,
    codes: str | Sequence[str] | None = None,
    group: str | Sequence[str] | None = None,
    status: str | None = None,
    extra_codes: Iterable[str] = (),
    source: str | None = None,
) -> Selection:
    """Check attributes, filter values, codes and groups against the project and codebook: the one
    check of a selection (reports, review sheets, kwic, agree), so each accepts the same values.

    ``extra_codes``: codes the project holds beyond the codebook's (made by an earlier codebook,
    added in review) that may be asked for too. Raises ``UsageError`` naming the valid choices for
    an unknown attribute, value, code or group.
    """
    if source not in (None, "all", *CODING_SOURCES):
        raise UsageError(f"unknown source {source!r}; choose rules, learned or all")
    if status is not None and status not in STATUSES:
        raise UsageError(
            f"unknown status {status!r}; choose 'accepted' (or leave it out to count every "
            "coding not rejected in review)"
        )
    by_names = tuple(dict.fromkeys([by] if isinstance(by, str) else list(by or ())))
    valid = store.report_attribute_names()
    for name in [*by_names, *(where or {})]:
        if name not in valid:
            raise UsageError(f"unknown attribute {name!r}; valid attributes: {', '.join(valid)}")
        if name in TIDY_COLUMNS:
            raise UsageError(f"attribute {name!r} has the name of a report column; rename it in the notes' metadata")
    checked_where: dict[str, Sequence[str]] = {
        name: _check_values(store, codebook, name, values) for name, values in (where or {}).items()
    }
    return Selection(
        by=by_names,
        where=checked_where,
        codes=check_codes(codebook, codes, group, extra=extra_codes),
        accepted_only=status == "accepted",
        source=None if source == "all" else source,
    )


def _check_values(store: Store, codebook: Codebook, name: str, values: str | Sequence[str]) -> list[str]:
    """Filter values mapped to the keys reports use (codebook aliases and case are forgiven)."""
    known = store.report_attribute_values(name)
    keys = {key for key, _ in known}
    folded = {key.casefold(): key for key in keys}
    checked = []
    for value in [values] if isinstance(values, str) else values:
        canonical = codebook.normalize_attributes({name: value})[0][name]
        key = canonical if canonical in keys else folded.get(str(value).casefold())
        if key is None:
            ordered = sorted(known, key=lambda item: value_key(codebook, name, item[0]))
            listed = ", ".join(f"{key} ({n})" for key, n in ordered[:40])
            more = f" and {len(ordered) - 40} more" if len(ordered) > 40 else ""
            raise OptionError(
                f"{{option}} {name}={value}: no document has this value; values of {name}: {listed}{more}",
                option="where",
            )
        checked.append(key)
    return list(dict.fromkeys(checked))


def check_codes(
    codebook: Codebook,
    codes: str | Sequence[str] | None,
    group: str | Sequence[str] | None = None,
    *,
    extra: Iterable[str] = (),
) -> list[str]:
    """The codes asked for (IDs and groups), in codebook order (then ``extra`` codes the project
    holds beyond the codebook); all the codebook's codes when neither is given."""
    valid = codebook.code_ids() + sorted(set(extra) - set(codebook.code_ids()))
    wanted = _names(codes)
    for code in wanted:
        if code not in valid:
            raise UsageError(f"unknown code {code!r}; valid codes: {', '.join(valid)}")
    groups = codebook.groups
    for name in _names(group):
        if name not in groups:
            raise UsageError(f"unknown code group {name!r}; valid groups: {', '.join(groups)}")
        wanted.extend(groups[name])
    return [code for code in valid if code in wanted] if wanted else codebook.code_ids()


def value_key(codebook: Codebook, name: str, value: str) -> tuple[int, float, str]:
    """Group order: the codebook vocabulary's order, then other values (numbers numerically), then (missing)."""
    vocabulary = list(codebook.attributes.get(name, {}))
    if value == MISSING:
        return (2, 0, "")
    if value in vocabulary:
        return (0, vocabulary.index(value), "")
    return (1, int(value), "") if value.isdigit() else (1, float("inf"), value.casefold())


def check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise UsageError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")


def check_quotes(n: int) -> None:
    if n < 0:
        raise UsageError("the number of quotes must be 0 or more")


def _names(items: str | Sequence[str] | None) -> list[str]:
    """Code or group names as a list: one name, a sequence of them, or none."""
    if items is None:
        return []
    return [items] if isinstance(items, str) else list(items)
