"""``phantomcode ingest`` and ``phantomcode code``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..ingest import CodeReport, IngestReport, code_project, ingest
from ..notes import DEFAULT_MAX_BYTES
from ._console import err
from ._options import (CodebookOption, JobsOption, ModelOption, ProjectOption, QuietOption, RulesOnlyOption,
                       default_jobs)
from ._progress import progress_bar


def ingest_command(
    notes_dir: Annotated[Path, typer.Argument(help="Folder of notes (.txt, .md, .markdown, .docx), read recursively.",
                                              show_default=False)],
    project: ProjectOption = None,
    codebook: CodebookOption = None,
    path_attrs: Annotated[Optional[str], typer.Option(
        "--path-attrs", help="Attributes from the path, e.g. '{city}/{respondent_type}'.", show_default=False)] = None,
    max_size: Annotated[float, typer.Option(
        "--max-size", min=0.001, help="Skip notes larger than this many MB.")] = DEFAULT_MAX_BYTES / 1e6,
    prune: Annotated[bool, typer.Option("--prune", help="Remove stored notes whose files have vanished.")] = False,
    pii: Annotated[str, typer.Option("--pii", help="Likely identifiers (phones, ID numbers, e-mails, names "
                                     "after titles): warn, block (skip the note), redact, or off.")] = "warn",
    jobs: JobsOption = default_jobs(),
    model: ModelOption = None,
    rules_only: RulesOnlyOption = False,
    quiet: QuietOption = False,
) -> None:
    """Read a folder of notes into the project and code them with the codebook."""
    with progress_bar("ingest", "notes", quiet=quiet) as progress:
        report = ingest(notes_dir, project=project, codebook=codebook, path_attrs=path_attrs,
                        max_bytes=int(max_size * 1e6), prune=prune, jobs=jobs, model=model, pii=pii,
                        progress=progress, learned=not rules_only)
    render_ingest_report(report)
    raise typer.Exit(report.exit_code)


def render_ingest_report(report: IngestReport) -> None:
    """The summary: counts, then every skipped file with its reason, then vanished files."""
    err.print(f"[bold]{report.files}[/] note files in {report.root}: {report.added} added, {report.updated} updated, "
              f"{report.recoded} re-coded, {report.unchanged} unchanged, [bold]{len(report.skipped)}[/] skipped "
              f"(codebook {report.codebook}, project {report.project})")
    if report.kept:
        err.print(f"{report.kept} unchanged notes kept their codings: {_why_kept(report.changes)}",
                  markup=False, highlight=False)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {warning}", markup=True)
    if report.skipped:
        err.print("[bold red]skipped:[/]")
        for skipped in report.skipped:
            err.print(f"  {skipped.source}: {skipped.reason}", markup=False)
    if report.vanished:
        action = f"removed ({report.pruned})" if report.pruned else "kept; use --prune to remove them"
        err.print(f"[yellow]{len(report.vanished)} stored notes have vanished from the folder[/], {action}:")
        for source in report.vanished:
            err.print(f"  {source}", markup=False)


def code_command(
    project: ProjectOption = None,
    codebook: CodebookOption = None,
    force: Annotated[bool, typer.Option("--force", help="Re-code every note, not only those a codebook "
                                        "change can affect.")] = False,
    jobs: JobsOption = default_jobs(),
    model: ModelOption = None,
    rules_only: RulesOnlyOption = False,
    quiet: QuietOption = False,
) -> None:
    """Re-code the stored notes with the current codebook (only what changed, unless --force)."""
    with progress_bar("code", "notes", quiet=quiet) as progress:
        report = code_project(project=project, codebook=codebook, force=force, jobs=jobs, model=model,
                              progress=progress, learned=not rules_only)
    render_code_report(report)


def render_code_report(report: CodeReport) -> None:
    err.print(f"re-coded [bold]{report.recoded}[/] of {report.documents} notes with codebook {report.codebook}")
    if report.kept:
        err.print(f"{report.kept} notes kept their codings: {_why_kept(report.changes)}; "
                  "--force re-codes them all", markup=False, highlight=False)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {warning}", markup=True)


def _why_kept(changes: list[str]) -> str:
    """Why notes kept their codings across a codebook change: the rules that changed, or none."""
    if not changes:
        return "the codebook change does not touch any rule (labels, definitions or examples only)"
    shown = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more" if len(changes) > 5 else "")
    return f"none of them contains a word of the changed rules ({shown})"
