"""``phantomcode train``: fit the learned layer from the project's labels and show how it did."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..sanitise import markup_text as escape
from ..training import train
from ._console import err, show
from ._options import CodebookOption, ProjectOption


def train_command(
    gold: Annotated[
        list[Path] | None,
        typer.Option(
            "--gold",
            help="Also learn from this gold CSV (note_id,sentence,codes; repeat for several).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the cross-validation folds and the solver.")] = 0,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """Train one classifier per code from the codebook's examples, review decisions and gold files;
    print its cross-validated precision, recall and F1 per code. `code` then uses it."""
    report = train(project, gold=gold or (), seed=seed, codebook=codebook)
    table = Table(
        "code",
        "positives",
        "negatives",
        "precision",
        "recall",
        "F1",
        "threshold",
        "",
        title=f"cross-validated figures of model {report.model_hash[:12]}",
    )
    for figures in report.codes:
        table.add_row(
            escape(figures.code),
            str(figures.positives),
            str(figures.negatives),
            f"{figures.precision:.2f}",
            f"{figures.recall:.2f}",
            f"{figures.f1:.2f}",
            "off" if figures.threshold > 1 else f"{figures.threshold:.2f}",
            "needs more examples" if figures.needs_more_examples else "",
        )
    show(table)
    sources = ", ".join(f"{count} {source}" for source, count in sorted(report.sources.items()))
    err.print(
        f"trained on {report.sentences} labelled sentences ({sources}); model {report.model_hash} "
        f"stored in {escape(report.project)}"
    )
    if report.needing_more:
        err.print(
            f"[yellow]codes needing more reviewed examples:[/] {escape(', '.join(report.needing_more))} "
            "(phantomcode review export --suggest N)"
        )
    err.print("run `phantomcode code` to re-code the notes with it")
