"""The two rich consoles every command shares: data on stdout, messages and progress on stderr."""

from __future__ import annotations

from typing import Any

from rich.console import Console

PLAIN_WIDTH = 300  # tables never stretch to it; it only stops wrapping when stdout is not a terminal


class DataConsole(Console):
    """A console for data: when the reader of stdout has gone (``| head``), it raises
    ``BrokenPipeError`` for the CLI's handler to end quietly with exit 0, where rich would exit 1."""

    def on_broken_pipe(self) -> None:
        del self._buffer[:]  # what could not be written: dropped, not written to the next reader
        raise BrokenPipeError


def plain_console(file: Any, width: int = PLAIN_WIDTH) -> Console:
    """A console writing to a file or pipe: no colour, tables at their natural width up to ``width``."""
    return DataConsole(file=file, width=width, highlight=False, soft_wrap=True, color_system=None)


def table_console() -> Console:
    """stdout; when it is not a terminal, wide enough that tables are not squeezed or wrapped."""
    return out if out.is_terminal else plain_console(out.file)


out = DataConsole(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
