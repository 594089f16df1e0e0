"""``python bench/run.py --dask``: ingest on a Dask LocalCluster against the local ingest (issue 16).

For each corpus size (bench/synth.py, fixed seed), each step its own measured process
(``run.run_step``: wall time, CPU, the largest single process of the tree, Dask workers included):

* local: ``phantomcode ingest NOTES`` (``--jobs`` = cores), the baseline;
* dask: ``--engine dask`` with the default partitions (one per 2,000 notes, at least two per worker);
* dask with 1 and 2 partitions per core (the scaling table);
* dask with at most 2,000 notes per partition and ``--parquet-out``, then ``import parquet`` of
  those files into a new project (the Parquet round trip);

then checks that every Dask project holds, row by row, the local project's documents, segments and
codings. Targets: dask within 1.3x of local wall time at 30,000 notes; largest process (a worker,
or the client) below 400 MiB at 2,000 notes per partition.

    python bench/run.py --dask --sizes 3000,30000 --results bench/RESULTS_DASK.md
"""

from __future__ import annotations

import math
import os
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

import run as harness  # bench/run.py (bench/ is not a package)
import synth

CODED_ROWS = {
    "documents": "SELECT doc_id, source_hash, content_hash, text, attributes, sector, sector_source FROM documents"
    " ORDER BY doc_id",
    "segments": "SELECT doc_id, start, end, unit, sector, sector_source FROM segments ORDER BY doc_id, start",
    "codings": "SELECT c.doc_id, s.start, c.code, c.rule, c.start, c.end, c.matched, c.negated, c.hypothetical, c.cue"
    " FROM codings c JOIN segments s USING (segment_id) ORDER BY c.doc_id, s.start, c.code, c.rule",
}
TARGET_RATIO, TARGET_MIB = 1.3, 400


@dataclass
class DaskRun:
    notes: int
    cores: int
    steps: dict[str, harness.Step] = field(default_factory=dict)
    identical: dict[str, bool] = field(default_factory=dict)
    codings: int = 0


def coded_rows(project: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(project) as db:
        return {name: db.execute(query).fetchall() for name, query in CODED_ROWS.items()}


def run_size(n: int, *, base: Path, cores: int, log) -> DaskRun:
    notes = base / f"notes-{n}"
    if not notes.is_dir():
        synth.write_corpus(notes, n)
    result = DaskRun(n, cores)
    cli = harness.phantomcode_argv()
    per_2000 = max(1, math.ceil(n / 2000))
    plans = [
        ("local", "ingest (local, --jobs cores)", ["ingest", str(notes), "-j", str(cores)]),
        (
            "dask",
            "ingest --engine dask (default partitions)",
            ["ingest", str(notes), "-j", str(cores), "--engine", "dask"],
        ),
        (
            "dask-1",
            "--engine dask, 1 partition per core",
            ["ingest", str(notes), "-j", str(cores), "--engine", "dask", "--partitions", str(cores)],
        ),
        (
            "dask-2",
            "--engine dask, 2 partitions per core",
            ["ingest", str(notes), "-j", str(cores), "--engine", "dask", "--partitions", str(2 * cores)],
        ),
        (
            "dask-parquet",
            f"--engine dask --parquet-out, {per_2000} partitions (<= 2,000 notes each)",
            [
                "ingest",
                str(notes),
                "-j",
                str(cores),
                "--engine",
                "dask",
                "--partitions",
                str(per_2000),
                "--parquet-out",
                str(base / f"parquet-{n}"),
            ],
        ),
        (
            "import",
            "import parquet (the files above, into a new project)",
            ["import", "parquet", str(base / f"parquet-{n}")],
        ),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key, label, args in plans:
        project = base / f"{key}-{n}.db"
        for stale in base.glob(f"{key}-{n}.db*"):
            stale.unlink()
        step = harness.Step(key, label, [*cli, *args, "--project", str(project), "--quiet"])
        log(f"[n={n:,}] {label}")
        result.steps[key] = harness.run_step(step, workdir=base, env=env)
        if step.exit_code != 0:
            log(f"  exit {step.exit_code}: {step.stderr[-500:]}")
    local = coded_rows(base / f"local-{n}.db")
    result.codings = len(local["codings"])
    for key in result.steps:
        if key != "local":
            result.identical[key] = coded_rows(base / f"{key}-{n}.db") == local
    return result


def table(runs: list[DaskRun]) -> str:
    rows = [
        "| notes | step | wall s | CPU s | wall / local | largest process MiB | rows identical to local |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        local = run.steps["local"].wall
        for key, step in run.steps.items():
            same = "baseline" if key == "local" else ("yes" if run.identical.get(key) else "NO")
            rows.append(
                f"| {run.notes:,} | {step.label} | {step.wall:.1f} | {step.cpu:.1f} | "
                f"{step.wall / local:.2f}x | {step.max_rss / harness.MIB:.0f} | {same} |"
            )
    return "\n".join(rows)


def fixed_and_per_note(runs: list[DaskRun]) -> str:
    """A line through the two smallest and largest sizes: seconds at 0 notes and per 1,000 notes."""
    if len(runs) < 2:
        return "(one size only: give two sizes to split fixed and per-note cost)"
    small, large = runs[0], runs[-1]
    lines = []
    for key in ("local", "dask"):
        for measure in ("wall", "cpu"):
            at_small, at_large = getattr(small.steps[key], measure), getattr(large.steps[key], measure)
            slope = (at_large - at_small) / (large.notes - small.notes)
            lines.append(
                f"- {key}, {measure} time: fixed {at_small - slope * small.notes:.1f} s, {slope * 1000:.2f} s "
                f"per 1,000 notes (line through {small.notes:,} and {large.notes:,} notes)"
            )
    return "\n".join(lines)


def verdicts(runs: list[DaskRun]) -> list[str]:
    largest = runs[-1]
    ratio = largest.steps["dask"].wall / largest.steps["local"].wall
    mib = largest.steps["dask-parquet"].max_rss / harness.MIB
    same = all(all(run.identical.values()) for run in runs)
    return [
        f"- dask within {TARGET_RATIO}x of local at {largest.notes:,} notes: {ratio:.2f}x "
        f"({'met' if ratio <= TARGET_RATIO else 'NOT met'})",
        f"- largest process below {TARGET_MIB} MiB at <= 2,000 notes per partition: {mib:.0f} MiB "
        f"({'met' if mib < TARGET_MIB else 'NOT met'})",
        f"- codings identical to local, row by row, in every Dask run and after import parquet: "
        f"{'yes' if same else 'NO'}",
    ]


def main(args) -> int:
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()}) if args.scaling else [args.notes]
    base = args.keep or Path("/tmp/phantomcode-dask-bench")
    base.mkdir(parents=True, exist_ok=True)
    cores = args.jobs or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    info = harness.machine()
    runs = [run_size(n, base=base, cores=cores, log=log) for n in sizes]
    text = (
        "\n\n".join(
            [
                "# Dask benchmark (python bench/run.py --dask)",
                f"phantomcode {info['phantomcode']}, Python {info['python']}, {cores} cores; load at end "
                f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}. Each step is one process, timed from "
                "outside; 'largest process' is the largest single process of its tree (the client or a Dask worker).",
                table(runs),
                "Fixed and per-note cost:\n\n" + fixed_and_per_note(runs),
                "Targets:\n\n" + "\n".join(verdicts(runs)),
            ]
        )
        + "\n"
    )
    print(text)
    if args.results != "-":
        Path(args.results).write_text(text, encoding="utf-8")
        log(f"wrote {args.results}")
    return 0 if all(all(run.identical.values()) for run in runs) else 1
