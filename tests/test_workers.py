"""The worker layer of ingest and code (phantomcode.workers): chunks, the per-note guard while
coding, and the pool that runs tasks in forked workers, in order, and reports a lost worker."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from phantomcode import load_codebook
from phantomcode.coding import CodedDocument, CodingEngine
from phantomcode.errors import WorkerLost
from phantomcode.guard import NoteSkip
from phantomcode.workers import WorkerPool, code_each, index_chunks, list_chunks

needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="WorkerPool runs in the calling process without fork")


def squares(chunk: range) -> list[tuple[int, int]]:
    """A task for the pool: module level, so forked workers find it by name."""
    return [(number, os.getpid()) for number in chunk]


def die(chunk: range) -> list[int]:
    """A task whose worker is killed as the out-of-memory killer would."""
    if 3 in chunk:
        os.kill(os.getpid(), signal.SIGKILL)
    return list(chunk)


def test_chunks_cover_every_index_once_in_order() -> None:
    assert list(index_chunks(5, size=2)) == [range(0, 2), range(2, 4), range(4, 5)]
    assert list(index_chunks(0, size=2)) == []
    assert list(list_chunks(["a", "b", "c"], size=2)) == [["a", "b"], ["c"]]


def test_one_job_runs_tasks_in_the_calling_process() -> None:
    with WorkerPool(job=None, jobs=1) as pool:  # type: ignore[arg-type]
        assert pool.in_process
        results = list(pool.map(squares, index_chunks(5, size=2)))
    assert results == [(number, os.getpid()) for number in range(5)]


@needs_fork
def test_workers_return_results_in_input_order() -> None:
    with WorkerPool(job=None, jobs=2) as pool:  # type: ignore[arg-type]
        assert not pool.in_process
        results = list(pool.map(squares, index_chunks(40, size=3)))
    assert [number for number, _ in results] == list(range(40))
    assert os.getpid() not in {pid for _, pid in results}


@needs_fork
@pytest.mark.slow
def test_a_killed_worker_stops_the_run_with_worker_lost() -> None:
    with pytest.raises(WorkerLost, match="worker process died"):
        with WorkerPool(job=None, jobs=2) as pool:  # type: ignore[arg-type]
            list(pool.map(die, index_chunks(10, size=1)))
    assert multiprocessing.active_children() == []  # the other worker was not left behind


def test_code_each_skips_only_the_note_the_engine_fails_on(fail_coding_on) -> None:
    engine = CodingEngine(load_codebook())
    fail_coding_on("poison", IndexError("boom"))
    items = [("The school asked for the five documents.", {}), ("poison pill", {}), ("No codes here.", {})]
    first, poisoned, last = code_each(engine, items)
    assert isinstance(first, CodedDocument) and first.segments[0].codings[0].code == "paperwork"
    assert isinstance(poisoned, NoteSkip) and "IndexError: boom" in poisoned.reason
    assert isinstance(last, CodedDocument) and last.segments == ()
