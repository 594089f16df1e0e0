"""Why does review not carry over? Learning curves, the in-domain ceiling and the error split.

    python bench/learning_curve.py --notes DIR --gold GOLD.csv [--leave-out GOLD.csv ...]
                                   [--shares 0.15 0.3 0.6] [--folds 5] [--seed 0] [--json OUT.json]

On one labelled set (a training or dev set: never a held-out one), with the project's default
model trained without the ``--leave-out`` sentences (as ``simulate_review.py`` does):

1. learning curve: for each share, review that share of the gold sentences and score the combined
   coding on the sentences never reviewed, next to the coding made before any review on the same
   sentences (their difference is what review taught). "suggested": rounds of 15% of
   ``review export --suggest`` answered from the gold (as ``simulate_review.py``); "random": the
   same number of gold sentences drawn at random (seeded), given to ``train`` as a gold file;
2. ceiling: note-grouped cross-validation: each fold's notes are scored after training on the
   prior plus every other fold's gold labels (what a project that reviewed everything else would
   get); counts are pooled over the folds;
3. the error split per code of the combined coding out of the box and at the ceiling: false
   positives the rules made, false positives the model added, misses.

Prints tables and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from simulate_review import answer_sheet, install_default_model, write_gold  # noqa: E402

from phantomcode.evaluate import GoldUnit, evaluate, read_gold  # noqa: E402
from phantomcode.ingest import code_project, ingest  # noqa: E402
from phantomcode.metrics import score_counts  # noqa: E402
from phantomcode.review import export_review, import_review  # noqa: E402
from phantomcode.training import train  # noqa: E402

ROUND_SHARE = 0.15


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", required=True, type=Path)
    parser.add_argument("--gold", required=True, type=Path)
    parser.add_argument("--leave-out", type=Path, action="append", default=[])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.15, 0.3, 0.6])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    results = run(args.notes, args.gold, args.leave_out, args.shares, args.folds, args.seed)
    print_tables(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def run(notes: Path, gold: Path, leave_out: Sequence[Path], shares: Sequence[float], folds: int, seed: int) -> dict:
    units = [u for u in read_gold(gold) if u.sentence]
    codes = sorted(set().union(*(u.codes for u in units)))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = tmp / "base.db"
        install_default_model(base, None, leave_out)
        ingest(notes, project=base)
        results: dict = {"notes": str(notes), "gold": str(gold), "sentences": len(units), "codes": codes}
        results["out_of_box"] = counts(gold, base, codes)
        curve = []
        for share in shares:
            for strategy in ("suggested", "random"):
                project = tmp / f"{strategy}{share}.db"
                shutil.copyfile(base, project)
                reviewed = review(project, units, share, strategy, seed, tmp)
                rest = tmp / "rest.csv"
                write_gold(rest, [u for u in units if (u.note_id, u.sentence) not in reviewed])
                after, before = counts(rest, project, codes), counts(rest, base, codes)
                curve.append(
                    {
                        "share": share,
                        "strategy": strategy,
                        "reviewed": len(reviewed),
                        "scored": len(units) - len(reviewed),
                        "codes_scored": sum(1 for c in after.values() if c["support"] > 0),
                        "after": summary(after),
                        "before": summary(before),
                    }
                )
                print(f"{strategy:9} {share:.0%}: {curve[-1]}", file=sys.stderr)
        results["curve"] = curve
        results["ceiling"] = ceiling(base, units, codes, folds, seed, tmp)
    return results


def review(project: Path, units: list[GoldUnit], share: float, strategy: str, seed: int, tmp: Path) -> set:
    """Review ``share`` of the gold sentences in ``project`` (train and re-code); those reviewed."""
    reviewed: set[tuple[str, str]] = set()
    if strategy == "suggested":
        rounds = max(1, round(share / ROUND_SHARE))
        for number in range(1, rounds + 1):
            sheet = tmp / f"round{number}.csv"
            export_review(project=project, out=sheet, suggest=math.ceil(ROUND_SHARE * len(units)), seed=seed + number)
            reviewed |= answer_sheet(sheet, units, project)
            import_review(sheet, project=project, reviewer="simulation")
            train(project, seed=seed)
            code_project(project=project)
        return reviewed
    drawn = random.Random(seed).sample(units, math.ceil(share * len(units)))
    labels = tmp / "random.csv"
    write_gold(labels, drawn)
    train(project, gold=[labels], seed=seed)
    code_project(project=project)
    return {(u.note_id, u.sentence) for u in drawn}


def _note_order(note_id: str) -> tuple[int, str]:
    """Notes by their last number (DV-2 before DV-10), then by name; one without a number first."""
    numbers = re.findall(r"\d+", note_id)
    return (int(numbers[-1]) if numbers else -1, note_id)


def ceiling(base: Path, units: list[GoldUnit], codes: list[str], folds: int, seed: int, tmp: Path) -> dict:
    """Note-grouped cross-validation: train on the prior plus the other folds' labels, score the fold."""
    notes = sorted({u.note_id for u in units}, key=_note_order)
    fold_of = {note: i % folds for i, note in enumerate(notes)}
    pooled: dict[str, dict] = {}
    pooled_before: dict[str, dict] = {}
    for fold in range(folds):
        project = tmp / f"fold{fold}.db"
        shutil.copyfile(base, project)
        others, held = tmp / "others.csv", tmp / "held.csv"
        write_gold(others, [u for u in units if fold_of[u.note_id] != fold])
        write_gold(held, [u for u in units if fold_of[u.note_id] == fold])
        train(project, gold=[others], seed=seed)
        code_project(project=project)
        _add(pooled, counts(held, project, codes))
        _add(pooled_before, counts(held, base, codes))
    return {"folds": folds, "after": pooled, "before": pooled_before}


