"""Simulate the review loop on a labelled corpus: rules alone, model alone, combined, then
combined after rounds of suggested review answered from the gold labels.

    python bench/simulate_review.py --notes DIR --gold GOLD.csv [--rounds 2 --share 0.15 --seed 0]
                                    [--leave-out TRAIN.csv ... | --half odd|even] [--json OUT.json]

1. ingest DIR into a fresh project (the project's default model: codebook examples, and for the
   bundled codebook its bundled labelled sets, less the sentences of the ``--leave-out`` files:
   to simulate on a bundled training set honestly, leave it out) and score, sentence by sentence
   against GOLD.csv with phantomcode's own ``evaluate``: the rules alone, the learned model alone, and both combined;
2. each round: ``review export --suggest N`` with N = share x the gold sentences, every row
   answered from the gold labels (accept a code the gold gives the sentence, reject one it does
   not, add the gold codes no row proposed), ``review import``, ``train``, ``code``;
3. score the combined coding again on the gold sentences no round reviewed, and the coding made
   before any review on those same sentences: the sentences a round leaves unreviewed are not a
   random sample (the uncertain ones were taken out), so only this pair says what the reviews
   changed.

Macro averages are over the codes with at least one gold sentence in the scored set. Prints a
table and writes everything as JSON. Never tune anything on the data you report with this.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from phantomcode.codebook_choice import choose_codebook  # noqa: E402
from phantomcode.evaluate import GoldUnit, evaluate, read_gold  # noqa: E402
from phantomcode.ingest import code_project, ingest  # noqa: E402
from phantomcode.review import export_review, import_review  # noqa: E402
from phantomcode.store import Store  # noqa: E402
from phantomcode.training import default_model, labelled_sentences, train, use_default_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", required=True, type=Path)
    parser.add_argument("--gold", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--share", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--codebook", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the results here (default: stdout only)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--leave-out",
        type=Path,
        action="append",
        default=[],
        help="leave this gold CSV's sentences out of the default model (repeatable)",
    )
    parser.add_argument(
        "--details",
        action="store_true",
        help="also score the rules alone and the model alone on the unreviewed sentences",
    )
    parser.add_argument("--keep", type=Path, default=None, help="copy the simulated project here at the end")
    parser.add_argument(
        "--half",
        choices=("odd", "even"),
        default=None,
        help="simulate on the notes with odd (or even) numbers alone and leave their sentences "
        "out of the default model, which keeps the other half",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        notes, gold, leave_out = args.notes, args.gold, list(args.leave_out)
        if args.half:
            notes, gold = half_set(args.notes, args.gold, args.half, Path(tmp))
            leave_out.append(gold)
        results = simulate(
            notes,
            gold,
            rounds=args.rounds,
            share=args.share,
            seed=args.seed,
            codebook=args.codebook,
            jobs=args.jobs,
            leave_out=leave_out,
            details=args.details,
            keep=args.keep,
        )
    results["half"] = args.half
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def simulate(
    notes: Path,
    gold: Path,
    *,
    rounds: int,
    share: float,
    seed: int,
    codebook: Path | None,
    jobs: int,
    leave_out: Sequence[Path] = (),
    details: bool = False,
    keep: Path | None = None,
) -> dict:
    units = [u for u in read_gold(gold) if u.sentence]
    codes = sorted(set().union(*(u.codes for u in units)))
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "simulation.db"
        left_out = install_default_model(project, codebook, leave_out)
        ingest(notes, project=project, codebook=codebook, jobs=jobs)
        results: dict = {
            "notes": str(notes),
            "gold": str(gold),
            "gold_sentences": len(units),
            "rounds": rounds,
            "share": share,
            "seed": seed,
            "left_out": [str(p) for p in leave_out],
            "left_out_sentences": left_out,
            "codes": codes,
            "stages": {},
        }
        for name in ("rules", "model", "combined"):
            results["stages"][f"{name} (no review)"] = scores(gold, project, codes, name)
        before = Path(tmp) / "before_review.db"
        with Store.open(project) as store:
            store.connection.execute("VACUUM INTO ?", (str(before),))  # a copy as coded before any review
        reviewed: set[tuple[str, str]] = set()
        per_round = math.ceil(share * len(units))
        for number in range(1, rounds + 1):
            sheet = Path(tmp) / f"round{number}.csv"
            export_review(project=project, out=sheet, suggest=per_round, seed=seed + number, codebook=codebook)
            answered = answer_sheet(sheet, units, project)
            reviewed |= answered
            import_review(sheet, project=project, reviewer="simulation", codebook=codebook)
            model = train(project, seed=seed, codebook=codebook)
            code_project(project=project, codebook=codebook, jobs=jobs)
            unreviewed = Path(tmp) / f"unreviewed{number}.csv"
            kept = write_gold(unreviewed, [u for u in units if (u.note_id, u.sentence) not in reviewed])
            results["stages"][f"combined after round {number} (unreviewed)"] = {
                **scores(unreviewed, project, codes, "combined"),
                "reviewed_sentences": len(reviewed),
                "scored_sentences": kept,
                "model_hash": model.model_hash,
                "needs_more": model.needing_more,
            }
            for name in ("combined", "model"):  # the same sentences as coded before any review
                results["stages"][f"{name} before review, same {kept} sentences"] = scores(
                    unreviewed, before, codes, name
                )
            if details:  # the parts on the same sentences: what the model adds, what the rules hold
                for name in ("rules", "model"):
                    results["stages"][f"{name} after round {number} (unreviewed)"] = scores(
                        unreviewed, project, codes, name
                    )
        if keep is not None:
            shutil.copyfile(project, keep)
    return results


def half_set(notes: Path, gold: Path, half: str, into: Path) -> tuple[Path, Path]:
    """The notes (files named by note ID) and gold rows whose note number is odd or even."""
    parity = 1 if half == "odd" else 0
    units = [u for u in read_gold(gold) if int(re.findall(r"\d+", u.note_id)[-1]) % 2 == parity]
    ids = {u.note_id for u in units}
    (into / "notes").mkdir()
    for path in notes.iterdir():
        if path.stem in ids:
            shutil.copyfile(path, into / "notes" / path.name)
    write_gold(into / "gold.csv", units)
    return into / "notes", into / "gold.csv"


def install_default_model(project: Path, codebook: Path | None, leave_out: Sequence[Path]) -> int:
    """Give the new project a default model trained without the sentences of the ``leave_out``
    gold files; how many labelled sentences that took out of it."""
    if not leave_out:
        return 0
    texts = {unit.sentence for path in leave_out for unit in read_gold(path) if unit.sentence}
    with Store.open(project) as store, store.writer():
        book = choose_codebook(codebook, store)
        model = default_model(book, leave_out=texts)
        use_default_model(store, book, model)
    return len(labelled_sentences(book)) - len(model.training)


def scores(gold: Path, project: Path, codes: list[str], predictions: str) -> dict:
    """Macro and per-code figures, the macro over the codes with gold sentences in ``gold``."""
    evaluation = evaluate(gold, project=project, codes=codes, predictions=predictions)
    present = [m for m in evaluation.metrics.per_code if m.support > 0]
    macro = {
        key: sum(getattr(m, key) for m in present) / len(present) if present else 0.0
        for key in ("precision", "recall", "f1")
    }
    return {
        "macro_f1": round(macro["f1"], 4),
        "macro_precision": round(macro["precision"], 4),
        "macro_recall": round(macro["recall"], 4),
        "micro_f1": round(evaluation.metrics.micro.f1, 4),
        "sentences": evaluation.metrics.units,
        "problems": len(evaluation.problems),
        "per_code": {
            m.code: {
                "support": m.support,
                "precision": round(m.precision, 4),
                "recall": round(m.recall, 4),
                "f1": round(m.f1, 4),
                "fp": m.fp,
            }
            for m in evaluation.metrics.per_code
        },
    }


def answer_sheet(sheet: Path, units: list[GoldUnit], project: Path) -> set[tuple[str, str]]:
    """Fill in the sheet's decisions from the gold labels; the gold sentences it covered."""
    with sheet.open(encoding="utf-8-sig") as handle:  # review sheets start with a BOM (for Excel)
        rows = list(csv.DictReader(handle))
    if not rows:
        return set()
    with Store.open(project, readonly=True) as store:
        texts = store.document_texts({row["doc_id"] for row in rows})
    by_note: dict[str, list[GoldUnit]] = defaultdict(list)
    for unit in units:
        by_note[unit.note_id].append(unit)
    covered: set[tuple[str, str]] = set()
    added: list[dict] = []
    for (doc_id, start, end), group in _by_unit(rows).items():
        overlapping = _gold_in(texts.get(doc_id, ""), by_note.get(doc_id, []), start, end)
        if not overlapping:
            continue  # a sentence the gold does not label: left undecided
        covered |= {(u.note_id, u.sentence) for u in overlapping}
        truth = set().union(*(u.codes for u in overlapping))
        for row in group:
            row["decision"] = "accept" if row["code"] in truth else "reject"
        for code in sorted(truth - {row["code"] for row in group}):
            added.append({**group[0], "code": code, "decision": "add", "correct_code": "", "note": ""})
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + added)
    return covered


