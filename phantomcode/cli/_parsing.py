"""Option values the command line parses before calling the library, which takes parsed objects
(spaCy's ``cli/_util.py`` does the same): ``--where ATTR=VALUE`` filters, comma-separated code lists,
and the format an ``--out`` file's suffix names."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from ..errors import OptionError, UsageError
from ..outputs import is_stdout


def parse_where(items: Iterable[str]) -> dict[str, list[str]]:
    """``["city=Beijing", "city=Shanghai", "sector=education"]`` -> ``{"city": [...], "sector": [...]}``."""
    where: dict[str, list[str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"--where {item!r}: write ATTR=VALUE, e.g. --where city=Beijing")
        where.setdefault(name.strip(), []).append(value.strip())
    return where


def split_codes(items: Iterable[str] | str | None) -> list[str]:
    """Code IDs from repeated and/or comma-separated values: ``["a,b", "c"]`` -> ``["a", "b", "c"]``."""
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    return [code.strip() for item in items for code in item.split(",") if code.strip()]


def check_binary_output(fmt: str, out: Path | None) -> None:
    """A binary format (xlsx, png) goes to a file or a redirected stdout, never to a terminal."""
    if is_stdout(out) and sys.stdout.isatty():
        raise UsageError(f"--format {fmt} is a binary file: give --out FILE (or redirect stdout to a file)")


def text_output(out: Path | None) -> Path | IO[str]:
    """Where a text format goes: the ``--out`` file, else (none, or ``-``) stdout."""
    return sys.stdout if out is None or is_stdout(out) else out


def flag_worded(error: OptionError) -> str:
    """A library message about an option, worded with its flag: ``where`` -> ``--where``."""
    return error.worded(f"--{error.option}")
