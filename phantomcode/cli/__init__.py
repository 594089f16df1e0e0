"""The ``phantomcode`` command: thin commands over the library, joined into one typer app.

Every command parses options, calls one library function and renders the result. Errors from the
library arrive as ``PhantomcodeError``; ``_ErrorHandlingGroup`` turns them into one message on
stderr and the error's exit code, so bad input never produces a traceback.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from ..errors import PhantomcodeError
from . import codebook, explore, export, info, ingest, pii, report
from . import agree as agree_cli, exchange, review
from ._console import err


class _ErrorHandlingGroup(TyperGroup):
    """Catches library errors raised by any sub-command and exits with their code."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except PhantomcodeError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            for problem in getattr(exc, "problems", []):
                err.print(f"  {problem}", markup=False)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    name="phantomcode",
    help="Code qualitative interview notes with a YAML codebook, transparently and reproducibly.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.command("ingest")(ingest.ingest_command)
app.command("code")(ingest.code_command)
app.command("info")(info.info_command)
app.command("kwic")(explore.kwic_command)
app.command("evaluate")(explore.evaluate_command)
app.command("pii-scan")(pii.pii_scan_command)
codebook.app.command("stats")(explore.stats_command)
app.add_typer(codebook.app, name="codebook")
app.add_typer(export.app, name="export")
app.add_typer(report.app, name="report")
app.add_typer(review.app, name="review")
app.command("agree")(agree_cli.agree_command)
codebook.app.command("export")(exchange.codebook_export_command)
codebook.app.command("import")(exchange.codebook_import_command)
export.app.command("qdpx")(exchange.qdpx_command)
export.app.command("matrix")(exchange.matrix_command)


def main() -> None:
    """Console-script entry point."""
    app()
