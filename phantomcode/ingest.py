"""Ingest a notes folder into a project and code it; re-code a project after a codebook change.

Both jobs send notes to worker processes (``workers.py``), which read and code them and return
rows, and write those in batches, one transaction per batch, so a run killed at any moment leaves
whole documents only and re-running the same command completes it. Unchanged files (same size and
modification time, or else same bytes; same sidecar metadata; same codebook) cost one ``stat``
each, and then neither the engine nor spaCy is loaded.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import signal
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__
from .codebook import Codebook, load_codebook
from .codebook_choice import choose_codebook, codebook_path_for, recorded_path
from .errors import Interrupted, NoteError, UsageError, WorkerLost
from .limits import LimitExceeded, note_seconds
from .notes import (DEFAULT_MAX_BYTES, FolderScan, NoteFile, Sidecar, check_has_notes, compile_path_template,
                    file_hash, load_sidecars, meta_hash, path_attributes, scan_note_folder, sidecar_for)
from .pii import check_mode
from .store import CodedRows, DocumentRecord, Store, StoredState, remove_empty_project, resolve_project_path
from .workers import (IngestJob, NoteOutcome, NoteSkip, NoteTask, RecodeJob, WorkerPool, index_chunks, list_chunks,
                      read_and_code, recode)

if TYPE_CHECKING:
    from .coding import CodingEngine
    from .coding.learned import LearnedModel
    from .distributed import DaskOptions

Progress = Callable[[int, int], None]
Item = TypeVar("Item")
DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class Skipped:
    """A note file that was not stored this run, and why."""

    source: str
    reason: str
    detail: str = ""  # a traceback, for --debug, when the reason is an unexpected exception


@dataclass
class IngestReport:
    """What an ingest did; ``exit_code`` is 0 when every note was stored, 1 when some were skipped."""

    root: str
    project: str
    codebook: str
    files: int = 0
    added: int = 0
    updated: int = 0
    recoded: int = 0
    unchanged: int = 0
    kept: int = 0  # unchanged notes coded with an earlier codebook whose edit cannot touch them
    changes: list[str] = field(default_factory=list)  # the codebook's rule changes, when notes were kept
    skipped: list[Skipped] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    pruned: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.added + self.updated + self.recoded

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0

    def as_stats(self) -> dict[str, Any]:
        return {"files": self.files, "added": self.added, "updated": self.updated, "recoded": self.recoded,
                "unchanged": self.unchanged, "kept": self.kept, "skipped": len(self.skipped),
                "vanished": len(self.vanished), "pruned": self.pruned}


@dataclass
class CodeReport:
    """What a re-code did."""

    project: str
    codebook: str
    documents: int = 0
    recoded: int = 0
    kept: int = 0  # coded with an earlier codebook whose changes cannot touch them: codings kept
    changes: list[str] = field(default_factory=list)  # the rule changes found, for the message
    warnings: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # documents the engine failed on: codings unchanged

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0


# ---------------------------------------------------------------------------------------------
# Choosing the codebook


@dataclass(frozen=True)
class CodebookIdentity:
    """What ingest and re-code need of their codebook until they code something.

    A codebook whose bytes (``content_hash``) a completed run already used was valid then, so its
    name and version come from that run's record and it is not parsed: parsing the YAML costs a
    quarter of a second, most of re-ingesting an unchanged folder. It is loaded only when notes
    must be coded (``_engine``).
    """

    path: Path
    content_hash: str
    name: str
    version: str


def _identify_codebook(store: Store, codebook: str | Path | Codebook | None) -> Codebook | CodebookIdentity:
    """The caller's ``Codebook`` as is; else the identity of the codebook ``choose_codebook`` would
    load when a completed run used its bytes; else that codebook, loaded and checked now, so that
    its errors stop the command before it records a run."""
    if isinstance(codebook, Codebook):
        return codebook
    path = codebook_path_for(codebook, store)
    try:
        content_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        content_hash = ""
    known = store.known_codebook(content_hash) if content_hash else None
    if known is None:
        return load_codebook(path)  # raises a clear error for a bad or missing file
    return CodebookIdentity(path, content_hash, *known)


# When a worker dies, the likeliest cause is memory: each job holds an engine and a task's notes.
_FEWER_JOBS = "if memory is short, with fewer workers: --jobs 1"

# ---------------------------------------------------------------------------------------------
# Ctrl-C and SIGTERM


class _StopRequested:
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

    def __enter__(self) -> _StopRequested:
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

    def stoppable(self, pool: WorkerPool, task: Callable[[Any], list[Item]], chunks: Iterable[Any]
                  ) -> Iterator[Item]:
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


# ---------------------------------------------------------------------------------------------
# Ingest


def ingest(notes_dir: str | Path, *, project: str | Path | None = None, codebook: str | Path | Codebook | None = None,
           path_attrs: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES, prune: bool = False,
           jobs: int = 1, model: str | None = None, pii: str = "warn", batch_size: int = DEFAULT_BATCH_SIZE,
           progress: Progress | None = None, follow_links: bool = False, learned: bool = True,
           dask: DaskOptions | None = None) -> IngestReport:
    """Read every note under ``notes_dir`` into the project and code it; return what happened.

    ``pii``: what to do with notes holding likely direct identifiers: ``warn`` (store, list them
    masked), ``block`` (skip the note), ``redact`` (store with [PHONE], [ID], [EMAIL], [NAME]
    placeholders; the source file is untouched) or ``off``. Links to files outside ``notes_dir``
    are refused unless ``follow_links``. ``learned``: new and changed notes are also coded by the
    project's latest model (see :mod:`phantomcode.training`); False codes with the rules alone.

    ``dask``: read and code on a Dask cluster (:mod:`phantomcode.distributed`) instead of ``jobs``
    local processes; the project, the report, the per-note guard and its time budget are the same
    (see ``distributed.code_partition``).

    Raises ``UsageError`` for a missing folder or bad template, ``EmptyFolderError`` (before
    anything is written) for a folder without notes, ``ProjectError`` when the store
    cannot be opened or written, ``Interrupted`` on Ctrl-C or SIGTERM (committed batches stay).
    """
    root = Path(notes_dir)
    seconds = _note_seconds()
    scan = scan_note_folder(root, follow_links=follow_links)
    files = scan.files
    check_has_notes(root, files)
    template = compile_path_template(path_attrs) if path_attrs else None
    check_mode(pii)
    new_project = not resolve_project_path(project).exists()
    if new_project:
        codebook = choose_codebook(codebook, None)  # a bad codebook stops the command before it makes a project
    try:
        return _ingest(root, scan, template, project=project, codebook=codebook, max_bytes=max_bytes, prune=prune,
                       jobs=jobs, model=model, pii=pii, batch_size=batch_size, progress=progress, seconds=seconds,
                       learned=learned, dask=dask)
    except BaseException:
        if new_project:
            remove_empty_project(project)  # a first run that stored nothing leaves no project file behind
        raise


def _ingest(root: Path, scan: FolderScan, template: re.Pattern[str] | None, *, project: str | Path | None,
            codebook: str | Path | Codebook | None, max_bytes: int, prune: bool, jobs: int, model: str | None,
            pii: str, batch_size: int, progress: Progress | None, seconds: float, learned: bool,
            dask: DaskOptions | None) -> IngestReport:
    """``ingest`` once its inputs are checked: open the project, plan, code and store the notes."""
    files = scan.files
    with Store.open(project) as store, store.writer():
        book = _identify_codebook(store, codebook)
        report = IngestReport(root=str(root), project=str(store.path), codebook=f"{book.name} {book.version}",
                              files=len(files),
                              skipped=[Skipped(relpath, reason) for relpath, reason in scan.skipped])
        report.warnings.extend(f"{folder or root}/: cannot list this folder (permission denied?); notes stored "
                               "from it are kept, not pruned" for folder in scan.unreadable)
        sidecars, sidecar_warnings = load_sidecars(root)
        report.warnings.extend(sidecar_warnings)
        planner = _Planner(root.resolve(), store.stored_states(), sidecars, template, book, max_bytes, pii, report,
                           lambda grouped: _split_by_change(store, book, grouped))
        run_id = store.begin_run("ingest", codebook_name=book.name, codebook_version=book.version,
                                 codebook_hash=book.content_hash, codebook_path=recorded_path(book.path))
        stop = _StopRequested()
        try:
            with stop:
                plans = planner.plan(files, stop)
                store.refresh_file_stats(planner.refreshed)
                tasks = [plan.task for plan in plans if plan.task is not None]
                if tasks or planner.kept:
                    _keep_codebook(store, book)
                if planner.kept:
                    store.mark_coded_with(planner.kept, book.content_hash)
                    report.kept = len(planner.kept)
                with _outcomes(book, model, jobs, dask, stop, needed=bool(tasks), learned=_learned(store, learned),
                               job=lambda engine: IngestJob(engine, tasks, planner.root_key, max_bytes, pii,
                                                            seconds)) as outcomes:
                    planner.settle(plans, outcomes, _Saver(store, book, run_id, report), batch_size, progress, stop)
        except KeyboardInterrupt:
            store.finish_run(run_id, status="interrupted", stats=report.as_stats())
            raise stop.stopped(f"{report.stored} notes were saved in {store.path}") from None
        except WorkerLost as exc:
            store.finish_run(run_id, status="failed", stats=report.as_stats())
            hint = f" ({_FEWER_JOBS})" if dask is None else ""  # a Dask message gives its own (distributed.py)
            raise WorkerLost(f"{exc}. {report.stored} notes were saved in {store.path}; run the same "
                             f"command again to finish{hint}") from None
        vanished = planner.vanished(scan)
        report.vanished = [state.source for state in vanished]
        if prune and vanished:
            report.pruned = store.remove_documents(state.doc_id for state in vanished)
        report.warnings.extend(sorted(planner.attribute_warnings))
        report.skipped.sort(key=lambda skipped: skipped.source)
        store.finish_run(run_id, status="completed", stats=report.as_stats())
    return report


def _note_seconds() -> float:
    """The time budget per note (``$PHANTOMCODE_NOTE_SECONDS``), checked before any work starts."""
    try:
        return note_seconds()
    except LimitExceeded as exc:
        raise UsageError(str(exc)) from None


def _engine(book: Codebook | CodebookIdentity, model: str | None,
            learned: Callable[[Codebook], LearnedModel | None]) -> CodingEngine:
    """The coding engine, built only when there is something to code (it takes about a second).

    A codebook known by its identity is loaded now (validating its spaCy token patterns imports
    spaCy, most of a second: an unchanged folder never pays for it); so is the learned model.
    """
    from .coding import CodingEngine

    loaded = _loaded(book)
    return CodingEngine(loaded, model=model, learned=learned(loaded))


def _learned(store: Store, wanted: bool) -> Callable[[Codebook], LearnedModel | None]:
    """How to find the learned model for a codebook, once one is needed (None: rules only)."""
    from .training import learned_model_for

    return (lambda book: learned_model_for(store, book)) if wanted else (lambda book: None)


def _loaded(book: Codebook | CodebookIdentity, *, check_patterns: bool = True) -> Codebook:
    """The codebook itself, loaded from its file when only its identity was known; the file must
    still hold the bytes the run identified."""
    if isinstance(book, Codebook):
        return book
    full = load_codebook(book.path, check_patterns=check_patterns)
    if full.content_hash != book.content_hash:
        raise UsageError(f"codebook {book.path} changed on disk during the run; run the command again")
    return full


@contextmanager
def _pool(book: Codebook | CodebookIdentity, model: str | None, jobs: int, *, needed: bool,
          learned: Callable[[Codebook], LearnedModel | None],
          job: Callable[[CodingEngine], IngestJob | RecodeJob]) -> Iterator[WorkerPool | None]:
    """Workers for ``job(engine)`` when there is work; None otherwise, and then no engine is built."""
    if not needed:
        yield None
        return
    with WorkerPool(job(_engine(book, model, learned)), jobs) as pool:
        yield pool


@contextmanager
def _outcomes(book: Codebook | CodebookIdentity, model: str | None, jobs: int, dask: DaskOptions | None,
              stop: _StopRequested, *, needed: bool, learned: Callable[[Codebook], LearnedModel | None],
              job: Callable[[CodingEngine], IngestJob]) -> Iterator[Iterator[NoteOutcome]]:
    """What reading and coding gave for each task of ``job(engine)``, in order: from ``jobs`` local
    workers, or from a Dask cluster (the engine, learned model included, pickled to it). The engine
    is built only when there are tasks (``needed``)."""
    if dask is not None and needed:
        from .distributed import dask_outcomes

        with dask_outcomes(job(_engine(book, model, learned)), options=dask, check_stop=stop.check) as outcomes:
            yield outcomes
        return
    with _pool(book, model, jobs, needed=needed, learned=learned, job=job) as pool:
        yield stop.stoppable(pool, read_and_code, index_chunks(len(pool.job.tasks))) if pool else iter(())


@dataclass
class _Saver:
    """Writes kept notes, one transaction per batch, and counts them once committed."""

    store: Store
    book: Codebook | CodebookIdentity
    run_id: int
    report: IngestReport

    def __call__(self, batch: list[tuple[DocumentRecord, CodedRows, str]]) -> None:
        """Save the batch in one transaction; if one note's values cannot be written (a value SQLite
        refuses), save each on its own so that note alone is skipped (the per-note guard)."""
        try:
            self._save(batch)
        except (ValueError, OverflowError) as exc:
            if len(batch) == 1:
                record = batch[0][0]
                self.report.skipped.append(Skipped(record.source, f"could not be stored ({exc.__class__.__name__}: "
                                                                  f"{str(exc)[:200]})", traceback.format_exc()))
                return
            for item in batch:
                self([item])

    def _save(self, batch: list[tuple[DocumentRecord, CodedRows, str]]) -> None:
        self.store.save_documents([(record, coded) for record, coded, _ in batch],
                                  codebook_hash=self.book.content_hash, run_id=self.run_id)
        for _, _, kind in batch:
            setattr(self.report, kind, getattr(self.report, kind) + 1)


@dataclass(frozen=True)
class _Plan:
    """One file's fate as planned: unchanged (``unchanged`` set) or to read (``task`` set)."""

    note_file: NoteFile
    misfit: bool  # its path does not fit the --path-attrs template
    unchanged: StoredState | None = None
    task: NoteTask | None = None


