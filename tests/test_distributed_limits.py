"""The per-note time budget on the Dask path (``ingest --engine dask``): a note whose regex
backtracks for good is skipped after ``$PHANTOMCODE_NOTE_SECONDS``, as in a local ingest, although
Dask runs tasks in threads where no SIGALRM arrives (``distributed._in_forked_child``).

The run goes in a subprocess of its own session with a timeout: before the fix it hung for good,
and the whole process group (client, nanny, workers) is killed so a regression fails, not hangs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from note_texts import REDOS_BOOK, SCHOOL  # tests/ is on the path
from polling import finish, ingest_process, notes_and_codebook

from phantomcode.distributed import _in_forked_child
from phantomcode.store import Store


@pytest.mark.slow
def test_a_note_over_the_time_budget_on_dask_is_skipped_and_the_run_finishes(tmp_path: Path) -> None:
    ok = {name: SCHOOL for name in ("ok-1.md", "ok-2.md", "ok-3.md")}
    slow = {"slow.md": "a" * 40 + " c\n"}  # hours of backtracking without the budget
    notes, book, project = notes_and_codebook(tmp_path, REDOS_BOOK, slow | ok)
    started = time.monotonic()
    dask = ("--engine", "dask", "--jobs", "1", "--partitions", "2")
    code, stderr = finish(ingest_process(notes, project, book, *dask, env={"PHANTOMCODE_NOTE_SECONDS": "2"}), 180)
    assert code == 1, stderr
    assert "slow.md: coding this note took longer than 2 s" in stderr
    assert time.monotonic() - started < 120
    with Store.open(project, readonly=True) as store:
        assert sorted(store.doc_ids()) == ["ok-1", "ok-2", "ok-3"]
        assert len(list(store.coding_rows(code="school"))) == 3
        assert [run.status for run in store.runs()] == ["completed"]


def _in_a_thread(work):
    """What ``_in_forked_child(work)`` returns or raises, called from a thread other than the main
    one, as a Dask worker calls it."""
    outcome: dict[str, object] = {}

    def call() -> None:
        try:
            outcome["value"] = _in_forked_child(work)
        except Exception as exc:  # noqa: BLE001 (handed to the test to assert on)
            outcome["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    return outcome


def test_the_forked_child_runs_in_its_main_thread_and_sends_back_its_result() -> None:
    def work():
        return threading.current_thread() is threading.main_thread(), os.getpid()

    outcome = _in_a_thread(work)
    assert outcome["value"][0] is True, "the SIGALRM budget needs the main thread"
    assert outcome["value"][1] != os.getpid(), "the work ran in another process"


def test_what_the_child_raises_is_raised_in_the_worker() -> None:
    def work():
        raise ValueError("no such column")

    error = _in_a_thread(work)["error"]
    assert isinstance(error, ValueError) and str(error) == "no such column"


def test_a_child_killed_mid_partition_is_an_error_that_says_so() -> None:
    def work():
        os.kill(os.getpid(), signal.SIGKILL)

    error = _in_a_thread(work)["error"]
    assert isinstance(error, ChildProcessError)
    assert str(error) == "the process coding this partition died (killed by SIGKILL)"


_ORPHAN_SCRIPT = """
import os, sys, threading, time
from phantomcode.distributed import _in_forked_child
from phantomcode.store import Store

def work():
    with open(sys.argv[1], "w") as out:
        out.write(str(os.getpid()))
    time.sleep(120)

threading.Thread(target=_in_forked_child, args=(work,)).start()
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_the_child_dies_with_a_worker_killed_mid_partition(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    worker = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(pid_file)])
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.1)
        child = int(pid_file.read_text())
        assert _alive(child)
    finally:
        worker.kill()
        worker.wait()
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the child coded on after its worker was killed"
        time.sleep(0.1)
