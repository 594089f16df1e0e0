"""Every file a command writes goes through here: one format check, one writer, one kind of error.

``choose_format`` turns ``--format`` and ``--out`` into a format, refusing an unknown format or an
output suffix that names none (``report.pdf`` must not silently get a text table).
``write_output`` writes to a temporary file in the target's folder and renames it into place,
so a failed or interrupted write never leaves half a file where the previous one was, and turns
every ``OSError`` (a folder given as the file, a missing folder, no permission, a full disk) into
a ``UsageError`` that names the path: a message and exit 2, never a traceback.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import IO, Any

from .errors import OptionError, UsageError

STDOUT = "-"


def is_stdout(out: str | PathLike[str] | None) -> bool:
    """No output file (None or ``-``): the data goes to stdout."""
    return out is None or str(out) == STDOUT


def choose_format(
    fmt: str | None,
    out: str | PathLike[str] | None,
    *,
    formats: Sequence[str],
    default: str,
    suffixes: Mapping[str, str] | None = None,
) -> str:
    """The format asked for, else the one ``out``'s suffix names, else ``default``.

    ``suffixes`` maps a suffix (``.csv``) to a format (default: ``.FORMAT`` for every format).
    Raises ``UsageError`` listing the formats for an unknown format, and for an output file whose
    suffix names no format this command writes.
    """
    suffixes = suffixes if suffixes is not None else {f".{name}": name for name in formats}
    if fmt is not None:
        if fmt.lower() not in formats:
            raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(formats)}")
        return fmt.lower()
    if is_stdout(out) or not Path(str(out)).suffix:
        return default
    suffix = Path(str(out)).suffix.lower()
    if suffix not in suffixes:
        raise OptionError(
            f"{out}: cannot tell the format from {suffix!r}; give {{option}} ({', '.join(formats)}) "
            f"or an output file ending in {', '.join(sorted(set(suffixes)))}",
            option="format",
        )
    return suffixes[suffix]


def check_output_path(out: str | PathLike[str]) -> Path:
    """``out`` as a path to write, or ``UsageError`` when it is a folder or its folder is missing."""
    path = Path(out)
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name, e.g. {path / ('output' + (path.suffix or '.csv'))}")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{path}: cannot write the output file: the folder {folder} does not exist")
    return path


def write_output(
    out: str | Path | None, write: Callable[[IO[Any]], object], *, binary: bool = False, bom: bool = False
) -> None:
    """Call ``write(handle)`` on ``out`` (stdout when None or ``-``); see ``open_output``."""
    with open_output(out, binary=binary, bom=bom) as handle:
        write(handle)


@contextmanager
def open_output(out: str | Path | None, *, binary: bool = False, bom: bool = False) -> Iterator[IO[Any]]:
    """A handle on ``out`` (stdout when None or ``-``) that replaces ``out`` only once the block
    has written everything. Text is UTF-8 (with a BOM when ``bom``, so Excel reads it as UTF-8)
    and newlines are written as given. Binary output is refused on a terminal.
    """
    if out is None or is_stdout(out):
        if binary and sys.stdout.isatty():
            raise OptionError(
                "this format is a binary file: give {option} FILE (or redirect stdout to a file)", option="out"
            )
        yield sys.stdout.buffer if binary else sys.stdout
        (sys.stdout.buffer if binary else sys.stdout).flush()
        return
    with open_file(out, binary=binary, bom=bom) as handle:
        yield handle


@contextmanager
def open_file(out: str | PathLike[str], *, binary: bool = False, bom: bool = False) -> Iterator[IO[Any]]:
    """A handle on the file ``out`` (never stdout: ``-`` is a file name here) that replaces it only
    once the block has written everything; see ``open_output``."""
    path = check_output_path(out)
    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        options: dict[str, Any] = {} if binary else {"encoding": "utf-8-sig" if bom else "utf-8", "newline": ""}
        with os.fdopen(descriptor, "wb" if binary else "w", **options) as handle:
            yield handle
        _keep_permissions(path, temporary)
        os.replace(temporary, path)
        temporary = None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the output file ({exc.strerror or exc})") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def _keep_permissions(path: Path, temporary: str) -> None:
    """The new file gets the permissions the old one had, else the usual ones (mkstemp makes 0600)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temporary, mode)
