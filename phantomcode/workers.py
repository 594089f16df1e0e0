"""Worker processes for ingest and re-code: per-note work in the workers, writing in the parent.

A worker does everything a note needs that does not depend on other notes: reading, decoding,
hashing, front matter and sidecar attributes, the identifier (PII) guard, attribute vocabulary,
coding, and turning the result into the store's rows. The parent only plans which files to read,
settles duplicate IDs in path order and writes batches, so with N jobs N cores code while the
parent's share stays small.

Workers are forked after the parent has built the coding engine and set ``_JOB``, so they inherit
the engine, the note list and the sidecars instead of rebuilding or receiving them; a task is
only a range of indices or a page of document IDs. What comes back is plain tuples
(``DocumentRecord``, ``CodedRows``): no spaCy objects or dataclass trees cross the process
boundary. Workers ignore SIGINT and SIGTERM: stopping is the parent's to handle, and it stops
the pool. A worker whose parent is gone (killed outright) exits on its own.
Without ``fork`` (Windows, macOS) the work runs in the calling process, one note after another.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .errors import NoteError, WorkerLost
from .guard import NoteSkip, guarded
from .limits import time_budget
from .notes import NoteFile, Sidecar, document_id, merge_attributes, meta_hash, read_note_file
from .pii import redact, redact_attributes, scan_note
from .store import CodedRows, DocumentRecord, Store, attribute_rows, coded_rows, text_hash

if TYPE_CHECKING:
    from .codebook import Codebook
    from .coding import CodingEngine
    from .coding.combined import LearnedPart
    from .store.codings import RuledDocument

# When a worker dies, the likeliest cause is memory: each job holds an engine and a task's notes.
FEWER_JOBS = "if memory is short, with fewer workers: --jobs 1"
NOTES_PER_TASK = 16
TASKS_AHEAD_PER_JOB = 2

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")


# ---------------------------------------------------------------------------------------------
# Ingest: read, guard and code notes


@dataclass(frozen=True)
class NoteTask:
    """A note file to read, with the metadata the parent already resolved for it."""

    note_file: NoteFile
    sidecar: Sidecar | None
    from_path: dict[str, str]


@dataclass(frozen=True)
class IngestJob:
    """What ingest workers inherit: the engine and every task of the run."""

    engine: CodingEngine
    tasks: Sequence[NoteTask]
    root_key: str
    max_bytes: int
    pii: str
    note_seconds: float = 0.0  # time budget per note (limits.time_budget); 0: none


class ReadNote(NamedTuple):
    """A note read and coded; its warnings are reported by the parent, once it has kept the note."""

    record: DocumentRecord
    coded: CodedRows
    pii_warnings: list[str]
    attribute_warnings: list[str]


# A task's outcome per note: the note, or why it was skipped.
NoteOutcome = ReadNote | NoteSkip


def read_and_code(indices: range) -> list[NoteOutcome]:
    """Read and code ``_JOB.tasks[i]`` for each index, in order (runs in a worker)."""
    return code_tasks(_JOB, indices)


def code_tasks(job: IngestJob, indices: Iterable[int]) -> list[NoteOutcome]:
    """Read and code ``job.tasks[i]`` for each index, in order; a Dask task calls it too.

    Any exception from one note skips that note only (``skip_for``), whether it is raised while
    reading or while coding, and each note is read and coded within ``job.note_seconds``.
    """
    read: list[tuple[DocumentRecord, list[str], list[str]] | NoteSkip] = []
    for index in indices:
        read.append(guarded(partial(_read_task_in_time, job, job.tasks[index]), doing="read"))
    kept = [item for item in read if not isinstance(item, NoteSkip)]
    coded = iter(
        code_each(
            job.engine,
            [(record.text, {name: value for name, value, _ in record.attribute_rows}) for record, _, _ in kept],
            seconds=job.note_seconds,
        )
    )
    model = _model_hash(job.engine)
    outcomes: list[NoteOutcome] = []
    for item in read:
        if isinstance(item, NoteSkip):
            outcomes.append(item)
            continue
        result = next(coded)
        outcomes.append(
            result if isinstance(result, NoteSkip) else ReadNote(item[0], coded_rows(result, model), *item[1:])
        )
    return outcomes


def code_each(engine: CodingEngine, items: list[tuple[str, dict[str, str]]], *, seconds: float = 0.0) -> list[Any]:
    """The engine's result for each (text, attributes), or a ``NoteSkip`` for one it fails on
    (``each_guarded``: spaCy batches, then the learned layer, all notes at once first)."""
    return each_guarded(lambda batch: list(engine.code_documents(batch)), items, seconds, Doing("coding", "coded"))


class Doing(NamedTuple):
    """What a guarded batch does to notes, for its messages: "coding these notes", "coded"."""

    verb: str
    past: str


def each_guarded(
    work: Callable[[list[Chunk]], Sequence[Result]], items: list[Chunk], seconds: float, doing: Doing
) -> list[Result | NoteSkip]:
    """``work(items)``, one result per item, or a ``NoteSkip`` for an item it fails on.

    The whole list goes through ``work`` at once within one note's time budget (``seconds``);
    only when that raises or runs out is each item done on its own, within its own budget, so
    that one bad or runaway note costs itself only.
    """
    try:
        with time_budget(seconds, f"{doing.verb} these notes"):
            return list(work(items))
    except Exception:  # the per-note guard: some note is at fault; do each on its own to find it
        return [guarded(partial(_one_in_time, work, item, seconds, doing), doing=doing.past) for item in items]


def _one_in_time(work: Callable[[list[Chunk]], Sequence[Result]], item: Chunk, seconds: float, doing: Doing) -> Result:
    with time_budget(seconds, f"{doing.verb} this note"):
        return work([item])[0]


def _read_task_in_time(job: IngestJob, task: NoteTask) -> tuple[DocumentRecord, list[str], list[str]]:
    with time_budget(job.note_seconds, "reading this note"):
        return read_task(task, job.engine.codebook, root_key=job.root_key, max_bytes=job.max_bytes, pii=job.pii)


def read_task(
    task: NoteTask, codebook: Codebook, *, root_key: str, max_bytes: int, pii: str
) -> tuple[DocumentRecord, list[str], list[str]]:
    """(record, PII warnings, attribute warnings) for one note; ``NoteError`` when it must be skipped."""
    relpath = task.note_file.relpath
    content = read_note_file(task.note_file, max_bytes=max_bytes)
    candidate_id = content.front_matter.get("id") or document_id(relpath, {})
    side = task.sidecar.lookup(relpath, candidate_id) if task.sidecar else {}
    attributes = merge_attributes(content.front_matter, side, task.from_path)
    text, attributes, pii_warnings = _guard_identifiers(pii, relpath, content.text, attributes, content.first_line)
    canonical, attribute_warnings = _normalize(codebook, attributes)
    record = DocumentRecord(
        doc_id=document_id(relpath, attributes),
        root=root_key,
        source=relpath,
        source_hash=content.source_hash,
        meta_hash=meta_hash(side, task.from_path, pii),
        content_hash=text_hash(text),
        encoding=content.encoding,
        text=text,
        attributes=attributes,
        attribute_rows=attribute_rows(attributes, canonical),
        size=content.size,
        mtime_ns=content.mtime_ns,
    )
    return record, pii_warnings, attribute_warnings


def _guard_identifiers(
    pii: str, relpath: str, text: str, attributes: dict[str, str], first_line: int
) -> tuple[str, dict[str, str], list[str]]:
    """Apply the --pii mode: warn about, refuse, or redact likely direct identifiers."""
    if pii == "off":
        return text, attributes, []
    found = scan_note(relpath, text, attributes, first_line=first_line)
    if not (found.findings or found.attributes):
        return text, attributes, []
    messages = found.describe()
    if pii == "block":
        details = "; ".join(m.split(":", 1)[1] for m in messages)
        raise NoteError(f"likely identifiers ({details}); remove them, or ingest with --pii redact")
    if pii == "redact":
        return (
            redact(text, list(found.findings)),
            redact_attributes(attributes),
            [f"{m} (redacted in the project)" for m in messages],
        )
    return text, attributes, [f"{m} (stored as is; --pii redact replaces it)" for m in messages]


# ---------------------------------------------------------------------------------------------
# Re-code: code stored texts


@dataclass(frozen=True)
class RecodeJob:
    """What re-code workers inherit: the engine and the project to read texts from."""

    engine: CodingEngine
    project: Path
    note_seconds: float = 0.0


class Recoded(NamedTuple):
    """A stored document coded again in full: its rows and its attributes'."""

    doc_id: str
    rows: CodedRows | NoteSkip  # a NoteSkip when coding this document failed: it keeps its old codings
    attribute_rows: list[tuple[str, str, str]]
    attribute_warnings: list[str]


