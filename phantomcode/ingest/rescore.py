"""Re-scoring stored documents when only the learned model changed.

After ``train`` (or with ``--rules-only``, or once a project coded by the rules alone gets a
model), every document coded with another model than the project's latest must be coded again.
When its codebook is the current one and was kept by this phantomcode version, the rules would
give exactly the codings they gave before: the rules' half of a coding never depends on the
model. Such a document is only re-scored: the engine gives its units and their words (tokenizer,
sentences and units, no matching: ``CodingEngine.unit_words``), the new model scores them
against the stored rule codings (which veto it where they name a code, flagged or not), and its
model codings, scores and model hash are replaced (``Store.save_learned``), its rule codings and
segments left as they are. The rows are those a full re-code writes.

A document whose rule codings a review changed beyond what applying decisions again restores (an
accepted negated or hypothetical coding loses its flags) is re-coded in full, as is every
document whose codebook changed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from .. import __version__
from ..guard import NoteSkip
from ..store import CodedRows, Store
from ..workers import Recoded, Rescored, WorkerPool, list_chunks, rescore
from .planning import batched
from .records import CodeReport, Progress, Skipped
from .stopping import StopRequested


class ModelOnlySplit(NamedTuple):
    """Documents coded with another model: those to re-score, those to re-code in full."""

    rescore: list[str]
    recode: list[str]


def split_model_only(store: Store, codebook_hash: str, doc_ids: Collection[str]) -> ModelOnlySplit:
    """Which of ``doc_ids`` (coded with the codebook ``codebook_hash`` and another model) the model
    alone can re-score (see the module doc); each list in order."""
    kept = store.codebook_source(codebook_hash)
    if kept is None or kept.tool_version != __version__:
        return ModelOnlySplit([], sorted(doc_ids))
    accepted_flags = store.doc_ids_with_accepted_flags()
    return ModelOnlySplit(
        sorted(doc_id for doc_id in doc_ids if doc_id not in accepted_flags),
        sorted(doc_id for doc_id in doc_ids if doc_id in accepted_flags),
    )


@dataclass
class Tally:
    """Documents done of all a re-code handles, told to ``progress`` after each batch."""

    total: int
    progress: Progress | None
    done: int = 0

    def advance(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)


@dataclass(frozen=True)
class RecodeRun:
    """Where a re-code or re-score writes: the project, the codebook, the run and its report."""

    store: Store
    codebook_hash: str
    run_id: int
    report: CodeReport


def rescore_stored(
    pool: WorkerPool,
    doc_ids: list[str],
    run: RecodeRun,
    *,
    stop: StopRequested,
    batch_size: int,
    tally: Tally,
) -> None:
    """Re-score ``doc_ids`` in ``pool``'s workers (``write_in_batches``)."""

    def save(done: list[tuple[Rescored, CodedRows]]) -> None:
        run.store.save_learned(
            [(item.doc_id, rows) for item, rows in done], codebook_hash=run.codebook_hash, run_id=run.run_id
        )
        run.report.rescored += len(done)

    write_in_batches(pool, rescore, doc_ids, run, save, stop=stop, batch_size=batch_size, tally=tally)


Done = TypeVar("Done", Recoded, Rescored)


def write_in_batches(
    pool: WorkerPool,
    task: Callable[[list[str]], list[Done]],
    doc_ids: list[str],
    run: RecodeRun,
    save: Callable[[list[tuple[Done, CodedRows]]], None],
    *,
    stop: StopRequested,
    batch_size: int,
    tally: Tally,
) -> None:
    """Run ``task`` over pages of ``doc_ids`` in ``pool``'s workers and ``save`` each batch's
    results with their rows, in one transaction; a document whose rows are a ``NoteSkip`` is
    reported as skipped and keeps its codings."""
    for batch in batched(stop.stoppable(pool, task, list_chunks(doc_ids)), batch_size):
        done = [(item, item.rows) for item in batch if not isinstance(item.rows, NoteSkip)]
        save(done)
        run.report.recoded += len(done)
        run.report.skipped.extend(
            Skipped(item.doc_id, item.rows.reason, item.rows.detail)
            for item in batch
            if isinstance(item.rows, NoteSkip)
        )
        tally.advance(len(batch))
        stop.check()
