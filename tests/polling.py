"""Running phantomcode in a subprocess and waiting on it: shared by the tests that time, stop or
kill a command mid-run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest


def documents_committed(project: Path, process: subprocess.Popen, timeout: float = 120) -> int:
    """Poll until the running command has committed at least one batch of documents; the count
    seen, or 0 when it ended or stalled first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if project.exists():
            try:
                with sqlite3.connect(project, timeout=1) as connection:
                    count = connection.execute("SELECT count(*) FROM documents").fetchone()[0]
                if count:
                    return count
            except sqlite3.OperationalError:
                pass
        time.sleep(0.01)
    return 0


def phantomcode(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m phantomcode ARGS`` in its own process group (``finish`` kills it whole), with
    ``env`` added to this process's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "phantomcode", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def ingest_process(
    notes: Path, project: Path, book: Path, *options: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """``phantomcode ingest NOTES -p PROJECT -c BOOK -q OPTIONS`` (``phantomcode``)."""
    return phantomcode("ingest", str(notes), "-p", str(project), "-c", str(book), "-q", *options, env=env)


def finish(process: subprocess.Popen, seconds: float) -> tuple[int, str]:
    """(exit code, stderr) of ``process``; the test fails, and the process group is killed, when it
    has not ended within ``seconds``: a regression fails instead of hanging the suite."""
    try:
        _, stderr = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"did not finish within {seconds} s")
    return process.returncode, stderr


def notes_and_codebook(tmp_path: Path, book: str, notes: dict[str, str]) -> tuple[Path, Path, Path]:
    """(notes folder, codebook file, project path) under ``tmp_path``, from the codebook's YAML and
    ``{file name: text}``."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in notes.items():
        (folder / name).write_text(text)
    (tmp_path / "book.yaml").write_text(book)
    return folder, tmp_path / "book.yaml", tmp_path / "p.db"
