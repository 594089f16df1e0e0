"""``phantomcode review export|import|stats``: review the codings by hand and measure the rules."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from ..outputs import choose_format
from ..review import ReviewStats, export_review, import_review, review_stats, stats_json, stats_records
from ..sanitise import markup_text as escape
from ._console import compact, err, fits, out, show, table_console
from ._options import CodebookOption, ProjectOption
from ._parsing import parse_where, split_codes

app = typer.Typer(
    help="Review codings in a spreadsheet, import the decisions, see precision and missed codings.",
    no_args_is_help=True,
)

MAX_LISTED = 10


@app.command("export")
def export_command(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="review.xlsx or review.csv (csv: default stdout).", show_default=False),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="xlsx or csv (default: from --out).", show_default=False)
    ] = None,
    code: Annotated[
        list[str] | None,
        typer.Option("--code", help="Only this code (repeat or separate with commas).", show_default=False),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            "-w",
            help="Only documents with ATTR=VALUE (repeat: AND; OR for one attribute).",
            show_default=False,
        ),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            help="Draw N coded segments at random (all their codings), e.g. for a reliability check.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the random draw (to repeat it).", show_default=False)
    ] = None,
    suggest: Annotated[
        int | None,
        typer.Option(
            "--suggest",
            min=1,
            help="The N sentences whose review would teach the learned model most, a row per candidate code.",
            show_default=False,
        ),
    ] = None,
    pending: Annotated[bool, typer.Option("--pending", help="Only codings without a decision yet.")] = False,
    include_flagged: Annotated[
        bool, typer.Option("--include-flagged", help="Also negated and hypothetical codings.")
    ] = False,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """One row per coding (doc_id, attributes, segment with context, code, rule, matched words, key)
    with empty decision, correct_code and note columns to fill in."""
    result = export_review(
        project=project,
        out=out_file,
        fmt=fmt,
        codes=split_codes(code),
        where=parse_where(where or []),
        sample=sample,
        seed=seed,
        pending=pending,
        include_flagged=include_flagged,
        codebook=codebook,
        suggest=suggest,
    )
    drawn = (
        f" ({result.segments} of {result.segments_available} segments drawn with --seed {result.seed})"
        if result.seed is not None
        else f" in {result.segments} segments"
    )
    err.print(f"wrote {result.rows} codings{drawn} to {escape(result.out if result.out != '-' else 'stdout')}")


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="The filled-in review sheet (.xlsx or .csv).", show_default=False)],
    reviewer: Annotated[
        str | None,
        typer.Option(
            "--reviewer",
            "-r",
            help="Who decided (default: the sheet's reviewer column, else $USER).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """Apply accept/reject/add decisions; bad rows are listed by row number and the rest still apply."""
    result = import_review(file, project=project, reviewer=reviewer, codebook=codebook)
    counts = ", ".join(f"{result.decisions[k]} {k}" for k in ("accept", "reject", "add") if result.decisions[k])
    err.print(
        f"{result.rows} rows read{_encoding_note(result.encoding)}; decisions: {counts or 'none'} "
        f"({result.new} new, {result.changed} changed, "
        f"{result.unchanged} unchanged)"
    )
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    for problem in result.problems:
        err.print(f"[red]not applied:[/] {escape(problem)}")
    if result.stale:
        err.print(
            f"[yellow]{result.stale} decision(s) point at text that changed[/] (kept; see phantomcode review stats)"
        )
    if result.problems:
        err.print(f"{len(result.problems)} row(s) not applied; fix them and import the sheet again")
    raise typer.Exit(result.exit_code)


@app.command("stats")
def stats_command(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """Per code (codebook order): proposals, reviewed, accepted, rejected (measured precision) and added
    (missed codings)."""
    fmt = choose_format(fmt, None, formats=("table", "csv", "json"), default="table")
    stats = review_stats(project=project, codebook=codebook)
    if fmt == "csv":
        rows = list(stats_records(stats))
        writer = csv.DictWriter(out.file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif fmt == "json":
        out.file.write(stats_json(stats) + "\n")
    else:
        table = _stats_table(stats, _STATS_HEADERS)
        if not fits(compact(table, table_console()), table_console()):  # a narrow terminal: short headers
            table = _stats_table(stats, _SHORT_STATS_HEADERS)
            err.print("prop: proposed; pend: pending; acc: accepted; rej: rejected; P: precision")
        show(table)
        err.print("added: codings the rules missed; lost: accepted codings the rules no longer make")
    if stats.stale:
        err.print(
            f"[yellow]{len(stats.stale)} decision(s) point at text that changed[/] (kept; they apply again if "
            "the text returns):"
        )
        for stale in stats.stale[:MAX_LISTED]:
            where = "" if stale.document_exists else " (document no longer in the project)"
            err.print(
                f"  {escape(stale.doc_id)}:{stale.start}-{stale.end} {stale.code} {stale.decision} by "
                f"{escape(stale.reviewer)}{where}: {escape(stale.text[:60])!r}"
            )
        if len(stats.stale) > MAX_LISTED:
            err.print(f"  ... {len(stats.stale) - MAX_LISTED} more (--format json lists them all)")


_STATS_HEADERS = ("proposed", "pending", "accepted", "rejected", "precision [95% CI]", "added", "lost")
_SHORT_STATS_HEADERS = ("prop", "pend", "acc", "rej", "P [95% CI]", "added", "lost")


def _stats_table(stats: ReviewStats, headers: tuple[str, ...]) -> Table:
    table = Table(
        Column("code", no_wrap=True),
        *headers[:4],
        Column(headers[4], no_wrap=True),
        *headers[5:],
        title=f"Review: {stats.decisions} decisions",
    )
    for row in stats.rows():
        precision = (
            "—"
            if row["precision"] is None
            else f"{row['precision']:.2f} [{row['precision_low']:.2f}, {row['precision_high']:.2f}]"
        )
        table.add_row(
            row["code"],
            *(str(row[k]) for k in ("proposals", "pending", "accepted", "rejected")),
            precision,
            str(row["added"]),
            str(row["lost"]),
            style="bold" if row["code"] == "total" else None,
        )
    return table


def _encoding_note(encoding: str) -> str:
    """How a CSV sheet was decoded, when that is worth checking: anything but UTF-8."""
    return "" if encoding in ("xlsx", "utf-8", "utf-8-sig") else f" (decoded as {encoding}, not UTF-8)"
