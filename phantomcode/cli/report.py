"""``phantomcode report`` and ``phantomcode report cooccurrence``: coded matrices with quotes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import UsageError
from ..project import Project
from ..report import (DEFAULT_QUOTES, Report, TextTable, build_cooccurrence, build_report, check_options,
                      format_for, heat_colour, parse_where, write_report)
from ._console import err, out
from ._options import CodebookOption, ProjectOption

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
_PLAIN_WIDTH = 400  # tables never stretch to it; it only stops wrapping when the output is not a terminal

ByOption = Annotated[Optional[list[str]], typer.Option(
    "--by", "-b", help="Group by this attribute (default: city); repeat for a cross-tab, e.g. --by city --by sector.",
    show_default=False)]
CodesOption = Annotated[Optional[list[str]], typer.Option(
    "--codes", help="Only these code IDs (repeat or separate with commas).", show_default=False)]
GroupOption = Annotated[Optional[list[str]], typer.Option(
    "--group", "-g", help="Only the codes of this codebook group, e.g. mechanisms.", show_default=False)]
WhereOption = Annotated[Optional[list[str]], typer.Option(
    "--where", "-w", help="Only documents with ATTR=VALUE; repeat to combine (AND; OR for one attribute).",
    show_default=False)]
MeasureOption = Annotated[Optional[str], typer.Option(
    "--measure", "-m", help="documents (respondents mentioning a code; the default) or segments (coded segments).",
    show_default=False)]
StatusOption = Annotated[Optional[str], typer.Option(
    "--status", help="accepted: count only codings accepted in review (default: every coding not rejected).",
    show_default=False)]
SourceOption = Annotated[Optional[str], typer.Option(
    "--source", help="rules, learned or all (the default): count codings from the rules, from the learned "
    "model, or both.", show_default=False)]
FormatOption = Annotated[Optional[str], typer.Option(
    "--format", "-f", help="table, csv, json, xlsx, md, html or png (default: from --out's suffix, else table).",
    show_default=False)]
OutOption = Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: stdout).",
                                                   show_default=False)]
WideOption = Annotated[bool, typer.Option("--wide", help="csv/json: the matrix (codes x groups) instead of the "
                                          "tidy long form.")]


@app.callback()
def report_command(ctx: typer.Context, by: ByOption = None, codes: CodesOption = None, group: GroupOption = None,
                   where: WhereOption = None, measure: MeasureOption = None,
                   quotes: Annotated[Optional[int], typer.Option(
                       "--quotes", min=0, help="Exemplar quotes per cell (default: 3 for html and xlsx, "
                       "else 0).", show_default=False)] = None,
                   status: StatusOption = None, source: SourceOption = None, fmt: FormatOption = None,
                   out_file: OutOption = None, wide: WideOption = False, project: ProjectOption = None,
                   codebook: CodebookOption = None) -> None:
    """Coded matrices: for each city (or --by group) every code's documents, share of the group's N and
    coded segments, then the code x group matrix; as a table, csv, json, xlsx, md, html or png."""
    if ctx.invoked_subcommand is not None:  # options given before the sub-command apply to it
        if by or quotes is not None:
            raise UsageError(f"--by and --quotes do not apply to 'report {ctx.invoked_subcommand}'")
        ctx.obj = {"codes": codes, "group": group, "where": where, "measure": measure, "status": status, "fmt": fmt,
                   "out_file": out_file, "wide": wide, "project": project, "codebook": codebook, "source": source}
        return
    fmt = format_for(fmt, out_file)
    check_options(fmt, wide=wide, quotes=quotes)
    report = build_report(Project(project), by=by or ["city"], measure=measure or "documents", codes=codes, group=group,
                          where=parse_where(where or []), status=status, codebook=codebook, source=source,
                          quotes=DEFAULT_QUOTES.get(fmt, 0) if quotes is None else quotes)
    _emit(report, fmt, out_file, wide)


@app.command("cooccurrence")
def cooccurrence_command(ctx: typer.Context, codes: CodesOption = None, group: GroupOption = None,
                         where: WhereOption = None, measure: MeasureOption = None, status: StatusOption = None,
                         source: SourceOption = None, fmt: FormatOption = None, out_file: OutOption = None, wide: WideOption = False,
                         project: ProjectOption = None, codebook: CodebookOption = None) -> None:
    """Code x code: documents and segments where both codes are counted; the diagonal is each code's total."""
    given = {name: value or (ctx.obj or {}).get(name) for name, value in dict(
        codes=codes, group=group, where=where, measure=measure, status=status, source=source, fmt=fmt,
        out_file=out_file,
        wide=wide, project=project, codebook=codebook).items()}
    fmt = format_for(given["fmt"], given["out_file"])
    check_options(fmt, wide=bool(given["wide"]))
    report = build_cooccurrence(Project(given["project"]), measure=given["measure"] or "documents",
                                codes=given["codes"], group=given["group"], where=parse_where(given["where"] or []),
                                status=given["status"], codebook=given["codebook"], source=given["source"])
    _emit(report, fmt, given["out_file"], bool(given["wide"]))


