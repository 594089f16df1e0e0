"""``phantomcode agree A B [C...]``: reliability between coders on sentence units."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from ..agree import agreement
from ..outputs import choose_format
from ..sanitise import markup_text as escape
from ._console import err, out, show
from ._options import CodebookOption, ProjectOption
from ._parsing import split_codes


def agree_command(
    coders: Annotated[
        list[str],
        typer.Argument(
            help="Two or more of: auto, reviewed, reviewed:NAME "
            "(the rules after NAME's decisions), imported (hand coding from "
            "import qdpx), a reviewer's NAME (only their codings), a gold CSV "
            "(note_id,sentence,codes).",
            show_default=False,
        ),
    ],
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference", help="Score the others against this coder (precision, recall, F1).", show_default=False
        ),
    ] = None,
    code: Annotated[
        list[str] | None,
        typer.Option("--code", help="Only these codes (repeat or separate with commas).", show_default=False),
    ] = None,
    units_from: Annotated[
        str | None,
        typer.Option(
            "--units-from",
            help="Only the segments of this review sheet (e.g. a --sample export), or 'reviewed'.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """Percent agreement, Cohen's kappa (2 coders) and Krippendorff's alpha per code and overall.
    With 'reviewed', only units a reviewer decided count; pending ones are left out and counted."""
    fmt = choose_format(fmt, None, formats=("table", "csv", "json"), default="table")
    report = agreement(
        coders,
        project=project,
        reference=reference,
        codes=split_codes(code) or None,
        units_from=Path(units_from) if units_from and units_from != "reviewed" else units_from,
        codebook=codebook,
    )
    rows = report.rows()
    if fmt == "json":
        out.file.write(report.to_json() + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out.file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in rows)
    else:
        scored = [name for name in report.coders if name != report.reference] if report.reference else []
        table = Table(
            Column("code", no_wrap=True),
            "units",
            *(f"coded\n{n}" for n in report.coders),
            "agree",
            "kappa",
            "alpha",
            *(f"{m}\n{n}" for n in scored for m in ("P", "R", "F1")),
            title=f"{' vs '.join(report.coders)}: {report.units} units ({report.unit_source})",
        )
        for row in rows:
            table.add_row(
                escape(row["code"]),
                str(row["units"]),
                *(str(row[f"coded_{n}"]) for n in report.coders),
                _figure(row["percent_agreement"], percent=True),
                _figure(row["kappa"]),
                _figure(row["alpha"]),
                *(_figure(row[f"{m}_{n}"]) for n in scored for m in ("precision", "recall", "f1")),
                style="bold" if row["code"] == "overall" else None,
            )
        show(table)
        err.print("— : undefined (a code that every coder leaves absent, or kappa with more than two coders)")
    for problem in report.problems:
        err.print(f"[yellow]warning:[/] {escape(problem)}")
    pending = f"; {report.pending} without a review decision yet left out" if report.pending else ""
    err.print(f"{report.units} units used ({escape(report.unit_source)}){pending}")


def _figure(value: float | None, *, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:.1%}" if percent else f"{value:.3f}"
