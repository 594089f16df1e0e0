"""Dump everything a project holds and publishes, to compare two versions of phantomcode.

Ingests a copy of a notes folder, reviews part of its codings (accept, reject, add), edits one
reviewed note so that the review decisions must follow their text, re-ingests, re-codes with a
second codebook, and writes to ``OUT_DIR``: every stored table (documents, segments, codings,
scores, reviews, reviewer decisions, memos, runs), every report format that is text (csv, json,
md, html, the terminal table, co-occurrence), every export (documents, segments, matrix, the
files inside a .qdpx), review stats, agreement and, with ``--gold``, evaluation. Timestamps,
run IDs, tool versions and temporary paths are replaced by placeholders, so two dumps of the
same behaviour are byte-identical:

    python bench/dump_project.py sample_data/notes /tmp/store_before --gold sample_data/gold.csv
    python bench/synth.py /tmp/synth --notes 300 && python bench/dump_project.py /tmp/synth /tmp/synth_before
    ...change phantomcode, dump again into /tmp/store_after...
    diff -r /tmp/store_before /tmp/store_after

Runs the CLI in subprocesses of this interpreter, so it dumps whatever ``phantomcode`` that
interpreter imports (set PYTHONPATH to a worktree to dump that one).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

TABLES = {  # table -> ORDER BY that makes its dump independent of insertion order
    "documents": "doc_id",
    "doc_attributes": "doc_id, name",
    "segments": "doc_id, start, end",
    "codings": "doc_id, start, end, code",
    "scores": "doc_id, start, end",
    "reviews": "doc_id, start, end, code",
    "reviewer_decisions": "doc_id, start, end, code, reviewer",
    "memos": "doc_id, start, end, code",
    "codebooks": "content_hash",
    "runs": "run_id",
}
# Columns whose values differ from run to run by design: IDs assigned in order, times, versions.
VOLATILE_COLUMNS = {
    "segment_id",
    "coding_id",
    "review_id",
    "memo_id",
    "model_id",
    "run_id",
    "ingested_at",
    "started_at",
    "finished_at",
    "decided_at",
    "written_at",
    "saved_at",
    "tool_version",
    "created_at",
    "mtime_ns",
    "root",
    "codebook_path",
    "data",
    "source",
}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notes", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--gold", type=Path, default=None, help="gold CSV for 'phantomcode evaluate'")
    parser.add_argument("--rules-only", action="store_true", help="code without the learned layer (faster)")
    args = parser.parse_args()
    dump(args.notes, args.out_dir, gold=args.gold, rules_only=args.rules_only)


def dump(notes: Path, out_dir: Path, *, gold: Path | None = None, rules_only: bool = False) -> None:
    """Build a reviewed project from ``notes`` and write its normalised contents under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="phantomcode-dump-") as work:
        work_dir = Path(work)
        copy = work_dir / "notes"
        shutil.copytree(notes, copy)
        project = work_dir / "project.db"
        learned = ["--rules-only"] if rules_only else []
        run = _runner(project, work_dir, out_dir)
        run("01-ingest", "ingest", str(copy), *learned)
        _review(run, work_dir)
        _edit_reviewed_note(project, copy)
        run("04-reingest", "ingest", str(copy), *learned)
        _dump_outputs(run, work_dir, out_dir, gold)
        _dump_tables(project, out_dir / "tables", work_dir)
        narrowed = _narrowed_codebook(work_dir)
        run("30-code-other-codebook", "code", "--codebook", str(narrowed), *learned)
        _dump_tables(project, out_dir / "tables-after-code", work_dir)
        run("31-report-after-code", "report", "--format", "csv", "--codebook", str(narrowed))


def _runner(project: Path, work_dir: Path, out_dir: Path) -> Callable[..., str]:
    """A function that runs one CLI command on the project and keeps its normalised output."""

    def run(name: str, *command: str) -> str:
        argv = [*command, "--project", str(project)]
        result = subprocess.run(
            [sys.executable, "-m", "phantomcode", *argv], capture_output=True, text=True, cwd=work_dir, check=False
        )
        text = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{_stderr(result.stderr)}"
        (out_dir / f"{name}.txt").write_text(_normalise(text, work_dir), encoding="utf-8")
        return result.stdout

    return run


def _stderr(text: str) -> str:
    """stderr without progress bars and lines that carry timings."""
    return "\n".join(
        line for line in text.splitlines() if not re.search(r"\d+(\.\d+)?\s*(s|ms|notes/s)\b|\d:\d\d:\d\d", line)
    )


def _normalise(text: str, work_dir: Path) -> str:
    text = text.replace(str(work_dir), "<work>")
    text = TIMESTAMP.sub("<time>", text)
    return UUID.sub("<uuid>", text)


