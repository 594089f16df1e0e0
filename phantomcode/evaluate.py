"""Compare the project's codings with a gold standard, sentence by sentence.

The gold CSV has columns ``note_id,sentence,codes`` (codes separated by ``;``, empty for an
uncoded sentence). Each gold sentence is located in its stored document; the predicted codes of
that sentence are the codings overlapping it that the rules count (not negated or hypothetical).
Review decisions are left out unless asked for (``with_decisions``): then rejected codings drop
out and accepted or added ones count, which measures rules and reviewers together, not the rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .decoding import read_table_file
from .errors import PhantomcodeError, UsageError
from .limits import LimitExceeded, read_csv_rows
from .metrics import MetricsReport, sentence_metrics
from .store import Store

if TYPE_CHECKING:
    from .codebook import Codebook

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
    measured: str  # what was scored: "rules", "model", "combined" (+ " with review decisions")
    gold_rows: int  # rows in the gold file (metrics.units of them were used)
    gold_encoding: str  # how the gold CSV was decoded


def read_gold(path: str | Path) -> list[GoldUnit]:
    """Parse a gold CSV; raises ``UsageError`` when the file or its header is unusable."""
    return _read_gold(path)[0]


def _read_gold(path: str | Path) -> tuple[list[GoldUnit], str]:
    """The gold units and the encoding the file was read with (see ``decode_table_bytes``)."""
    path = Path(path)
    text, encoding = read_table_file(path, "the gold file")
    try:  # fields up to limits.MAX_CSV_FIELD_CHARS (csv's default stops at 131,072)
        header, *records = [row for row in read_csv_rows(text) if row] or [[]]
    except LimitExceeded as exc:
        raise UsageError(f"{path}: {exc}") from None
    missing = [c for c in GOLD_COLUMNS if c not in header]
    if missing:
        raise UsageError(
            f"{path}: the gold file needs the columns {', '.join(GOLD_COLUMNS)}; missing {', '.join(missing)}"
        )
    rows = [dict(zip(header, values, strict=False)) for values in records]
    return [
        GoldUnit(
            number,
            (row.get("note_id") or "").strip(),
            (row.get("sentence") or "").strip(),
            frozenset(c.strip() for c in (row.get("codes") or "").split(";") if c.strip()),
        )
        for number, row in enumerate(rows, start=2)
    ], encoding


def evaluate(
    gold_path: str | Path,
    *,
    project: str | Path | None = None,
    codes: Sequence[str] | None = None,
    with_decisions: bool = False,
    codebook: str | Path | Codebook | None = None,
    predictions: str = "rules",
) -> Evaluation:
    """Sentence-level precision, recall, F1 and kappa against the gold file, codes in the codebook's
    order, of ``predictions``: "rules" (the rules' codings), "model" (the learned model alone) or
    "combined" (both, as reports count them). Review decisions are applied (rejected codings
    dropped, accepted and added ones counted) to rules and combined when ``with_decisions``.

    Raises ``UsageError`` for an unusable gold file or unknown ``predictions``, ``EvaluationError``
    (exit 1) when none of its sentences is found in the project (the gold file belongs to other notes).
    """
    from .codebook_choice import choose_codebook

    if predictions not in PREDICTIONS:
        raise UsageError(f"unknown predictions {predictions!r}; choose {', '.join(PREDICTIONS)}")
    units, encoding = _read_gold(gold_path)
    with Store.open(project, readonly=True) as store:
        book = choose_codebook(codebook, store, check_patterns=False)
        texts = store.document_texts(u.note_id for u in units)
        spans = _predicted_spans(store, predictions, with_decisions=with_decisions)
        known_codes = sorted(store.code_counts())
    missing = sorted({u.note_id for u in units if u.note_id not in texts})
    if units and len(missing) == len({u.note_id for u in units}):
        shown = ", ".join(repr(m) for m in missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise EvaluationError(
            f"{gold_path}: none of its {len(units)} sentences can be scored: the project has "
            f"none of the {len(missing)} documents the gold file names ({shown}); "
            "is this the project the gold file was made for?"
        )
    located, problems = locate_sentences([GoldRow(u.row, u.note_id, u.sentence) for u in units], texts)
    gold: list[set[str]] = []
    predicted: list[set[str]] = []
    for span in located:
        unit = units[span.position]
        gold.append(set(unit.codes))
        predicted.append({code for s, e, code in spans.get(unit.note_id, []) if s < span.end and e > span.start})
    found = set().union(*gold, known_codes) if gold else set(known_codes)
    order = book.code_ids()
    code_list = list(codes) if codes else [c for c in order if c in found] + sorted(found - set(order))
    measured = f"{predictions} with review decisions" if with_decisions and predictions != "model" else predictions
    return Evaluation(sentence_metrics(gold, predicted, code_list), tuple(problems), measured, len(units), encoding)


def _predicted_spans(
    store: Store, predictions: str, *, with_decisions: bool
) -> Mapping[str, Sequence[tuple[int, int, str]]]:
    """doc_id -> [(start, end, code)] that ``predictions`` code; the model alone ignores review."""
    if predictions == "model":
        return store.model_spans()
    return store.agreement_spans(
        "reviewed" if with_decisions else "auto", source="rules" if predictions == "rules" else None
    )


class EvaluationError(PhantomcodeError):
    """No gold sentence could be scored: the gold file and the project hold different notes."""


class GoldRow(NamedTuple):
    """A gold sentence to find: its row in the file (for messages), its note and its text."""

    row: int
    note_id: str
    sentence: str


class SentenceSpan(NamedTuple):
    """Where the gold row at ``position`` (in the rows given) stands in its note."""

    position: int
    start: int
    end: int


def locate_sentences(rows: Sequence[GoldRow], texts: Mapping[str, str]) -> tuple[list[SentenceSpan], list[str]]:
    """The rows found in their notes' ``texts``, in order, and a message for each row that is not
    (no such document, or the sentence is not in it). Shared by ``evaluate``, ``agree`` and the
    bench scripts, so that a gold file is read against the notes the same way everywhere."""
    located: list[SentenceSpan] = []
    problems: list[str] = []
    cursor: dict[str, int] = {}
    for index, row in enumerate(rows):
        text = texts.get(row.note_id)
        if text is None:
            problems.append(f"row {row.row}: no stored document {row.note_id!r}")
            continue
        start = locate_sentence(text, row.sentence, cursor.get(row.note_id, 0))
        if start < 0:
            problems.append(f"row {row.row}: sentence not found in {row.note_id}: {row.sentence[:60]!r}")
            continue
        cursor[row.note_id] = start + len(row.sentence)
        located.append(SentenceSpan(index, start, start + len(row.sentence)))
    return located, problems


def locate_sentence(text: str, sentence: str, after: int) -> int:
    """Where a gold sentence starts in its note's ``text``: its first occurrence from ``after`` (the
    end of the note's previous gold sentence, so repeated sentences stay in order), else anywhere;
    -1 when it is not there."""
    if not sentence:
        return -1
    found = text.find(sentence, after)
    return found if found >= 0 else text.find(sentence)