def _by_unit(rows: list[dict]) -> dict[tuple[str, int, int], list[dict]]:
    grouped: dict[tuple[str, int, int], list[dict]] = defaultdict(list)
    for row in rows:
        grouped[(row["doc_id"], int(row["start"]), int(row["end"]))].append(row)
    return grouped


def _gold_in(text: str, units: list[GoldUnit], start: int, end: int) -> list[GoldUnit]:
    """The gold sentences of a note that overlap ``text[start:end]``."""
    found, cursor = [], 0
    for unit in units:
        position = text.find(unit.sentence, cursor)
        if position < 0:
            position = text.find(unit.sentence)
        if position < 0:
            continue
        cursor = position + len(unit.sentence)
        if position < end and position + len(unit.sentence) > start:
            found.append(unit)
    return found


def write_gold(path: Path, units: list[GoldUnit]) -> int:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["note_id", "sentence", "codes"])
        for unit in units:
            writer.writerow([unit.note_id, unit.sentence, ";".join(sorted(unit.codes))])
    return len(units)


def print_table(results: dict) -> None:
    print(
        f"{results['gold_sentences']} gold sentences; {results['rounds']} rounds of {results['share']:.0%}; "
        f"seed {results['seed']}"
    )
    print(f"{'stage':45} {'macro-F1':>8} {'P':>6} {'R':>6} {'micro-F1':>8} {'sentences':>9}")
    for stage, figures in results["stages"].items():
        print(
            f"{stage:45} {figures['macro_f1']:8.3f} {figures['macro_precision']:6.3f} "
            f"{figures['macro_recall']:6.3f} {figures['micro_f1']:8.3f} {figures['sentences']:9d}"
        )
    print()
    stages = list(results["stages"])
    print(f"{'code':20} {'support':>7} " + " ".join(f"{s[:14]:>14}" for s in stages) + "   (P/R/F1)")
    for code in results["codes"]:
        first = results["stages"][stages[0]]["per_code"][code]
        cells = []
        for stage in stages:
            m = results["stages"][stage]["per_code"][code]
            cells.append(f"{m['precision']:.2f}/{m['recall']:.2f}/{m['f1']:.2f}")
        print(f"{code:20} {first['support']:7d} " + " ".join(f"{c:>14}" for c in cells))


if __name__ == "__main__":
    raise SystemExit(main())
