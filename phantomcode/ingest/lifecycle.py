"""The life of an ingest or re-code run, recorded in the project as ``Store.writer()`` holds its lock.

A run is begun (its codebook named), keeps the codebook's bytes once it codes or keeps anything
(so the next re-code can tell what an edit affects), marks the documents whose codings stay
attributed to the new codebook, and ends completed, interrupted (Ctrl-C, SIGTERM) or failed (a
worker died), with its figures. ``recorded_run`` does that for both commands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..codebook import Codebook
from ..codebook_choice import recorded_path
from ..errors import WorkerLost
from ..store import Store
from .records import CodebookIdentity
from .stopping import StopRequested


@dataclass(frozen=True)
class ActiveRun:
    """A run in progress: its record's ID, and its codebook."""

    store: Store
    book: Codebook | CodebookIdentity
    run_id: int

    def keep(self, kept: Sequence[str], *, coding: bool) -> None:
        """Keep the codebook's bytes when the run codes (``coding``) or keeps anything, and attribute
        the ``kept`` documents' codings (which a codebook change cannot touch) to this codebook."""
        if coding or kept:
            keep_codebook(self.store, self.book)
        if kept:
            self.store.mark_coded_with(kept, self.book.content_hash)


@contextmanager
def recorded_run(
    store: Store,
    command: str,
    book: Codebook | CodebookIdentity,
    stop: StopRequested,
    *,
    stats: Callable[[str], dict[str, Any]],
    saved: Callable[[], str],
) -> Iterator[ActiveRun]:
    """Record ``command``'s run around the block, ending it with the status the block ended with.

    ``stats(status)``: the figures to record; ``saved()``: what is saved so far, for the message of
    an ``Interrupted`` (from ``stop``) or ``WorkerLost`` raised when the run is stopped or a worker dies
    (whoever raises a ``WorkerLost`` gives the advice that fits it: fewer local jobs, a Dask
    cluster's memory).
    """
    run_id = store.begin_run(
        command,
        codebook_name=book.name,
        codebook_version=book.version,
        codebook_hash=book.content_hash,
        codebook_path=recorded_path(book.path),
    )
    try:
        yield ActiveRun(store, book, run_id)
    except KeyboardInterrupt:
        store.finish_run(run_id, status="interrupted", stats=stats("interrupted"))
        raise stop.stopped(saved()) from None
    except WorkerLost as exc:
        store.finish_run(run_id, status="failed", stats=stats("failed"))
        raise WorkerLost(f"{exc}. {saved()}; run the same command again to finish") from None
    store.finish_run(run_id, status="completed", stats=stats("completed"))


def keep_codebook(store: Store, book: Codebook | CodebookIdentity) -> None:
    """Keep the codebook's bytes in the project, so the next re-code can compare against them."""
    try:
        data = Path(book.path).read_bytes()
    except OSError:
        return  # the project just will not know what a later change affects: everything is re-coded
    if hashlib.sha256(data).hexdigest() == book.content_hash:
        store.save_codebook_source(book.content_hash, data)
