"""Coding on a Dask cluster (``ingest --engine dask``) and Parquet in and out (``import parquet``).

Ingest plans as always (discovery, content hashes, what is unchanged) in this process; the notes
to read are cut into partitions, each a Dask task that reads and codes its notes with the same
functions local workers run (:func:`phantomcode.workers.code_tasks`) and returns two Arrow tables
(:mod:`phantomcode.batch`). This process takes the partitions back in order, writes them as
Parquet when asked (``parquet_out``), and hands their notes to ingest, which stores them in
batches exactly as it stores a local run's. So codings cannot depend on the partitioning or the
number of workers, and the project, its summary and its exit code are those of a local ingest.

Why this is safe: a task has no side effects (it reads notes and returns rows), so Dask may run it
again when a worker dies, and nothing is written twice; the project only changes in this
process, one transaction per batch, so a client killed mid-run leaves whole documents, and the
same command run again codes the rest. A note that cannot be read or coded, whatever the
exception, is reported as skipped; it never fails its task, and its time budget holds in the
worker's threads too (the partition is coded in a process forked for it: ``code_partition``).

The engine travels to the workers as its codebook's bytes and rebuilds itself once per worker
process (:meth:`phantomcode.coding.CodingEngine.__reduce__`). Without a scheduler address, a
``LocalCluster`` of worker processes (one thread each) runs on this machine.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import math
import os
import pickle
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from .batch import check_schema, outcome_tables, outcomes_from_tables
from .codebook_choice import recorded_path
from .errors import PhantomcodeError, UsageError, WorkerLost
from .ingest import DEFAULT_BATCH_SIZE, CodebookIdentity, IngestReport, Progress
from .ingest.planning import Planner, Saver, batched
from .ingest.stopping import StopRequested
from .notes import NoteFile
from .store import Store, StoredState, no_empty_project_left
from .workers import IngestJob, NoteOutcome, NoteSkip, NoteTask, code_tasks

if TYPE_CHECKING:
    from distributed import Client, Future

    from .coding import CodingEngine

NOTES_PER_PARTITION = 2000  # the default partition size: a worker's memory stays well under 400 MiB
NOTES_PER_CHUNK = 200  # notes a worker holds as Python objects at once, before they become Arrow rows
PARTITIONS_PER_WORKER = 2  # at least: a slow partition then leaves the other workers busy
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when the thread that forked it ends
POLL_SECONDS = 0.2  # how often a wait for a partition checks for Ctrl-C
NOTES_DIR, CODINGS_DIR = "notes", "codings"
# A worker that dies mid-task most often ran out of memory: a task's notes and their rows, the engine.
DASK_MEMORY_HINT = (
    "most often for lack of memory: use smaller partitions (more --partitions) or give each "
    "worker more memory (dask worker --memory-limit); the scheduler's and the workers' logs "
    "say why a worker died"
)


@dataclass(frozen=True)
class DaskOptions:
    """How ``ingest`` runs on Dask: the scheduler (None: a LocalCluster of ``workers`` processes on
    this machine), the number of partitions (None: one per 2,000 notes, at least two per worker)
    and the folder to keep the Parquet files in (None: not written)."""

    scheduler: str | None = None
    partitions: int | None = None
    parquet_out: Path | None = None
    workers: int = 1


# ---------------------------------------------------------------------------------------------
# In the workers


def code_partition(
    engine: CodingEngine,
    tasks: Sequence[NoteTask],
    root_key: str,
    max_bytes: int,
    pii: str,
    first_position: int,
    note_seconds: float = 0.0,
) -> tuple[pa.Table, pa.Table]:
    """Read and code one partition's notes; its (notes, codings) tables. Runs in a Dask worker.

    Each note is read and coded within ``note_seconds``, as in a local ingest: the budget is a
    SIGALRM timer (``limits.time_budget``), which only a process's main thread can receive, and a
    Dask worker runs tasks in other threads. So there the partition is coded in a child process
    forked for it (:func:`_in_forked_child`), whose only thread is its main thread; elsewhere
    (no budget, a task in a main thread, no ``fork``) in this thread.
    """

    def work() -> tuple[pa.Table, pa.Table]:
        return _code_partition(engine, tasks, root_key, max_bytes, pii, first_position, note_seconds)

    if note_seconds > 0 and hasattr(os, "fork") and threading.current_thread() is not threading.main_thread():
        return _in_forked_child(work)
    return work()


def _code_partition(
    engine: CodingEngine,
    tasks: Sequence[NoteTask],
    root_key: str,
    max_bytes: int,
    pii: str,
    first_position: int,
    note_seconds: float,
) -> tuple[pa.Table, pa.Table]:
    """Notes are coded ``NOTES_PER_CHUNK`` at a time, each chunk turned into Arrow at once: Python
    objects for a whole partition of 2,000 notes would hold about 150 MiB more at their peak."""
    notes, codings = [], []
    for start in range(0, len(tasks), NOTES_PER_CHUNK):
        chunk = tasks[start : start + NOTES_PER_CHUNK]
        tables = outcome_tables(
            [task.note_file.relpath for task in chunk],
            _code_chunk(IngestJob(engine, chunk, root_key, max_bytes, pii, note_seconds)),
            first_position=first_position + start,
            codebook=engine.codebook,
        )
        notes.append(tables[0])
        codings.append(tables[1])
    return pa.concat_tables(notes), pa.concat_tables(codings)


def _in_forked_child(work: Callable[[], tuple[pa.Table, pa.Table]]) -> tuple[pa.Table, pa.Table]:
    """``work()`` run in a child process forked from this thread, its tables sent back pickled.

    After ``fork`` the child's one thread is its main thread, where the per-note SIGALRM budget
    works; it inherits the engine already built (nothing is loaded again) and ends with
    ``os._exit``, so none of the worker's shutdown code runs twice. What ``work`` raises is raised
    here; a child that dies (the out-of-memory killer) raises ``ChildProcessError``.
    """
    reader, writer = os.pipe()
    # The worker's objects (the engine above all) leave the collector's care in the child: its
    # collections would otherwise walk, and so copy page by page, the whole inherited heap.
    gc.freeze()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        gc.unfreeze()
        raise
    if pid == 0:  # the child: its only way out is os._exit
        status = 1
        try:
            os.close(reader)
            _end_with(parent)
            with os.fdopen(writer, "wb") as out:
                try:
                    result: tuple[str, Any] = ("tables", work())
                except Exception as exc:  # noqa: BLE001 (raised again in the worker, as it would be there)
                    result = ("error", _picklable(exc))
                pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)
    gc.unfreeze()
    os.close(writer)
    with os.fdopen(reader, "rb") as source:
        try:
            kind, value = pickle.load(source)
        except (EOFError, pickle.UnpicklingError):
            kind, value = "died", None
    _, status = os.waitpid(pid, 0)
    if kind == "tables":
        return value
    if kind == "error":
        raise value
    raise ChildProcessError(f"the process coding this partition died ({_how_it_ended(status)})")


def _end_with(parent: int) -> None:
    """In the forked child: die with the worker thread that forked it (Linux's parent-death
    signal), so a worker killed or closed mid-partition leaves no child coding on; and drop the
    worker's garbage-collection callbacks (Dask's measure the worker's memory, a process that
    may be gone)."""
    gc.callbacks.clear()
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the worker died before the signal was asked for
        os._exit(1)


def _picklable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a ``RuntimeError`` with its type and message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 (any exception type may refuse to pickle)
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _how_it_ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _code_chunk(job: IngestJob) -> list[NoteOutcome]:
    """Every note's outcome: ``code_tasks``, whose per-note guard and time budget (issue 12) make a
    note that raises or runs too long a skip, never a failed task; local workers share it."""
    return code_tasks(job, range(len(job.tasks)))


# ---------------------------------------------------------------------------------------------
# In the client


def partition_bounds(count: int, partitions: int) -> list[range]:
    """``count`` notes cut into ``partitions`` contiguous ranges of near-equal size (none empty)."""
    partitions = max(1, min(partitions, count))
    return [range(count * i // partitions, count * (i + 1) // partitions) for i in range(partitions)]


def _partition_count(notes: int, options: DaskOptions, workers: int) -> int:
    if options.partitions is not None:
        return options.partitions
    return max(math.ceil(notes / NOTES_PER_PARTITION), PARTITIONS_PER_WORKER * workers)


@contextmanager
def dask_outcomes(
    job: IngestJob, *, options: DaskOptions, check_stop: Callable[[], None]
) -> Iterator[Iterator[NoteOutcome]]:
    """The outcome of each of ``job``'s tasks, in order, read and coded on the cluster.

    ``check_stop`` is called while waiting and raises to stop (Ctrl-C); leaving the block early
    cancels the partitions still queued or running and closes the cluster this call started.
    """
    with _client(options) as client:
        workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        bounds = partition_bounds(len(job.tasks), _partition_count(len(job.tasks), options, workers))
        run = uuid.uuid4().hex[:12]  # keys unique on a scheduler that other runs share
        engine = _PickledOnce(job.engine)
        futures: list[Future | None] = [
            client.submit(
                code_partition,
                engine,
                list(job.tasks[part.start : part.stop]),
                job.root_key,
                job.max_bytes,
                job.pii,
                part.start,
                job.note_seconds,
                pure=False,
                key=f"phantomcode-{run}-{i}",
            )
            for i, part in enumerate(bounds)
        ]
        try:
            yield _in_order(futures, options.parquet_out, check_stop)
        finally:
            client.cancel([future for future in futures if future is not None], force=True)


class _PickledOnce:
    """An object pickled here once, and sent as those bytes with each task, where unpickling them
    gives the object itself. Pickling an engine with a learned model compresses its weights (half a
    second); each partition would pay it again."""

    def __init__(self, value: object) -> None:
        self.data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def __reduce__(self) -> tuple[Callable[[bytes], Any], tuple[bytes]]:
        return pickle.loads, (self.data,)


@contextmanager
def _client(options: DaskOptions) -> Iterator[Client]:
    """A client of the given scheduler, or of a LocalCluster started (and closed) here."""
    from distributed import Client, LocalCluster

    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout=30)
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {options.scheduler} ({exc}); check the "
                "address the scheduler printed (tcp://HOST:8786)"
            ) from None
        with client:
            yield client
        return
    import dask

    # The workers' statistical profiler samples every thread's stack every 10 ms: CPU nobody reads here.
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        # No dashboard; the scheduler's HTTP server (health checks) on any free port, where the
        # default (8787) warns on stderr when another cluster holds it.
        cluster = LocalCluster(
            n_workers=options.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
            silence_logs=logging.ERROR,
        )
    with cluster, Client(cluster) as client:
        yield client


def _in_order(
    futures: list[Future | None], parquet_out: Path | None, check_stop: Callable[[], None]
) -> Iterator[NoteOutcome]:
    """Each partition's outcomes in turn, its futures released once taken (the cluster then frees
    its tables); written as Parquet first when ``parquet_out`` is set."""
    from distributed import KilledWorker

    for index, future in enumerate(futures):
        assert future is not None
        _wait_for(future, check_stop)
        try:
            notes, codings = future.result()
        except KilledWorker:
            raise WorkerLost(
                f"the Dask task of partition {index} killed its worker each time it ran; its notes "
                f"were not saved ({DASK_MEMORY_HINT})"
            ) from None
        except PhantomcodeError:
            raise
        except ChildProcessError as exc:  # the process forked to code the partition died (_in_forked_child)
            raise WorkerLost(
                f"the Dask task of partition {index} failed on the cluster: {exc} ({DASK_MEMORY_HINT})"
            ) from None
        except Exception as exc:  # noqa: BLE001 (whatever failed on the cluster, said in one message)
            raise WorkerLost(
                f"the Dask task of partition {index} failed on the cluster ({type(exc).__name__}: "
                f"{exc}); every worker needs this phantomcode version (and --model, if any) "
                "installed, and must see the notes folder at the same path"
            ) from None
        futures[index] = None
        if parquet_out is not None:
            write_partition(parquet_out, index, notes, codings)
        for _, outcome in outcomes_from_tables(notes, codings):
            yield outcome
        check_stop()


def _wait_for(future: Future, check_stop: Callable[[], None]) -> None:
    """Until ``future`` is done (or failed), checking for Ctrl-C every ``POLL_SECONDS``."""
    from distributed import wait

    while True:
        check_stop()
        try:
            wait([future], timeout=POLL_SECONDS)
            return
        except TimeoutError:
            continue


# ---------------------------------------------------------------------------------------------
# Parquet files


def write_partition(directory: Path, index: int, notes: pa.Table, codings: pa.Table) -> None:
    """``DIR/notes/part-00000.parquet`` and ``DIR/codings/part-00000.parquet``: one pair per partition,
    a layout Spark, DuckDB and pandas read as two datasets."""
    for sub, table in ((NOTES_DIR, notes), (CODINGS_DIR, codings)):
        folder = Path(directory) / sub
        try:
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / f"part-{index:05d}.parquet")
        except OSError as exc:
            raise UsageError(f"{folder}: cannot write Parquet files ({exc.strerror or exc})") from None


@dataclass(frozen=True)
class ParquetPartition:
    """One pair of Parquet files as :func:`write_partition` wrote them."""

    notes: Path
    codings: Path


def find_partitions(directory: str | Path) -> list[ParquetPartition]:
    """The partitions under ``directory``, in name order; ``UsageError`` when there are none or a
    notes file lacks its codings file."""
    directory = Path(directory)
    notes = sorted((directory / NOTES_DIR).glob("*.parquet"))
    if not notes:
        raise UsageError(
            f"{directory}: no {NOTES_DIR}/*.parquet files; give the folder that ingest --parquet-out wrote"
        )
    partitions = []
    for path in notes:
        codings = directory / CODINGS_DIR / path.name
        if not codings.is_file():
            raise UsageError(f"{path}: its codings file {codings} is missing")
        partitions.append(ParquetPartition(path, codings))
    return partitions


def read_partition(partition: ParquetPartition) -> tuple[pa.Table, pa.Table]:
    """The (notes, codings) tables of a partition, checked to be phantomcode's, of a known version."""
    tables = []
    for kind, path in (("notes", partition.notes), ("codings", partition.codings)):
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise UsageError(f"{path}: cannot read it as Parquet ({exc})") from None
        check_schema(table, kind, str(path))
        tables.append(table)
    return tables[0], tables[1]


