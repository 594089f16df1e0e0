"""``phantomcode ingest`` and ``phantomcode code``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import UsageError
from ..ingest import CodeReport, IngestReport, Skipped, code_project, ingest
from ..notes import DEFAULT_MAX_BYTES
from ..sanitise import markup_text as escape
from ..sanitise import terminal_text
from ._console import err, settings
from ._options import (
    DEFAULT_JOBS,
    CodebookOption,
    JobsOption,
    ModelOption,
    ProjectOption,
    QuietOption,
    RulesOnlyOption,
)
from ._progress import progress_bar

if TYPE_CHECKING:
    from ..distributed import DaskOptions


def ingest_command(
    notes_dir: Annotated[
        Path,
        typer.Argument(help="Folder of notes (.txt, .md, .markdown, .docx), read recursively.", show_default=False),
    ],
    project: ProjectOption = None,
    codebook: CodebookOption = None,
    path_attrs: Annotated[
        str | None,
        typer.Option(
            "--path-attrs", help="Attributes from the path, e.g. '{city}/{respondent_type}'.", show_default=False
        ),
    ] = None,
    max_size: Annotated[
        float, typer.Option("--max-size", min=0.001, help="Skip notes larger than this many MB.")
    ] = DEFAULT_MAX_BYTES / 1e6,
    prune: Annotated[bool, typer.Option("--prune", help="Remove stored notes whose files have vanished.")] = False,
    follow_links: Annotated[
        bool, typer.Option("--follow-links", help="Read links that lead outside the notes folder (refused by default).")
    ] = False,
    pii: Annotated[
        str,
        typer.Option(
            "--pii",
            help="Likely identifiers (phones, ID numbers, e-mails, names "
            "after titles): warn, block (skip the note), redact, or off.",
        ),
    ] = "warn",
    jobs: JobsOption = DEFAULT_JOBS,
    model: ModelOption = None,
    rules_only: RulesOnlyOption = False,
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="local (worker processes here) or dask (a Dask cluster; needs phantomcode[dask])."
        ),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: a local cluster of --jobs workers).",
            show_default=False,
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            min=1,
            help="Dask tasks to cut the notes into (default: one per 2,000 notes, at least two per worker).",
            show_default=False,
        ),
    ] = None,
    parquet_out: Annotated[
        Path | None,
        typer.Option(
            "--parquet-out",
            help="With --engine dask: also keep the notes and codings as Parquet files here.",
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Read a folder of notes into the project and code them with the codebook."""
    dask = dask_options(engine, scheduler=scheduler, partitions=partitions, parquet_out=parquet_out, jobs=jobs)
    with progress_bar("ingest", "notes", quiet=quiet) as progress:
        report = ingest(
            notes_dir,
            project=project,
            codebook=codebook,
            path_attrs=path_attrs,
            max_bytes=int(max_size * 1e6),
            prune=prune,
            jobs=jobs,
            model=model,
            pii=pii,
            progress=progress,
            follow_links=follow_links,
            learned=not rules_only,
            dask=dask,
        )
    render_ingest_report(report)
    raise typer.Exit(report.exit_code)


def dask_options(
    engine: str, *, scheduler: str | None, partitions: int | None, parquet_out: Path | None, jobs: int
) -> DaskOptions | None:
    """The Dask settings for ``--engine dask``; None for a local run, which takes no Dask option."""
    if engine not in ("local", "dask"):
        raise UsageError(f"unknown --engine {engine!r}; use local or dask")
    if engine == "local":
        given = [
            name
            for name, value in (
                ("--scheduler", scheduler),
                ("--partitions", partitions),
                ("--parquet-out", parquet_out),
            )
            if value is not None
        ]
        if given:
            raise UsageError(f"{', '.join(given)} only apply with --engine dask")
        return None
    try:
        from ..distributed import DaskOptions
    except ImportError as exc:
        raise UsageError(
            f"--engine dask needs Dask and pyarrow ({exc.name} is missing); install them with: "
            "pip install 'phantomcode[dask]'"
        ) from None
    return DaskOptions(scheduler=scheduler, partitions=partitions, parquet_out=parquet_out, workers=jobs)


def render_ingest_report(report: IngestReport) -> None:
    """The summary: counts, then every skipped file with its reason, then vanished files."""
    err.print(
        f"[bold]{report.files}[/] note files in {escape(report.root)}: {report.added} added, "
        f"{report.updated} updated, {report.recoded} re-coded, {report.unchanged} unchanged, "
        f"[bold]{len(report.skipped)}[/] skipped (codebook {escape(report.codebook)}, "
        f"project {escape(report.project)})"
    )
    if report.kept:
        err.print(
            f"{report.kept} unchanged notes kept their codings: {_why_kept(report.changes)}",
            markup=False,
            highlight=False,
        )
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    render_skipped(report.skipped)
    if report.vanished:
        action = f"removed ({report.pruned})" if report.pruned else "kept; use --prune to remove them"
        err.print(f"[yellow]{len(report.vanished)} stored notes have vanished from the folder[/], {action}:")
        for source in report.vanished:
            err.print(f"  {terminal_text(source)}", markup=False)


def render_skipped(skipped: list[Skipped]) -> None:
    """Each skipped note with its reason; with --debug, the traceback of an unexpected error too."""
    if not skipped:
        return
    err.print("[bold red]skipped:[/]")
    for item in skipped:
        err.print(f"  {terminal_text(item.source)}: {terminal_text(item.reason)}", markup=False)
        if item.detail and settings.debug:
            err.print(item.detail, markup=False)


def code_command(
    project: ProjectOption = None,
    codebook: CodebookOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Re-code every note, not only those a codebook change can affect.")
    ] = False,
    jobs: JobsOption = DEFAULT_JOBS,
    model: ModelOption = None,
    rules_only: RulesOnlyOption = False,
    quiet: QuietOption = False,
) -> None:
    """Re-code the stored notes with the current codebook (only what changed, unless --force)."""
    with progress_bar("code", "notes", quiet=quiet) as progress:
        report = code_project(
            project=project,
            codebook=codebook,
            force=force,
            jobs=jobs,
            model=model,
            progress=progress,
            learned=not rules_only,
        )
    render_code_report(report)
    raise typer.Exit(report.exit_code)


def render_code_report(report: CodeReport) -> None:
    err.print(f"re-coded [bold]{report.recoded}[/] of {report.documents} notes with codebook {escape(report.codebook)}")
    if report.rescored:
        err.print(
            f"{report.rescored} of them re-scored only: the learned model changed, not the codebook, so their "
            f"rule codings were kept; {report.recoded - report.rescored} re-coded in full",
            markup=False,
            highlight=False,
        )
    if report.kept:
        err.print(
            f"{report.kept} notes kept their codings: {_why_kept(report.changes)}; --force re-codes them all",
            markup=False,
            highlight=False,
        )
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    render_skipped(report.skipped)


def _why_kept(changes: list[str]) -> str:
    """Why notes kept their codings across a codebook change: the rules that changed, or none."""
    if not changes:
        return "the codebook change does not touch any rule (labels, definitions or examples only)"
    shown = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more" if len(changes) > 5 else "")
    return f"none of them contains a word of the changed rules ({shown})"
