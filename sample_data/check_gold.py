"""Check sample_data/gold.csv against the notes in sample_data/notes/.

For every note it reads the body (front matter stripped, bytes decoded with the right
encoding, .docx paragraphs joined with a blank line) and then verifies that

  (a) gold.csv has exactly the columns note_id,sentence,codes and only known code IDs;
  (b) every gold sentence occurs verbatim in its note's body;
  (c) for every note that appears in gold.csv, the gold sentences are exactly the
      sentences of the body, split on . ! ? (followed by whitespace or the end of a line,
      closing quotes kept) and on 。！？ (closing quotes kept);

and prints the number of positive sentences and of notes per code, plus row totals.
Exits with status 1 if any check fails.

    /work/venv/bin/python sample_data/check_gold.py
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml
from docx import Document

HERE = Path(__file__).resolve().parent
NOTES_DIR = HERE / "notes"
GOLD = HERE / "gold.csv"

# The bundled codebook is the one this gold set labels: its code IDs, in its order.
CODES = [
    code["id"] for code in yaml.safe_load((HERE.parent / "codebooks" / "deflection.yaml").read_text("utf-8"))["codes"]
]
MIN_POSITIVES = 22
MIN_ROWS = 320
MIN_NOTES = 40

CLOSERS = "\"'”’」』）)]"
SENTENCE = re.compile(r"\S.*?(?:[.!?][" + re.escape(CLOSERS) + r"]*(?=\s|$)|[。！？][" + re.escape(CLOSERS) + r"]*|$)")


def decode(data: bytes) -> str:
    """Decode note bytes: BOMs first, then strict UTF-8, then GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Return (attributes, body) for a text note that starts with --- front matter."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.index("\n---\n", 3)
    attrs = {}
    for line in text[4:end].splitlines():
        key, _, value = line.partition(":")
        attrs[key.strip()] = value.strip()
    return attrs, text[end + len("\n---\n") :]


def load_notes() -> dict[str, tuple[Path, str]]:
    """Map note id -> (path, body) for every note under notes/."""
    notes: dict[str, tuple[Path, str]] = {}

    def add(note_id: str, path: Path, body: str) -> None:
        if note_id in notes:
            sys.exit(f"duplicate note id {note_id}: {notes[note_id][0]} and {path}")
        notes[note_id] = (path, body)

    for path in sorted(NOTES_DIR.rglob("*")):
        if path.suffix in {".md", ".txt"}:
            text = decode(path.read_bytes()).replace("\r\n", "\n")
            attrs, body = split_front_matter(text)
            if "id" not in attrs:
                sys.exit(f"{path}: no id in front matter")
            add(attrs["id"], path, body)

    docx_dir = NOTES_DIR / "docx"
    with open(docx_dir / "metadata.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            path = docx_dir / row["file"]
            body = "\n\n".join(p.text for p in Document(str(path)).paragraphs)
            add(row["id"], path, body)
    return notes


def split_sentences(body: str) -> list[str]:
    """Rough sentence split, line by line (sentences never span a line break)."""
    sentences = []
    for line in body.split("\n"):
        sentences.extend(m.group(0).strip() for m in SENTENCE.finditer(line))
    return [s for s in sentences if s]


def main() -> int:
    notes = load_notes()
    problems: list[str] = []

    with open(GOLD, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    if header != ["note_id", "sentence", "codes"]:
        problems.append(f"gold.csv header is {header}")

    gold_by_note: dict[str, list[str]] = defaultdict(list)
    positives: Counter[str] = Counter()
    notes_per_code: dict[str, set[str]] = defaultdict(set)
    coded_rows = 0
    for lineno, (note_id, sentence, codes) in enumerate(rows, start=2):
        where = f"gold.csv:{lineno} [{note_id}]"
        if note_id not in notes:
            problems.append(f"{where} unknown note id")
            continue
        if sentence != sentence.strip() or "\n" in sentence:
            problems.append(f"{where} sentence has surrounding whitespace or a line break")
        if sentence not in notes[note_id][1]:
            problems.append(f"{where} sentence not found verbatim in the note: {sentence!r}")
        if sentence in gold_by_note[note_id]:
            problems.append(f"{where} duplicate sentence: {sentence!r}")
        gold_by_note[note_id].append(sentence)
        code_list = [c for c in codes.split(";") if c]
        for code in code_list:
            if code not in CODES:
                problems.append(f"{where} unknown code {code!r}")
        if len(code_list) != len(set(code_list)):
            problems.append(f"{where} repeated code in {codes!r}")
        if code_list:
            coded_rows += 1
        for code in set(code_list):
            positives[code] += 1
            notes_per_code[code].add(note_id)

    for note_id, gold_sentences in gold_by_note.items():
        split = split_sentences(notes[note_id][1])
        missing = [s for s in split if s not in gold_sentences]
        extra = [s for s in gold_sentences if s not in split]
        for s in missing:
            problems.append(f"{note_id}: sentence not covered by gold.csv: {s!r}")
        for s in extra:
            problems.append(f"{note_id}: gold sentence does not match the splitter: {s!r}")
        if not 6 <= len(split) <= 14:
            problems.append(f"{note_id}: {len(split)} sentences (expected 6 to 14)")

    print(f"{'code':<22}{'sentences':>10}{'notes':>7}")
    for code in CODES:
        flag = "" if positives[code] >= MIN_POSITIVES else f"  < {MIN_POSITIVES}"
        print(f"{code:<22}{positives[code]:>10}{len(notes_per_code[code]):>7}{flag}")
        if positives[code] < MIN_POSITIVES:
            problems.append(f"only {positives[code]} positive sentences for {code}")
    print(f"\nnotes found: {len(notes)}; notes covered by gold: {len(gold_by_note)}")
    print(
        f"gold rows: {len(rows)} ({coded_rows} coded, {len(rows) - coded_rows} uncoded); "
        f"code assignments: {sum(positives.values())}"
    )
    if len(rows) < MIN_ROWS:
        problems.append(f"only {len(rows)} gold rows (need {MIN_ROWS})")
    if len(gold_by_note) < MIN_NOTES:
        problems.append(f"only {len(gold_by_note)} notes covered (need {MIN_NOTES})")

    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print("\nOK: gold.csv is consistent with the notes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
