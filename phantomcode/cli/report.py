"""``phantomcode report`` and ``phantomcode report cooccurrence``: coded matrices with quotes."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import UsageError
from ..outputs import choose_format, is_stdout, write_output
from ..project import Project
from ..report import (
    BINARY_FORMATS,
    FORMATS,
    SUFFIX_FORMATS,
    Report,
    TextTable,
    build_cooccurrence,
    build_report,
    heat_colour,
    write_report,
)
from ..sanitise import markup_text as escape
from ._console import compact, err, fits, out, plain_console
from ._options import CodebookOption, ProjectOption
from ._parsing import check_binary_output, parse_where, split_codes

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
_PLAIN_WIDTH = 400  # tables never stretch to it; it only stops wrapping when the output is not a terminal
DEFAULT_QUOTES = {"html": 3, "xlsx": 3}  # formats with a place for quotes show some unless told otherwise

ByOption = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        "-b",
        help="Group by this attribute (default: city); repeat for a cross-tab, e.g. --by city --by sector.",
        show_default=False,
    ),
]
CodesOption = Annotated[
    list[str] | None,
    typer.Option("--codes", help="Only these code IDs (repeat or separate with commas).", show_default=False),
]
GroupOption = Annotated[
    list[str] | None,
    typer.Option("--group", "-g", help="Only the codes of this codebook group, e.g. mechanisms.", show_default=False),
]
WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        help="Only documents with ATTR=VALUE; repeat to combine (AND; OR for one attribute).",
        show_default=False,
    ),
]
MeasureOption = Annotated[
    str | None,
    typer.Option(
        "--measure",
        "-m",
        help="documents (respondents mentioning a code; the default) or segments (coded segments).",
        show_default=False,
    ),
]
StatusOption = Annotated[
    str | None,
    typer.Option(
        "--status",
        help="accepted: count only codings accepted in review (default: every coding not rejected).",
        show_default=False,
    ),
]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="rules, learned or all (the default): count codings from the rules, from the learned model, or both.",
        show_default=False,
    ),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table, csv, json, xlsx, md, html or png (default: from --out's suffix, else table).",
        show_default=False,
    ),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output file (default: stdout).", show_default=False)
]
WideOption = Annotated[
    bool, typer.Option("--wide", help="csv/json: the matrix (codes x groups) instead of the tidy long form.")
]


@app.callback()
def report_command(
    ctx: typer.Context,
    by: ByOption = None,
    codes: CodesOption = None,
    group: GroupOption = None,
    where: WhereOption = None,
    measure: MeasureOption = None,
    quotes: Annotated[
        int | None,
        typer.Option(
            "--quotes",
            min=0,
            help="Exemplar quotes per cell (default: 3 for html and xlsx, else 0).",
            show_default=False,
        ),
    ] = None,
    status: StatusOption = None,
    source: SourceOption = None,
    fmt: FormatOption = None,
    out_file: OutOption = None,
    wide: WideOption = False,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """Coded matrices: for each city (or --by group) every code's documents, share of the group's N and
    coded segments, then the code x group matrix; as a table, csv, json, xlsx, md, html or png."""
    if ctx.invoked_subcommand is not None:  # options given before the sub-command apply to it
        if by or quotes is not None:
            raise UsageError(f"--by and --quotes do not apply to 'report {ctx.invoked_subcommand}'")
        ctx.obj = {
            "codes": codes,
            "group": group,
            "where": where,
            "measure": measure,
            "status": status,
            "fmt": fmt,
            "out_file": out_file,
            "wide": wide,
            "project": project,
            "codebook": codebook,
            "source": source,
        }
        return
    fmt = format_for(fmt, out_file)
    check_options(fmt, wide=wide, quotes=quotes)
    opened = Project(project)
    report = build_report(
        opened.path,
        opened.codebook(codebook),
        by=by or ["city"],
        measure=measure or "documents",
        codes=split_codes(codes),
        group=split_codes(group),
        where=parse_where(where or []),
        status=status,
        source=source,
        quotes=DEFAULT_QUOTES.get(fmt, 0) if quotes is None else quotes,
    )
    _emit(report, fmt, out_file, wide)


@app.command("cooccurrence")
def cooccurrence_command(
    ctx: typer.Context,
    codes: CodesOption = None,
    group: GroupOption = None,
    where: WhereOption = None,
    measure: MeasureOption = None,
    status: StatusOption = None,
    source: SourceOption = None,
    fmt: FormatOption = None,
    out_file: OutOption = None,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="csv/json: the code x code matrix of "
            "the measure instead of the tidy long form (code_a, "
            "code_b, documents, segments).",
        ),
    ] = False,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """Code x code: documents and segments where both codes are counted; the diagonal is each code's total."""
    given: dict[str, Any] = {
        name: value or (ctx.obj or {}).get(name)
        for name, value in dict(
            codes=codes,
            group=group,
            where=where,
            measure=measure,
            status=status,
            source=source,
            fmt=fmt,
            out_file=out_file,
            wide=wide,
            project=project,
            codebook=codebook,
        ).items()
    }
    fmt = format_for(given["fmt"], given["out_file"])
    check_options(fmt, wide=bool(given["wide"]))
    opened = Project(given["project"])
    report = build_cooccurrence(
        opened.path,
        opened.codebook(given["codebook"]),
        measure=given["measure"] or "documents",
        codes=split_codes(given["codes"]),
        group=split_codes(given["group"]),
        where=parse_where(given["where"] or []),
        status=given["status"],
        source=given["source"],
    )
    _emit(report, fmt, given["out_file"], bool(given["wide"]))


