"""The worker layer of ingest and code (phantomcode.workers): chunks, the per-note guard while
coding, and the pool that runs tasks in forked workers, in order, and reports a lost worker."""

from __future__ import annotations

import os
import signal

import pytest

from phantomcode.coding import CodedDocument, CodingEngine
from phantomcode.errors import WorkerLost
from phantomcode.guard import NoteSkip
from phantomcode.workers import WorkerPool, code_each, index_chunks, list_chunks


def square_or_die(chunk: int) -> list[int]:
    """A worker task for the pool tests: chunk -1 kills its worker, as the out-of-memory killer would."""
    if chunk == -1:
        os.kill(os.getpid(), signal.SIGKILL)
    return [chunk * chunk]


def test_chunks_cover_every_index_once_in_order() -> None:
    assert list(index_chunks(5, size=2)) == [range(0, 2), range(2, 4), range(4, 5)]
    assert list(index_chunks(0, size=2)) == []
    assert list(list_chunks(["a", "b", "c"], size=2)) == [["a", "b"], ["c"]]


def test_one_job_runs_tasks_in_the_calling_process() -> None:
    with WorkerPool(None, jobs=1) as pool:
        assert pool.in_process
        assert list(pool.map(square_or_die, range(5))) == [0, 1, 4, 9, 16]


fork_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="the pool runs in-process without fork")


@fork_only
def test_pool_results_come_in_input_order() -> None:
    with WorkerPool(None, jobs=2) as pool:
        assert list(pool.map(square_or_die, range(40))) == [n * n for n in range(40)]


@fork_only
def test_pool_turns_a_worker_dying_in_a_task_into_worker_lost() -> None:
    with pytest.raises(WorkerLost, match="a worker process died"):
        with WorkerPool(None, jobs=2) as pool:
            list(pool.map(square_or_die, [1, 2, -1, 3, 4, 5, 6, 7]))


@fork_only
def test_pool_turns_a_pool_broken_between_tasks_into_worker_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race CI caught: a task's result arrived, then a worker died before the next submit.

    ``submit`` then raises ``BrokenProcessPool`` itself; it reached the user as a traceback.
    """
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    submitted = 0
    real_submit = ProcessPoolExecutor.submit

    def submit_until_broken(self, *args, **kwargs):
        nonlocal submitted
        submitted += 1
        if submitted > 4:  # the first four fill the window of two jobs; the fifth follows a result
            raise BrokenProcessPool("A child process terminated abruptly")
        return real_submit(self, *args, **kwargs)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit_until_broken)
    with pytest.raises(WorkerLost, match="a worker process died"):
        with WorkerPool(None, jobs=2) as pool:
            list(pool.map(square_or_die, range(10)))
    assert submitted == 5  # the pool broke at the submit after the first result, not in a result


def test_code_each_skips_only_the_note_the_engine_fails_on(bundled_engine: CodingEngine, fail_coding_on) -> None:
    engine = bundled_engine
    fail_coding_on("poison", IndexError("boom"))
    items = [("The school asked for the five documents.", {}), ("poison pill", {}), ("No codes here.", {})]
    first, poisoned, last = code_each(engine, items)
    assert isinstance(first, CodedDocument) and first.segments[0].codings[0].code == "paperwork"
    assert isinstance(poisoned, NoteSkip) and "IndexError: boom" in poisoned.reason
    assert isinstance(last, CodedDocument) and last.segments == ()
