"""Split every note of a folder into sentence units: note_id,sentence,codes (codes left empty).

Used to give two independent coders the same units. Sentences end at . ! ? (optionally followed by
a closing quote or bracket) before white space, or at 。！？, and never span a line break.
"""

import csv
import re
import sys
import unicodedata
from pathlib import Path

import yaml

END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|(?<=[。！？])[”’」』）]*")


def body_and_id(path: Path) -> tuple[str, str]:
    text = unicodedata.normalize("NFC", path.read_text(encoding="utf-8-sig").replace("\r\n", "\n"))
    if text.startswith("---\n"):
        head, body = text[4:].split("\n---\n", 1)
        meta = yaml.safe_load(head)
        return str(meta["id"]), body
    return path.stem, text


ABBREVIATION = re.compile(r"(?:\b(?:No|Nov|Dec|Jan|Feb|Aug|Sept|Oct|Mr|Mrs|Ms|Dr|St|vs|etc|e\.g|i\.e)|\b[A-Z])\.$")


def sentences(body: str):
    for line in body.split("\n"):
        start = 0
        for m in END.finditer(line):
            if ABBREVIATION.search(line[start : m.end()].rstrip()):
                continue
            piece = line[start : m.end()].strip()
            if piece:
                yield piece
            start = m.end()
        piece = line[start:].strip()
        if piece:
            yield piece


def main(notes_dir: str, out: str) -> None:
    rows = []
    for path in sorted(Path(notes_dir).glob("*.txt")):
        note_id, body = body_and_id(path)
        for s in sentences(body):
            assert s in body, (path, s)
            rows.append((note_id, s, ""))
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["note_id", "sentence", "codes"])
        w.writerows(rows)
    print(f"{len(rows)} units from {len({r[0] for r in rows})} notes -> {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
