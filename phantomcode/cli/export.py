"""``phantomcode export ...``: data for R, Stata, pandas and spreadsheets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..export import export_documents
from ._console import err
from ._options import ProjectOption

app = typer.Typer(help="Export documents and codings as CSV or JSON lines.", no_args_is_help=True)

FormatOption = Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")]
OutOption = Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: stdout).",
                                                   show_default=False)]


@app.command("documents")
def documents_command(project: ProjectOption = None, fmt: FormatOption = "jsonl", out: OutOption = None) -> None:
    """One record per document: doc_id, text (the stored body), source, and each attribute."""
    count = export_documents(project=project, fmt=fmt, out=out)
    if out is not None:
        err.print(f"wrote {count} documents to {out}")
