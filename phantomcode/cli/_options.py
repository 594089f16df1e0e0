"""Options shared by several commands, declared once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project file (default: $PHANTOMCODE_PROJECT, else ./phantomcode.db).",
        show_default=False,
    ),
]
CodebookOption = Annotated[
    Path | None,
    typer.Option(
        "--codebook",
        "-c",
        help="Codebook YAML, or 'bundled' (default: the project's codebook, which must be "
        "unchanged since it last coded; else the bundled one).",
        show_default=False,
    ),
]
JobsOption = Annotated[
    int, typer.Option("--jobs", "-j", min=1, help="Worker processes for coding (default: all cores).")
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", help="An installed spaCy pipeline to use instead of the built-in blank ones.", show_default=False
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
RulesOnlyOption = Annotated[
    bool,
    typer.Option("--rules-only", help="Code with the codebook's rules alone, without the project's learned model."),
]


def default_jobs() -> int:
    return os.cpu_count() or 1


DEFAULT_JOBS = default_jobs()  # the --jobs default: every core
