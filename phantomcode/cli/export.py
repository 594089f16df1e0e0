"""``phantomcode export ...``: data for R, Stata, pandas and spreadsheets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..export import export_documents, export_segments
from ..sanitise import markup_text as escape
from ._console import err
from ._options import ProjectOption
from ._parsing import text_output

app = typer.Typer(
    help="Export documents, codings and the code matrix as CSV or JSON lines, or the project as a "
    "REFI-QDA .qdpx (qdpx).",
    no_args_is_help=True,
)

FormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", help="csv or jsonl (default: from --out's suffix, else csv).", show_default=False),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output file (default: stdout).", show_default=False)
]
BomOption = Annotated[
    bool, typer.Option("--bom", help="Start the --out file with a UTF-8 BOM, so Excel shows hanzi correctly.")
]


@app.command("documents")
def documents_command(
    project: ProjectOption = None, fmt: FormatOption = None, out: OutOption = None, bom: BomOption = False
) -> None:
    """One record per document: doc_id, text (the stored body), source, and each attribute."""
    count = export_documents(project=project, fmt=fmt, out=text_output(out), bom=bom)
    sys.stdout.flush()
    if out is not None:
        err.print(f"wrote {count} documents to {escape(str(out))}")


@app.command("segments")
def segments_command(
    project: ProjectOption = None, fmt: FormatOption = None, out: OutOption = None, bom: BomOption = False
) -> None:
    """One row per coding: doc_id, start, end, text, code, rule, matched, negated, status, attributes."""
    count = export_segments(project=project, fmt=fmt, out=text_output(out), bom=bom)
    sys.stdout.flush()
    if out is not None:
        err.print(f"wrote {count} codings to {escape(str(out))}")
