"""phantomcode benchmark: time and peak memory of each command against a spaCy floor, side by side.

    python bench/run.py                      # 3,000 notes, writes bench/RESULTS.md
    python bench/run.py --notes 1000 --results -          # quick look, RESULTS.md untouched
    python bench/run.py --scaling            # 1,000 / 3,000 / 10,000 / 30,000 notes, plus the main table
    python bench/run.py --scaling --sizes 1000,3000,10000 --keep /tmp/pcbench

For each corpus size the harness generates synthetic notes (bench/synth.py, fixed seed) and runs,
each as its own process: the floor (read the files, blank spaCy English tokenizer + sentencizer
over every text with ``nlp.pipe`` in one process), a cold ``phantomcode ingest``, the same ingest
on the unchanged folder, ``phantomcode code`` after a one-term codebook change, ``phantomcode
report`` by city, ``phantomcode export segments``, ``train``, and ``code`` after a ``train`` that
changed the model (the model alone re-scores). Wall time comes from the harness's clock,
CPU time and peak RSS from ``os.wait4`` on that one child (the largest process of its tree, pool
workers included), and the tree's summed PSS is sampled from /proc. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402  (bench/ is not a package)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BUNDLED_CODEBOOK = REPO / "phantomcode" / "codebooks" / "deflection.yaml"
GOLD = REPO / "sample_data" / "gold.csv"  # labels for a `train` that changes the model
DEFAULT_SIZES = (1000, 3000, 10000, 30000)
ADDED_TERM = "stamped tenancy paper"  # the one-term codebook change, added to paperwork's terms
MIB = 1024 * 1024

# The floor: what any spaCy-based tool must pay at least. Reads the files (front matter cut off),
# then a blank English tokenizer + sentencizer over every text in one process. Nothing else.
FLOOR_SCRIPT = r"""
import json, os, sys, time
import spacy
root, n_process = sys.argv[1], int(sys.argv[2])

def texts():
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".md", ".txt")):
                with open(os.path.join(dirpath, name), encoding="utf-8") as handle:
                    text = handle.read()
                if text.startswith("---\n"):
                    end = text.find("\n---\n", 4)
                    if end != -1:
                        text = text[end + 5:]
                yield text

nlp = spacy.blank("en")
nlp.add_pipe("sentencizer")
docs = tokens = 0
for doc in nlp.pipe(texts(), n_process=n_process):
    docs += 1
    tokens += len(doc)
print(json.dumps({"docs": docs, "tokens": tokens}))
"""

# The bound: what an ingest would cost if matching, judging and storing were free. It pays an
# ingest's start-up (phantomcode's modules, spaCy, the codebook, the engine's matchers), then
# reads and tokenizes the notes in one forked process per core with the engine's tokenizer (the
# floor's English rules, plus one token per hanzi). Cold ingest can beat the floor only by the
# margin between this and the floor.
BOUND_SCRIPT = r"""
import gc, os, sys
import phantomcode.cli, phantomcode.ingest
from phantomcode.codebook import load_codebook
from phantomcode.coding import CodingEngine
root, codebook = sys.argv[1], sys.argv[2]
paths = []
for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    paths += [os.path.join(dirpath, name) for name in sorted(filenames) if name.endswith((".md", ".txt"))]
engine = CodingEngine(load_codebook(codebook))
tokenizer = next(iter(engine._lanes.values())).nlp.tokenizer  # the engine's own; a measurement, not an API
gc.freeze()
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
children = []
for share in range(cores):
    pid = os.fork()
    if pid == 0:
        for path in paths[share::cores]:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            if text.startswith("---\n"):
                end = text.find("\n---\n", 4)
                if end != -1:
                    text = text[end + 5:]
            tokenizer(text)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