def recode(doc_ids: list[str]) -> list[Recoded]:
    """Read one page of stored documents and code them (runs in a worker); one document the
    engine fails on comes back as a ``NoteSkip`` (the per-note guard)."""
    job: RecodeJob = _JOB
    documents = _reader(job.project).texts_and_attributes(doc_ids)
    normalized = [_normalize(job.engine.codebook, attributes) for _, _, attributes in documents]
    items = [(text, canonical) for (_, text, _), (canonical, _) in zip(documents, normalized, strict=True)]
    coded = code_each(job.engine, items, seconds=job.note_seconds)
    model = _model_hash(job.engine)
    return [
        Recoded(
            doc_id,
            result if isinstance(result, NoteSkip) else coded_rows(result, model),
            attribute_rows(attributes, canonical),
            warnings,
        )
        for (doc_id, _, attributes), (canonical, warnings), result in zip(documents, normalized, coded, strict=True)
    ]


class Rescored(NamedTuple):
    """A stored document re-scored by the learned model: the rows of the model's part."""

    doc_id: str
    rows: CodedRows | NoteSkip  # the model's part; a NoteSkip when scoring failed: it keeps its old codings


def rescore(doc_ids: list[str]) -> list[Rescored]:
    """Read one page of stored documents and score them with the engine's learned model, their
    rule codings as stored (runs in a worker): for documents whose codebook is current and only
    the model changed. One document that fails comes back as a ``NoteSkip`` (the per-note guard)."""
    job: RecodeJob = _JOB
    documents = _reader(job.project).ruled_documents(doc_ids)
    scored = score_each(job.engine, documents, seconds=job.note_seconds)
    model = _model_hash(job.engine)
    return [
        Rescored(
            document.doc_id,
            part if isinstance(part, NoteSkip) else _learned_rows(document, part, job.engine.codebook.unit, model),
        )
        for document, part in zip(documents, scored, strict=True)
    ]


