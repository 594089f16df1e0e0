"""The ``phantomcode`` command: thin commands over the library, joined into one typer app.

Every command parses options, calls one library function and renders the result. Errors from the
library arrive as ``PhantomcodeError``; ``_PhantomcodeGroup`` turns them into one message on
stderr and the error's exit code, so bad input never produces a traceback.

Commands are loaded on demand: ``phantomcode report`` imports the report command's module and
what it uses, not spaCy, pandas or the ingest pipeline; ``--help`` loads them all to list them.
"""

from __future__ import annotations

import importlib
import io
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, MutableMapping
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
import typer.main
from typer.core import TyperGroup

from ..errors import OptionError, PhantomcodeError
from ..sanitise import markup_text, terminal_text
from ._parsing import flag_worded

if TYPE_CHECKING:
    from typer._click.core import Command, Context  # typer's own copy of click, which its classes use


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


def _import_app() -> typer.Typer:
    """``import`` with its two sources: other QDA tools (qdpx) and results coded elsewhere (parquet)."""
    from . import imports, parquet

    imports.app.command("parquet")(parquet.parquet_command)
    return imports.app


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
    "import": _import_app,
    "report": _attribute("report", "app"),
    "review": _attribute("review", "app"),
    "serve": _attribute("serve", "serve_command"),
}


@cache
def _load(name: str) -> Command:
    """The click command for ``name``, built by typer from its function or sub-app on first use."""
    target = _COMMANDS[name]()
    command: Command
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(cast(Callable[..., Any], target))
        command = typer.main.get_command(single)
    command.name = name
    _name_arguments(command)
    return command


def _name_arguments(command: Command) -> None:
    """Arguments in usage lines as the README writes them, ``NOTES_DIR``, ``[FILE]``, ``CODERS...``,
    where typer prints ``{notes_dir}``, ``[file]``, ``{coders}...``."""
    for param in command.params:
        if param.param_type_name == "argument":
            name = (param.name or "").upper() + ("..." if param.nargs == -1 else "")
            usage = name if param.required else f"[{name}]"
            # click has no setting for this: the method of this one parameter object is replaced
            param.get_usage_pieces = _usage_pieces(usage)  # type: ignore[method-assign,assignment]
    for sub in getattr(command, "commands", {}).values():
        _name_arguments(sub)


def _usage_pieces(usage: str) -> Callable[[Context], list[str]]:
    return lambda ctx: [usage]


class _LazyCommands(MutableMapping[str, "Command"]):
    """The group's command table: every name is known at once, each command is built when asked
    for. click's ``add_command`` may still add one; it then takes that name's place."""

    def __init__(self) -> None:
        self._added: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name in self._added:
            return self._added[name]
        if name not in _COMMANDS:
            raise KeyError(name)
        return _load(name)

    def __setitem__(self, name: str, command: Command) -> None:
        self._added[name] = command

    def __delitem__(self, name: str) -> None:
        del self._added[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*_COMMANDS, *self._added]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*_COMMANDS, *self._added]))


class _PhantomcodeGroup(TyperGroup):
    """Loads sub-commands lazily and catches library errors raised by any of them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands()

    def list_commands(self, ctx: Context) -> list[str]:
        return list(_COMMANDS)

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        ctx.meta["phantomcode.args"] = list(args)  # to name the project in a damaged-file message
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except PhantomcodeError as exc:
            from ._console import err

            err.print(f"[bold red]error:[/] {markup_text(_worded(exc))}", markup=True, highlight=False)
            for problem in getattr(exc, "problems", []):
                err.print(f"  {terminal_text(problem)}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except sqlite3.DatabaseError as exc:  # a read outside the store's transactions met a damaged file
            from ..store import damaged_project_message, resolve_project_path
            from ._console import err

            project = resolve_project_path(_option_value(ctx.meta.get("phantomcode.args", []), "--project", "-p"))
            err.print(f"[bold red]error:[/] {markup_text(damaged_project_message(project, exc))}", highlight=False)
            raise typer.Exit(2) from None


def _worded(exc: PhantomcodeError) -> str:
    """The library's message, with the flag where it names an option (``--where`` for ``where``)."""
    return flag_worded(exc) if isinstance(exc, OptionError) else str(exc)


def _silence_stdout() -> None:
    """The reader of stdout has gone (``phantomcode report | head``): stop quietly with exit 0, as
    ``git log | head`` does. Output still buffered would fail again when Python flushes stdout at
    exit, so stdout now points at the null device."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # stdout is no file (a test runner's buffer): nothing will flush to the closed pipe


def _option_value(args: list[str], *names: str) -> str | None:
    """The value given to option ``names`` in a command line, or None."""
    for index, arg in enumerate(args):
        if arg in names and index + 1 < len(args):
            return args[index + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


app = typer.Typer(
    cls=_PhantomcodeGroup,
    name="phantomcode",
    help="Code qualitative interview notes with a YAML codebook, transparently and reproducibly.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"phantomcode {__version__}")
        raise typer.Exit(0)


@app.callback()
def _phantomcode(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of each note skipped on an unexpected error.")
    ] = False,
) -> None:
    """Options of the group itself (--version, --debug); typer needs a callback to build a group without commands."""
    from ._console import settings

    settings.debug = debug


def main() -> None:
    """Console-script entry point."""
    app()
