"""What ``ingest --engine dask`` says when a worker dies: a hint for a cluster (smaller partitions,
more memory per worker, the scheduler's logs), not the local ingest's ``--jobs 1``, which means
nothing on the Dask path."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from phantomcode import distributed
from phantomcode.cli import app

pytestmark = pytest.mark.slow

NOTE = "The school asked for five documents and a lease in her own name.\n"
_WORKER_PID = "PHANTOMCODE_TEST_WORKER_PID"


@pytest.fixture(scope="module")
def fragile_cluster():
    """A LocalCluster whose scheduler gives up on a task at the first worker it kills."""
    import dask
    from distributed import Client, LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as local,
        Client(local) as client,
    ):
        yield client


def _kill_the_worker(job):
    """Stands in for ``distributed._code_chunk``: kills the worker process (as the out-of-memory
    killer would) from the child it forked for the partition, then the child."""
    os.kill(int(os.environ[_WORKER_PID]), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _install_killer() -> None:
    os.environ[_WORKER_PID] = str(os.getpid())
    distributed._code_chunk = _kill_the_worker


def _die_in_the_child(job):
    """Stands in for ``distributed._code_chunk``: the child forked for the partition is killed."""
    os.kill(os.getpid(), signal.SIGKILL)


def _install_child_killer() -> None:
    distributed._code_chunk = _die_in_the_child


def _restore() -> None:
    distributed._code_chunk = _REAL_CODE_CHUNK


_REAL_CODE_CHUNK = distributed._code_chunk


def _ingest(runner, notes: Path, project: Path, scheduler: str):
    return runner.invoke(
        app, ["ingest", str(notes), "--project", str(project), "--engine", "dask", "--scheduler", scheduler, "--quiet"]
    )


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a.md", "b.md"):
        (folder / name).write_text(NOTE)
    return folder


def test_a_killed_worker_gives_a_hint_for_the_cluster(fragile_cluster, runner, notes, tmp_path) -> None:
    fragile_cluster.wait_for_workers(1)
    assert len(fragile_cluster.run(_install_killer)) == 1
    result = _ingest(runner, notes, tmp_path / "p.db", fragile_cluster.scheduler.address)
    assert result.exit_code == 1, result.output  # WorkerLost, as for a local worker
    message = " ".join(result.output.split())
    assert "killed its worker each time it ran" in message
    assert "smaller partitions (more --partitions)" in message and "more memory" in message
    assert "the scheduler's and the workers' logs" in message
    assert "--jobs" not in message, "a local ingest's hint means nothing on the Dask path"
    assert "run the same command again to finish" in message


def test_a_partition_process_killed_on_a_worker_gives_the_same_hint(fragile_cluster, runner, notes, tmp_path) -> None:
    fragile_cluster.wait_for_workers(1)  # the nanny restarts a killed worker
    assert len(fragile_cluster.run(_install_child_killer)) == 1
    try:
        result = _ingest(runner, notes, tmp_path / "p.db", fragile_cluster.scheduler.address)
    finally:
        fragile_cluster.run(_restore)
    assert result.exit_code == 1, result.output  # WorkerLost, as for a local worker
    message = " ".join(result.output.split())
    assert "the process coding this partition died (killed by SIGKILL)" in message
    assert "smaller partitions (more --partitions)" in message and "--jobs" not in message
