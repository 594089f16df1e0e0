"""Faults from outside: kills, Ctrl-C, concurrent writers, huge and many files, unwritable paths.

These run phantomcode as a separate process, as a user would, and check the store afterwards.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test runs phantomcode as a separate process

NOTE = "The school asked for five documents and a lease in her own name. She went back to Henan.\n"


def phantomcode(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "phantomcode", *args],
        text=True,
        **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs},
    )


def finish(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr


def write_notes(folder: Path, count: int, body: str = NOTE * 4) -> None:
    for number in range(count):
        sub = folder / f"city{number % 6}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"n{number:05d}.md").write_text(f"---\ncity: C{number % 6}\n---\n{body}", encoding="utf-8")


def query(project: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(project) as connection:
        return connection.execute(sql).fetchall()


def wait_until(predicate, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if predicate():
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.01)
    pytest.fail("the command ended before the moment this test needs")


def assert_consistent(project: Path, notes: int, codebook_hash_count: int = 1) -> None:
    assert query(project, "PRAGMA integrity_check") == [("ok",)]
    assert query(project, "SELECT count(*), count(DISTINCT source) FROM documents") == [(notes, notes)]
    assert query(
        project, "SELECT count(*) FROM (SELECT 1 FROM codings GROUP BY doc_id, start, end, code HAVING count(*) > 1)"
    ) == [(0,)]
    assert query(project, "SELECT count(DISTINCT coded_with) FROM documents") == [(codebook_hash_count,)]


def test_sigkill_during_code_then_rerun_recodes_everything_once(tmp_path: Path, own_codebook) -> None:
    notes, project = tmp_path / "notes", tmp_path / "p.db"
    write_notes(notes, 800)
    codebook = own_codebook.path
    assert finish(phantomcode("ingest", str(notes), "-p", str(project), "-c", str(codebook), "-q"))[0] == 0
    old_hash = query(project, "SELECT coded_with FROM documents LIMIT 1")[0][0]
    window = "  window: {en: 6, zh: 8}"  # a structural edit: every note must be re-coded
    own_codebook.edit(window, window.replace("6", "7"))
    command = ("code", "-p", str(project), "-c", str(codebook), "-q", "--jobs", "1")
    process = phantomcode(*command)
    wait_until(
        lambda: query(project, f"SELECT count(*) FROM documents WHERE coded_with != '{old_hash}'")[0][0] > 0, process
    )
    process.kill()
    process.wait()
    recoded = query(project, f"SELECT count(*) FROM documents WHERE coded_with != '{old_hash}'")[0][0]
    assert 0 < recoded < 800, "the kill must land mid-run for this test to mean anything"
    code, stderr = finish(phantomcode(*command))
    assert code == 0, stderr
    assert f"re-coded {800 - recoded} of 800" in stderr
    assert_consistent(project, 800)


def worker_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux: /proc lists them)."""
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
        return [int(child) for child in handle.read().split()]


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds workers through /proc (Linux)")
NOTES = 2000


def ingest_under_way(tmp_path: Path, **popen) -> tuple[Path, Path, subprocess.Popen]:
    """(notes, project, process) of an ``ingest --jobs 2`` of NOTES notes that has stored its first
    batch and has its workers running: the moment to stop or kill it."""
    notes, project = tmp_path / "notes", tmp_path / "p.db"
    write_notes(notes, NOTES)
    process = phantomcode("ingest", str(notes), "-p", str(project), "-q", "--jobs", "2", **popen)
    wait_until(lambda: query(project, "SELECT count(*) FROM documents")[0][0] > 0 and worker_pids(process.pid), process)
    return notes, project, process


def assert_a_rerun_finishes_the_stopped_ingest(notes: Path, project: Path) -> None:
    """The stopped run kept whole batches, not every note; running it again stores the rest once."""
    kept = query(project, "SELECT count(*) FROM documents")[0][0]
    assert 0 < kept < NOTES, "the stop must land mid-run for this test to mean anything"
    code, stderr = finish(phantomcode("ingest", str(notes), "-p", str(project), "-q"))
    assert code == 0 and f"{kept} unchanged" in stderr, stderr
    assert_consistent(project, NOTES)