def counts(gold: Path, project: Path, codes: list[str]) -> dict:
    """tp/fp/fn per code of the combined coding, and the false positives the rules alone make."""
    combined = evaluate(gold, project=project, codes=codes, predictions="combined").metrics.per_code
    rules = {m.code: m for m in evaluate(gold, project=project, codes=codes, predictions="rules").metrics.per_code}
    return {
        m.code: {"tp": m.tp, "fp": m.fp, "fn": m.fn, "tn": m.tn, "rule_fp": rules[m.code].fp, "support": m.support}
        for m in combined
    }


def _add(total: dict, part: dict) -> None:
    for code, figures in part.items():
        into = total.setdefault(code, dict.fromkeys(figures, 0))
        for key, value in figures.items():
            into[key] += value


def summary(per_code: dict) -> dict:
    """Macro P/R/F1 over the codes with gold sentences."""
    metrics = [
        score_counts(code, c["tp"], c["fp"], c["fn"], c["tn"]) for code, c in per_code.items() if c["support"] > 0
    ]
    n = len(metrics) or 1
    return {
        "macro_f1": round(sum(m.f1 for m in metrics) / n, 4),
        "macro_precision": round(sum(m.precision for m in metrics) / n, 4),
        "macro_recall": round(sum(m.recall for m in metrics) / n, 4),
    }


def print_tables(results: dict) -> None:
    print(f"{results['gold']}: {results['sentences']} sentences")
    box = summary(results["out_of_box"])
    print(f"out of the box (combined): macro-F1 {box['macro_f1']:.3f} P {box['macro_precision']:.3f}")
    print("| reviewed | strategy | sentences reviewed | scored (codes) | F1 unreviewed after | F1 same before | gain |")
    print("|---|---|---|---|---|---|---|")
    for row in results["curve"]:
        gain = row["after"]["macro_f1"] - row["before"]["macro_f1"]
        print(
            f"| {row['share']:.0%} | {row['strategy']} | {row['reviewed']} | {row['scored']} ({row['codes_scored']}) "
            f"| {row['after']['macro_f1']:.3f} "
            f"| {row['before']['macro_f1']:.3f} | {gain:+.3f} |"
        )
    top, low = summary(results["ceiling"]["after"]), summary(results["ceiling"]["before"])
    print(
        f"ceiling ({results['ceiling']['folds']} note-grouped folds, pooled): macro-F1 {top['macro_f1']:.3f} "
        f"P {top['macro_precision']:.3f} R {top['macro_recall']:.3f} (out of the box: {low['macro_f1']:.3f})"
    )
    print(
        "| code | support | box: rule FP | box: model FP | box: misses | ceiling: rule FP | ceiling: model FP |"
        " ceiling: misses | ceiling F1 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for code in results["codes"]:
        b, c = results["out_of_box"][code], results["ceiling"]["after"][code]
        f1 = score_counts(code, c["tp"], c["fp"], c["fn"], c["tn"]).f1
        print(
            f"| {code} | {b['support']} | {b['rule_fp']} | {b['fp'] - b['rule_fp']} | {b['fn']} | {c['rule_fp']} "
            f"| {c['fp'] - c['rule_fp']} | {c['fn']} | {f1:.2f} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
