"""``phantomcode import parquet``: bring results coded elsewhere (``ingest --parquet-out``) into a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ._options import ProjectOption, QuietOption
from ._progress import progress_bar
from .ingest import render_ingest_report


def parquet_command(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder with notes/*.parquet and codings/*.parquet, as ingest --parquet-out writes it.",
            show_default=False,
        ),
    ],
    project: ProjectOption = None,
    quiet: QuietOption = False,
) -> None:
    """Store the notes and codings of Parquet files (from ingest --engine dask --parquet-out) in the project."""
    try:
        from ..distributed import import_parquet
    except ImportError as exc:
        raise UsageError(
            f"import parquet needs pyarrow ({exc.name} is missing); install it with: pip install 'phantomcode[dask]'"
        ) from None
    with progress_bar("import", "partitions", quiet=quiet) as progress:
        report = import_parquet(directory, project=project, progress=progress)
    render_ingest_report(report)
    raise typer.Exit(report.exit_code)
