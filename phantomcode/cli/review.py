"""``phantomcode review export|import|stats``: review the codings by hand and measure the rules."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from ..report import parse_where, split_codes
from ..review import export_review, import_review, review_stats, stats_json, stats_records
from ._console import err, out
from ._options import CodebookOption, ProjectOption

app = typer.Typer(help="Review codings in a spreadsheet, import the decisions, see precision and missed codings.",
                  no_args_is_help=True)

MAX_LISTED = 10
_PLAIN_WIDTH = 300  # only when stdout is not a terminal


@app.command("export")
def export_command(
    out_file: Annotated[Optional[Path], typer.Option("--out", "-o", help="review.xlsx or review.csv (csv: default "
                                                     "stdout).", show_default=False)] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="xlsx or csv (default: from --out).",
                                               show_default=False)] = None,
    code: Annotated[Optional[list[str]], typer.Option("--code", help="Only this code (repeat or separate with "
                                                      "commas).", show_default=False)] = None,
    where: Annotated[Optional[list[str]], typer.Option(
        "--where", "-w", help="Only documents with ATTR=VALUE (repeat: AND; OR for one attribute).",
        show_default=False)] = None,
    sample: Annotated[Optional[int], typer.Option("--sample", min=1, help="Draw N coded segments at random (all "
                                                  "their codings), e.g. for a reliability check.",
                                                  show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the random draw (to repeat it).",
                                                show_default=False)] = None,
    suggest: Annotated[Optional[int], typer.Option("--suggest", min=1, help="The N sentences whose review would "
                                                   "teach the learned model most, a row per candidate code.",
                                                   show_default=False)] = None,
    pending: Annotated[bool, typer.Option("--pending", help="Only codings without a decision yet.")] = False,
    include_flagged: Annotated[bool, typer.Option("--include-flagged", help="Also negated and hypothetical "
                                                  "codings.")] = False,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """One row per coding (doc_id, attributes, segment with context, code, rule, matched words, key)
    with empty decision, correct_code and note columns to fill in."""
    result = export_review(project=project, out=out_file, fmt=fmt, codes=split_codes(code),
                           where=parse_where(where or []), sample=sample, seed=seed, pending=pending,
                           include_flagged=include_flagged, codebook=codebook, suggest=suggest)
    drawn = (f" ({result.segments} of {result.segments_available} segments drawn with --seed {result.seed})"
             if result.seed is not None else f" in {result.segments} segments")
    err.print(f"wrote {result.rows} codings{drawn} to {escape(result.out if result.out != '-' else 'stdout')}")


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="The filled-in review sheet (.xlsx or .csv).", show_default=False)],
    reviewer: Annotated[Optional[str], typer.Option("--reviewer", "-r", help="Who decided (default: the sheet's "
                                                    "reviewer column, else $USER).", show_default=False)] = None,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """Apply accept/reject/add decisions; bad rows are listed by row number and the rest still apply."""
    result = import_review(file, project=project, reviewer=reviewer, codebook=codebook)
    counts = ", ".join(f"{result.decisions[k]} {k}" for k in ("accept", "reject", "add") if result.decisions[k])
    err.print(f"{result.rows} rows read; decisions: {counts or 'none'} ({result.new} new, {result.changed} changed, "
              f"{result.unchanged} unchanged)")
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    for problem in result.problems:
        err.print(f"[red]not applied:[/] {escape(problem)}")
    if result.stale:
        err.print(f"[yellow]{result.stale} decision(s) point at text that changed[/] (kept; "
                  "see phantomcode review stats)")
    if result.problems:
        err.print(f"{len(result.problems)} row(s) not applied; fix them and import the sheet again")
    raise typer.Exit(result.exit_code)


@app.command("stats")
def stats_command(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    project: ProjectOption = None,
) -> None:
    """Per code: proposals, reviewed, accepted, rejected (measured precision) and added (missed codings)."""
    stats = review_stats(project=project)
    if fmt == "csv":
        rows = list(stats_records(stats))
        writer = csv.DictWriter(out.file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif fmt == "json":
        out.file.write(stats_json(stats) + "\n")
    elif fmt == "table":
        table = Table(Column("code", no_wrap=True), "proposed", "pending", "accepted", "rejected",
                      Column("precision [95% CI]", no_wrap=True), "added", "lost",
                      title=f"Review: {stats.decisions} decisions")
        for row in stats.rows():
            precision = ("—" if row["precision"] is None else
                         f"{row['precision']:.2f} [{row['precision_low']:.2f}, {row['precision_high']:.2f}]")
            table.add_row(row["code"], *(str(row[k]) for k in ("proposals", "pending", "accepted", "rejected")),
                          precision, str(row["added"]), str(row["lost"]),
                          style="bold" if row["code"] == "total" else None)
        _table_console().print(table)
        err.print("added: codings the rules missed; lost: accepted codings the rules no longer make")
    else:
        raise typer.BadParameter("choose table, csv or json", param_hint="--format")
    if stats.stale:
        err.print(f"[yellow]{len(stats.stale)} decision(s) point at text that changed[/] (kept; they apply again if "
                  "the text returns):")
        for stale in stats.stale[:MAX_LISTED]:
            where = "" if stale.document_exists else " (document no longer in the project)"
            err.print(f"  {escape(stale.doc_id)}:{stale.start}-{stale.end} {stale.code} {stale.decision} by "
                      f"{escape(stale.reviewer)}{where}: {escape(stale.text[:60])!r}")
        if len(stats.stale) > MAX_LISTED:
            err.print(f"  ... {len(stats.stale) - MAX_LISTED} more (--format json lists them all)")


def _table_console() -> Console:
    """stdout; when it is not a terminal, wide enough that tables are not squeezed or wrapped."""
    if out.is_terminal:
        return out
    return Console(file=out.file, width=_PLAIN_WIDTH, highlight=False, soft_wrap=True, color_system=None)
