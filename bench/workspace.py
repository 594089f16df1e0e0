"""Latency of the review workspace's pages and API on a synthetic project (the goal: under 200 ms each).

    python bench/workspace.py                     # 3,000 notes: generate, ingest, serve, time every page
    python bench/workspace.py --keep /tmp/wsbench # keep (and next time reuse) the notes and the project
    python bench/workspace.py --notes 30000 --keep /tmp/ws30k

The server is ``phantomcode serve`` itself, started as its own process (``--no-browser``, a free
port); this script reads the printed URL for the token and times each request from send to last
byte over one kept-alive HTTP connection: one warm-up, then ``--repeat`` timed requests, reported
as minimum, median, 90th percentile and maximum. Decisions and hand codings are timed on distinct
codings (each request changes the project, as a reviewer's would); "right after a decision" rows
time a request made just after a decision (not timed): the whole-project figures the overview and
codebook pages show are then those the decision updated (the workspace keeps them, see
``phantomcode/workspace/cache.py``), and the queue is ranked again from the kept ranking. Timing
starts once the text index beside the project is built (``text_index`` in ``/api/documents`` says
``current``), as it is a few seconds after ``serve`` starts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402  (bench/ is not a package)

GOAL_MS = 200.0
SLOW_RUNS = 3  # timed runs of the calls that take seconds (suggestions, training)
NOT_A_CALL = "retraining in the background"  # a row timing a fit the page waits for, not a request


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(base: Path, n: int) -> Path:
    """The notes and the ingested project under ``base`` (reused when a previous run left them)."""
    notes, project = base / f"notes-{n}", base / f"project-{n}.db"
    if not notes.exists():
        synth.write_corpus(notes, n)
    if not project.exists():
        phantomcode = Path(sys.executable).with_name("phantomcode")
        subprocess.run([str(phantomcode), "ingest", str(notes), "--project", str(project), "--quiet"], check=True)
    return project


def start_server(project: Path) -> tuple[subprocess.Popen, str, str]:
    """``phantomcode serve`` on a free port: (process, base URL, token)."""
    port = free_port()
    phantomcode = Path(sys.executable).with_name("phantomcode")
    server = subprocess.Popen(
        [
            str(phantomcode),
            "serve",
            "--project",
            str(project),
            "--port",
            str(port),
            "--no-browser",
            "--reviewer",
            "bench",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
    )
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline:
        seen += server.stderr.readline() if server.stderr else ""
        found = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", seen)
        if found:
            wait_for_port(port, deadline)
            return server, found[1], found[2]
    server.kill()
    raise SystemExit(f"the server did not start: {seen}")


def wait_for_port(port: int, deadline: float) -> None:
    """The URL is printed just before uvicorn listens: wait until it accepts connections."""
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


class Timer:
    """Times calls; a call can leave out part of its own work (``pause``/``resume``)."""

    def __init__(self) -> None:
        self.excluded = 0.0
        self.paused_at = 0.0

    def pause(self) -> None:
        self.paused_at = time.perf_counter()

    def resume(self) -> None:
        self.excluded += time.perf_counter() - self.paused_at

    def times(self, call: Callable[[], object], repeat: int) -> list[float]:
        call()  # warm-up
        result = []
        for _ in range(repeat):
            self.excluded = 0.0
            started = time.perf_counter()
            call()
            result.append((time.perf_counter() - started - self.excluded) * 1000)
        return result


timer = Timer()


def wait_for_text_index(client: Any, seconds: float = 600) -> None:
    """Until the workspace's text index is built (the server starts building it at once)."""
    deadline = time.monotonic() + seconds
    while client.get("/api/documents?per_page=1&q=school").json()["text_index"] != "current":
        if time.monotonic() > deadline:
            raise SystemExit("the text index was not built in time")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-train", action="store_true", help="leave out POST /api/train (minutes on 30,000 notes)")
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the notes and the project in")
    args = parser.parse_args(argv)
    import httpx

    base = args.keep or Path(tempfile.mkdtemp(prefix="wsbench-"))
    base.mkdir(parents=True, exist_ok=True)
    project = prepare(base, args.notes)
    if args.keep is None or not (base / "pristine.db").exists():
        shutil.copy(project, base / "pristine.db")
    work = base / "timed.db"
    for leftover in (Path(f"{work}-wal"), Path(f"{work}-shm")):  # a previous run's log would not fit the copy
        leftover.unlink(missing_ok=True)
    shutil.copy(base / "pristine.db", work)  # decisions are timed on a copy, so every run starts alike
    server, url, token = start_server(work)
    try:
        client = httpx.Client(base_url=url, headers={"X-Phantomcode-Token": token}, timeout=300)
        rows = measure(client, args.repeat, train=not args.no_train)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(f"{args.notes} notes, {args.repeat} timed requests each (after one warm-up); milliseconds\n")
    print("| request | min | median | p90 | max |\n|---|---:|---:|---:|---:|")
    for name, times in rows:
        ordered = sorted(times)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        print(f"| {name} | {min(times):.1f} | {statistics.median(times):.1f} | {p90:.1f} | {max(times):.1f} |")
    slow = [name for name, times in rows if statistics.median(times) > GOAL_MS and not name.startswith(NOT_A_CALL)]
    print(f"\nmedian over {GOAL_MS:.0f} ms: {', '.join(slow) if slow else 'none'}")
    return 0


