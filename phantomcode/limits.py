"""Size, depth and shape limits on every input phantomcode reads, in one place.

Each reader that takes bytes from a user (note files, front matter, codebooks, sidecar tables,
review sheets, .docx packages) passes them through one of these checks first, so a crafted or
accidentally huge input is refused with a reason before it can hang a run or exhaust memory.
The checks raise ``LimitExceeded`` (a ``ValueError``); each caller turns it into its own typed
error (``NoteError`` for a note, ``CodebookError`` for a codebook), which names the file.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import stat as stat_module
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Front matter is a handful of 'key: value' lines; a codebook a few thousand lines at most.
MAX_FRONT_MATTER_CHARS = 64_000
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 200_000  # scalars and collections after expanding every alias
MAX_CODEBOOK_CHARS = 20_000_000

# A .docx holding a 20 MB note expands to a few times that in XML; a zip bomb to thousands.
MAX_DOCX_UNCOMPRESSED = 100_000_000
MAX_DOCX_RATIO = 200

# Sidecar metadata and review sheets: one row per note or per coded segment.
MAX_TABLE_ROWS = 1_000_000
MAX_TABLE_COLUMNS = 1_000
MAX_EMPTY_ROWS_IN_A_ROW = 10_000  # a far-away stray cell ends the table rather than filling memory
MAX_CSV_FIELD_CHARS = 20_000_000

# Reading and coding one note takes milliseconds; a minute means a runaway regex or parser.
NOTE_SECONDS_ENV = "PHANTOMCODE_NOTE_SECONDS"
DEFAULT_NOTE_SECONDS = 60.0


class LimitExceeded(ValueError):
    """An input is over one of phantomcode's limits or of a shape it never reads (FIFO, device)."""


class TimeBudgetExceeded(LimitExceeded):
    """Work on one input ran past its time budget (see ``time_budget``)."""


# ---------------------------------------------------------------------------------------------
# Files: regular files only, bytes actually read counted


@dataclass(frozen=True)
class FileBytes:
    """A file's bytes and its stat taken when it was opened."""

    data: bytes
    stat: os.stat_result


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> FileBytes:
    """The bytes of a regular file, at most ``max_bytes`` of them.

    Named pipes, devices and sockets are refused without blocking (``O_NONBLOCK`` on open, then
    ``fstat`` on the descriptor, so a file swapped after a ``stat`` cannot slip through), and the
    limit is enforced on the bytes read, not on ``st_size``: a link to ``/dev/zero`` or a file
    growing while read reports a size that means nothing.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        stat = os.fstat(descriptor)
        if not stat_module.S_ISREG(stat.st_mode):
            raise LimitExceeded(f"not a regular file ({_file_kind(stat.st_mode)}); only files are read")
        if stat.st_size > max_bytes:
            raise LimitExceeded(_too_large(stat.st_size, max_bytes))
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise LimitExceeded(_too_large(len(data), max_bytes))
        return FileBytes(data, stat)
    finally:
        os.close(descriptor)


def _too_large(size: int, max_bytes: int) -> str:
    over = "over" if size > max_bytes else "at"
    return (
        f"{size / 1e6:.1f} MB is {over} the {max_bytes / 1e6:g} MB limit; "
        "raise it with --max-size if this really is one note"
    )


def _file_kind(mode: int) -> str:
    kinds = (
        (stat_module.S_ISFIFO, "a named pipe"),
        (stat_module.S_ISCHR, "a character device"),
        (stat_module.S_ISBLK, "a block device"),
        (stat_module.S_ISSOCK, "a socket"),
        (stat_module.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def leaves_folder(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """True when ``path`` (a link, or under a linked folder) resolves outside ``root``."""
    resolved = Path(os.path.realpath(path))
    return not resolved.is_relative_to(os.path.realpath(root))


# ---------------------------------------------------------------------------------------------
# YAML: depth, alias expansion and size, checked on the event stream before anything is built


def check_yaml_shape(
    text: str,
    *,
    max_chars: int = MAX_FRONT_MATTER_CHARS,
    max_depth: int = MAX_YAML_DEPTH,
    max_nodes: int = MAX_YAML_NODES,
) -> None:
    """Refuse YAML that is too long, nested too deep, or whose aliases expand to too many nodes.

    Runs on parser events only (no node graph, no Python objects, no recursion), so a 5,000-deep
    nesting or a 500-byte "billion laughs" costs microseconds here instead of a RecursionError or
    gigabytes later. Malformed YAML passes through: the loader describes it better.
    """
    if len(text) > max_chars:
        raise LimitExceeded(f"{len(text):,} characters of YAML is over the {max_chars:,} limit")
    import yaml  # here: commands that read no YAML (report, export) do not import it

    # libyaml gives up at 1,000 levels; the Python parser (no recursion in parsing) then counts.
    for loader in (getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.SafeLoader):
        try:
            _check_events(yaml.parse(text, Loader=loader), max_depth, max_nodes)
            return
        except yaml.YAMLError:
            continue
        except RecursionError:
            raise LimitExceeded(f"nested more than {max_depth} levels deep") from None


def _check_events(events: Iterator[Any], max_depth: int, max_nodes: int) -> None:
    import yaml

    depth = 0
    expanded = 0  # nodes the document would hold with every alias expanded
    anchor_sizes: dict[str, int] = {}
    open_anchors: list[tuple[str | None, int]] = []
    for event in events:
        if isinstance(event, yaml.AliasEvent):
            expanded += anchor_sizes.get(event.anchor or "", 1)
        elif isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
            expanded += 1
            if isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    anchor_sizes[event.anchor] = 1
            else:
                depth += 1
                if depth > max_depth:
                    raise LimitExceeded(f"nested more than {max_depth} levels deep")
                open_anchors.append((event.anchor, expanded))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, started = open_anchors.pop()
            if anchor:
                anchor_sizes[anchor] = expanded - started + 1
        if expanded > max_nodes:
            raise LimitExceeded(f"its aliases expand to more than {max_nodes:,} values (an alias bomb?)")


# ---------------------------------------------------------------------------------------------
# .docx: decompressed size checked from the zip directory before parsing


def check_docx_package(data: bytes) -> None:
    """Refuse a .docx whose parts would decompress to more than the limit, or at a bomb's ratio.

    The sizes come from the zip directory; ``zipfile`` checks each part against its declared size
    and CRC as it inflates, so a part cannot grow past what is checked here.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            entries = package.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # not a zip: python-docx says so in its own words
    total = sum(entry.file_size for entry in entries)
    if total > MAX_DOCX_UNCOMPRESSED:
        raise LimitExceeded(
            f"its parts expand to {total / 1e6:,.0f} MB, over the {MAX_DOCX_UNCOMPRESSED / 1e6:g} MB limit for a .docx"
        )
    for entry in entries:
        if entry.file_size > 1_000_000 and entry.file_size > MAX_DOCX_RATIO * max(entry.compress_size, 1):
            raise LimitExceeded(
                f"its part {entry.filename} expands {entry.file_size // max(entry.compress_size, 1):,} "
                "times (a zip bomb?); open it in Word and save it again"
            )


