"""What would a rule veto learned from review rejections gain? Measured, not built.

    python bench/simulate_review.py --notes DIR --gold GOLD.csv [--leave-out GOLD.csv] --keep SIM.db
    python bench/veto_potential.py SIM.db GOLD.csv

Reads a project kept by ``simulate_review.py`` after its review rounds and scores the combined
coding on the gold sentences no round reviewed (as ``simulate_review.py`` does, from the stored
codings), once as stored and once with rule codings vetoed: a rule coding (not negated,
hypothetical or cued) is dropped when the model's probability for its code in its unit is below
``--below`` (a unit with no stored score for the code counts as 0: stored scores start at 0.1)
and the reviews rejected the codings of its key at least NEED times and in at least SHARE of
the reviewed ones; the table tries NEED, SHARE = 1, 0.5; 2, 0.5; 2, 0.67; 3, 0.5. The key is the
code alone, the rule (``paperwork/terms``) or the rule and its matched terms. A vetoed coding
here is only left out of the score. Its first row, NEED 0, vetoes every rule coding the model
scores below ``--below``, reviewed or not: what the model could do if it were allowed to overrule
the rules (on a project kept with ``--rounds 0``, the only row that vetoes anything).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from phantomcode.evaluate import GoldRow, locate_sentences, read_gold  # noqa: E402
from phantomcode.metrics import sentence_metrics  # noqa: E402

SETTINGS = ((1, 0.5), (2, 0.5), (2, 0.67), (3, 0.5))  # (need, share) of the learned-veto rows


class RuleCoding(NamedTuple):
    code: str
    key: dict[str, str]  # level -> key of the codings it shares review statistics with
    probability: float


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("gold", type=Path)
    parser.add_argument("--below", type=float, default=0.2)
    args = parser.parse_args(argv)
    units, stats = sentences(args.project, args.gold)
    print(f"{args.project}: {len(units)} unreviewed gold sentences; macro-F1 as stored {macro_f1(units):.3f}")
    print("| key | need | share | macro-F1 with veto |")
    print("|---|---|---|---|")
    settings = [("code", 0, 0.0)] + [
        (level, need, share) for level in ("code", "rule", "term") for need, share in SETTINGS
    ]
    for level, need, share in settings:
        vetoed = vetoed_units(units, stats[level], level, args.below, need, share)
        print(f"| {level} | {need} | {share} | {macro_f1(vetoed):.3f} |")
    return 0


def sentences(project: Path, gold: Path) -> tuple[list[tuple[set[str], set[str], list[RuleCoding]]], dict]:
    """(gold codes, codes other than vetoable rule codings, vetoable rule codings) per unreviewed
    gold sentence, and the review statistics (rejected, accepted) per key at each level."""

    db = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    codings = db.execute("SELECT * FROM codings").fetchall()
    scores = {
        (r["doc_id"], r["start"], r["end"]): json.loads(r["probabilities"]) for r in db.execute("SELECT * FROM scores")
    }
    reviews = db.execute("SELECT doc_id, start, end, code, decision FROM reviews").fetchall()
    texts = dict(db.execute("SELECT doc_id, text FROM documents").fetchall())
    db.close()
    decided = {(r["doc_id"], r["start"], r["end"], r["code"]): r["decision"] for r in reviews}
    reviewed = {key[:3] for key in decided}
    stats: dict[str, dict[str, list[int]]] = {"code": {}, "rule": {}, "term": {}}
    for coding in codings:
        decision = decided.get((coding["doc_id"], coding["start"], coding["end"], coding["code"]))
        if decision is None or not _vetoable(coding):
            continue
        for level, key in _keys(coding).items():
            counts = stats[level].setdefault(key, [0, 0])
            counts[0 if decision == "reject" else 1] += 1
    by_doc: dict[str, list[Any]] = {}
    for coding in codings:
        if not (coding["negated"] or coding["hypothetical"] or coding["cue"] is not None):
            by_doc.setdefault(coding["doc_id"], []).append(coding)
    units = [u for u in read_gold(gold) if u.sentence]
    located, _ = locate_sentences([GoldRow(u.row, u.note_id, u.sentence) for u in units], texts)
    found = []
    for position, start, end in located:
        unit = units[position]
        inside = [c for c in by_doc.get(unit.note_id, []) if c["start"] < end and c["end"] > start]
        if any((c["doc_id"], c["start"], c["end"]) in reviewed for c in inside):
            continue
        fixed = {c["code"] for c in inside if not _vetoable(c)}
        rule = [
            RuleCoding(c["code"], _keys(c), scores.get((c["doc_id"], c["start"], c["end"]), {}).get(c["code"], 0.0))
            for c in inside
            if _vetoable(c)
        ]
        found.append((set(unit.codes), fixed, rule))
    return found, stats


def _vetoable(coding: Any) -> bool:
    return coding["source"] == "rules" and coding["rule"] != "review/add"


def _keys(coding: Any) -> dict[str, str]:
    terms = sorted({m.get("term") or m.get("text", "").lower() for m in json.loads(coding["matched"] or "[]")})
    return {"code": coding["code"], "rule": coding["rule"], "term": coding["rule"] + "|" + ",".join(terms)}


def vetoed_units(units: list, stats: dict, level: str, below: float, need: int, share: float) -> list:
    kept = []
    for gold, fixed, rule in units:
        survivors = []
        for coding in rule:
            rejected, accepted = stats.get(coding.key[level], (0, 0))
            if not (rejected >= need and rejected >= share * (rejected + accepted) and coding.probability < below):
                survivors.append(coding)
        kept.append((gold, fixed, survivors))
    return kept


def macro_f1(units: list) -> float:
    gold = [g for g, _, _ in units]
    predicted = [fixed | {c.code for c in rule} for _, fixed, rule in units]
    codes = sorted(set().union(*gold))
    metrics = [m for m in sentence_metrics(gold, predicted, codes).per_code if m.support > 0]
    return float(numpy.mean([m.f1 for m in metrics])) if metrics else 0.0


if __name__ == "__main__":
    raise SystemExit(main())