class _Planner:
    """Decides which files are unchanged and which to read; then settles what the workers read.

    Planning runs before the workers start, so an unchanged folder never builds the engine. An
    unchanged file costs one ``stat``: same size and modification time as when it was stored
    (a file rewritten with the same size within the file system's timestamp resolution looks
    unchanged: the documented limitation). When the stat differs, the bytes are hashed; equal
    bytes only refresh the stored stat. Settling runs in path order, so when two files claim one
    ID the first in path order keeps it whatever the number of workers.
    """

    def __init__(self, root: Path, states: dict[str, StoredState], sidecars: dict[str, Sidecar],
                 template: Any, codebook: Codebook | CodebookIdentity, max_bytes: int, pii: str, report: IngestReport,
                 split: Callable[[dict[str | None, list[str]]], tuple[list[str], list[str], list[str]]]) -> None:
        self.root_key = str(root)
        self.states = states
        self.by_source = {s.source: s for s in states.values() if s.root == self.root_key}
        self.sidecars = sidecars
        self.template = template
        self.codebook = codebook
        self.max_bytes = max_bytes
        self.pii = pii
        self.report = report
        self.claimed: dict[str, str] = {}
        self.attribute_warnings: set[str] = set()
        self.refreshed: list[tuple[str, int, int]] = []  # (doc_id, size, mtime_ns) of files touched, not changed
        self._meta_hashes: dict[tuple, str] = {}
        self.split = split  # _split_by_change for this run's store and codebook
        self.kept: list[str] = []  # IDs of unchanged notes whose codings a codebook change cannot touch

    def plan(self, files: Sequence[NoteFile], stop: _StopRequested) -> list[_Plan]:
        plans: list[_Plan] = []
        stale: dict[str, tuple[int, NoteTask]] = {}
        for note_file in files:
            stop.check()
            sidecar = sidecar_for(note_file.relpath, self.sidecars)
            from_path = path_attributes(note_file.relpath, self.template)
            stored = self.by_source.get(note_file.relpath)
            task = NoteTask(note_file, sidecar, from_path or {})
            if stored is not None and self._is_unchanged(note_file, stored, sidecar, from_path or {}):
                if stored.coded_with != self.codebook.content_hash:
                    stale[stored.doc_id] = (len(plans), task)
                plans.append(_Plan(note_file, from_path is None, unchanged=stored))
            else:
                plans.append(_Plan(note_file, from_path is None, task=task))
        if stale:
            self._recode_what_the_change_affects(plans, stale)
        return plans

    def _recode_what_the_change_affects(self, plans: list[_Plan], stale: dict[str, tuple[int, NoteTask]]) -> None:
        """Unchanged files coded with an earlier codebook: read and code again those the codebook
        change can affect; the others keep their codings (``kept``)."""
        grouped: dict[str | None, list[str]] = {}
        for doc_id in stale:
            grouped.setdefault(self.states[doc_id].coded_with, []).append(doc_id)
        to_code, self.kept, changes = self.split(grouped)
        if self.kept:
            self.report.changes = changes
        for doc_id in to_code:
            index, task = stale[doc_id]
            plans[index] = _Plan(task.note_file, plans[index].misfit, task=task)

    def _is_unchanged(self, note_file: NoteFile, stored: StoredState, sidecar: Sidecar | None,
                      from_path: dict[str, str]) -> bool:
        """Same bytes, same sidecar row and path attributes (whatever codebook coded it)."""
        side = sidecar.lookup(note_file.relpath, stored.doc_id) if sidecar else {}
        if self._meta_hash(side, from_path) != stored.meta_hash:
            return False
        try:
            stat = os.stat(note_file.path)
            if (stat.st_size, stat.st_mtime_ns) == (stored.size, stored.mtime_ns):
                return True
            if stat.st_size > self.max_bytes or file_hash(Path(note_file.path)) != stored.source_hash:
                return False
        except OSError:
            return False  # a worker reads it and reports why it cannot
        self.refreshed.append((stored.doc_id, stat.st_size, stat.st_mtime_ns))
        return True

    def _meta_hash(self, side: dict[str, str], from_path: dict[str, str]) -> str:
        """``meta_hash``, computed once per distinct metadata: most notes share none or little."""
        key = (tuple(sorted(side.items())), tuple(sorted(from_path.items())))
        known = self._meta_hashes.get(key)
        if known is None:
            known = self._meta_hashes[key] = meta_hash(side, from_path, self.pii)
        return known

    def settle(self, plans: Sequence[_Plan], outcomes: Iterator[NoteOutcome], save: _Saver, batch_size: int,
               progress: Progress | None, stop: _StopRequested) -> None:
        """Walk the plans in path order, taking each read note from the workers; save in batches."""
        batch: list[tuple[DocumentRecord, CodedRows, str]] = []
        for done, plan in enumerate(plans, start=1):
            stop.check()
            if plan.misfit:
                self.report.warnings.append(f"{plan.note_file.relpath}: does not fit the --path-attrs template; "
                                            "no attributes taken from its path")
            if plan.unchanged is not None:
                self.claimed[plan.unchanged.doc_id] = plan.note_file.relpath
                self.report.unchanged += 1
            else:
                kept = self._keep(plan.note_file, next(outcomes))
                if kept is not None:
                    batch.append(kept)
                if len(batch) >= batch_size:
                    save(batch)
                    batch = []
            if progress is not None:
                progress(done, len(plans))
        if batch:
            save(batch)

    def _keep(self, note_file: NoteFile, outcome: NoteOutcome) -> tuple[DocumentRecord, CodedRows, str] | None:
        """The note to store and its kind ('added', 'updated', 'recoded'), or None when it is skipped."""
        if isinstance(outcome, NoteSkip):
            self.report.skipped.append(Skipped(note_file.relpath, outcome.reason, outcome.detail))
            return None
        record, coded, pii_warnings, attribute_warnings = outcome
        self.report.warnings.extend(pii_warnings)
        try:
            self._refuse_duplicate(record.doc_id, note_file)
        except NoteError as exc:
            self.report.skipped.append(Skipped(note_file.relpath, str(exc)))
            return None
        self.claimed[record.doc_id] = note_file.relpath
        self.attribute_warnings.update(attribute_warnings)
        previous = self.states.get(record.doc_id)
        kind = "added" if previous is None else (
            "recoded" if (previous.source_hash, previous.meta_hash) == (record.source_hash, record.meta_hash)
            else "updated")
        renamed = self._renamed_from(note_file, record.doc_id)
        if renamed is not None:
            self.report.warnings.append(f"{note_file.relpath}: its id changed from {renamed!r} to {record.doc_id!r}; "
                                        "the document was replaced and its review decisions moved")
            return record._replace(replaces=renamed), coded, "updated"
        return record, coded, kind

    def _renamed_from(self, note_file: NoteFile, doc_id: str) -> str | None:
        """The ID this file's document was stored under when its front matter now gives another one.

        A source file maps to one document: the old one is replaced, not kept beside the new one
        (which would count that respondent twice). Not when another file of this run took the
        old ID meanwhile.
        """
        stored = self.by_source.get(note_file.relpath)
        if stored is None or stored.doc_id == doc_id or stored.doc_id in self.claimed:
            return None
        return stored.doc_id

    def _refuse_duplicate(self, doc_id: str, note_file: NoteFile) -> None:
        """The first file to claim an ID keeps it; a later one is skipped, never merged."""
        if doc_id in self.claimed:
            raise NoteError(f"duplicate id {doc_id!r}: {self.claimed[doc_id]} already has it; "
                            "this file was skipped, give one of them another id")
        stored = self.states.get(doc_id)
        if stored is None or (stored.root, stored.source) == (self.root_key, note_file.relpath):
            return
        if os.path.exists(os.path.join(stored.root, stored.source)):
            raise NoteError(f"duplicate id {doc_id!r}: already stored from {Path(stored.root) / stored.source}; "
                            "this file was skipped, give one of them another id")

    def vanished(self, scan: FolderScan) -> list[StoredState]:
        """Documents stored from this folder whose files are gone, in path order.

        A document whose file lies under a folder the walk could not list, or that was refused
        (a link leaving the folder), has not vanished: its file may well be there.
        """
        present = {f.relpath for f in scan.files} | {relpath for relpath, _ in scan.skipped}
        return sorted((s for s in self.by_source.values() if s.source not in present and scan.covers(s.source)),
                      key=lambda s: s.source)


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


