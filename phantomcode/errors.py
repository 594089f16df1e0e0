"""Typed exceptions: the library raises these, the CLI turns them into messages and exit codes.

The library never prints or exits; one handler in ``phantomcode.cli`` maps each class to a message
on stderr and an exit code, so a user never sees a traceback for bad input.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass


class PhantomcodeError(Exception):
    """Base class of every error a user can cause; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(PhantomcodeError):
    """The command cannot run at all: a missing folder, a bad option value."""

    exit_code = 2


class OptionError(UsageError):
    """A value given for one option cannot be used: an unknown format, a filter no document matches.

    The library does not know how a caller spelled the option, so its message names it through the
    placeholder ``{option}``: ``str()`` puts the parameter's name there (for a notebook), and the
    command line its flag (``--where``), so only ``cli/`` speaks of flags.
    """

    def __init__(self, template: str, *, option: str) -> None:
        self.template = template
        self.option = option
        super().__init__(self.worded(option))

    def worded(self, name: str) -> str:
        """The message with ``name`` where the option is meant (``where`` or ``--where``)."""
        return self.template.replace("{option}", name)


class ProjectError(PhantomcodeError):
    """The project store cannot be opened or written (not SQLite, read-only, disk full)."""

    exit_code = 2


class ProjectBusyError(ProjectError):
    """Another phantomcode process is writing the same project."""


class SchemaTooNewError(ProjectError):
    """The project was written by a newer phantomcode whose schema this version does not know."""


class EmptyFolderError(PhantomcodeError):
    """The notes folder holds no note file: nothing was ingested (exit 1, as for skipped input)."""


class NoteError(PhantomcodeError):
    """One note cannot be read; ingest records it as skipped and carries on."""


@dataclass(frozen=True)
class Problem:
    """One finding in a codebook or dictionary file, with a human (1-based) position.

    Codebook lint gives every problem a column and a stable rule ID; a dictionary import knows only
    the line, so ``column`` and ``rule`` are None there and the text leaves them out.
    """

    path: str
    line: int
    column: int | None = None
    rule: str | None = None
    severity: str = "error"  # "error" | "warning"
    message: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" + (f":{self.column}" if self.column is not None else "")
        if self.rule is None:
            return f"{where}: {self.message}"
        return f"{where}: {self.severity} {self.rule} {self.message}"


class CodebookError(PhantomcodeError):
    """The codebook cannot be loaded (missing, unreadable, invalid): the command could not run.
    ``problems`` lists every issue with its position."""

    exit_code = 2

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.problems: list[Problem] = list(problems)


class WorkerLost(PhantomcodeError):
    """A worker process died mid-run (killed by the system, most often for lack of memory).

    Its notes' results are lost with it, so the run stops; committed batches stay, and running
    the command again finishes the work.
    """


class Interrupted(PhantomcodeError):
    """Ctrl-C or SIGTERM stopped the run; what was committed stays, re-running the command continues.

    The exit code is the shell's for that signal (130 for Ctrl-C, 143 for SIGTERM), so a batch
    scheduler or a script can tell a stop it asked for from a failure.
    """

    def __init__(self, message: str, *, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum
