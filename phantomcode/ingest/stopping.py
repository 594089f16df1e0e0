"""Ctrl-C and SIGTERM during ingest and re-code: a request to stop, honoured between files and batches."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ..errors import Interrupted
from ..workers import WorkerPool

Item = TypeVar("Item")


class StopRequested:
    """Turns the first Ctrl-C or SIGTERM into a request honoured between files and batches.

    A KeyboardInterrupt raised at an arbitrary instruction can land inside a finaliser, where
    Python prints and swallows it, and the run would go on. So the first signal only sets a flag
    that the loops check (a batch takes well under a second); a second one interrupts at once, and
    the first stops within a second while a note is being read, coded or awaited (``stoppable``),
    since one runaway note could otherwise hold the run for minutes.
    SIGTERM is what batch schedulers, ``timeout`` and ``docker stop`` send, and without a handler
    it would end the process on the spot, its run left 'running'. Outside the main thread (no
    signal handlers there) Python's usual behaviour is kept.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        self._interruptible = False  # True while the next note is read, coded or awaited

    def __enter__(self) -> StopRequested:
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._request) for signum in self.SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _request(self, signum: int, frame: Any) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if not first or self._interruptible:
            raise KeyboardInterrupt

    def stoppable(self, pool: WorkerPool, task: Callable[[Any], list[Item]], chunks: Iterable[Any]) -> Iterator[Item]:
        """``pool.map(task, chunks)``, stopped within a second of a signal even in the middle of one
        long note (a runaway note can take minutes): workers are awaited with ``check`` polled;
        work in this process runs ``interruptibly``. Writing a batch stays uninterrupted."""
        results = pool.map(task, chunks, stop=self.check)
        return self.interruptibly(results) if pool.in_process else results

    def interruptibly(self, items: Iterator[Item]) -> Iterator[Item]:
        """``items`` one by one; a signal that arrives while the next one is being made (a note
        read and coded in this process) stops the run at once rather than after it."""
        while True:
            self._interruptible = True
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                self._interruptible = False
            yield item

    def check(self) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt

    def stopped(self, saved: str) -> Interrupted:
        """The error that ends a stopped run: which signal, what was saved, how to finish."""
        signum = self.signum or signal.SIGINT
        how = "interrupted" if signum == signal.SIGINT else f"stopped ({signal.Signals(signum).name})"
        return Interrupted(f"{how}: {saved}; run the same command again to finish", signum=signum)