# ---------------------------------------------------------------------------------------------
# Re-coding stored documents


def code_project(*, project: str | Path | None = None, codebook: str | Path | Codebook | None = None,
                 jobs: int = 1, model: str | None = None, force: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None,
                 learned: bool = True) -> CodeReport:
    """Re-code stored documents with the codebook; only those coded with another version unless ``force``.

    With ``learned`` (the default) documents coded with another model than the project's latest
    are re-coded too; without it, the rules alone code (and every document the model had coded).

    Workers read the texts from the store themselves, a page at a time, and send back rows; this
    process only writes them, one transaction per batch.
    """
    seconds = _note_seconds()
    with Store.open(project, must_exist=True) as store, store.writer():
        book = _identify_codebook(store, codebook)
        report = CodeReport(project=str(store.path), codebook=f"{book.name} {book.version}",
                            documents=store.count_documents())
        if force:
            doc_ids, kept = store.doc_ids(), []
        else:
            doc_ids, kept, report.changes = _split_by_change(
                store, book, store.doc_ids_by_codebook(not_coded_with=book.content_hash))
            current = _learned(store, learned)(_loaded(book)) if learned and store.count_documents() else None
            other_model = set(store.doc_ids_by_model(not_coded_with=current.content_hash if current else None))
            if other_model:
                doc_ids = sorted(set(doc_ids) | other_model)
                kept = [doc_id for doc_id in kept if doc_id not in other_model]
        run_id = store.begin_run("code", codebook_name=book.name, codebook_version=book.version,
                                 codebook_hash=book.content_hash, codebook_path=recorded_path(book.path))
        if doc_ids or kept:
            _keep_codebook(store, book)
        if kept:
            store.mark_coded_with(kept, book.content_hash)
            report.kept = len(kept)
        warnings: set[str] = set()
        stop = _StopRequested()
        try:
            with stop, _pool(book, model, jobs, needed=bool(doc_ids), learned=_learned(store, learned),
                             job=lambda engine: RecodeJob(engine, store.path, seconds)) as pool:
                recoded = stop.stoppable(pool, recode, list_chunks(doc_ids)) if pool else iter(())
                done = 0
                for batch in _batched(recoded, batch_size):
                    failed = [item for item in batch if isinstance(item.coded, NoteSkip)]
                    coded = [item for item in batch if not isinstance(item.coded, NoteSkip)]
                    store.save_codings([(item.doc_id, item.attribute_rows, item.coded) for item in coded],
                                       codebook_hash=book.content_hash, run_id=run_id)
                    for item in coded:
                        warnings.update(item.attribute_warnings)
                    report.recoded += len(coded)
                    report.skipped.extend(Skipped(item.doc_id, item.coded.reason, item.coded.detail) for item in failed)
                    done += len(batch)
                    if progress is not None:
                        progress(done, len(doc_ids))
                    stop.check()
        except KeyboardInterrupt:
            store.finish_run(run_id, status="interrupted", stats={"recoded": report.recoded})
            raise stop.stopped(f"{report.recoded} notes were re-coded") from None
        except WorkerLost as exc:
            store.finish_run(run_id, status="failed", stats={"recoded": report.recoded})
            raise WorkerLost(f"{exc}. {report.recoded} notes were re-coded; run the same command again "
                             f"to finish ({_FEWER_JOBS})") from None
        report.warnings = sorted(warnings)
        store.finish_run(run_id, status="completed", stats={"recoded": report.recoded, "kept": report.kept})
    return report