def _emit(report: Report, fmt: str, out_file: Path | None, wide: bool) -> None:
    if fmt != "table":
        write_report(report, fmt=fmt, out=out_file, wide=wide)
    elif out_file is None or str(out_file) == "-":
        _render(report, out)
    else:
        with open(out_file, "w", encoding="utf-8") as handle:
            _render(report, Console(file=handle, width=_PLAIN_WIDTH, highlight=False, color_system=None))
    if out_file is not None and str(out_file) != "-":
        err.print(f"wrote {report.title().lower()} ({report.documents} documents) to {out_file}")
    if not report.documents:
        err.print("[yellow]warning:[/] no documents match the filters")
    for warning in report.warnings():
        err.print(f"[yellow]warning:[/] {escape(warning)}")


def _render(report: Report, console: Console) -> None:
    """Rich tables: the description, each table with heat-coloured cells, then the quotes.

    A terminal wraps cells to fit its width; a file or pipe gets every table at its natural width.
    """
    if not console.is_terminal:
        console = Console(file=console.file, width=_PLAIN_WIDTH, highlight=False, soft_wrap=True, color_system=None)
    console.print(f"[bold]{escape(report.title())}[/]")
    for line in report.description():
        console.print(f"[dim]{escape(line)}[/]")
    tables = [_rich_table(table) for table in report.tables()]
    if report.quote_records:
        quotes = Table("code", "group", "doc_id", title="Quotes", title_justify="left")
        quotes.add_column("quote", max_width=90, overflow="fold")
        for code, label, doc_id, text in report.quote_rows():
            quotes.add_row(code, escape(label), escape(doc_id), escape(text))
        tables.append(quotes)
    for table in tables:
        console.print(table)


def _rich_table(table: TextTable) -> Table:
    rich = Table(title=escape(table.title), title_justify="left")
    for position, header in enumerate(table.header):
        widest = max((len(str(row[position])) for row in table.rows), default=0)
        rich.add_column(escape(str(header)), justify="left" if position < table.text_columns else "right",
                        no_wrap=position == 0 or position >= table.text_columns,
                        min_width=min(max(widest, len(str(header))), 24) if position == 0 else None)
    for index, row in enumerate(table.rows):
        heat = table.heat[index] if index < len(table.heat) else [None] * len(row)
        cells = []
        for value, level in zip(row, heat):
            text = escape(str(value))
            if level is not None:
                background, colour = heat_colour(level)
                text = f"[{colour} on {background}]{text}[/]"
            cells.append(text)
        matrix = table.kind == "matrix"  # its last row is N: set it off
        rich.add_row(*cells, style="bold" if matrix and index == len(table.rows) - 1 else None,
                     end_section=matrix and index == len(table.rows) - 2)
    return rich
