"""``phantomcode import qdpx``: bring a project coded by hand in another QDA tool into phantomcode."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..sanitise import markup_text as escape
from ._console import err
from ._options import ProjectOption

# ``import parquet`` (cli/parquet.py) joins this app in cli/__init__.py, as export's formats join theirs.
app = typer.Typer(
    help="Import projects from other QDA tools (REFI-QDA .qdpx/.qde) and results coded elsewhere (Parquet).",
    no_args_is_help=True,
)

MAX_LISTED = 10


@app.command("qdpx")
def qdpx_command(
    file: Annotated[
        Path, typer.Argument(help="A REFI-QDA project: .qdpx, or a .qde beside its sources folder.", show_default=False)
    ],
    codebook_out: Annotated[
        Path | None,
        typer.Option(
            "--codebook-out",
            help="Also write the file's codebook as a YAML codebook to fill with rules.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = None,
) -> None:
    """Text sources as documents, variables as attributes, hand codings as review decisions by their coder."""
    from ..qda_import import import_qdpx

    result = import_qdpx(file, project=project, codebook_out=codebook_out)
    decisions = ", ".join(f"{result.decisions[k]} {k}" for k in ("add", "accept") if result.decisions[k])
    err.print(
        f"{escape(result.path)} ({escape(result.origin or 'unknown origin')}): {result.documents} documents "
        f"({result.added} added, {result.updated} updated, {result.unchanged} unchanged); codings by "
        f"{escape(', '.join(result.users) or 'nobody')}: {decisions or 'none'} ({result.new} new, "
        f"{result.changed} changed, {result.same} unchanged)"
    )
    if result.withdrawn:
        err.print(f"{result.withdrawn} coding(s) of an earlier import of this file are no longer in it: removed")
    if result.codebook_out:
        err.print(f"wrote {result.codes} codes to {escape(result.codebook_out)}: add rules, then phantomcode code")
    if result.uncoded_selections:
        err.print(f"{result.uncoded_selections} selection(s) without a code were not imported")
    if result.rule_codings:
        err.print(
            f"{result.rule_codings} unreviewed rule coding(s) of a phantomcode export were not taken as hand "
            "codings (phantomcode code makes them again)"
        )
    if result.undated:
        err.print(f"[yellow]{result.undated} coding(s) had no date in the file:[/] dated with the import time")
    if result.skipped:
        err.print(f"[yellow]{len(result.skipped)} source(s) skipped:[/]")
    _listed("skipped", result.skipped)
    _listed("not imported", result.problems)
    if result.added or result.updated:
        err.print(
            "next: phantomcode code (codes the new documents with the rules), then phantomcode agree imported auto"
        )
    raise typer.Exit(result.exit_code)


def _listed(label: str, items: list[str]) -> None:
    for item in items[:MAX_LISTED]:
        err.print(f"[yellow]{label}:[/] {escape(item)}")
    if len(items) > MAX_LISTED:
        err.print(f"[yellow]{label}:[/] ... and {len(items) - MAX_LISTED} more")
