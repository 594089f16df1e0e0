"""Where a cold ``phantomcode ingest`` spends its time, by pipeline stage and by process.

    python bench/profile_ingest.py                       # 1,000 synthetic notes, all cores and --jobs 1
    python bench/profile_ingest.py --notes 1000 --out /tmp/phantomcode-profile.md

Uses py-spy (``--py-spy PATH``, else ``py-spy`` on PATH) to sample the real CLI with native frames
(spaCy's Cython, the regex engine, SQLite) in the parent and in every pool worker. Each sample is
charged to the innermost frame that names a stage (tokenizer, lemmas, matchers, regex rules,
negation, SQLite writes, file reading, process-pool pickling, imports, ...), so the stages add up
to the sampled time. Without py-spy it falls back to cProfile of the library's ``ingest()`` in one
process (Python-level only: Cython and regex time lands in the calling function).

py-spy is not a phantomcode dependency; install it anywhere, e.g.
``pip install --target /tmp/pyspy py-spy`` and pass ``--py-spy /tmp/pyspy/bin/py-spy``.
"""

from __future__ import annotations

import argparse
import linecache
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402

# Innermost matching frame wins. Each rule: (stage, regex over "function (file:line)").
STAGES: list[tuple[str, str]] = [
    ("garbage collector", r"^gc_collect|^_PyObject_GC_|^gc_"),
    ("imports / interpreter start-up", r"_find_and_load|importlib\._bootstrap|_call_with_frames_removed"),
    ("process pool: pickling + IPC", r"multiprocessing/|concurrent/futures/|\(pickle|_pickle|copyreg"),
    (
        "engine build (pipelines, matchers, lookups)",
        r"CodingEngine\.__init__|_Lane\.__init__|CodeMatcher\.add |_add_glob_term|blank_pipeline"
        r"|_lemma_table|_lemma_inverse|spacy/lookups|Language\.initialize|Language\.from_config",
    ),
    # Without native frames the tokenizer's Cython shows as _analyse_chunk's own time (it pipes the texts).
    (
        "spaCy tokenizer",
        r"tokenizer\.(cpp|pyx)|spacy/tokenizer|Tokenizer|make_doc|Vocab__new_lexeme|vocab\.cpp"
        r"|CodingEngine\._analyse_chunk",
    ),
    ("sentence starts (_sentence_starts)", r"_sentence_starts|_Sentences|sentencizer"),
    ("token arrays (_columns)", r"_columns \("),
    ("PhraseMatcher", r"phrasematcher"),
    ("token-pattern Matcher", r"matcher\.(cpp|pyx)|spacy/matcher/matcher|_pattern_matches"),
    ("norms + lemmas (set_lemmas)", r"set_lemmas|_norm_and_lemma"),
    ("word forms learned as they appear", r"_learn_words|_add_spellings|_add_inflected"),
    ("glob expansion", r"_expand_globs"),
    ("negation + hypothetical checks", r"_Context\.(flags|_cue|load_triggers)|_inside \("),
    ("rule combinations + candidates", r"_candidates|_combinations|_Context\.|_extent"),
    ("selection (_select, _choose_codings)", r"_select|_choose_codings"),
    ("unit bookkeeping (_analyse_group)", r"_analyse_group|_complete_rules"),
    ("PII scan (pii.py)", r"phantomcode/pii\.py"),
    ("paragraphs + language detection", r"_groups|_group \(|split_paragraphs|detect_language|_looks_hard_wrapped"),
    ("spaCy Doc/Token/Span access", r"(doc|token|span|strings)\.(cpp|pyx)|spacy/tokens|StringStore"),
    ("spaCy nlp.pipe plumbing", r"spacy/language|Language\."),
    ("SQLite writes + JSON (store/)", r"phantomcode/store/|sqlite3|libsqlite"),
    ("file discovery, reading, decoding, hashing (notes.py)", r"phantomcode/notes\.py|charset_normalizer|yaml/"),
    ("codebook load + attribute vocabulary (codebook.py)", r"phantomcode/codebook\.py"),
    ("planning + batching (ingest.py)", r"phantomcode/ingest\.py"),
    ("worker plumbing (workers.py)", r"phantomcode/workers\.py"),
    ("CLI (typer, rich)", r"typer/|click/|rich/|phantomcode/cli/"),
]
_COMPILED = [(stage, re.compile(pattern)) for stage, pattern in STAGES]
WORKER_TASKS = ("read_and_code (", "recode (")  # workers.py's task functions: a sample under one is a worker's
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*?)(?::(?P<line>\d+))?\)$")


