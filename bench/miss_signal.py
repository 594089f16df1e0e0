"""Where the combined coding's misses are: how close the learned model came to each one.

    python bench/simulate_review.py --notes DIR --gold GOLD.csv [--leave-out GOLD.csv] --rounds 0 --keep SIM.db
    python bench/miss_signal.py SIM.db GOLD.csv

For every (gold sentence, gold code) pair that no counted coding gives, the model's stored
probability for that code in that sentence, in three bands: no signal (no stored score, or under
0.3), 0.3 to the learned layer's floor (``Parameters.min_threshold``), and from the floor up to
the code's own threshold. A miss with no signal is beyond what a lower threshold can recover: the
features do not carry it. Also counts the rule codings (not negated or hypothetical) right and
wrong in the same bands: the model's say on what the rules coded. Reads a project
``simulate_review.py --keep`` wrote; changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from phantomcode.coding.learned import Parameters  # noqa: E402
from phantomcode.evaluate import locate_sentence, read_gold  # noqa: E402

SIGNAL = 0.3  # under this the model has not told the sentence from background


class Sentence(NamedTuple):
    gold: frozenset[str]
    coded: set[str]  # every counted coding
    rule_coded: set[str]  # the rules' counted codings
    probabilities: dict[str, float]  # the model's stored scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("gold", type=Path)
    args = parser.parse_args(argv)
    misses, rules = Counter(), Counter()
    for sentence in sentences(args.project, args.gold):
        for code in sentence.gold - sentence.coded:
            misses[band(sentence.probabilities.get(code, 0.0))] += 1
        for code in sentence.rule_coded:
            rules[band(sentence.probabilities.get(code, 0.0)), code in sentence.gold] += 1
    total = sum(misses.values())
    print(f"{args.project}: {total} missed (sentence, code) pairs")
    print("| model's probability | misses | share | rule codings right | rule codings wrong |")
    print("|---|---|---|---|---|")
    for name in BANDS:
        share = misses[name] / total if total else 0.0
        print(f"| {name} | {misses[name]} | {share:.0%} | {rules[name, True]} | {rules[name, False]} |")
    return 0


BANDS = ("no signal", "signal under the floor", "floor to threshold or above")


def band(probability: float) -> str:
    if probability < SIGNAL:
        return BANDS[0]
    return BANDS[1] if probability < Parameters().min_threshold else BANDS[2]


def sentences(project: Path, gold: Path) -> list[Sentence]:
    """The gold sentences found in the project, with what was coded there and the model's scores."""
    db = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    texts = dict(db.execute("SELECT doc_id, text FROM documents").fetchall())
    codings = db.execute(
        "SELECT doc_id, start, end, code, source FROM codings WHERE negated = 0 AND hypothetical = 0"
    ).fetchall()
    scores = db.execute("SELECT doc_id, start, end, probabilities FROM scores").fetchall()
    db.close()
    found, cursor = [], {}
    for unit in (u for u in read_gold(gold) if u.sentence):
        text = texts.get(unit.note_id)
        start = locate_sentence(text, unit.sentence, cursor.get(unit.note_id, 0)) if text else -1
        if start < 0:
            continue
        end = cursor[unit.note_id] = start + len(unit.sentence)
        inside = [c for c in codings if c[0] == unit.note_id and c[1] < end and c[2] > start]
        probabilities: dict[str, float] = {}
        for _, _, _, stored in (s for s in scores if s[0] == unit.note_id and s[1] < end and s[2] > start):
            probabilities.update(json.loads(stored))
        found.append(
            Sentence(unit.codes, {c[3] for c in inside}, {c[3] for c in inside if c[4] == "rules"}, probabilities)
        )
    return found


if __name__ == "__main__":
    raise SystemExit(main())