def _split_by_change(store: Store, book: Codebook | CodebookIdentity, grouped: dict[str | None, list[str]]
                     ) -> tuple[list[str], list[str], list[str]]:
    """(IDs to re-code, IDs a codebook change cannot affect, the changes), for stored documents
    coded with other codebooks (``grouped``: IDs by the hash they were coded with).

    The project keeps each codebook it coded with; comparing it with ``book``
    (:func:`phantomcode.changes.codebook_change`) tells which documents can code differently: for
    an edit of a few terms, only those whose text holds one of the edited words. Documents never
    coded, or coded with a codebook the project did not keep or by another phantomcode version,
    are all re-coded.
    """
    from .changes import codebook_change

    to_code: list[str] = []
    unaffected: list[str] = []
    changes: set[str] = set()
    new: Codebook | None = None
    for old_hash, doc_ids in grouped.items():
        kept = store.codebook_source(old_hash) if old_hash else None
        if kept is None or kept[1] != __version__:
            to_code.extend(doc_ids)
            continue
        new = new or _loaded(book, check_patterns=False)
        old = load_codebook(book.path, check_patterns=False, source=kept[0])
        change = codebook_change(old, new)
        changes.update(change.changed if not change.everything else [change.reason])
        for page in list_chunks(doc_ids, 500):
            for doc_id, text, _ in store.texts_and_attributes(page):
                (to_code if change.affects(text) else unaffected).append(doc_id)
    return sorted(to_code), unaffected, sorted(changes)


def _keep_codebook(store: Store, book: Codebook | CodebookIdentity) -> None:
    """Keep the codebook's bytes in the project, so the next re-code can compare against them."""
    try:
        data = Path(book.path).read_bytes()
    except OSError:
        return  # the project just will not know what a later change affects: everything is re-coded
    if hashlib.sha256(data).hexdigest() == book.content_hash:
        store.save_codebook_source(book.content_hash, data)