def format_for(fmt: str | None, out_file: Path | None) -> str:
    """The format asked for, else the one the output file's suffix names (an unknown suffix is an
    error listing the formats), else ``table``."""
    return choose_format(fmt, out_file, formats=FORMATS, default="table", suffixes=SUFFIX_FORMATS)


def check_options(fmt: str, *, wide: bool = False, quotes: int | None = None) -> None:
    """Refuse options the format cannot show, rather than silently ignoring them."""
    if wide and fmt not in ("csv", "json"):
        raise UsageError("--wide goes with --format csv or json (the other formats show the matrix already)")
    if quotes and fmt in ("csv", "json", "png"):
        raise UsageError(
            f"--format {fmt} has no place for quotes; use table, md, html or xlsx, or Project.quotes() in Python"
        )


def _emit(report: Report, fmt: str, out_file: Path | None, wide: bool) -> None:
    notes: list[str] = []
    if fmt != "table":
        notes = _write(report, fmt, out_file, wide)
    elif is_stdout(out_file):
        _render(report, out)
    else:
        write_output(out_file, lambda handle: _render(report, plain_console(handle, _PLAIN_WIDTH)))
    if out_file is not None and str(out_file) != "-":
        err.print(f"wrote {escape(report.title().lower())} ({report.documents} documents) to {escape(str(out_file))}")
    if not report.documents:
        err.print("[yellow]warning:[/] no documents match the filters")
    for warning in [*report.warnings(), *notes]:
        err.print(f"[yellow]warning:[/] {escape(warning)}")


def _write(report: Report, fmt: str, out_file: Path | None, wide: bool) -> list[str]:
    """A written format to ``out_file``, else to stdout (binary formats only when redirected)."""
    if out_file is not None and not is_stdout(out_file):
        return write_report(report, fmt=fmt, out=out_file, wide=wide)
    binary = fmt in BINARY_FORMATS
    if binary:
        check_binary_output(fmt, out_file)
    handle = sys.stdout.buffer if binary else sys.stdout
    notes = write_report(report, fmt=fmt, out=handle, wide=wide)
    handle.flush()
    return notes


def _render(report: Report, console: Console) -> None:
    """Rich tables: the description, each table with heat-coloured cells, then the quotes.

    A file or pipe gets every table at its natural width. A terminal gets the description wrapped
    at word boundaries and every table whole: compact when it would not fit, and a matrix too wide
    even then split into parts of groups (each repeating the code column), never a cut cell.
    """
    if not console.is_terminal:
        console = plain_console(console.file, _PLAIN_WIDTH)
    console.print(f"[bold]{escape(report.title())}[/]")
    for line in report.description():
        console.print(f"[dim]{escape(line)}[/]", soft_wrap=False)
    tables = [part for table in report.tables() for part in _fitting(table, console)]
    if report.quote_records:
        quotes = Table("code", "group", "doc_id", title="Quotes", title_justify="left")
        quotes.add_column("quote", max_width=90, overflow="fold")
        for code, label, doc_id, text in report.quote_rows():
            quotes.add_row(code, escape(label), escape(doc_id), escape(text))
        tables.append(quotes)
    for table in tables:
        console.print(table)


def _fitting(table: TextTable, console: Console) -> list[Table]:
    """``table`` as one rich table if it fits the console (compact if need be), else in parts of
    its number columns, each part as wide as fits, titled "(1/3)", "(2/3)" ..."""
    whole = compact(_rich_table(table), console)
    keep = table.text_columns
    if fits(whole, console) or table.kind not in ("matrix", "cooccurrence") or len(table.header) - keep <= 1:
        return [whole]  # a group's table wraps its labels rather than splitting
    parts: list[list[int]] = [[]]
    for column in range(keep, len(table.header)):
        trial = parts[-1] + [column]
        if parts[-1] and not fits(compact(_rich_table(_with_columns(table, trial)), console), console):
            parts.append([column])
        else:
            parts[-1] = trial
    return [
        compact(_rich_table(_with_columns(table, part, f" ({number}/{len(parts)})")), console, always=True)
        for number, part in enumerate(parts, start=1)
    ]


def _with_columns(table: TextTable, columns: list[int], suffix: str = "") -> TextTable:
    """The text columns of ``table`` and the number ``columns`` picked."""
    picked = [*range(table.text_columns), *columns]
    return replace(
        table,
        title=table.title + suffix,
        header=[table.header[i] for i in picked],
        rows=[[row[i] for i in picked] for row in table.rows],
        heat=[[heat[i] for i in picked] for heat in table.heat],
    )


def _rich_table(table: TextTable) -> Table:
    rich = Table(title=escape(table.title), title_justify="left")
    for position, header in enumerate(table.header):
        widest = max((len(str(row[position])) for row in table.rows), default=0)
        rich.add_column(
            escape(str(header)),
            justify="left" if position < table.text_columns else "right",
            no_wrap=position == 0 or position >= table.text_columns,
            min_width=min(max(widest, len(str(header))), 24) if position == 0 else None,
        )
    for index, row in enumerate(table.rows):
        heat = table.heat[index] if index < len(table.heat) else [None] * len(row)
        cells = []
        for value, level in zip(row, heat, strict=False):
            text = escape(str(value))
            if level is not None:
                background, colour = heat_colour(level)
                text = f"[{colour} on {background}]{text}[/]"
            cells.append(text)
        matrix = table.kind == "matrix"  # its last row is N: set it off
        rich.add_row(
            *cells,
            style="bold" if matrix and index == len(table.rows) - 1 else None,
            end_section=matrix and index == len(table.rows) - 2,
        )
    return rich
