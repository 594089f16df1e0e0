"""``phantomcode codebook stats``, ``phantomcode kwic`` and ``phantomcode evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from ..explore import codebook_stats, kwic
from ..metrics import CodeMetrics, MetricsReport
from ._console import err, out
from ._options import CodebookOption, ProjectOption


def stats_command(project: ProjectOption = None, codebook: CodebookOption = None) -> None:
    """Per code and per term: segments and documents it fires on; terms that never fire are marked."""
    from ..project import resolve_codebook  # here, not above: 'codebook lint' loads this module too

    stats = codebook_stats(resolve_codebook(project, codebook), project=project)
    table = Table("code", "term", "segments", "documents", title="Codebook use in the project")
    never = 0
    for stat in stats:
        table.add_row(f"[bold]{stat.code}[/]", "[dim](all rules and the model)[/]", str(stat.segments),
                      str(stat.documents))
        if stat.learned_segments:
            table.add_row("", "[dim](learned model)[/]", str(stat.learned_segments), str(stat.learned_documents))
        for term in stat.terms:
            fired = term.segments > 0
            never += not fired
            table.add_row("", escape(term.term) if fired else f"[red]{escape(term.term)} (never fires)[/]",
                          str(term.segments), str(term.documents))
    out.print(table)
    err.print(f"{never} term(s) never fire in this project")


def kwic_command(
    term: Annotated[Optional[str], typer.Argument(help="Word or phrase; * is a wildcard.", show_default=False)] = None,
    code: Annotated[Optional[str], typer.Option("--code", help="Show the matched words of this code.",
                                                show_default=False)] = None,
    width: Annotated[int, typer.Option("--width", min=10, help="Characters of context on each side.")] = 60,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="At most this many lines.",
                                                 show_default=False)] = None,
    project: ProjectOption = None,
) -> None:
    """Keyword in context: every hit of a code (--code ID) or every occurrence of TERM."""
    table = Table("doc_id", "left", "keyword", "right", "rule", box=None, show_header=True)
    count = 0
    for count, line in enumerate(kwic(project=project, code=code, term=term, width=width, limit=limit), start=1):
        rule = f"{line.rule} ({line.flags})" if line.flags else (line.rule or "")
        table.add_row(line.doc_id, escape(line.left), f"[bold]{escape(line.keyword)}[/]", escape(line.right), rule)
    out.print(table)
    err.print(f"{count} line(s)")


def evaluate_command(
    gold: Annotated[Path, typer.Option("--gold", help="CSV with note_id,sentence,codes (codes ';'-separated).",
                                       show_default=False)],
    project: ProjectOption = None,
) -> None:
    """Sentence-level precision, recall, F1 and Cohen's kappa per code against a gold CSV."""
    from ..evaluate import evaluate

    result = evaluate(gold, project=project)
    table = Table(Column("code", no_wrap=True, min_width=20), "support", "tp", "fp", "fn", "precision", "recall", "F1", "kappa",
                  title=f"{result.metrics.units} gold sentences")
    for row in result.metrics.rows():
        table.add_row(row["code"], str(row["support"]), str(row["tp"]), str(row["fp"]), str(row["fn"]),
                      *(f"{row[k]:.3f}" for k in ("precision", "recall", "f1", "kappa")),
                      style="bold" if row["code"] in ("micro", "macro") else None)
    # a file or pipe gets the tables at their natural width (the side-by-side one is wide)
    console = out if out.is_terminal else Console(file=out.file, width=400, highlight=False, soft_wrap=True,
                                                  color_system=None)
    console.print(_side_by_side(gold, project, result.metrics))
    console.print(table)
    for problem in result.problems:
        err.print(f"[yellow]warning:[/] {escape(problem)}")


def _side_by_side(gold: Path, project: Path | None, combined: MetricsReport) -> Table:
    """Precision, recall and F1 per code of the rules alone, the learned model alone and both."""
    from ..evaluate import evaluate

    reports = {"rules": evaluate(gold, project=project, predictions="rules").metrics,
               "model": evaluate(gold, project=project, predictions="model").metrics, "combined": combined}
    table = Table(Column("code", no_wrap=True, min_width=20), "support",
                  *(f"{name} {figure}" for name in reports for figure in ("P", "R", "F1")),
                  title="rules alone, learned model alone, combined (detailed below)")
    for row in combined.rows():
        code = row["code"]
        cells = [f"{getattr(_code(report, code), figure):.3f}" for report in reports.values()
                 for figure in ("precision", "recall", "f1")]
        table.add_row(code, str(row["support"]), *cells, style="bold" if code in ("micro", "macro") else None)
    return table


def _code(report: MetricsReport, code: str) -> CodeMetrics:
    return {"micro": report.micro, "macro": report.macro}.get(code) or report.code(code)
