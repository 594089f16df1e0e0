"""``phantomcode export ...``: data for R, Stata, pandas and spreadsheets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..export import export_documents, export_segments
from ..sanitise import markup_text as escape
from ._console import err
from ._options import ProjectOption

app = typer.Typer(help="Export documents and codings as CSV or JSON lines.", no_args_is_help=True)

FormatOption = Annotated[str, typer.Option("--format", "-f", help="csv or jsonl.")]
OutOption = Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: stdout).",
                                                   show_default=False)]


@app.command("documents")
def documents_command(project: ProjectOption = None, fmt: FormatOption = "jsonl", out: OutOption = None) -> None:
    """One record per document: doc_id, text (the stored body), source, and each attribute."""
    count = export_documents(project=project, fmt=fmt, out=out)
    if out is not None:
        err.print(f"wrote {count} documents to {escape(str(out))}")


@app.command("segments")
def segments_command(project: ProjectOption = None, fmt: FormatOption = "csv", out: OutOption = None) -> None:
    """One row per coding: doc_id, start, end, text, code, rule, matched, negated, status, attributes."""
    count = export_segments(project=project, fmt=fmt, out=out)
    if out is not None:
        err.print(f"wrote {count} codings to {escape(str(out))}")
