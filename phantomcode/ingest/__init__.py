"""Ingest a notes folder into a project and code it; re-code a project after a codebook change.

Both jobs send notes to worker processes (``workers.py``), which read and code them and return
rows, and write those in batches, one transaction per batch, so a run killed at any moment leaves
whole documents only and re-running the same command completes it. Unchanged files (same size and
modification time, or else same bytes; same sidecar metadata; same codebook) cost one ``stat``
each, and then neither the engine nor spaCy is loaded.

The package: ``planning`` (which files to read, saving in batches), ``lifecycle`` (the run's
record, shared by both jobs), ``stopping`` (Ctrl-C and SIGTERM), ``records`` (what they report),
``rescore`` (re-coding only the model's half when only the model changed).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .. import __version__
from ..codebook import Codebook, load_codebook
from ..codebook_choice import choose_codebook, codebook_path_for
from ..errors import UsageError
from ..limits import LimitExceeded, note_seconds
from ..notes import (
    DEFAULT_MAX_BYTES,
    FolderScan,
    check_has_notes,
    compile_path_template,
    load_sidecars,
    scan_note_folder,
)
from ..pii import check_mode
from ..store import CodedRows, Store, no_empty_project_left, resolve_project_path
from ..workers import (
    IngestJob,
    NoteOutcome,
    Recoded,
    RecodeJob,
    WorkerPool,
    index_chunks,
    list_chunks,
    read_and_code,
    recode,
)
from .lifecycle import recorded_run
from .planning import Planner as _Planner
from .planning import Saver as _Saver
from .records import CodebookIdentity, CodeReport, IngestReport, Progress, Skipped
from .rescore import RecodeRun, Tally, rescore_stored, split_model_only, write_in_batches
from .stopping import StopRequested as _StopRequested

if TYPE_CHECKING:
    from ..coding import CodingEngine
    from ..coding.learned import LearnedModel
    from ..distributed import DaskOptions

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "CodeReport",
    "CodebookIdentity",
    "IngestReport",
    "Progress",
    "Skipped",
    "code_project",
    "ingest",
]

DEFAULT_BATCH_SIZE = 64


# ---------------------------------------------------------------------------------------------
# Choosing the codebook


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


# ---------------------------------------------------------------------------------------------
# Ingest


def ingest(
    notes_dir: str | Path,
    *,
    project: str | Path | None = None,
    codebook: str | Path | Codebook | None = None,
    path_attrs: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    prune: bool = False,
    jobs: int = 1,
    model: str | None = None,
    pii: str = "warn",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    follow_links: bool = False,
    learned: bool = True,
    dask: DaskOptions | None = None,
) -> IngestReport:
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
    with no_empty_project_left(project):  # a first run that stored nothing leaves no project file behind
        return _ingest(
            root,
            scan,
            template,
            project=project,
            codebook=codebook,
            max_bytes=max_bytes,
            prune=prune,
            jobs=jobs,
            model=model,
            pii=pii,
            batch_size=batch_size,
            progress=progress,
            seconds=seconds,
            learned=learned,
            dask=dask,
        )


def _ingest(
    root: Path,
    scan: FolderScan,
    template: re.Pattern[str] | None,
    *,
    project: str | Path | None,
    codebook: str | Path | Codebook | None,
    max_bytes: int,
    prune: bool,
    jobs: int,
    model: str | None,
    pii: str,
    batch_size: int,
    progress: Progress | None,
    seconds: float,
    learned: bool,
    dask: DaskOptions | None,
) -> IngestReport:
    """``ingest`` once its inputs are checked: open the project, plan, code and store the notes."""
    files = scan.files
    with Store.open(project) as store, store.writer():
        book = _identify_codebook(store, codebook)
        report = IngestReport(
            root=str(root),
            project=str(store.path),
            codebook=f"{book.name} {book.version}",
            files=len(files),
            skipped=[Skipped(relpath, reason) for relpath, reason in scan.skipped],
        )
        report.warnings.extend(
            f"{folder or root}/: cannot list this folder (permission denied?); notes stored "
            "from it are kept, not pruned"
            for folder in scan.unreadable
        )
        sidecars, sidecar_warnings = load_sidecars(root)
        report.warnings.extend(sidecar_warnings)
        planner = _Planner(
            root.resolve(),
            store.stored_states(),
            sidecars,
            template,
            book,
            max_bytes,
            pii,
            report,
            lambda grouped: _split_by_change(store, book, grouped),
        )
        stop = _StopRequested()
        with recorded_run(
            store,
            "ingest",
            book,
            stop,
            stats=lambda _: report.as_stats(),
            saved=lambda: f"{report.stored} notes were saved in {store.path}",
        ) as run:
            with stop:
                plans = planner.plan(files, stop)
                store.refresh_file_stats(planner.refreshed)
                tasks = [plan.task for plan in plans if plan.task is not None]
                run.keep(planner.kept, coding=bool(tasks))
                report.kept = len(planner.kept)
                with _outcomes(
                    book,
                    model,
                    jobs,
                    dask,
                    stop,
                    needed=bool(tasks),
                    learned=_learned(store, learned),
                    job=lambda engine: IngestJob(engine, tasks, planner.root_key, max_bytes, pii, seconds),
                ) as outcomes:
                    planner.settle(plans, outcomes, _Saver(store, book, run.run_id, report), batch_size, progress, stop)
            vanished = planner.vanished(scan)
            report.vanished = [state.source for state in vanished]
            if prune and vanished:
                report.pruned = store.remove_documents(state.doc_id for state in vanished)
            report.warnings.extend(sorted(planner.attribute_warnings))
            report.skipped.sort(key=lambda skipped: skipped.source)
    return report


def _note_seconds() -> float:
    """The time budget per note (``$PHANTOMCODE_NOTE_SECONDS``), checked before any work starts."""
    try:
        return note_seconds()
    except LimitExceeded as exc:
        raise UsageError(str(exc)) from None


def _engine(
    book: Codebook | CodebookIdentity, model: str | None, learned: Callable[[Codebook], LearnedModel | None]
) -> CodingEngine:
    """The coding engine, built only when there is something to code (it takes about a second).

    A codebook known by its identity is loaded now (validating its spaCy token patterns imports
    spaCy, most of a second: an unchanged folder never pays for it); so is the learned model.
    """
    from ..coding import CodingEngine

    loaded = _loaded(book)
    return CodingEngine(loaded, model=model, learned=learned(loaded))


def _learned(store: Store, wanted: bool) -> Callable[[Codebook], LearnedModel | None]:
    """How to find the learned model for a codebook, once one is needed (None: rules only)."""
    from ..training import learned_model_for

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
def _pool(
    book: Codebook | CodebookIdentity,
    model: str | None,
    jobs: int,
    *,
    needed: bool,
    learned: Callable[[Codebook], LearnedModel | None],
    job: Callable[[CodingEngine], IngestJob | RecodeJob],
) -> Iterator[WorkerPool | None]:
    """Workers for ``job(engine)`` when there is work; None otherwise, and then no engine is built."""
    if not needed:
        yield None
        return
    with WorkerPool(job(_engine(book, model, learned)), jobs) as pool:
        yield pool


@contextmanager
def _outcomes(
    book: Codebook | CodebookIdentity,
    model: str | None,
    jobs: int,
    dask: DaskOptions | None,
    stop: _StopRequested,
    *,
    needed: bool,
    learned: Callable[[Codebook], LearnedModel | None],
    job: Callable[[CodingEngine], IngestJob],
) -> Iterator[Iterator[NoteOutcome]]:
    """What reading and coding gave for each task of ``job(engine)``, in order: from ``jobs`` local
    workers, or from a Dask cluster (the engine, learned model included, pickled to it). The engine
    is built only when there are tasks (``needed``)."""
    if dask is not None and needed:
        from ..distributed import dask_outcomes

        with dask_outcomes(job(_engine(book, model, learned)), options=dask, check_stop=stop.check) as outcomes:
            yield outcomes
        return
    with _pool(book, model, jobs, needed=needed, learned=learned, job=job) as pool:
        if pool is None:
            yield iter(())
            return
        assert isinstance(pool.job, IngestJob)  # built by ``job`` above; tells the type checker
        yield stop.stoppable(pool, read_and_code, index_chunks(len(pool.job.tasks)))


# ---------------------------------------------------------------------------------------------
# Re-coding stored documents


def code_project(
    *,
    project: str | Path | None = None,
    codebook: str | Path | Codebook | None = None,
    jobs: int = 1,
    model: str | None = None,
    force: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    learned: bool = True,
) -> CodeReport:
    """Re-code stored documents with the codebook; only those coded with another version unless ``force``.

    With ``learned`` (the default) documents coded with another model than the project's latest
    are re-coded too; without it, the rules alone code (and every document the model had coded).
    A document whose codebook is current and only its model differs is re-scored by the model
    alone, its rule codings kept (:mod:`.rescore`); the report counts those in ``rescored``.

    Workers read the texts from the store themselves, a page at a time, and send back rows; this
    process only writes them, one transaction per batch.
    """
    seconds = _note_seconds()
    with Store.open(project, must_exist=True) as store, store.writer():
        book = _identify_codebook(store, codebook)
        report = CodeReport(
            project=str(store.path), codebook=f"{book.name} {book.version}", documents=store.count_documents()
        )
        plan = _plan_code(store, book, force=force, learned=learned)
        report.changes = plan.changes
        stop = _StopRequested()
        with recorded_run(
            store, "code", book, stop, stats=report.as_stats, saved=lambda: f"{report.recoded} notes were re-coded"
        ) as run:
            run.keep(plan.kept, coding=bool(plan.recode or plan.rescore))
            report.kept = len(plan.kept)
            tally = Tally(len(plan.recode) + len(plan.rescore), progress)
            with (
                stop,
                _pool(
                    book,
                    model,
                    jobs,
                    needed=bool(plan.recode or plan.rescore),
                    learned=_learned(store, learned),
                    job=lambda engine: RecodeJob(engine, store.path, seconds),
                ) as pool,
            ):
                if pool is not None:
                    recode_run = RecodeRun(store, book.content_hash, run.run_id, report)
                    rescore_stored(pool, plan.rescore, recode_run, stop=stop, batch_size=batch_size, tally=tally)
                    _recode_stored(pool, plan.recode, recode_run, stop=stop, batch_size=batch_size, tally=tally)
    return report


class _CodePlan(NamedTuple):
    """What a re-code does: documents to re-code in full, to re-score by the model alone, to keep
    as they are (a codebook change cannot touch them), and the codebook's changes."""

    recode: list[str]
    rescore: list[str]
    kept: list[str]
    changes: list[str]