def measure(client: Any, repeat: int, *, train: bool = True) -> list[tuple[str, list[float]]]:
    def get(path: str) -> Callable[[], object]:
        def call() -> object:
            response = client.get(path)
            response.raise_for_status()
            return response

        return call

    wait_for_text_index(client)
    listing = client.get("/api/documents?per_page=500").json()["documents"]
    doc_id = max(listing, key=lambda d: d["codings"])["doc_id"]
    codings = client.get(f"/api/documents/{doc_id}").json()["codings"]
    pending = iter(
        [c["key"] for d in listing[:60] for c in client.get(f"/api/documents/{d['doc_id']}").json()["codings"]]
    )
    text = client.get(f"/api/documents/{doc_id}").json()["text"]
    spans = iter(range(0, len(text) - 40, 23))

    def decide() -> object:
        response = client.post(f"/api/codings/{next(pending)}/decision", json={"decision": "accept"})
        response.raise_for_status()
        return response

    def code_by_hand() -> object:
        start = next(spans)
        response = client.post(
            f"/api/documents/{doc_id}/codings", json={"start": start, "end": start + 17, "code": "deterred"}
        )
        response.raise_for_status()
        return response

    def finish_training() -> dict[str, Any]:
        while (run := client.get("/api/train").json())["state"] == "running":
            time.sleep(0.05)
        if run["state"] != "done":
            raise RuntimeError(f"training failed: {run['error']}")
        return run

    def start_training() -> object:
        """``POST /api/train`` alone: it answers at once; the run it starts is waited for untimed."""
        response = client.post("/api/train", json={})
        response.raise_for_status()
        timer.pause()
        finish_training()
        timer.resume()
        return response

    def train_to_the_end() -> object:
        client.post("/api/train", json={}).raise_for_status()
        return finish_training()

    def after_a_change(path: str) -> Callable[[], object]:
        """``path`` right after a decision: what whole-project figures cost once the project changed."""

        def call() -> object:
            timer.pause()
            decide()
            timer.resume()
            return get(path)()

        return call

    total = client.get("/api/documents?per_page=1").json()["total"]
    second_to_last = client.get(f"/api/documents?per_page=1&page={max(1, total - 50)}").json()["documents"][0]["doc_id"]
    plan: list[tuple[str, Callable[[], object], int]] = [
        ("page: overview (matrix by city)", get("/"), repeat),
        ("page: documents, first page", get("/documents"), repeat),
        ("page: documents, city + code filter, page 3", get("/documents?city=Beijing&code=paperwork&page=3"), repeat),
        ("page: documents, text search hukou*", get("/documents?q=hukou*"), repeat),
        (f"page: document with the most codings ({len(codings)})", get(f"/documents/{doc_id}"), repeat),
        ("page: codebook", get("/codebook"), repeat),
        ("page: overview right after a decision", after_a_change("/"), repeat),
        ("page: codebook right after a decision", after_a_change("/codebook"), repeat),
        ("api: GET /api/documents?status=pending&page=10", get("/api/documents?status=pending&page=10"), repeat),
        (
            "api: GET /api/documents?status=pending right after a decision",
            after_a_change("/api/documents?status=pending"),
            repeat,
        ),
        ("api: GET /api/documents?q=hukou* right after a decision", after_a_change("/api/documents?q=hukou*"), repeat),
        ("api: GET /api/documents, last page by offset", get(f"/api/documents?page={max(1, -(-total // 50))}"), repeat),
        (
            "api: GET /api/documents?after=... (keyset), the last 50",
            get(f"/api/documents?after={second_to_last}"),
            repeat,
        ),
        ("api: GET /api/documents/{doc_id}", get(f"/api/documents/{doc_id}"), repeat),
        ("api: GET /api/matrix?by=sector", get("/api/matrix?by=sector"), repeat),
        ("api: GET /api/stats", get("/api/stats"), repeat),
        ("api: GET /api/queue?n=50 (suggest_for_review)", get("/api/queue?n=50"), SLOW_RUNS),
        ("api: GET /api/queue?n=50 right after a decision", after_a_change("/api/queue?n=50"), repeat),
        ("page: review queue (its data comes from /api/queue)", get("/queue"), repeat),
        ("api: POST decision (accept)", decide, repeat),
        ("api: POST hand coding", code_by_hand, repeat),
    ]
    if train:
        plan.append(("api: POST /api/train (starts retraining, answers at once)", start_training, SLOW_RUNS))
        plan.append((f"{NOT_A_CALL}, start to figures (a fit, not a call)", train_to_the_end, SLOW_RUNS))
    return [(name, timer.times(call, min(repeat, runs))) for name, call, runs in plan]


if __name__ == "__main__":
    sys.exit(main())
