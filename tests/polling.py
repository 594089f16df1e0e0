"""Waiting on a command running in a subprocess: shared by the tests that stop or kill one mid-run."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path


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
