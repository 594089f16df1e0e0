"""The per-note guard: one note's failure, whatever its exception, costs that note only.

Ingest and ``pii-scan`` read and code notes one at a time; any exception raised for one of them
becomes a ``NoteSkip`` (a reason for everyone, a traceback for ``--debug``) and the run goes on.
``NoteError`` is a reason already; anything else is a defect or an input nobody foresaw.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from .errors import NoteError
from .limits import LimitExceeded

Result = TypeVar("Result")


class NoteSkip(NamedTuple):
    """Why a note was not stored: ``reason`` for everyone, ``detail`` (a traceback) for --debug."""

    reason: str
    detail: str = ""


def skip_for(exc: Exception, *, doing: str = "read or coded") -> NoteSkip:
    """The verdict on an exception raised for one note."""
    if isinstance(exc, (NoteError, LimitExceeded)):
        return NoteSkip(str(exc))
    detail = "".join(traceback.format_exception(exc))
    return NoteSkip(
        f"could not be {doing} ({exc.__class__.__name__}: {str(exc)[:200]}); run with --debug for details", detail
    )


def guarded(work: Callable[[], Result], *, doing: str = "read or coded") -> Result | NoteSkip:
    """``work()``, or the ``NoteSkip`` for whatever ``Exception`` it raised (Ctrl-C passes through)."""
    try:
        return work()
    except Exception as exc:  # the per-note guard: see the module docstring
        return skip_for(exc, doing=doing)
