"""The ``phantomcode`` command: thin commands over the library, joined into one typer app.

Every command parses options, calls one library function and renders the result. Errors from the
library arrive as ``PhantomcodeError``; ``_PhantomcodeGroup`` turns them into one message on
stderr and the error's exit code, so bad input never produces a traceback.

Commands are loaded on demand: ``phantomcode report`` imports the report command's module and
what it uses, not spaCy, pandas or the ingest pipeline; ``--help`` loads them all to list them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from functools import cache

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from ..errors import PhantomcodeError


def _codebook_app() -> typer.Typer:
    """``codebook`` with its commands from ``explore`` (stats) and ``exchange`` (export, import)."""
    from . import codebook, exchange, explore

    codebook.app.command("stats")(explore.stats_command)
    codebook.app.command("export")(exchange.codebook_export_command)
    codebook.app.command("import")(exchange.codebook_import_command)
    return codebook.app


def _export_app() -> typer.Typer:
    """``export`` with its exchange formats (qdpx, matrix)."""
    from . import exchange, export

    export.app.command("qdpx")(exchange.qdpx_command)
    export.app.command("matrix")(exchange.matrix_command)
    return export.app


def _attribute(module: str, name: str) -> Callable[[], object]:
    return lambda: getattr(importlib.import_module(f".{module}", __name__), name)


# Name -> loader of the command function or sub-app, in the order ``--help`` lists them.
_COMMANDS: dict[str, Callable[[], object]] = {
    "ingest": _attribute("ingest", "ingest_command"),
    "code": _attribute("ingest", "code_command"),
    "train": _attribute("train", "train_command"),
    "info": _attribute("info", "info_command"),
    "kwic": _attribute("explore", "kwic_command"),
    "evaluate": _attribute("explore", "evaluate_command"),
    "pii-scan": _attribute("pii", "pii_scan_command"),
    "agree": _attribute("agree", "agree_command"),
    "codebook": _codebook_app,
    "export": _export_app,
    "report": _attribute("report", "app"),
    "review": _attribute("review", "app"),
    "serve": _attribute("serve", "serve_command"),
}


@cache
def _load(name: str) -> TyperCommand | TyperGroup:
    """The click command for ``name``, built by typer from its function or sub-app on first use."""
    target = _COMMANDS[name]()
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _LazyCommands(Mapping):
    """The group's command table: every name is known at once, each command is built when asked for."""

    def __getitem__(self, name: str) -> TyperCommand | TyperGroup:
        if name not in _COMMANDS:
            raise KeyError(name)
        return _load(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_COMMANDS)

    def __len__(self) -> int:
        return len(_COMMANDS)


class _PhantomcodeGroup(TyperGroup):
    """Loads sub-commands lazily and catches library errors raised by any of them."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands()

    def list_commands(self, ctx):  # type: ignore[no-untyped-def]
        return list(_COMMANDS)

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except PhantomcodeError as exc:
            from ._console import err

            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            for problem in getattr(exc, "problems", []):
                err.print(f"  {problem}", markup=False)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_PhantomcodeGroup,
    name="phantomcode",
    help="Code qualitative interview notes with a YAML codebook, transparently and reproducibly.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


@app.callback()
def _phantomcode() -> None:
    """The group itself does nothing; typer needs a callback to build a group without commands."""


def main() -> None:
    """Console-script entry point."""
    app()
