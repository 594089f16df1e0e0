"""Compare the project's codings with a gold standard, sentence by sentence.

The gold CSV has columns ``note_id,sentence,codes`` (codes separated by ``;``, empty for an
uncoded sentence). Each gold sentence is located in its stored document; the predicted codes of
that sentence are the counted codings (not negated, hypothetical or rejected) overlapping it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .metrics import MetricsReport, sentence_metrics
from .notes import decode_bytes, normalise_text
from .store import Store

GOLD_COLUMNS = ("note_id", "sentence", "codes")
# What is compared with the gold: every counted coding ("combined"), those of the rules alone, or
# the learned model alone (every unit whose stored probability reaches the model's threshold,
# whatever the rules said there).
PREDICTIONS = ("combined", "rules", "model")


@dataclass(frozen=True)
class GoldUnit:
    row: int
    note_id: str
    sentence: str
    codes: frozenset[str]


@dataclass(frozen=True)
class Evaluation:
    metrics: MetricsReport
    problems: tuple[str, ...]  # gold rows that could not be used, by row number


def read_gold(path: str | Path) -> list[GoldUnit]:
    """Parse a gold CSV; raises ``UsageError`` when the file or its header is unusable."""
    path = Path(path)
    try:
        text, _ = decode_bytes(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the gold file ({exc.strerror})") from None
    reader = csv.DictReader(io.StringIO(normalise_text(text)))
    missing = [c for c in GOLD_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise UsageError(f"{path}: the gold file needs the columns {', '.join(GOLD_COLUMNS)}; "
                         f"missing {', '.join(missing)}")
    return [GoldUnit(number, row["note_id"].strip(), (row["sentence"] or "").strip(),
                     frozenset(c.strip() for c in (row["codes"] or "").split(";") if c.strip()))
            for number, row in enumerate(reader, start=2)]


def evaluate(gold_path: str | Path, *, project: str | Path | None = None,
             codes: Sequence[str] | None = None, predictions: str = "combined") -> Evaluation:
    """Sentence-level precision, recall, F1 and kappa of the project's codings against the gold
    file; ``predictions``: "combined" (every counted coding), "rules" or "model" (alone)."""
    if predictions not in PREDICTIONS:
        raise UsageError(f"unknown predictions {predictions!r}; choose {', '.join(PREDICTIONS)}")
    units = read_gold(gold_path)
    with Store.open(project, readonly=True) as store:
        texts = store.document_texts(u.note_id for u in units)
        spans = (store.model_spans() if predictions == "model"
                 else store.counted_spans(source="rules" if predictions == "rules" else None))
        known_codes = sorted(store.code_counts())
    problems: list[str] = []
    gold: list[set[str]] = []
    predicted: list[set[str]] = []
    cursor: dict[str, int] = {}
    for unit in units:
        text = texts.get(unit.note_id)
        if text is None:
            problems.append(f"row {unit.row}: no stored document {unit.note_id!r}")
            continue
        start = _locate(text, unit.sentence, cursor.get(unit.note_id, 0))
        if start < 0:
            problems.append(f"row {unit.row}: sentence not found in {unit.note_id}: {unit.sentence[:60]!r}")
            continue
        end = start + len(unit.sentence)
        cursor[unit.note_id] = end
        gold.append(set(unit.codes))
        predicted.append({code for s, e, code in spans.get(unit.note_id, []) if s < end and e > start})
    code_list = list(codes) if codes else sorted(set().union(*gold, known_codes) if gold else known_codes)
    return Evaluation(sentence_metrics(gold, predicted, code_list), tuple(problems))


def _locate(text: str, sentence: str, after: int) -> int:
    """Find the sentence after the previous one of the same note (repeated sentences stay in order)."""
    if not sentence:
        return -1
    found = text.find(sentence, after)
    return found if found >= 0 else text.find(sentence)