def score_each(
    engine: CodingEngine, documents: list[RuledDocument], *, seconds: float = 0.0
) -> Sequence[LearnedPart | NoteSkip]:
    """The learned layer's part of each document, or a ``NoteSkip`` for one it fails on
    (``each_guarded``, as ``code_each``)."""
    return each_guarded(partial(_learned_parts, engine), documents, seconds, Doing("scoring", "scored"))


def _learned_parts(engine: CodingEngine, documents: list[RuledDocument]) -> list[LearnedPart]:
    """The model's codings and scores of each document (none without a model): the units and
    words the engine would give it, judged against the rule codings it has."""
    from .coding.combined import LearnedPart, learned_parts

    if engine.learned is None:
        return [LearnedPart({}, ()) for _ in documents]
    words = list(engine.unit_words(document.text for document in documents))
    return learned_parts(engine.learned, [document.ruled for document in documents], words, engine.codebook)


def _learned_rows(document: RuledDocument, part: LearnedPart, unit: str, model: str | None) -> CodedRows:
    """The store's rows of a document's learned part: a segment per unit the model coded, with
    the document's sector (a rule segment at the same span keeps its own, see ``save_learned``)."""
    from .coding import CodedDocument, Segment

    segments = tuple(
        Segment(start, end, unit, document.sector, document.sector_source, tuple(codings))
        for (start, end), codings in sorted(part.codings.items())
    )
    return coded_rows(CodedDocument(segments, document.sector, document.sector_source, part.scores), model)


def _model_hash(engine: CodingEngine) -> str | None:
    return engine.learned.content_hash if engine.learned is not None else None


# (codebook hash, attribute, value) -> (canonical value, warnings). The hash keeps values apart
# when one process serves several codebooks (a Dask worker, a notebook calling ``read_note``).
_CANONICAL: dict[tuple[str, str, str], tuple[str, list[str]]] = {}


