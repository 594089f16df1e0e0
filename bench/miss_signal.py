"""Where the combined coding's misses are: how close the learned model came to each one.

    python bench/simulate_review.py --notes DIR --gold GOLD.csv [--leave-out GOLD.csv] --rounds 0 --keep SIM.db
    python bench/miss_signal.py SIM.db GOLD.csv

For every (gold sentence, gold code) pair that no counted coding gives, the model's stored
probability for that code in that sentence, in three bands: no signal (no stored score, or under
0.3), 0.3 to the learned layer's floor (``Parameters.min_threshold``), and from the floor up to
the code's own threshold. A miss with no signal is beyond what a lower threshold can recover: the
features do not carry it. Also counts the rule codings (not negated or hypothetical) right and
wrong in the same bands: the model's say on what the rules coded; and how often a code in the
middle band would be right if the sentence before or after it was coded with it (codes cluster in
notes: would that context rescue the middle band?). Reads a project ``simulate_review.py --keep``
wrote; changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from phantomcode.coding.learned import Parameters  # noqa: E402
from phantomcode.evaluate import GoldRow, locate_sentences, read_gold  # noqa: E402

SIGNAL = 0.3  # under this the model has not told the sentence from background


class Sentence(NamedTuple):
    note_id: str
    gold: frozenset[str]
    coded: set[str]  # every counted coding
    rule_coded: set[str]  # the rules' counted codings
    probabilities: dict[str, float]  # the model's stored scores
    flagged: set[str]  # codes the rules found negated or hypothetical here


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("gold", type=Path)
    args = parser.parse_args(argv)
    misses, rules = Counter(), Counter()
    found = sentences(args.project, args.gold)
    for sentence in found:
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
    added = neighbour_additions(found)
    print(
        f"{BANDS[1]}, not coded, the sentence before or after coded with it: {added[True]} right, {added[False]} wrong"
    )
    return 0


BANDS = ("no signal", "signal under the floor", "floor to threshold or above")


def band(probability: float) -> str:
    if probability < SIGNAL:
        return BANDS[0]
    return BANDS[1] if probability < Parameters().min_threshold else BANDS[2]


def neighbour_additions(found: list[Sentence]) -> Counter:
    """Right (True) and wrong (False) codes that a middle-band probability plus a coded
    neighbouring sentence (the same note, gold order) would add."""
    added: Counter = Counter()
    for index, sentence in enumerate(found):
        near = set().union(
            *(
                found[i].coded
                for i in (index - 1, index + 1)
                if 0 <= i < len(found) and found[i].note_id == sentence.note_id
            )
        )
        for code, probability in sentence.probabilities.items():
            if band(probability) == BANDS[1] and code in near - sentence.coded - sentence.flagged:
                added[code in sentence.gold] += 1
    return added


def _by_document(rows: Iterable[tuple]) -> dict[str, list[tuple]]:
    """Rows whose first column is a doc_id, grouped by it: each sentence looks only at its note's."""
    grouped: dict[str, list[tuple]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return grouped


def sentences(project: Path, gold: Path) -> list[Sentence]:
    """The gold sentences found in the project, with what was coded there and the model's scores."""
    db = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    texts = dict(db.execute("SELECT doc_id, text FROM documents").fetchall())
    codings = _by_document(db.execute("SELECT doc_id, start, end, code, source, negated OR hypothetical FROM codings"))
    scores = _by_document(db.execute("SELECT doc_id, start, end, probabilities FROM scores"))
    db.close()
    units = [u for u in read_gold(gold) if u.sentence]
    located, _ = locate_sentences([GoldRow(u.row, u.note_id, u.sentence) for u in units], texts)
    found = []
    for position, start, end in located:
        unit = units[position]
        overlapping = [c for c in codings.get(unit.note_id, []) if c[1] < end and c[2] > start]
        inside = [c for c in overlapping if not c[5]]
        probabilities: dict[str, float] = {}
        for _, _, _, stored in (s for s in scores.get(unit.note_id, []) if s[1] < end and s[2] > start):
            probabilities.update(json.loads(stored))
        rule_coded = {c[3] for c in inside if c[4] == "rules"}
        flagged = {c[3] for c in overlapping if c[5]}
        found.append(Sentence(unit.note_id, unit.codes, {c[3] for c in inside}, rule_coded, probabilities, flagged))
    return found


if __name__ == "__main__":
    raise SystemExit(main())
