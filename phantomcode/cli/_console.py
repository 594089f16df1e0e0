"""The two rich consoles every command shares: data on stdout, messages and progress on stderr."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

_UNLIMITED = 100_000  # measuring a table's natural width, not the width a console would squeeze it to
PLAIN_WIDTH = 300  # tables never stretch to it; it only stops wrapping when stdout is not a terminal


class DataConsole(Console):
    """A console for data: when the reader of stdout has gone (``| head``), it raises
    ``BrokenPipeError`` for the CLI's handler to end quietly with exit 0, where rich would exit 1."""

    def on_broken_pipe(self) -> None:
        del self._buffer[:]  # what could not be written: dropped, not written to the next reader
        raise BrokenPipeError


def fits(table: Table, console: Console) -> bool:
    """True when ``table`` shows at its natural width, no cell wrapped or cut, in ``console``."""
    natural = Measurement.get(console, console.options.update_width(_UNLIMITED), table)
    return natural.maximum <= console.width


def compact(table: Table, console: Console, *, always: bool = False) -> Table:
    """``table`` as is when it fits ``console``; else with a rule under the header only and two
    spaces between columns (10 to 20 columns less), so what a narrow terminal (80 columns) would
    wrap or cut fits."""
    if always or not fits(table, console):
        table.box = box.SIMPLE_HEAD
        table.padding = (0, 1)
        table.collapse_padding = True
        table.pad_edge = False
        table.show_edge = False
    return table


def plain_console(file: Any, width: int = PLAIN_WIDTH) -> Console:
    """A console writing to a file or pipe: no colour, tables at their natural width up to ``width``."""
    return DataConsole(file=file, width=width, highlight=False, soft_wrap=True, color_system=None)


def table_console() -> Console:
    """stdout; when it is not a terminal, wide enough that tables are not squeezed or wrapped."""
    return out if out.is_terminal else plain_console(out.file)


def show(table: Table) -> None:
    """Print a table of data on stdout: whole at its natural width in a file or pipe, compact in a
    narrow terminal (see ``compact``)."""
    console = table_console()
    console.print(compact(table, console))


out = DataConsole(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Settings:
    """Options of the ``phantomcode`` group itself, for the commands that honour them."""

    debug: bool = False  # show the traceback kept for each note skipped on an unexpected error


settings = Settings()