def _review(run: Callable[..., str], work_dir: Path) -> None:
    """Decide every third coding of the review sheet: accept, reject, or add its code to the
    next sentence; imported twice, by two reviewers who disagree on some."""
    sheet = work_dir / "review.csv"
    run("02-review-export", "review", "export", "--out", str(sheet), "--include-flagged")
    with sheet.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0].keys()) if rows else []
    for reviewer, flip in (("ana", False), ("ben", True)):
        decided = []
        for index, row in enumerate(rows):
            if index % 3:
                continue
            choice = ("accept", "reject")[(index // 3 + flip) % 2] if index % 2 == 0 or not flip else "accept"
            extra = {}
            if index % 9 == 0:  # the code does not apply, another does: a reject and an add
                other = "deterred" if row.get("code") != "deterred" else "self_blame"
                choice, extra = "reject", {"correct_code": other, "note": f"{reviewer}: {other} instead"}
            decided.append({**row, "decision": choice, **extra})
        filled = work_dir / f"review-{reviewer}.csv"
        with filled.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(decided)
        run(f"03-review-import-{reviewer}", "review", "import", str(filled), "--reviewer", reviewer)


def _edit_reviewed_note(project: Path, notes: Path) -> None:
    """Prepend a sentence to the first note with a decision, so its decisions must be relocated."""
    with sqlite3.connect(project) as connection:
        row = connection.execute(
            "SELECT d.source FROM reviews r JOIN documents d USING (doc_id) ORDER BY r.doc_id LIMIT 1"
        ).fetchone()
    connection.close()
    if row is None:
        return
    path = notes / row[0]
    text = path.read_text(encoding="utf-8")
    if text.startswith("---"):
        end = text.index("---", 3) + 3
        text = f"{text[:end]}\nThe interview took place in a tea house near the station.\n{text[end:]}"
    else:
        text = f"The interview took place in a tea house near the station.\n{text}"
    path.write_text(text, encoding="utf-8")


def _narrowed_codebook(work_dir: Path) -> Path:
    """The bundled codebook without its last code, so that ``code`` has something to re-code."""
    import yaml

    from phantomcode.codebook import default_codebook_path

    data = yaml.safe_load(default_codebook_path().read_text(encoding="utf-8"))
    dropped = data["codes"].pop()["id"]
    for name, members in data.get("groups", {}).items():
        data["groups"][name] = [code for code in members if code != dropped]
    data["version"] = f"{data.get('version', '1')}-narrow"
    path = work_dir / "narrow.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _dump_outputs(run: Callable[..., str], work_dir: Path, out_dir: Path, gold: Path | None) -> None:
    for fmt in ("table", "md", "html"):
        run(f"10-report-{fmt}", "report", "--format", fmt, "--quotes", "2")
    for fmt in ("csv", "json"):
        run(f"10-report-{fmt}", "report", "--format", fmt)
    run("10-report-wide", "report", "--format", "csv", "--wide", "--by", "city", "--by", "sector")
    run("10-report-accepted", "report", "--format", "csv", "--status", "accepted")
    run("10-report-rules", "report", "--format", "json", "--source", "rules", "--measure", "segments")
    run("10-report-where", "report", "--format", "csv", "--where", "sector=education", "--by", "respondent_type")
    run("11-cooccurrence", "report", "cooccurrence", "--format", "csv")
    for what, fmt in (("documents", "jsonl"), ("segments", "csv"), ("segments", "jsonl"), ("matrix", "csv")):
        run(f"12-export-{what}-{fmt}", "export", what, "--format", fmt)
    qdpx = work_dir / "project.qdpx"
    run("13-export-qdpx", "export", "qdpx", "--out", str(qdpx))
    if qdpx.exists():
        with zipfile.ZipFile(qdpx) as archive:
            for name in sorted(archive.namelist()):
                data = archive.read(name)
                target = out_dir / "qdpx" / UUID.sub("<uuid>", name)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    target.write_text(_normalise(data.decode("utf-8"), work_dir), encoding="utf-8")
                except UnicodeDecodeError:
                    target.write_bytes(data)
    run("14-review-stats", "review", "stats")
    run("15-agree-reviewed", "agree", "ana", "ben")
    run("15-agree-auto", "agree", "auto", "reviewed")
    run("16-info", "info")
    run("17-kwic", "kwic", "--code", "paperwork")
    run("18-codebook-stats", "codebook", "stats")
    if gold is not None:
        run("19-evaluate", "evaluate", "--gold", str(gold.resolve()))
        run("19-evaluate-decisions", "evaluate", "--gold", str(gold.resolve()), "--with-decisions")


def _dump_tables(project: Path, target: Path, work_dir: Path) -> None:
    """Every table as JSON lines in a stable order, without the volatile columns."""
    target.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(project) as connection:
        connection.row_factory = sqlite3.Row
        for table, order in TABLES.items():
            rows = connection.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            lines = []
            for row in rows:
                record = {
                    key: row[key]
                    for key in row.keys()
                    if key not in VOLATILE_COLUMNS or (table == "codings" and key == "source")
                }
                if table == "codings":
                    record["segment"] = connection.execute(
                        "SELECT start, end FROM segments WHERE segment_id = ?", (row["segment_id"],)
                    ).fetchone()[:]
                lines.append(_normalise(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str), work_dir))
            (target / f"{table}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    connection.close()


if __name__ == "__main__":
    main()