_ENCLOSING = [stage for stage in (STAGES[1][0], STAGES[3][0])]  # imports, engine build: whatever they call


def stage_of(frames: list[str], sources: dict[str, Path]) -> str:
    """The stage of one sample: the innermost frame that names one (CodeMatcher.hits by its line),
    except that everything under an import or the engine build is charged to those."""
    for stage, pattern in _COMPILED:
        if stage in _ENCLOSING and any(pattern.search(frame) for frame in frames):
            return stage
    for frame in reversed(frames):
        if frame.startswith("CodeMatcher.hits"):
            return _matcher_line_stage(frame, sources)
        if "spacy/language.py" in frame:
            return _language_line_stage(frame, sources)
        for stage, pattern in _COMPILED:
            if pattern.search(frame):
                return stage
    return "other"


def _matcher_line_stage(frame: str, sources: dict[str, Path]) -> str:
    """``CodeMatcher.hits`` runs the phrase matcher, patterns and regexes: tell them apart by line."""
    source = _source_line(frame, sources)
    if re.search(r"regex|finditer|char_span|match\.(start|end)|setdefault", source):
        return "regex rules"
    if re.search(r"_phrases", source):
        return "PhraseMatcher"
    return "CodeMatcher bookkeeping (hits, sorting)"


def _language_line_stage(frame: str, sources: dict[str, Path]) -> str:
    """Without native frames, the tokenizer and the sentencizer run inside spaCy's Language lines."""
    source = _source_line(frame, sources)
    if re.search(r"tokenizer|make_doc|_ensure_doc", source):
        return "spaCy tokenizer"
    if re.search(r"proc\(|proc\.pipe|pipe\(", source) and "_pipe" in frame:
        return "spaCy pipeline components (sentencizer)"
    return "spaCy nlp.pipe plumbing"


def _source_line(frame: str, sources: dict[str, Path]) -> str:
    match = _FRAME.match(frame)
    if match and match["line"] and match["file"] in sources:
        return linecache.getline(str(sources[match["file"]]), int(match["line"]))
    return ""


def parse_raw(path: Path, rate: int, sources: dict[str, Path]) -> dict[str, Counter]:
    """py-spy raw output -> {role: Counter(stage -> seconds)}; role 'parent' or 'worker'."""
    by_role: dict[str, Counter] = defaultdict(Counter)
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        role = "worker" if any(f.startswith(WORKER_TASKS) for f in frames) else "parent"
        by_role[role][stage_of(frames[1:], sources)] += int(count) / rate
    return by_role