def table_codebook(table: pa.Table) -> dict[str, Any]:
    """The codebook a table was coded with, from its metadata: name, version, hash, path, source."""
    metadata = table.schema.metadata or {}
    return {
        key: metadata.get(f"phantomcode.codebook_{key}".encode(), b"").decode()
        for key in ("name", "version", "hash", "path")
    } | {"source": metadata.get(b"phantomcode.codebook", b"")}


# ---------------------------------------------------------------------------------------------
# import parquet


def import_parquet(
    directory: str | Path,
    *,
    project: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the notes and codings Parquet files that ``ingest --parquet-out`` wrote into a project.

    The rows are stored as ingest stores them (one transaction per batch, the first note to claim
    an ID keeps it, unreadable notes reported as skipped) with the codebook the files carry, which
    the project keeps; a later ``ingest`` of the same folder then finds those notes unchanged.
    Raises ``UsageError`` for files that are not phantomcode's or mix codebooks. A first import
    that fails before storing a note leaves no project file behind, as ingest does (issue 11).
    """
    partitions = find_partitions(directory)
    first_notes = read_partition(partitions[0])[0]
    with no_empty_project_left(project), Store.open(project) as store, store.writer():
        book = _carried_codebook(store, first_notes, partitions[0].notes)
        report = IngestReport(root=str(directory), project=str(store.path), codebook=f"{book.name} {book.version}")
        run_id = store.begin_run(
            "import",
            codebook_name=book.name,
            codebook_version=book.version,
            codebook_hash=book.content_hash,
            codebook_path=recorded_path(book.path),
        )
        planners: dict[str, Planner] = {}
        states = store.stored_states()
        claimed: dict[str, str] = {}
        save = Saver(store, book, run_id, report)
        stop = StopRequested()
        try:
            with stop:
                for done, partition in enumerate(partitions, start=1):
                    notes, codings = read_partition(partition)
                    if table_codebook(notes)["hash"] != book.content_hash:
                        raise UsageError(
                            f"{partition.notes}: coded with another codebook than "
                            f"{partitions[0].notes}; import one run's files at a time"
                        )
                    batch = []
                    for source, outcome in outcomes_from_tables(notes, codings):
                        report.files += 1
                        root = outcome.record.root if not isinstance(outcome, NoteSkip) else str(directory)
                        if root not in planners:
                            planners[root] = _planner(root, states, claimed, book, report)
                        kept = planners[root]._keep(NoteFile(str(Path(root) / source), source), outcome)
                        if kept is not None:
                            batch.append(kept)
                    for part in batched(batch, batch_size):
                        save(part)
                        stop.check()
                    if progress is not None:
                        progress(done, len(partitions))
        except KeyboardInterrupt:
            store.finish_run(run_id, status="interrupted", stats=report.as_stats())
            raise stop.stopped(f"{report.stored} notes were saved in {store.path}") from None
        for planner in planners.values():
            report.warnings.extend(sorted(planner.attribute_warnings))
        store.finish_run(run_id, status="completed", stats=report.as_stats())
    return report


def _carried_codebook(store: Store, notes: pa.Table, where: Path) -> CodebookIdentity:
    """The codebook a table carries, kept in the project when its bytes match its hash."""
    carried = table_codebook(notes)
    if not carried["hash"]:
        raise UsageError(f"{where}: the file does not say which codebook coded it")
    if carried["source"] and hashlib.sha256(carried["source"]).hexdigest() == carried["hash"]:
        store.save_codebook_source(carried["hash"], carried["source"])
    return CodebookIdentity(Path(carried["path"]), carried["hash"], carried["name"], carried["version"])


def _planner(
    root: str, states: dict[str, StoredState], claimed: dict[str, str], book: CodebookIdentity, report: IngestReport
) -> Planner:
    """Ingest's settling rules (duplicate IDs, added/updated/re-coded) for notes read under ``root``;
    planners of one import share the IDs claimed so far."""
    planner = Planner(Path(root), states, {}, None, book, 0, "off", report, split=lambda grouped: ([], [], []))
    planner.claimed = claimed
    return planner