# ---------------------------------------------------------------------------------------------
# Tables: rows and columns capped, streamed


def read_xlsx_values(
    path: str | os.PathLike[str],
    *,
    sheet_name: str | None = None,
    max_rows: int = MAX_TABLE_ROWS,
    max_columns: int = MAX_TABLE_COLUMNS,
) -> list[list[Any]]:
    """A sheet's cell values (``sheet_name``, else the first), streamed in read-only mode, up to its
    last non-empty row.

    The sheet's declared dimensions are ignored (``reset_dimensions``): a 5 KB workbook declaring
    ``A1:XFD1048576`` would otherwise be padded to 17 billion cells. Columns past ``max_columns``
    are not read; a run of ``MAX_EMPTY_ROWS_IN_A_ROW`` empty rows ends the table.
    Raises whatever openpyxl raises for a damaged workbook; ``LimitExceeded`` past ``max_rows``.
    """
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook[sheet_name] if sheet_name in workbook.sheetnames else workbook.worksheets[0]
        sheet.reset_dimensions()
        rows: list[list[Any]] = []
        empty_run = 0
        for values in sheet.iter_rows(max_col=max_columns, values_only=True):
            row = _without_trailing_blanks(list(values))
            empty_run = 0 if row else empty_run + 1
            if empty_run > MAX_EMPTY_ROWS_IN_A_ROW:
                break
            rows.append(row)
            if len(rows) > max_rows:
                raise LimitExceeded(f"more than {max_rows:,} rows")
        return _without_trailing_blanks(rows)
    finally:
        workbook.close()


def _without_trailing_blanks(values: list[Any]) -> list[Any]:
    """``values`` without its trailing empty cells (None, blank text) or empty rows."""
    while values and (
        values[-1] is None or values[-1] == [] or (isinstance(values[-1], str) and not values[-1].strip())
    ):
        values.pop()
    return values


def read_csv_rows(
    text: str, dialect: type[csv.Dialect] | csv.Dialect | str = csv.excel, **options: Any
) -> list[list[str]]:
    """``csv.reader`` rows with fields up to ``MAX_CSV_FIELD_CHARS`` (Python's default is 131,072).

    A malformed table raises ``LimitExceeded`` with csv's reason and the line, never ``csv.Error``.
    """
    reader = csv.reader(io.StringIO(text), dialect, **options)
    with _csv_field_limit(MAX_CSV_FIELD_CHARS):
        try:
            return list(reader)
        except csv.Error as exc:
            raise LimitExceeded(f"line {reader.line_num}: {exc}") from None


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


# ---------------------------------------------------------------------------------------------
# Settings from the environment


def seconds_from_env(name: str, default: float) -> float:
    """A number of seconds from ``$name``, ``default`` when unset; ``LimitExceeded`` when not a number."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise LimitExceeded(f"${name}={raw!r} is not a number of seconds; set it to e.g. 10 or unset it") from None
    if not 0 <= value < 1e7:
        raise LimitExceeded(f"${name}={raw!r} must be between 0 and 10,000,000 seconds")
    return value


def note_seconds() -> float:
    """The time budget for reading or coding one note: ``$PHANTOMCODE_NOTE_SECONDS`` or 60 s (0: none)."""
    return seconds_from_env(NOTE_SECONDS_ENV, DEFAULT_NOTE_SECONDS)


@contextmanager
def time_budget(seconds: float, what: str) -> Iterator[None]:
    """Raise ``TimeBudgetExceeded`` inside the block once it has run ``seconds``.

    A regex that backtracks catastrophically (``(a+)+[bc]`` ran 758 s on one note) cannot be
    stopped from outside, but Python's regex engine checks for signals as it runs: a SIGALRM
    handler that raises ends it. The timer repeats every second past the deadline, so an
    exception that lands where Python discards it (a finaliser) is raised again. Only in the main
    thread of a process with ``setitimer`` (POSIX); elsewhere the block runs unbounded.
    """
    if seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    deadline = time.monotonic() + seconds

    def expire(signum: int, frame: object) -> None:
        if time.monotonic() >= deadline:
            raise TimeBudgetExceeded(
                f"{what} took longer than {seconds:g} s and was stopped (a codebook regex "
                f"with nested repeats such as '(a+)+'? see 'codebook lint'); "
                f"${NOTE_SECONDS_ENV} sets the limit"
            )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