def _plan_code(store: Store, book: Codebook | CodebookIdentity, *, force: bool, learned: bool) -> _CodePlan:
    """Which documents a re-code handles, and how (see ``_CodePlan``)."""
    if force:
        return _CodePlan(store.doc_ids(), [], [], [])
    doc_ids, kept, changes = _split_by_change(store, book, store.doc_ids_by_codebook(not_coded_with=book.content_hash))
    current = _learned(store, learned)(_loaded(book)) if learned and store.count_documents() else None
    other_model = set(store.doc_ids_by_model(not_coded_with=current.content_hash if current else None))
    if not other_model:
        return _CodePlan(doc_ids, [], kept, changes)
    codebook_changed = set(doc_ids) | set(kept)  # every document coded with another codebook
    split = split_model_only(store, book.content_hash, other_model - codebook_changed)
    return _CodePlan(
        sorted({*doc_ids, *(other_model & codebook_changed), *split.recode}),
        split.rescore,
        [doc_id for doc_id in kept if doc_id not in other_model],
        changes,
    )


def _recode_stored(
    pool: WorkerPool, doc_ids: list[str], run: RecodeRun, *, stop: _StopRequested, batch_size: int, tally: Tally
) -> None:
    """Re-code ``doc_ids`` in full in ``pool``'s workers (``write_in_batches``), with the warnings
    their attributes gave."""
    warnings: set[str] = set()

    def save(done: list[tuple[Recoded, CodedRows]]) -> None:
        run.store.save_codings(
            [(item.doc_id, item.attribute_rows, rows) for item, rows in done],
            codebook_hash=run.codebook_hash,
            run_id=run.run_id,
        )
        for item, _ in done:
            warnings.update(item.attribute_warnings)

    write_in_batches(pool, recode, doc_ids, run, save, stop=stop, batch_size=batch_size, tally=tally)
    run.report.warnings = sorted(warnings)


def _split_by_change(
    store: Store, book: Codebook | CodebookIdentity, grouped: dict[str | None, list[str]]
) -> tuple[list[str], list[str], list[str]]:
    """(IDs to re-code, IDs a codebook change cannot affect, the changes), for stored documents
    coded with other codebooks (``grouped``: IDs by the hash they were coded with).

    The project keeps each codebook it coded with; comparing it with ``book``
    (:func:`phantomcode.changes.codebook_change`) tells which documents can code differently: for
    an edit of a few terms, only those whose text holds one of the edited words. Documents never
    coded, or coded with a codebook the project did not keep or by another phantomcode version,
    are all re-coded.
    """
    from ..changes import codebook_change

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