def _normalize(codebook: Codebook, attributes: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """``codebook.normalize_attributes``, one remembered value at a time.

    Values repeat from note to note (city, year, sector ...), while the codebook rebuilds its
    alias index on every call: about a tenth of a worker's time per note before this cache.
    """
    canonical: dict[str, str] = {}
    warnings: list[str] = []
    for name, value in attributes.items():
        known = _CANONICAL.get((codebook.content_hash, name, value))
        if known is None:
            mapped, found = codebook.normalize_attributes({name: value})
            known = _CANONICAL[(codebook.content_hash, name, value)] = (mapped[name], found)
        canonical[name] = known[0]
        warnings.extend(known[1])
    return canonical, warnings


_READER: tuple[int, Store] | None = None


def _reader(project: Path) -> Store:
    """This process's read-only connection to the project (a connection never crosses a fork)."""
    global _READER
    if _READER is None or _READER[0] != os.getpid():
        _READER = (os.getpid(), Store.open(project, readonly=True))
    return _READER[1]


def _close_reader() -> None:
    global _READER
    if _READER is not None and _READER[0] == os.getpid():
        _READER[1].close()
    _READER = None


# ---------------------------------------------------------------------------------------------
# The pool

_JOB: Any = None  # set by WorkerPool in the parent before forking; workers inherit it


PARENT_CHECK_SECONDS = 0.5
STOP_POLL_SECONDS = 0.2


def _init_worker() -> None:
    """Leave stopping to the parent, and exit when the parent is gone.

    Ctrl-C and SIGTERM reach the parent, which stops between batches and kills its workers. A
    parent killed outright (``kill -9``, the out-of-memory killer) cannot: without the watch its
    workers would wait forever for their next task, holding memory and the command's output pipes.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


class WorkerPool:
    """Runs one of this module's task functions over chunks in ``jobs`` forked workers, in order.

    Only a few tasks per worker are queued ahead, so results never pile up in the parent while it
    writes, and memory stays flat however many notes there are.

    A worker can die mid-run (the kernel's out-of-memory killer, a stray ``kill``).
    ``ProcessPoolExecutor`` notices at once and fails every pending task, which this pool turns
    into ``WorkerLost``; ``multiprocessing.Pool`` would wait forever for the lost task, or
    deadlock on the queue lock the dead worker held. On leaving with an error (Ctrl-C, a lost
    worker) the workers are killed rather than left to finish their tasks.
    """

    def __init__(self, job: IngestJob | RecodeJob, jobs: int) -> None:
        self.job = job
        self.jobs = jobs if "fork" in multiprocessing.get_all_start_methods() else 1
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> WorkerPool:
        global _JOB
        _JOB = self.job
        _CANONICAL.clear()
        if self.jobs > 1:
            # Objects that exist now (the engine above all) leave the collector's care: a worker's
            # collections would otherwise walk, and so copy page by page, the whole inherited heap.
            gc.freeze()
            self._pool = ProcessPoolExecutor(
                self.jobs, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker
            )
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        global _JOB
        if self._pool is not None:
            if exc_type is not None:
                for child in multiprocessing.active_children():  # the pool's workers: no other children
                    child.kill()
            self._pool.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()
        _close_reader()
        _CANONICAL.clear()
        _JOB = None

    @property
    def in_process(self) -> bool:
        """True when tasks run in the calling process (one job, or no ``fork``)."""
        return self._pool is None

    def map(
        self, task: Callable[[Chunk], list[Result]], chunks: Iterable[Chunk], *, stop: Callable[[], None] | None = None
    ) -> Iterator[Result]:
        """``task(chunk)`` for every chunk, results flattened in input order.

        ``stop`` is called while waiting for a worker's results (several times a second); it
        raises to end the wait, at a point where the pool's own state is whole.
        """
        if self._pool is None:
            for chunk in chunks:
                yield from task(chunk)
            return
        try:
            yield from self._map_in_workers(self._pool, task, iter(chunks), stop)
        except BrokenProcessPool:
            # Raised by ``result()`` of a pending task, or by ``submit()`` when the pool broke
            # between two tasks: both mean a worker died.
            raise WorkerLost(
                "a worker process died (killed by the system, most often for lack of memory); its notes were not saved"
                f" ({FEWER_JOBS})"
            ) from None

    def _map_in_workers(
        self,
        pool: ProcessPoolExecutor,
        task: Callable[[Chunk], list[Result]],
        chunks: Iterator[Chunk],
        stop: Callable[[], None] | None,
    ) -> Iterator[Result]:
        """Keep a few tasks per worker queued: the next is submitted before a result is handed on,
        so workers code while the caller writes."""
        pending: deque[Future[list[Result]]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(task, chunk))
            if len(pending) >= self.jobs * TASKS_AHEAD_PER_JOB:
                break
        while pending:
            results = _result(pending.popleft(), stop)
            following = next(chunks, None)
            if following is not None:
                pending.append(pool.submit(task, following))
            yield from results


def _result(future: Future[list[Result]], stop: Callable[[], None] | None) -> list[Result]:
    """The future's result, calling ``stop`` every ``STOP_POLL_SECONDS`` while it is not ready:
    a note that runs for minutes in a worker must not delay a Ctrl-C or SIGTERM."""
    while True:
        try:
            return future.result(timeout=STOP_POLL_SECONDS)
        except TimeoutError:
            if stop is not None:
                stop()


def index_chunks(count: int, size: int = NOTES_PER_TASK) -> Iterator[range]:
    return (range(start, min(start + size, count)) for start in range(0, count, size))


def list_chunks(items: Sequence[str], size: int = NOTES_PER_TASK) -> Iterator[list[str]]:
    return (list(items[start : start + size]) for start in range(0, len(items), size))
