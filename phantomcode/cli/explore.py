"""``phantomcode codebook stats``, ``phantomcode kwic`` and ``phantomcode evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.table import Column, Table

from ..explore import KwicLine, codebook_stats, kwic
from ..metrics import CodeMetrics, MetricsReport
from ..sanitise import markup_text as escape
from ._console import err, fits, show, table_console
from ._options import CodebookOption, ProjectOption

MAX_LISTED = 10


def stats_command(project: ProjectOption = None, codebook: CodebookOption = None) -> None:
    """Per code and per term: segments and documents it fires on; terms that never fire are marked."""
    from ..project import (
        resolve_codebook,  # here, not above: 'codebook lint' loads this module too
    )

    stats = codebook_stats(resolve_codebook(project, codebook), project=project)
    table = Table("code", "term", "segments", "documents", title="Codebook use in the project")
    never = 0
    for stat in stats:
        table.add_row(
            f"[bold]{stat.code}[/]", "[dim](all rules and the model)[/]", str(stat.segments), str(stat.documents)
        )
        if stat.learned_segments:
            table.add_row("", "[dim](learned model)[/]", str(stat.learned_segments), str(stat.learned_documents))
        for term in stat.terms:
            fired = term.segments > 0
            never += not fired
            table.add_row(
                "",
                escape(term.term) if fired else f"[red]{escape(term.term)} (never fires)[/]",
                str(term.segments),
                str(term.documents),
            )
    show(table)
    err.print(f"{never} term(s) never fire in this project")


def kwic_command(
    term: Annotated[str | None, typer.Argument(help="Word or phrase; * is a wildcard.", show_default=False)] = None,
    code: Annotated[
        str | None, typer.Option("--code", help="Show the matched words of this code.", show_default=False)
    ] = None,
    width: Annotated[int, typer.Option("--width", min=10, help="Characters of context on each side.")] = 60,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many lines.", show_default=False)
    ] = None,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """Keyword in context: every hit of a code (--code ID) or every occurrence of TERM."""
    lines = list(kwic(project=project, code=code, term=term, width=width, limit=limit, codebook=codebook))
    console = table_console()
    table = _kwic_table(lines, width)
    if not fits(table, console):  # a narrow terminal: one line per hit, the context cut to fit
        table = _kwic_table(lines, _context_that_fits(lines, console.width))
    console.print(table)
    err.print(f"{len(lines)} line(s)")


def _kwic_table(lines: list[KwicLine], context: int) -> Table:
    """The hits, with at most ``context`` columns of context on each side (hanzi take two)."""
    table = Table(
        Column("doc_id", no_wrap=True),
        Column("left", justify="right", no_wrap=True),
        Column("keyword", no_wrap=True),
        Column("right", no_wrap=True),
        Column("rule", no_wrap=True, overflow="ellipsis"),
        box=None,
        show_header=True,
    )
    for line in lines:
        rule = f"{line.rule} ({line.flags})" if line.flags else (line.rule or "")
        table.add_row(
            escape(line.doc_id),
            escape(_last_cells(line.left, context)),
            f"[bold]{escape(line.keyword)}[/]",
            escape(_first_cells(line.right, context)),
            escape(rule),
        )
    return table


def _first_cells(text: str, cells: int) -> str:
    """The start of ``text`` that takes at most ``cells`` terminal columns."""
    taken = 0
    for position, character in enumerate(text):
        taken += cell_len(character)
        if taken > cells:
            return text[:position]
    return text


def _last_cells(text: str, cells: int) -> str:
    """The end of ``text`` that takes at most ``cells`` terminal columns."""
    return _first_cells(text[::-1], cells)[::-1]


def _context_that_fits(lines: list[KwicLine], width: int) -> int:
    """Columns of context on each side that leave one line per hit at ``width`` columns."""

    def widest(values: list[str]) -> int:
        return max((cell_len(value) for value in values), default=0)

    fixed = widest([line.doc_id for line in lines]) + widest([line.keyword for line in lines]) + 10
    rule = min(widest([line.rule or "" for line in lines]) + 16, width // 4)
    return max(8, (width - fixed - rule) // 2)


def evaluate_command(
    gold: Annotated[
        Path, typer.Option("--gold", help="CSV with note_id,sentence,codes (codes ';'-separated).", show_default=False)
    ],
    with_decisions: Annotated[
        bool,
        typer.Option(
            "--with-decisions",
            help="Apply review decisions (drop rejected "
            "codings, count accepted and added ones) instead of scoring the "
            "rules alone.",
        ),
    ] = False,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """Sentence-level precision, recall, F1 and Cohen's kappa per code of the rules (or, with
    --with-decisions, the rules after review) against a gold CSV; exit 1 if gold rows were skipped."""
    from ..evaluate import evaluate

    result = evaluate(gold, project=project, with_decisions=with_decisions, codebook=codebook)
    table = Table(
        Column("code", no_wrap=True, min_width=20),
        "support",
        "tp",
        "fp",
        "fn",
        "precision",
        "recall",
        "F1",
        "kappa",
        title=f"{result.measured} vs {result.metrics.units} gold sentences",
    )
    for row in result.metrics.rows():
        table.add_row(
            escape(row["code"]),
            str(row["support"]),
            str(row["tp"]),
            str(row["fp"]),
            str(row["fn"]),
            *(f"{row[k]:.3f}" for k in ("precision", "recall", "f1", "kappa")),
            style="bold" if row["code"] in ("micro", "macro") else None,
        )
    show(_side_by_side(gold, project, codebook, with_decisions, result.metrics))
    show(table)
    if not with_decisions:
        err.print("review decisions not applied: the rules alone (--with-decisions applies them)")
    if result.gold_encoding not in ("utf-8", "utf-8-sig"):
        err.print(f"read {escape(str(gold))} as {result.gold_encoding} (not UTF-8)")
    for problem in result.problems[:MAX_LISTED]:
        err.print(f"[yellow]warning:[/] {escape(problem)}")
    if len(result.problems) > MAX_LISTED:
        err.print(f"[yellow]warning:[/] ... and {len(result.problems) - MAX_LISTED} more")
    if result.problems:
        err.print(f"{len(result.problems)} of {result.gold_rows} gold rows skipped")
        raise typer.Exit(1)


def _side_by_side(
    gold: Path, project: Path | None, codebook: Path | None, with_decisions: bool, rules: MetricsReport
) -> Table:
    """Precision, recall and F1 per code of the rules alone, the learned model alone and both; the
    headers are short (``n``: gold sentences with the code; the source above its P) so that it fits
    80 columns; the rules are detailed in the table below it."""
    from ..evaluate import evaluate

    reports = {
        "rules": rules,
        **{
            name: evaluate(
                gold, project=project, with_decisions=with_decisions, codebook=codebook, predictions=name
            ).metrics
            for name in ("model", "combined")
        },
    }
    table = Table(
        Column("code", no_wrap=True),
        "n",
        *(
            f"{name if figure == 'P' else ''}\n{figure}"
            for name in ("rules", "model", "both")
            for figure in ("P", "R", "F1")
        ),
        title="rules alone, learned model alone, combined",
    )
    for row in rules.rows():
        code = row["code"]
        cells = [
            f"{getattr(_code(report, code), figure):.3f}"
            for report in reports.values()
            for figure in ("precision", "recall", "f1")
        ]
        table.add_row(escape(code), str(row["support"]), *cells, style="bold" if code in ("micro", "macro") else None)
    return table


def _code(report: MetricsReport, code: str) -> CodeMetrics:
    return {"micro": report.micro, "macro": report.macro}.get(code) or report.code(code)
