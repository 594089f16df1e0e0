"""``phantomcode info``: what is in a project."""

from __future__ import annotations

from rich.table import Table

from ..project import Project
from ..sanitise import markup_text as escape
from ._console import out
from ._options import ProjectOption
from ._parsing import flag_worded

MAX_VALUES_SHOWN = 12


def info_command(project: ProjectOption = None) -> None:
    """Show documents, attributes with their values and counts, the codebook in use and the last run."""
    info = Project(project).info()
    out.print(
        f"[bold]{escape(str(info.path))}[/]: {info.documents} documents, {info.counted_codings} codings "
        f"({info.codings - info.counted_codings} more negated, hypothetical or rejected)"
    )
    run = info.last_run
    if run is not None:
        out.print(
            f"codebook: {escape(run.codebook_name)} {escape(run.codebook_version)} "
            f"(sha256 {str(run.codebook_hash)[:12]})"
        )
    if info.codebook is not None:
        colour = "green" if info.codebook.state == "matches" else "bold red"
        out.print(f"codebook file: [{colour}]{escape(info.codebook.describe())}[/]")
        if info.codebook.state != "matches":
            out.print(f"[dim]{escape(flag_worded(info.codebook.problem()))}[/]")
    if run is not None and info.codebook is not None:  # a project's codebook is recorded by its runs
        out.print(
            f"last run: {run.command} {run.status}, started {run.started_at}, phantomcode {run.tool_version}"
            + (f", {_describe_stats(run.stats)}" if run.stats else "")
        )
    table = Table("attribute", "value", "documents", title="Attributes")
    for name, values in info.attributes.items():
        shown = values if len(values) <= MAX_VALUES_SHOWN + 1 else values[:MAX_VALUES_SHOWN]
        for position, (value, count) in enumerate(shown):
            table.add_row(escape(name) if position == 0 else "", escape(value), str(count))
        if len(shown) < len(values):
            rest = values[len(shown) :]
            table.add_row("", f"[dim]... {len(rest)} more values[/]", f"[dim]{sum(n for _, n in rest)}[/]")
    out.print(table)


def _describe_stats(stats: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in stats.items())