def record(py_spy: str, argv: list[str], out: Path, rate: int, native: bool) -> float:
    """Sample ``argv`` and its subprocesses. Native stacks stop the process at every sample (slow,
    and it inflates system-call-heavy phases); without them, sampling does not pause it."""
    mode = ["--native"] if native else ["--nonblocking"]
    start = time.perf_counter()
    subprocess.run(
        [
            py_spy,
            "record",
            "--subprocesses",
            *mode,
            "--rate",
            str(rate),
            "--format",
            "raw",
            "-o",
            str(out),
            "--",
            *argv,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) of one unprofiled run: CPU is user + system of the process and its reaped workers."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def table(by_role: dict[str, Counter], wall: float, cpu: float) -> str:
    """Shares of the samples per stage, turned into seconds of the unprofiled run's measured CPU.

    py-spy counts a runnable thread waiting for a core as busy, so sampled seconds overstate CPU
    when more processes than cores want to run; the shares are what the samples tell reliably.
    """
    total = Counter()
    for counts in by_role.values():
        total.update(counts)
    roles = sorted(by_role, key=lambda r: r != "parent")
    grand = sum(total.values()) or 1.0
    rows = [
        "| stage | " + " | ".join(f"{r} s" for r in roles) + " | all s | share |",
        "|---|" + "---|" * (len(roles) + 2),
    ]
    for stage, seconds in total.most_common():
        rows.append(
            f"| {stage} | "
            + " | ".join(f"{by_role[r][stage] / grand * cpu:.2f}" for r in roles)
            + f" | {seconds / grand * cpu:.2f} | {seconds / grand:.1%} |"
        )
    rows.append(
        "| **CPU (measured without the profiler)** | "
        + " | ".join(f"{sum(by_role[r].values()) / grand * cpu:.2f}" for r in roles)
        + f" | {cpu:.2f} | wall {wall:.2f} s |"
    )
    return "\n".join(rows)


def cprofile_fallback(notes: Path, project: Path, top: int) -> str:
    import cProfile
    import io
    import pstats

    from phantomcode import ingest

    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(ingest, notes, project=project, jobs=1)
    wall = time.perf_counter() - start
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(top)
    return f"cProfile of ingest(jobs=1): {wall:.2f} s\n\n```\n{buffer.getvalue()}\n```\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Profile a cold phantomcode ingest by stage (issue 6).")
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--notes-dir", type=Path, help="profile these notes instead of generating some")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="jobs of the multi-process run")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument(
        "--native",
        action="store_true",
        help="native frames too (Cython, regex engine, GC); several times slower, shares skewed towards system calls",
    )
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--top", type=int, default=30, help="cProfile fallback: functions shown")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="phantomcode-profile-", dir="/tmp"))
    try:
        notes = args.notes_dir
        if notes is None:
            notes = work / "notes"
            synth.write_corpus(notes, args.notes)
        package = Path(__import__("phantomcode").__file__).parent
        sources = {f"phantomcode/{p.name}": p for p in package.glob("*.py")}
        sources["spacy/language.py"] = Path(__import__("spacy").__file__).parent / "language.py"
        script = Path(sys.executable).with_name("phantomcode")
        pc = [str(script)] if script.exists() else [sys.executable, "-m", "phantomcode"]
        parts = [f"# Cold ingest profile: {len(list(notes.rglob('*.*'))):,} notes, {os.cpu_count()} cores", ""]
        if not (args.py_spy and Path(args.py_spy).exists()):
            parts.append(cprofile_fallback(notes, work / "cprofile.db", args.top))
        else:
            for jobs in dict.fromkeys([args.jobs, 1]):
                raw = work / f"jobs{jobs}.txt"
                argv = [
                    *pc,
                    "ingest",
                    str(notes),
                    "--project",
                    str(work / f"jobs{jobs}.db"),
                    "--quiet",
                    "--jobs",
                    str(jobs),
                ]
                wall, cpu = measure(argv)
                for leftover in work.glob(f"jobs{jobs}.db*"):
                    leftover.unlink()
                record(args.py_spy, argv, raw, args.rate, args.native)
                parts += [f"## `--jobs {jobs}`", "", table(parse_raw(raw, args.rate, sources), wall, cpu), ""]
                shutil.copyfile(raw, Path(tempfile.gettempdir()) / f"phantomcode-profile-jobs{jobs}.raw.txt")
            parts.append(
                "Each run is made twice: once plain, for wall and CPU time (os.wait4), once under py-spy "
                "for the shares; seconds per stage are share x measured CPU. Raw py-spy stacks: "
                "/tmp/phantomcode-profile-jobs*.raw.txt (flamegraph.pl input)."
            )
        text = "\n".join(parts) + "\n"
        print(text)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