def process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (reaped, or a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_until_gone(pids: list[int], timeout: float = 30) -> list[int]:
    """The processes among ``pids`` still running after ``timeout`` seconds (none, normally)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(map(process_gone, pids)):
        time.sleep(0.05)
    return [pid for pid in pids if not process_gone(pid)]


def assert_stopped_for_a_lost_worker(process: subprocess.Popen) -> None:
    """The command ends (before the fix it waited forever for the lost task) and says what to do."""
    code, stderr = finish(process, timeout=120)
    assert code == 1, stderr
    assert "a worker process died" in stderr and "run the same command again" in stderr
    assert "--jobs 1" in " ".join(stderr.split()), "a local worker's death suggests fewer jobs"
    assert "Traceback" not in stderr


@needs_proc
def test_a_worker_killed_mid_ingest_stops_the_run_clearly_and_a_rerun_finishes(tmp_path: Path) -> None:
    notes, project, process = ingest_under_way(tmp_path)
    os.kill(worker_pids(process.pid)[0], signal.SIGKILL)  # as the out-of-memory killer would
    assert_stopped_for_a_lost_worker(process)
    assert query(project, "SELECT status FROM runs") == [("failed",)]
    assert_a_rerun_finishes_the_stopped_ingest(notes, project)


@needs_proc
def test_a_worker_killed_mid_code_stops_the_run_clearly_and_a_rerun_finishes(tmp_path: Path) -> None:
    notes, project = tmp_path / "notes", tmp_path / "p.db"
    write_notes(notes, NOTES, body=NOTE * 40)  # long enough that the kill lands while workers code
    assert finish(phantomcode("ingest", str(notes), "-p", str(project), "-q"))[0] == 0
    process = phantomcode("code", "-p", str(project), "--force", "-q", "--jobs", "2")
    wait_until(lambda: worker_pids(process.pid), process)
    os.kill(worker_pids(process.pid)[0], signal.SIGKILL)
    assert_stopped_for_a_lost_worker(process)
    assert query(project, "SELECT command, status FROM runs ORDER BY run_id DESC LIMIT 1") == [("code", "failed")]
    assert finish(phantomcode("code", "-p", str(project), "--force", "-q"))[0] == 0
    assert_consistent(project, NOTES)


def test_two_ingests_at_once_one_fails_clearly_nothing_is_corrupted(tmp_path: Path) -> None:
    notes, project = tmp_path / "notes", tmp_path / "p.db"
    write_notes(notes, 600)
    first = phantomcode("ingest", str(notes), "-p", str(project), "-q", "--jobs", "1")
    wait_until(lambda: query(project, "SELECT count(*) FROM runs")[0][0] > 0, first)
    second = phantomcode(
        "ingest", str(notes), "-p", str(project), "-q", env={**os.environ, "PHANTOMCODE_LOCK_TIMEOUT": "0.5"}
    )
    code, stderr = finish(second)
    assert code == 2 and "another phantomcode command is writing this project" in stderr
    assert finish(first)[0] == 0
    assert_consistent(project, 600)


@needs_proc
def test_ctrl_c_stops_promptly_keeps_batches_and_says_how_to_resume(tmp_path: Path) -> None:
    notes, project, process = ingest_under_way(tmp_path, start_new_session=True)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole process group
    code, stderr = finish(process, timeout=30)
    assert code == 130
    assert "run the same command again" in stderr and "Traceback" not in stderr
    assert_a_rerun_finishes_the_stopped_ingest(notes, project)


@needs_proc
def test_sigterm_stops_like_ctrl_c_and_takes_the_workers_with_it(tmp_path: Path) -> None:
    """What a batch scheduler, ``timeout`` or ``docker stop`` sends: before, the command died at
    once, its run stayed 'running' and its workers lived on, idle, holding the output pipes."""
    notes, project, process = ingest_under_way(tmp_path)
    workers = worker_pids(process.pid)
    process.terminate()
    code, stderr = finish(process, timeout=60)
    assert code == 128 + signal.SIGTERM, stderr
    assert "stopped (SIGTERM)" in stderr and "run the same command again" in stderr
    assert "Traceback" not in stderr
    assert wait_until_gone(workers) == []
    assert query(project, "SELECT status FROM runs") == [("interrupted",)]
    assert_a_rerun_finishes_the_stopped_ingest(notes, project)


@needs_proc
def test_workers_do_not_outlive_a_killed_command(tmp_path: Path) -> None:
    """The out-of-memory killer may pick the command itself: its workers must not linger on."""
    notes, project, process = ingest_under_way(tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = worker_pids(process.pid)
    process.kill()
    process.wait()
    lingering = wait_until_gone(workers)
    for pid in lingering:  # do not leave them running after the test either
        os.kill(pid, signal.SIGKILL)
    assert lingering == []
    assert_a_rerun_finishes_the_stopped_ingest(notes, project)


def test_twenty_thousand_tiny_files(tmp_path: Path) -> None:
    notes, project = tmp_path / "notes", tmp_path / "p.db"
    write_notes(notes, 20_000, body="Ok.\n")
    code, stderr = finish(phantomcode("ingest", str(notes), "-p", str(project), "-q"))
    assert code == 0, stderr
    assert "20000 added" in stderr
    assert query(project, "SELECT count(*) FROM documents") == [(20_000,)]


def test_a_50_mb_note_is_skipped_by_the_default_limit(tmp_path: Path) -> None:
    notes, project = tmp_path / "notes", tmp_path / "p.db"
    write_notes(notes, 2)
    with (notes / "huge.txt").open("w", encoding="utf-8") as handle:
        for _ in range(50):
            handle.write(NOTE * 11_500)  # about 1 MB each time
    code, stderr = finish(phantomcode("ingest", str(notes), "-p", str(project), "-q"))
    assert code == 1
    assert "huge.txt: 5" in stderr and "MB is over the 20 MB limit; raise it with --max-size" in stderr
    assert query(project, "SELECT count(*) FROM documents") == [(2,)]


def test_project_on_an_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    write_notes(notes, 1)
    code, stderr = finish(phantomcode("ingest", str(notes), "-p", "/proc/phantomcode.db", "-q"))
    assert code == 2
    assert "cannot write the project" in stderr and "Traceback" not in stderr
