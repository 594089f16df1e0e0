"""Load a YAML codebook into typed, frozen objects and lint it.

A codebook is a scholarly artifact that people edit by hand (the format is documented in
``codebooks/README.md``). This module is the only place that reads the raw YAML: it walks the
composed node tree (so every problem carries the file, line and column of the offending node),
checks every field, and builds frozen dataclasses. Nothing downstream handles raw dicts.

Only YAML's safe subset is understood: the file is *composed*, never constructed with a full
loader, so a tag such as ``!!python/object`` runs nothing; it is reported as ``CB009``.

Rule IDs (stable; documented in ``codebooks/README.md``)::

    CB001 YAML syntax or encoding error       CB008 group lists an unknown code
    CB002 unknown key                         CB009 unsupported or unsafe YAML tag
    CB003 duplicate code id                   CB010 wrong type (list, mapping, text, number)
    CB004 missing required field              CB011 duplicate key in a mapping
    CB005 invalid regular expression          CB012 invalid value
    CB006 invalid token pattern               CB013 code listed in two groups
    CB007 code with no rules                  CB014 attribute alias claimed by two values
    W001 term claimed by two codes            W005 code belongs to no group
    W002 term listed twice in one code        W006 regex can match empty text
    W003 code has no examples                 W007 sector cue name not in the sector vocabulary
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CodebookError, Problem
from .model import CJK, CODE_ID, LANGUAGES, UNITS, Code, Codebook, Examples, NearRule, NegationSettings, RuleSet
from .reader import parse

__all__ = [
    "CJK",
    "CODE_ID",
    "LANGUAGES",
    "UNITS",
    "Code",
    "Codebook",
    "Examples",
    "NearRule",
    "NegationSettings",
    "Problem",
    "RuleSet",
    "default_codebook_path",
    "lint_codebook",
    "load_codebook",
]


def default_codebook_path() -> Path:
    """The bundled default codebook (``deflection.yaml``)."""
    return Path(__file__).parents[1] / "codebooks" / "deflection.yaml"


def load_codebook(
    path: str | Path | None = None, *, check_patterns: bool = True, source: bytes | None = None
) -> Codebook:
    """Load and validate a codebook; raise ``CodebookError`` listing every error found.

    ``check_patterns=False`` skips validating spaCy token patterns (importing spaCy's schemas costs
    most of a second): for commands that read codes, labels and groups but never match text.
    ``source``: the file's bytes as kept elsewhere (a project keeps the codebooks it coded with);
    ``path`` then only names it.
    """
    path = Path(path) if path is not None else default_codebook_path()
    codebook, problems = parse(path, check_patterns=check_patterns, source=source)
    errors = [p for p in problems if p.severity == "error"]
    if errors or codebook is None:
        raise CodebookError(f"{path}: {len(errors)} error(s) in codebook", problems)
    return codebook


def lint_codebook(path: str | Path, *, source: bytes | None = None) -> list[Problem]:
    """Every problem in a codebook at once, sorted by position. Raises only if it cannot be read.

    ``source``: the codebook's bytes, when they are not (yet) in the file at ``path``.
    """
    return parse(Path(path), source=source)[1]
