"""``ingest --engine dask`` on LocalClusters of 2 worker processes (1 thread each): the same project
as a local ingest, row by row, whatever the partitions and workers; a worker killed mid-run; a
client killed mid-run and run again; the Parquet round trip through ``import parquet``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench_scripts import bench_module
from polling import documents_committed  # tests/ is on the path, as for qdpx_fixtures

from phantomcode import distributed
from phantomcode.cli import app
from phantomcode.distributed import DaskOptions
from phantomcode.errors import Interrupted, WorkerLost
from phantomcode.ingest import ingest
from phantomcode.store import Store

pytestmark = pytest.mark.slow

NOTES = 120


def _synth():
    return bench_module("synth")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Synthetic notes (bench/synth.py, fixed seed) plus a broken .docx and a duplicate ID."""
    root = tmp_path_factory.mktemp("corpus") / "notes"
    _synth().write_corpus(root, NOTES)
    (root / "beijing" / "broken.docx").write_bytes(b"not a zip file")
    first = sorted(root.rglob("*.md"))[0]
    (root / "zz-copy.md").write_bytes(first.read_bytes())  # same front-matter id: skipped as a duplicate
    return root


@pytest.fixture(scope="module")
def local_project(corpus, tmp_path_factory) -> tuple[Path, dict]:
    project = tmp_path_factory.mktemp("local") / "local.db"
    report = ingest(corpus, project=project, jobs=1)
    return project, _summary(report)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local,
        Client(local) as client,
    ):
        yield client


def _summary(report) -> dict:
    return {**report.as_stats(), "skipped": sorted((s.source, s.reason) for s in report.skipped)}


def project_rows(project: Path) -> dict[str, list[tuple]]:
    """Everything a coding run writes, in a fixed order, without run IDs and times."""
    queries = {
        "documents": "SELECT doc_id, root, source, source_hash, meta_hash, content_hash, encoding, text, attributes,"
        " coded_with, sector, sector_source, size, mtime_ns, model_hash FROM documents ORDER BY doc_id",
        "attributes": "SELECT doc_id, name, value, raw FROM doc_attributes ORDER BY doc_id, name",
        "segments": "SELECT doc_id, start, end, unit, sector, sector_source FROM segments ORDER BY doc_id, start",
        "codings": "SELECT c.doc_id, s.start, c.code, c.rule, c.start, c.end, c.matched, c.negated, c.hypothetical,"
        " c.cue, c.status, c.codebook_hash, c.source, c.probability, c.model_hash, c.explanation"
        " FROM codings c JOIN segments s USING (segment_id) ORDER BY c.doc_id, s.start, c.code, c.rule",
        "scores": "SELECT doc_id, start, end, probabilities, model_hash FROM scores ORDER BY doc_id, start",
    }
    with sqlite3.connect(project) as db:
        return {name: db.execute(query).fetchall() for name, query in queries.items()}


def _assert_same_project(project: Path, local: Path) -> None:
    ours, theirs = project_rows(project), project_rows(local)
    assert theirs["codings"], "the corpus must be coded for the comparison to mean anything"
    assert {row[12] for row in theirs["codings"]} == {"rules", "learned"}, "the learned layer codes too"
    for table in theirs:
        assert ours[table] == theirs[table], f"{table} differ from a local ingest"


@pytest.mark.parametrize("partitions", [1, 4, 13])
def test_codings_equal_a_local_ingest_row_by_row_whatever_the_partitions(
    corpus, local_project, cluster, tmp_path, partitions
) -> None:
    project = tmp_path / "dask.db"
    report = ingest(
        corpus, project=project, dask=DaskOptions(scheduler=cluster.scheduler.address, partitions=partitions)
    )
    _assert_same_project(project, local_project[0])
    assert _summary(report) == local_project[1]
    assert report.exit_code == 1 and any(s.source == "beijing/broken.docx" for s in report.skipped)


def test_a_local_cluster_of_one_worker_started_by_ingest_gives_the_same_project(
    corpus, local_project, tmp_path
) -> None:
    project = tmp_path / "dask.db"
    report = ingest(corpus, project=project, dask=DaskOptions(workers=1))
    _assert_same_project(project, local_project[0])
    assert _summary(report) == local_project[1]
    again = ingest(corpus, project=project, dask=DaskOptions(workers=1))
    assert (again.unchanged, again.added, len(again.skipped)) == (NOTES, 0, 2), "incremental, as a local run"