"""


# ---------------------------------------------------------------------------------------------
# Running one step as a child process


@dataclass
class Step:
    """One measured child process."""

    key: str
    label: str
    argv: list[str]
    wall: float = 0.0
    cpu: float = 0.0
    max_rss: int = 0  # bytes: the largest single process of the tree (wait4's ru_maxrss)
    tree_pss: int = 0  # bytes: peak of the summed PSS of the child and its descendants (sampled)
    exit_code: int = 0
    timed_out: bool = False
    load: float = 0.0  # 1-minute load average when the step started: high means other work competed
    stdout: str = ""
    stderr: str = ""
    info: bool = False  # shown for context; no target


class TreeSampler(threading.Thread):
    """Samples the summed PSS of a process and all its descendants every ``interval`` seconds.

    PSS (proportional set size) shares pages that forked pool workers have in common among
    them, so the sum is what the tree really occupies; summing RSS would count them twice.
    """

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, sum(_pss(p) for p in _descendants(self.pid)))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo.extend(int(child) for child in handle.read().split())
        except OSError:
            continue  # gone already, or no /proc (not Linux): tree memory stays 0
    return found


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_step(step: Step, *, workdir: Path, env: dict[str, str], timeout: float | None = None) -> Step:
    """Run ``step.argv``, wait for it with ``os.wait4`` and fill in time, CPU and memory.

    After ``timeout`` seconds the step's whole process group is killed and marked as timed out.
    """
    out_path, err_path = workdir / f"{step.key}.out", workdir / f"{step.key}.err"
    step.load = os.getloadavg()[0]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            step.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=workdir, start_new_session=True
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()

        def kill() -> None:
            step.timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer is not None:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        step.wall = time.perf_counter() - start
        if timer is not None:
            timer.cancel()
        sampler.stop()
    proc.returncode = step.exit_code = os.waitstatus_to_exitcode(status)
    step.cpu = usage.ru_utime + usage.ru_stime
    step.max_rss = usage.ru_maxrss * 1024  # kB on Linux
    step.tree_pss = sampler.peak
    step.stdout = out_path.read_text(encoding="utf-8", errors="replace")[-4000:]
    step.stderr = err_path.read_text(encoding="utf-8", errors="replace")[-4000:]
    return step


# ---------------------------------------------------------------------------------------------
# One corpus size, every step


@dataclass
class SizeRun:
    notes: int
    words: int = 0
    chinese: int = 0
    corpus_bytes: int = 0
    tokens: int = 0
    generate_seconds: float = 0.0
    steps: dict[str, Step] = field(default_factory=dict)
    floor: float = 0.0  # seconds: the faster of the two floor runs
    db_bytes: int = 0
    documents: int = 0
    codings: int = 0
    codings_after_code: int = 0
    recoded_by_code: int | None = None  # notes the one-term change re-coded, from the command's message
    exported_rows: int = 0
    problems: list[str] = field(default_factory=list)

    def step(self, key: str) -> Step | None:
        return self.steps.get(key)


def phantomcode_argv() -> list[str]:
    script = Path(sys.executable).with_name("phantomcode")
    return [str(script)] if script.exists() else [sys.executable, "-m", "phantomcode"]


def add_one_term(codebook: Path, term: str = ADDED_TERM) -> None:
    """The one-term change: append ``term`` to the first ``terms:`` list (paperwork's)."""
    text = codebook.read_text(encoding="utf-8")
    match = re.search(r"^( +)terms:\n( +)- ", text, flags=re.MULTILINE)
    if match is None:
        raise SystemExit(f"{codebook}: no 'terms:' list found to add a term to")
    insert = match.end() - len("- ")
    text = text[:insert] + f"- {term}\n{match.group(2)}" + text[insert:]
    codebook.write_text(text, encoding="utf-8")


def run_size(
    n: int,
    *,
    base: Path,
    jobs: int | None,
    seed: int,
    reuse_notes: bool,
    snapshot: Path | None,
    step_timeout: float | None,
    log,
) -> SizeRun:
    """Every step for a corpus of ``n`` notes, in ``base/n{n}``."""
    result = SizeRun(notes=n)
    workdir = base / f"n{n}"
    notes_dir = workdir / "notes"
    marker = workdir / "corpus.json"
    wanted = {"notes": n, "seed": seed, "generator": _generator_hash()}
    if reuse_notes and marker.exists() and json.loads(marker.read_text()).get("key") == wanted:
        stats = json.loads(marker.read_text())["stats"]
        log(f"[n={n:,}] reusing the notes in {notes_dir}")
    else:
        if workdir.exists():
            shutil.rmtree(workdir)
        notes_dir.mkdir(parents=True)
        log(f"[n={n:,}] generating notes in {notes_dir} ...")
        start = time.perf_counter()
        stats = synth.write_corpus(notes_dir, n, seed=seed)
        result.generate_seconds = time.perf_counter() - start
        marker.write_text(json.dumps({"key": wanted, "stats": stats}))
    result.words, result.chinese, result.corpus_bytes = stats["words"], stats["chinese"], stats["bytes"]
    for stale in workdir.glob("*.db*"):  # every project of a kept run: each step must start cold
        stale.unlink()
    project = workdir / "project.db"
    codebook = workdir / "codebook.yaml"
    shutil.copyfile(BUNDLED_CODEBOOK, codebook)
    env = {**os.environ, "PYTHONHASHSEED": "0", "PHANTOMCODE_LOCK_TIMEOUT": "30"}
    env.pop("PHANTOMCODE_PROJECT", None)
    # An installed package has compiled bytecode; a PYTHONDONTWRITEBYTECODE left in the environment
    # would make every step recompile phantomcode's modules (about 0.2 s each time).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if snapshot is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(snapshot), *filter(None, [os.environ.get("PYTHONPATH")])])
    # Warm the page cache (Python, spaCy, phantomcode, the notes) so the first timed step is not penalised.
    subprocess.run(
        [sys.executable, "-c", "import spacy, phantomcode.cli; spacy.blank('en')"],
        env=env,
        cwd=workdir,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for path in notes_dir.rglob("*.*"):
        path.read_bytes()
    pc = phantomcode_argv()
    jobs_args = ["--jobs", str(jobs)] if jobs else []
    common = ["--project", str(project)]
    floor = [sys.executable, "-c", FLOOR_SCRIPT, str(notes_dir)]
    plan = [
        Step("startup", "CLI start-up (`phantomcode --help`)", [*pc, "--help"], info=True),
        Step("floor", "floor: read + blank `en` tokenizer + sentencizer, 1 process", [*floor, "1"]),
        Step("floor2", "floor with `nlp.pipe(n_process=2)`", [*floor, "2"], info=True),
        Step(
            "bound",
            "bound: ingest's start-up, then read + tokenize on every core; no matching, no store",
            [sys.executable, "-c", BOUND_SCRIPT, str(notes_dir), str(codebook)],
            info=True,
        ),
        Step(
            "ingest_rules",
            "`ingest --rules-only`, cold (new project; rules alone, no learned layer)",
            [
                *pc,
                "ingest",
                str(notes_dir),
                "--project",
                str(workdir / "rules_only.db"),
                "--codebook",
                str(codebook),
                "--quiet",
                "--rules-only",
                *jobs_args,
            ],
        ),
        Step(
            "ingest",
            "`ingest`, cold (new project; rules and the learned layer's default model, trained first)",
            [*pc, "ingest", str(notes_dir), *common, "--codebook", str(codebook), "--quiet", *jobs_args],
        ),
        Step(
            "reingest",
            "`ingest` again, folder unchanged",
            [*pc, "ingest", str(notes_dir), *common, "--codebook", str(codebook), "--quiet", *jobs_args],
        ),
        Step(
            "code",
            "`code` after a one-term codebook change",
            [*pc, "code", *common, "--codebook", str(codebook), "--quiet", *jobs_args],
        ),
        Step(
            "code_force",
            "`code --force` (re-codes every note)",
            [*pc, "code", *common, "--codebook", str(codebook), "--force", "--quiet", *jobs_args],
            info=True,
        ),
        Step("report", "`report --by city` (table to a file)", [*pc, "report", "--by", "city", *common]),
        Step(
            "report_quotes",
            "`report --by city --quotes 3 --format html`",
            [
                *pc,
                "report",
                "--by",
                "city",
                "--quotes",
                "3",
                "--format",
                "html",
                "--out",
                str(workdir / "report.html"),
                *common,
            ],
            info=True,
        ),
        Step(
            "export",
            "`export segments --out FILE`",
            [*pc, "export", "segments", *common, "--out", str(workdir / "segments.csv")],
        ),
        Step(
            "suggest",
            "`review export --suggest 50` (the learned layer's review queue)",
            [*pc, "review", "export", "--suggest", "50", *common, "--out", str(workdir / "suggested.csv")],
        ),
        Step("train", "`train` (the bundled codebook's labelled sets and examples)", [*pc, "train", *common]),
        Step(
            "train_gold",
            "`train --gold sample_data/gold.csv` (its labels weigh as the project's own: a new model)",
            [*pc, "train", *common, "--gold", str(GOLD)],
            info=True,
        ),
        Step(
            "code_after_train",
            "`code` after that `train` (only the model changed: re-scored by the model alone)",
            [*pc, "code", *common, "--codebook", str(codebook), "--quiet", *jobs_args],
        ),
        Step("floor_again", "floor, second run (noise check)", [*floor, "1"], info=True),
    ]
    for step in plan:
        if step.key == "code":
            add_one_term(codebook)
        log(f"[n={n:,}] {step.label} ...")
        run_step(step, workdir=workdir, env=env, timeout=step_timeout)
        result.steps[step.key] = step
        log(
            f"[n={n:,}]   {step.wall:.2f} s, CPU {step.cpu:.2f} s, peak RSS {step.max_rss / MIB:.0f} MiB,"
            f" tree PSS {step.tree_pss / MIB:.0f} MiB, exit {step.exit_code}{' (TIMED OUT)' if step.timed_out else ''}"
        )
        if step.timed_out:
            result.problems.append(
                f"{step.label}: killed after the step timeout ({step_timeout:.0f} s); its time is a lower bound"
            )
        elif step.exit_code != 0:
            result.problems.append(f"{step.label}: exit code {step.exit_code}: {step.stderr.strip()[-600:]}")
        if step.key == "ingest":
            result.documents, result.codings = _count(project)
        if step.key == "code":
            _, result.codings_after_code = _count(project)
            found = re.search(r"re-coded (\d+) of", re.sub(r"\s+", " ", step.stderr))
            result.recoded_by_code = int(found.group(1)) if found else None
    _check_outputs(result, project, workdir)
    return result


def _count(project: Path) -> tuple[int, int]:
    try:
        # closing(): sqlite3's own "with" only commits, and an open connection would keep the
        # project's write-ahead log from being removed by the next step
        with contextlib.closing(sqlite3.connect(f"{project.as_uri()}?mode=ro", uri=True)) as db:
            return (
                db.execute("SELECT count(*) FROM documents").fetchone()[0],
                db.execute("SELECT count(*) FROM codings").fetchone()[0],
            )
    except sqlite3.Error:
        return 0, 0


def estimate_minutes(n: int, previous: list[SizeRun], step_timeout: float | None) -> float:
    """Minutes a run of ``n`` notes should take, each step extrapolated from the last two sizes with its
    own growth exponent (linear when only one size is known; at least linear, at most cubic) and
    capped at the step timeout (seconds)."""
    import math

    last = previous[-1]
    total = 0.0
    for key, step in last.steps.items():
        exponent = 1.0
        if len(previous) == 2 and key in previous[0].steps and previous[0].steps[key].wall > 0.5:
            first = previous[0]
            exponent = math.log(step.wall / first.steps[key].wall) / math.log(last.notes / first.notes)
            exponent = min(max(exponent, 1.0), 3.0)
        guess = step.wall * (n / last.notes) ** exponent
        total += min(guess, step_timeout) if step_timeout else guess
    return total / 60


def _check_outputs(result: SizeRun, project: Path, workdir: Path) -> None:
    """Fill in the derived figures and note anything that did not do what it should."""
    floors = [s.wall for key in ("floor", "floor_again") if (s := result.step(key)) and s.exit_code == 0]
    result.floor = min(floors) if floors else 0.0
    floor = result.step("floor")
    if floor and floor.exit_code == 0:
        result.tokens = json.loads(floor.stdout.strip().splitlines()[-1])["tokens"]
    result.db_bytes = sum(p.stat().st_size for p in workdir.glob("project.db*") if p.suffix != ".lock")
    segments = workdir / "segments.csv"
    if segments.exists():
        import csv

        with open(segments, encoding="utf-8", newline="") as handle:
            result.exported_rows = sum(1 for _ in csv.reader(handle)) - 1
    if result.documents != result.notes:
        result.problems.append(f"cold ingest stored {result.documents} documents of {result.notes}")
    reingest = result.step("reingest")
    if reingest and f"{result.notes} unchanged" not in re.sub(r"\s+", " ", reingest.stderr):
        result.problems.append(
            f"re-ingest did not report all {result.notes} notes unchanged: {reingest.stderr.strip()[-300:]}"
        )
    code = result.step("code")
    if code and "re-coded" not in code.stderr:
        result.problems.append(f"code did not report what it re-coded: {code.stderr.strip()[-300:]}")
    forced = result.step("code_force")
    if forced and f"re-coded {result.notes} of" not in re.sub(r"\s+", " ", forced.stderr):
        result.problems.append(f"code --force did not report re-coding all notes: {forced.stderr.strip()[-300:]}")
    after_train = result.step("code_after_train")
    if after_train and f"{result.notes} of them re-scored only" not in re.sub(r"\s+", " ", after_train.stderr):
        result.problems.append(
            f"code after train did not re-score every note by the model alone: {after_train.stderr.strip()[-300:]}"
        )
    if result.codings_after_code and result.exported_rows not in (0, result.codings_after_code):
        result.problems.append(f"export wrote {result.exported_rows} rows for {result.codings_after_code} codings")


def _generator_hash() -> str:
    import hashlib

    return hashlib.sha256(Path(synth.__file__).read_bytes()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Targets (issue 6)


@dataclass
class Verdict:
    target: str
    measured: str
    status: str  # PASS | FAIL | n/a


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def peak_rss(run: SizeRun) -> int:
    """The largest single process over every phantomcode step of a run (floors excluded)."""
    keys = ("ingest", "reingest", "code", "report", "export")
    return max((s.max_rss for k in keys if (s := run.step(k))), default=0)


def peak_tree(run: SizeRun) -> int:
    """The largest summed PSS of any phantomcode step's process tree (floors excluded)."""
    keys = ("ingest", "reingest", "code", "report", "export")
    return max((s.tree_pss for k in keys if (s := run.step(k))), default=0)


def judge(main: SizeRun, runs: dict[int, SizeRun], jobs_help: dict[str, bool]) -> list[Verdict]:
    def status(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    cold = main.steps["ingest"].wall
    bound = main.step("bound")
    margin = (
        f"; the bound (no matching, no store) is {ratio(bound.wall, main.floor):.2f}x"
        if bound is not None and not bound.exit_code
        else ""
    )
    verdicts = [
        Verdict(
            "cold ingest <= 1.0x the floor (2 cores)",
            f"{ratio(cold, main.floor):.2f}x ({cold:.1f} s vs {main.floor:.1f} s){margin}",
            status(ratio(cold, main.floor) <= 1.0),
        )
    ]
    rules_only = main.step("ingest_rules")
    if rules_only is not None:
        learned_ratio = ratio(cold, rules_only.wall)
        verdicts.append(
            Verdict(
                "ingest with the learned layer <= 1.5x rules-only ingest (issue 13)",
                f"{learned_ratio:.2f}x ({cold:.1f} s vs {rules_only.wall:.1f} s; CPU "
                f"{ratio(main.steps['ingest'].cpu, rules_only.cpu):.2f}x)",
                status(learned_ratio <= 1.5),
            )
        )
    for key, limit, text in (
        ("suggest", 3.0, "`review export --suggest 50` <= 3 s (issue 13)"),
        ("train", 10.0, "`train` <= 10 s (issue 13: on 2,000 labelled sentences)"),
    ):
        step = main.step(key)
        if step is not None and not step.exit_code:
            verdicts.append(Verdict(text, f"{step.wall:.1f} s (CPU {step.cpu:.1f} s)", status(step.wall <= limit)))
    for key, limit, text in (
        ("reingest", 0.05, "re-ingest unchanged folder <= 5% of cold ingest"),
        ("code", 0.50, "re-code after a one-term change <= 50% of cold ingest"),
        ("report", 0.02, "report <= 2% of cold ingest"),
        ("export", 0.02, "export segments <= 2% of cold ingest"),
    ):
        step = main.steps[key]
        more = ">" if step.timed_out else ""
        net = ""
        if key in ("report", "export") and "startup" in main.steps:
            net_wall = step.wall - main.steps["startup"].wall
            net = f"; net of CLI start-up: {ratio(net_wall, cold):.1%} ({net_wall:.2f} s)"
        verdicts.append(
            Verdict(
                text,
                f"{more}{ratio(step.wall, cold):.1%} ({_secs(step)} s){net}",
                status(ratio(step.wall, cold) <= limit and not step.timed_out),
            )
        )
    small, big = runs.get(3000), runs.get(30000)
    if big is not None:
        verdicts.append(
            Verdict(
                "peak memory at 30,000 notes < 1 GiB",
                f"{peak_rss(big) / MIB:.0f} MiB (tree PSS {peak_tree(big) / MIB:.0f} MiB)",
                status(peak_rss(big) < 1024 * MIB),
            )
        )
    else:
        largest = max(runs) if runs else main.notes
        verdicts.append(
            Verdict(
                "peak memory at 30,000 notes < 1 GiB",
                f"30,000 not run; {peak_rss(runs.get(largest, main)) / MIB:.0f} MiB at {largest:,}",
                "n/a",
            )
        )
    if big is not None and small is not None:
        grow = ratio(peak_rss(big), peak_rss(small))
        verdicts.append(Verdict("peak memory at 30,000 <= 1.5x that at 3,000", f"{grow:.2f}x", status(grow <= 1.5)))
    else:
        others = sorted(runs)
        text = (
            (
                f"30,000 not run; {others[-1]:,} vs {others[0]:,}: "
                f"{ratio(peak_rss(runs[others[-1]]), peak_rss(runs[others[0]])):.2f}x"
            )
            if len(others) > 1
            else "needs --scaling"
        )
        verdicts.append(Verdict("peak memory at 30,000 <= 1.5x that at 3,000", text, "n/a"))
    ok = all(jobs_help.values())
    verdicts.append(
        Verdict(
            "`--jobs N` on ingest and code (default: all cores)",
            ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in jobs_help.items()),
            status(ok),
        )
    )
    return verdicts


def jobs_option_present(snapshot: Path | None) -> dict[str, bool]:
    found = {}
    env = {**os.environ, "COLUMNS": "200"}
    if snapshot is not None:
        env["PYTHONPATH"] = str(snapshot)
    for command in ("ingest", "code"):
        proc = subprocess.run(
            [*phantomcode_argv(), command, "--help"], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir()
        )
        found[command] = "--jobs" in proc.stdout and "all cores" in proc.stdout
    return found


# ---------------------------------------------------------------------------------------------
# Reporting


def machine() -> dict[str, str]:
    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    model = re.search(r"^model name\s*:\s*(.+)$", read("/proc/cpuinfo"), flags=re.MULTILINE)
    memory = re.search(r"^MemTotal:\s*(\d+)", read("/proc/meminfo"), flags=re.MULTILINE)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": f"{os.cpu_count()} (usable: {len(os.sched_getaffinity(0))})"
        if hasattr(os, "sched_getaffinity")
        else str(os.cpu_count()),
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "memory": f"{int(memory.group(1)) / 1024 / 1024:.1f} GiB" if memory else "?",
        "os": platform.platform(),
        "python": platform.python_version(),
        "spacy": _version("spacy"),
        "phantomcode": _version("phantomcode"),
        "commit": _head_commit(),
        "load": " ".join(read("/proc/loadavg").split()[:3]),
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def _head_commit() -> str:
    """HEAD's commit read from .git (no git command); the working tree may hold uncommitted edits."""
    git = REPO / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            path = git / ref
            if path.exists():
                return path.read_text().strip()[:12]
            for line in (git / "packed-refs").read_text().splitlines():
                if line.endswith(ref):
                    return line.split()[0][:12]
        return head[:12]
    except OSError:
        return "?"


def _secs(step: Step, digits: int = 2) -> str:
    """Wall time, as a lower bound ('>') when the step was killed at the timeout."""
    return f"{'>' if step.timed_out else ''}{step.wall:.{digits}f}"


def _mib(value: int) -> str:
    return f"{value / MIB:,.0f}"


MAIN_ORDER = (
    "floor",
    "floor2",
    "floor_again",
    "bound",
    "ingest",
    "reingest",
    "code",
    "code_force",
    "code_after_train",
    "report",
    "report_quotes",
    "export",
    "startup",
)


def main_table(run: SizeRun) -> list[list[str]]:
    cold = run.steps["ingest"].wall
    floor_cpu = min(s.cpu for key in ("floor", "floor_again") if (s := run.step(key)))
    rows = [
        [
            "step",
            "wall s",
            "x floor",
            "% of cold ingest",
            "CPU s",
            "CPU x floor CPU",
            "peak RSS MiB",
            "tree PSS MiB",
            "load",
            "exit",
        ]
    ]
    for key in MAIN_ORDER:
        step = run.step(key)
        if step is None:
            continue
        label = step.label + (" *(info)*" if step.info else "")
        rows.append(
            [
                label,
                _secs(step),
                f"{ratio(step.wall, run.floor):.2f}",
                f"{ratio(step.wall, cold):.1%}",
                f"{step.cpu:.2f}",
                f"{ratio(step.cpu, floor_cpu):.2f}",
                _mib(step.max_rss),
                _mib(step.tree_pss),
                f"{step.load:.1f}",
                str(step.exit_code),
            ]
        )
    return rows


def scaling_table(runs: dict[int, SizeRun]) -> list[list[str]]:
    rows = [
        [
            "notes",
            "floor s",
            "cold ingest s",
            "x floor",
            "ingest ms/note",
            "per-note vs smallest",
            "re-ingest s",
            "code s",
            "report s",
            "export s",
            "peak RSS MiB (ingest / code / report / export)",
            "ingest tree PSS MiB",
            "project MiB",
        ]
    ]
    first = None
    for n in sorted(runs):
        run = runs[n]
        s = run.steps
        per_note = s["ingest"].wall / n * 1000
        first = first or per_note
        rows.append(
            [
                f"{n:,}",
                f"{run.floor:.1f}",
                _secs(s["ingest"], 1),
                f"{ratio(s['ingest'].wall, run.floor):.2f}",
                f"{per_note:.2f}",
                f"{per_note / first:.2f}",
                _secs(s["reingest"]),
                _secs(s["code"], 1),
                _secs(s["report"]),
                _secs(s["export"]),
                " / ".join(_mib(s[k].max_rss) for k in ("ingest", "code", "report", "export")),
                _mib(s["ingest"].tree_pss),
                _mib(run.db_bytes),
            ]
        )
    return rows


def scaling_per_note(runs: dict[int, SizeRun]) -> list[list[str]]:
    keys = ("floor", "ingest", "reingest", "code", "report", "export")
    rows = [["notes", *(f"{k} ms/note" for k in keys)]]
    for n in sorted(runs):
        rows.append(
            [
                f"{n:,}",
                *(f"{'>' if runs[n].steps[k].timed_out else ''}{runs[n].steps[k].wall / n * 1000:.2f}" for k in keys),
            ]
        )
    return rows


def markdown(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def render(
    main: SizeRun,
    runs: dict[int, SizeRun],
    verdicts: list[Verdict],
    info: dict[str, str],
    args: argparse.Namespace,
    skipped: list[str],
) -> str:
    parts = [
        "# phantomcode benchmark results",
        "",
        f"Written by `python bench/run.py {' '.join(sys.argv[1:])}`".rstrip() + ". Ratios matter, not seconds: "
        "the machine is shared and noisy. How to read this: bench/README.md.",
        "",
        "## Machine",
        "",
        markdown([["", ""], *[[k, v] for k, v in info.items()]]),
        "",
        f"## {main.notes:,} notes",
        "",
        f"Corpus: {main.notes:,} synthetic notes in 6 city folders ({main.chinese} all-Chinese), "
        f"{main.words:,} whitespace-separated words, {main.tokens:,} spaCy tokens, "
        f"{main.corpus_bytes / MIB:.1f} MiB; seed {args.seed}. Cold ingest stored {main.documents:,} documents "
        f"and {main.codings:,} codings ({main.codings / max(main.notes, 1):.1f} per note); the one-term change "
        f"(`{ADDED_TERM}`) re-coded {'?' if main.recoded_by_code is None else f'{main.recoded_by_code:,}'} notes "
        f"(those holding one of its words) and left {main.codings_after_code:,} codings. "
        f"Project file {main.db_bytes / MIB:.0f} MiB. "
        f"Floor = the faster of its two runs ({main.steps['floor'].wall:.2f} s and "
        f"{main.steps['floor_again'].wall:.2f} s). Jobs: {args.jobs or 'phantomcode default (all cores)'}.",
        "",
        markdown(main_table(main)),
        "",
        "Peak RSS: the largest single process of the step (os.wait4's ru_maxrss: the command or its largest "
        "pool worker). Tree PSS: the summed proportional set size of the command and its workers, "
        "sampled every 0.5 s. CPU s: user + system time of the command and its reaped workers. CPU x floor CPU: "
        "the step's CPU time over the floor's, less sensitive than wall time to other work on the machine. "
        "Load: the 1-minute load average as the step started (2 cores: above 2, other work competed).",
        "",
        "## Targets (issue 6)",
        "",
        markdown([["target", "measured", "result"], *[[v.target, v.measured, v.status] for v in verdicts]]),
    ]
    if len(runs) > 1:
        parts += [
            "",
            "## Scaling",
            "",
            markdown(scaling_table(runs)),
            "",
            "Per-note time for every step (flat = linear; rising = superlinear):",
            "",
            markdown(scaling_per_note(runs)),
        ]
    if skipped:
        parts += ["", "Not run: " + "; ".join(skipped)]
    problems = [f"n={run.notes:,}: {p}" for run in runs.values() for p in run.problems]
    if problems:
        parts += ["", "## Problems", "", *[f"- {p}" for p in problems]]
    return "\n".join(parts) + "\n"


def print_console(main: SizeRun, runs: dict[int, SizeRun], verdicts: list[Verdict]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(markdown(main_table(main)))
        print(markdown([["target", "measured", "result"], *[[v.target, v.measured, v.status] for v in verdicts]]))
        return

    def show(rows: list[list[str]], title: str) -> None:
        table = Table(*rows[0], title=title, title_justify="left")
        for row in rows[1:]:
            table.add_row(*[cell.replace("`", "") for cell in row])
        console.print(table)

    console = Console(width=200)
    show(main_table(main), f"{main.notes:,} notes (floor {main.floor:.2f} s)")
    show([["target", "measured", "result"], *[[v.target, v.measured, v.status] for v in verdicts]], "Targets")
    if len(runs) > 1:
        show(scaling_table(runs), "Scaling")


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark phantomcode against a spaCy floor (issue 6).")
    parser.add_argument("--notes", type=int, default=3000, help="notes in the main run (default 3,000)")
    parser.add_argument("--scaling", action="store_true", help="also run every size of --sizes")
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated corpus sizes for --scaling (default 1000,3000,10000,30000)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep notes and projects in this folder and reuse the notes "
        "on the next run (default: a temporary folder in /tmp, removed at the end)",
    )
    parser.add_argument("--jobs", type=int, help="pass --jobs to ingest and code (default: phantomcode's own)")
    parser.add_argument("--seed", type=int, default=synth.SEED)
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="measure a copy of phantomcode/ taken at the start (others may edit the working tree during a long run)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=25.0,
        help="skip a size whose estimated run (linear from the previous size) exceeds this",
    )
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=20.0,
        help="kill a step after this many minutes and report its time as a lower bound (0: never)",
    )
    parser.add_argument(
        "--results",
        help="where to write the results (default bench/RESULTS.md, with --dask "
        "bench/RESULTS_DASK.md; '-' for nowhere)",
    )
    parser.add_argument(
        "--dask",
        action="store_true",
        help="instead: ingest --engine dask against the local "
        "ingest, partitions per core, the Parquet round trip (bench/dask_bench.py)",
    )
    args = parser.parse_args(argv)
    if args.results is None:
        args.results = str(BENCH_DIR / ("RESULTS_DASK.md" if args.dask else "RESULTS.md"))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dask:
        import dask_bench

        return dask_bench.main(args)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()}) if args.scaling else []
    if args.notes not in sizes:
        sizes = sorted({*sizes, args.notes})
    info = machine()
    base = args.keep or Path(tempfile.mkdtemp(prefix="phantomcode-bench-", dir="/tmp"))
    base.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    snapshot = None
    if args.snapshot:
        snapshot = base / "snapshot"
        shutil.rmtree(snapshot, ignore_errors=True)
        shutil.copytree(REPO / "phantomcode", snapshot / "phantomcode", ignore=shutil.ignore_patterns("__pycache__"))
        info["package"] = f"snapshot of {REPO / 'phantomcode'} taken {datetime.now(UTC):%H:%M UTC}"
    else:
        info["package"] = f"live working tree {REPO / 'phantomcode'} (may include uncommitted edits)"
    log(
        f"phantomcode {info['phantomcode']}, spaCy {info['spacy']}, Python {info['python']}, cores {info['cores']}; "
        f"working in {base}"
    )
    runs: dict[int, SizeRun] = {}
    skipped: list[str] = []
    try:
        for n in sizes:
            done = sorted(m for m in runs if m < n)
            if done and n != args.notes:
                estimate = estimate_minutes(
                    n, [runs[m] for m in done[-2:]], args.step_timeout * 60 if args.step_timeout else None
                )
                if estimate > args.max_minutes:
                    skipped.append(f"{n:,} notes (estimated {estimate:.0f} min > --max-minutes {args.max_minutes:g})")
                    log(f"[n={n:,}] skipped: estimated {estimate:.0f} minutes")
                    continue
            runs[n] = run_size(
                n,
                base=base,
                jobs=args.jobs,
                seed=args.seed,
                reuse_notes=args.keep is not None,
                snapshot=snapshot,
                step_timeout=args.step_timeout * 60 if args.step_timeout else None,
                log=log,
            )
        verdicts_jobs = jobs_option_present(snapshot)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    info["load"] = f"{info['load']} at start, {' '.join(Path('/proc/loadavg').read_text().split()[:3])} at end"
    main_run = runs[args.notes]
    verdicts = judge(main_run, runs, verdicts_jobs)
    print_console(main_run, runs, verdicts)
    text = render(main_run, runs, verdicts, info, args, skipped)
    if args.results != "-":
        Path(args.results).write_text(text, encoding="utf-8")
        log(f"wrote {args.results}")
    for run in runs.values():
        for problem in run.problems:
            log(f"problem (n={run.notes:,}): {problem}")
    return 1 if any(run.problems for run in runs.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