_KILL_SENTINEL, _WORKER_PID = "PHANTOMCODE_TEST_KILL_ONCE", "PHANTOMCODE_TEST_WORKER_PID"


def _kill_this_worker_once(job):
    """Stands in for ``distributed._code_chunk`` in the workers: the first partition to run kills its
    worker process outright (as the out-of-memory killer would), later ones code as usual. It runs
    in the process forked to code the partition: the worker is the one recorded at install."""
    sentinel = os.environ.get(_KILL_SENTINEL)
    try:
        os.remove(sentinel)
    except (OSError, TypeError):
        return _REAL_CODE_CHUNK(job)
    os.kill(int(os.environ[_WORKER_PID]), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


_REAL_CODE_CHUNK = distributed._code_chunk


def _install_killer(sentinel: str) -> int:
    os.environ[_KILL_SENTINEL] = sentinel
    os.environ[_WORKER_PID] = str(os.getpid())
    distributed._code_chunk = _kill_this_worker_once
    return os.getpid()


def test_a_worker_killed_mid_run_is_replaced_and_nothing_is_lost_or_duplicated(
    corpus, local_project, cluster, tmp_path
) -> None:
    sentinel = tmp_path / "kill-once"
    sentinel.touch()
    before = set(cluster.run(_install_killer, str(sentinel)).values())
    project = tmp_path / "dask.db"
    report = ingest(corpus, project=project, dask=DaskOptions(scheduler=cluster.scheduler.address, partitions=6))
    assert not sentinel.exists(), "a worker must have been killed for this test to mean anything"
    after = set(cluster.run(os.getpid).values())
    assert before - after, "the killed worker was replaced by a new process"
    _assert_same_project(project, local_project[0])
    assert _summary(report) == local_project[1]
    with Store.open(project, readonly=True) as store:
        keys = [(c["doc_id"], c["start"], c["code"]) for c in store.coding_rows()]
    assert len(keys) == len(set(keys)), "no coding is stored twice"


def _fail_every_partition(job):
    raise RuntimeError("this worker cannot code")


def _break_partitions() -> None:
    distributed._code_chunk = _fail_every_partition


def _restore_partitions() -> None:
    # Not a function passed from the test process: it would be pickled by name, as
    # ``phantomcode.distributed._code_chunk``, and resolve in the worker to the broken one.
    distributed._code_chunk = _REAL_CODE_CHUNK


def test_a_partition_failing_on_the_cluster_stops_the_run_with_a_message(corpus, cluster, tmp_path) -> None:
    cluster.run(_break_partitions)
    try:
        with pytest.raises(WorkerLost, match=r"failed on the cluster \(RuntimeError: this worker cannot code\)"):
            ingest(corpus, project=tmp_path / "dask.db", dask=DaskOptions(scheduler=cluster.scheduler.address))
    finally:
        cluster.run(_restore_partitions)
    assert not (tmp_path / "dask.db").exists(), "a first run that stored nothing leaves no project (issue 11)"


def _dask_ingest_of_900_notes(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """(notes folder, project, command line) of a Dask ingest of 900 synthetic notes in 30
    partitions: long enough to be stopped or killed mid-run."""
    corpus = tmp_path / "notes"
    _synth().write_corpus(corpus, 900)
    project = tmp_path / "dask.db"
    options = ["--quiet", "--engine", "dask", "--jobs", "2", "--partitions", "30"]
    return (
        corpus,
        project,
        [sys.executable, "-m", "phantomcode", "ingest", str(corpus), "--project", str(project), *options],
    )


def test_a_rerun_after_the_client_was_killed_completes_the_project(tmp_path, local_project, cluster) -> None:
    notes, project, command = _dask_ingest_of_900_notes(tmp_path)
    client = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = documents_committed(project, client)
    client.kill()
    client.wait()
    assert 0 < stored < 900, "the client must be killed mid-run for this test to mean anything"
    report = ingest(notes, project=project, dask=DaskOptions(scheduler=cluster.scheduler.address))
    assert report.unchanged + report.added == 900 and report.unchanged >= stored and not report.skipped
    fresh = tmp_path / "local.db"
    ingest(notes, project=fresh, jobs=1)
    _assert_same_project(project, fresh)


def test_parquet_out_then_import_parquet_gives_the_same_project(
    corpus, local_project, cluster, runner, tmp_path
) -> None:
    out = tmp_path / "parquet"
    result = runner.invoke(
        app,
        [
            "ingest",
            str(corpus),
            "--project",
            str(tmp_path / "dask.db"),
            "--engine",
            "dask",
            "--scheduler",
            cluster.scheduler.address,
            "--partitions",
            "3",
            "--parquet-out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 1, result.output  # the broken .docx and the duplicate are skipped
    assert "beijing/broken.docx" in result.output and "duplicate id" in result.output
    assert len(list((out / "notes").glob("*.parquet"))) == len(list((out / "codings").glob("*.parquet"))) == 3
    imported = tmp_path / "imported.db"
    result = runner.invoke(app, ["import", "parquet", str(out), "--project", str(imported), "--quiet"])
    assert result.exit_code == 1 and "beijing/broken.docx" in result.output, result.output
    _assert_same_project(imported, local_project[0])
    with Store.open(imported, readonly=True) as store:  # recorded as ingest records it (issue 11): no absolute path
        assert [run.codebook_path for run in store.runs() if run.command == "import"] == ["bundled"]
    report = ingest(corpus, project=imported)
    assert (report.unchanged, report.added, report.recoded) == (NOTES, 0, 0), (
        "the imported project knows the files and their codebook"
    )


def test_stopping_mid_run_keeps_whole_batches_cancels_the_tasks_and_a_rerun_completes(
    corpus, local_project, cluster, tmp_path
) -> None:
    def stop_late(done: int, _total: int) -> None:
        if done == 70:
            raise KeyboardInterrupt

    project = tmp_path / "dask.db"
    options = DaskOptions(scheduler=cluster.scheduler.address, partitions=8)
    with pytest.raises(Interrupted, match="run the same command again"):
        ingest(corpus, project=project, dask=options, batch_size=10, progress=stop_late)
    with Store.open(project, readonly=True) as store:
        stored = store.count_documents()
        assert [run.status for run in store.runs()] == ["interrupted"]
    assert 0 < stored < NOTES and stored % 10 == 0, "only whole batches are committed"
    _wait_until(lambda: not any(key.startswith("phantomcode-") for key in cluster.who_has()))
    report = ingest(corpus, project=project, dask=options)
    assert (report.unchanged, report.added) == (stored, NOTES - stored)
    _assert_same_project(project, local_project[0])


def _wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the cancelled tasks are still on the cluster"
        time.sleep(0.1)


def test_ctrl_c_in_a_terminal_stops_the_run_with_exit_130(tmp_path) -> None:
    _, project, command = _dask_ingest_of_900_notes(tmp_path)
    # A terminal's Ctrl-C reaches the whole foreground process group: the command and its workers.
    client = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    assert documents_committed(project, client)
    os.killpg(client.pid, signal.SIGINT)
    _, stderr = client.communicate(timeout=60)
    assert client.returncode == 130, stderr.decode()
    assert "interrupted:" in stderr.decode() and "run the same command again" in stderr.decode()


NOTE = "The school asked for five documents and a lease in her own name.\n"


def test_a_dask_ingest_honours_the_folder_scan(cluster, tmp_path, refuse_listing) -> None:
    """Links leaving the folder are skipped, an unreadable folder is reported and never pruned,
    as in a local ingest (issue 12): the scan runs in the client, before any task."""
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    notes, project = tmp_path / "notes", tmp_path / "dask.db"
    (notes / "locked").mkdir(parents=True)
    (notes / "a.md").write_text(NOTE)
    (notes / "locked" / "b.md").write_text(NOTE)
    (notes / "passwd.txt").symlink_to(outside)
    options = DaskOptions(scheduler=cluster.scheduler.address)
    first = ingest(notes, project=project, dask=options)
    assert first.added == 2
    assert [(s.source, s.reason.split(",")[0]) for s in first.skipped] == [("passwd.txt", f"a link to {outside}")]
    refuse_listing("locked")
    (notes / "c.md").write_text(NOTE)
    again = ingest(notes, project=project, dask=options, prune=True)
    assert again.added == 1 and again.vanished == [] and again.pruned == 0
    assert any(warning.startswith("locked/: cannot list this folder") for warning in again.warnings)
    with Store.open(project, readonly=True) as store:
        assert store.doc_ids() == ["a", "c", "locked/b"]
