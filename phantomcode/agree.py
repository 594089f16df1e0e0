"""Agreement between coders on sentence units: percent agreement, Cohen's kappa, Krippendorff's alpha.

A coder is ``auto`` (what the rules count, review ignored), ``reviewed`` (what counts after review
decisions, including accepted codings the rules no longer make), ``reviewed:NAME`` (the rules
after one reviewer's own decisions: two coders who reviewed the same sheet are ``reviewed:ana`` and
``reviewed:bo``), ``imported`` (the hand codings of the users of every project brought in with
``import qdpx``: NVivo's coding-comparison query), a bare reviewer ``NAME`` (only that person's
accepted and added codings) or a gold CSV (``note_id,sentence,codes``, codes separated by ``;``),
named after its file. ``parse_coder`` tells them apart.

``reviewed:ana`` and ``ana`` differ: ``reviewed:ana`` starts from the rules and applies ana's
accepts, rejects and adds, so it only means something on the units ana decided (the others are
left out, as for ``reviewed``); ``ana`` is ana's own hand coding and nothing else (what she coded
in NVivo, say), so a unit she did not code is one where she saw no code, and every unit counts.
``imported`` is ``ana`` for every user of the imported projects together.

**Units.** When a gold file is among the inputs, the units are the first gold file's sentences
(located in the stored notes when ``auto`` or ``reviewed`` take part; a sentence that cannot be
found is reported by row number and left out). A later gold file that lacks one of them counts
as a missing value there. Without a gold file, the units are the project's stored segments:
every sentence in which some rule fired (counted or not) or a reviewer added a code. Sentences no
rule touched are not stored, so the figures then describe the sentences the rules proposed
something for; for a figure over all sentences, compare against a gold file that lists them.
``units_from`` restricts the units to those of a review sheet (the sampled segments) or, with
``"reviewed"``, to the segments that carry a review decision. Whenever ``reviewed`` is a coder
(or ``reviewed:NAME``: then NAME's decisions), a unit counts only once it is decided: it carries a
decision and every coding the rules count in it has one. Elsewhere ``reviewed`` would repeat the
rules (nobody has looked yet) and inflate agreement; such pending units are left out and counted
(``pending``).

**Figures**, per code (present or absent in a unit, so a unit nobody coded is agreement on
absence) and overall (every unit x code pair is one binary item):

- percent agreement: agreeing coder pairs over comparable pairs (two coders: share of units);
- Cohen's kappa (exactly two coders): (p_o - p_e) / (1 - p_e), chance agreement p_e the sum
  over the two categories of the product of the coders' marginal shares; undefined when both
  coders use one category only;
- Krippendorff's alpha, nominal, any number of coders and missing values (``krippendorff``
  package); undefined when only one value occurs;
- with ``reference``: precision, recall and F1 of every other coder against it.

Undefined figures are None (shown as "—").
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, NamedTuple

from .codebook import Codebook
from .codebook_choice import choose_codebook
from .errors import OptionError, UsageError
from .evaluate import GoldRow, locate_sentences, read_gold
from .metrics import score_counts
from .report import check_codes
from .review import parse_coding_key, read_review_sheet
from .store import Store, resolve_project_path

__all__ = [
    "AgreementReport",
    "CodeAgreement",
    "Coder",
    "agreement",
    "cohen_kappa",
    "krippendorff_alpha",
    "parse_coder",
    "percent_agreement",
]

STORE_CODERS = ("auto", "reviewed")
IMPORTED = "imported"
REVIEWER_PREFIX = "reviewed:"  # reviewed:NAME: the rules after one reviewer's own decisions (a second coder's)
CODER_KINDS = "'auto', 'reviewed', 'reviewed:NAME', 'imported', a reviewer's NAME or an existing gold CSV file"
Value = int | None  # 1 present, 0 absent, None: this coder has no value for the unit


# ---------------------------------------------------------------------------------------------
# The figures, on plain tables: data[coder][unit]


def percent_agreement(data: Sequence[Sequence[Value]]) -> float | None:
    """Agreeing pairs of coders over all pairs that both have a value, pooled over units."""
    agree = pairs = 0
    for first, second in combinations(range(len(data)), 2):
        for a, b in zip(data[first], data[second], strict=True):
            if a is not None and b is not None:
                pairs += 1
                agree += a == b
    return agree / pairs if pairs else None


def cohen_kappa(first: Sequence[Value], second: Sequence[Value]) -> float | None:
    """Cohen's kappa for two coders over the units both coded; None when chance agreement is 1."""
    counts = _two_by_two(first, second)
    n = sum(counts)
    if not n:
        return None
    tp, fp, fn, tn = counts
    chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    if chance >= 1:
        return None
    return score_counts("", tp, fp, fn, tn).kappa


def krippendorff_alpha(data: Sequence[Sequence[Value]]) -> float | None:
    """Nominal Krippendorff's alpha (missing values allowed); None when it is undefined."""
    import krippendorff
    import numpy as np

    matrix = np.array([[math.nan if v is None else float(v) for v in row] for row in data], dtype=float)
    if matrix.size == 0:
        return None
    values = set(matrix[~np.isnan(matrix)].tolist())
    if len(values) < 2:
        return None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            alpha = krippendorff.alpha(
                reliability_data=matrix, level_of_measurement="nominal", value_domain=sorted(values)
            )
        except ValueError:
            return None
    return None if math.isnan(alpha) else float(alpha)


def _two_by_two(reference: Sequence[Value], other: Sequence[Value]) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of ``other`` against ``reference`` over units both coded."""
    counts = Counter((a, b) for a, b in zip(reference, other, strict=False) if a is not None and b is not None)
    return counts[(1, 1)], counts[(0, 1)], counts[(1, 0)], counts[(0, 0)]


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass(frozen=True)
class CodeAgreement:
    code: str
    units: int  # units with values from at least two coders
    positives: dict[str, int]  # coder -> units coded with the code
    percent: float | None
    kappa: float | None
    alpha: float | None
    scores: dict[str, dict[str, float]]  # coder -> precision, recall, f1 against the reference

    def as_dict(self, coders: Sequence[str]) -> dict[str, Any]:
        row: dict[str, Any] = {"code": self.code, "units": self.units}
        row.update({f"coded_{name}": self.positives.get(name, 0) for name in coders})
        row.update({"percent_agreement": self.percent, "kappa": self.kappa, "alpha": self.alpha})
        for name, scores in self.scores.items():
            row.update({f"{measure}_{name}": value for measure, value in scores.items()})
        return row


@dataclass(frozen=True)
class AgreementReport:
    coders: tuple[str, ...]
    reference: str | None
    unit_source: str
    units: int
    per_code: tuple[CodeAgreement, ...]
    overall: CodeAgreement
    problems: tuple[str, ...]
    pending: int = 0  # units left out because they carry no review decision yet (``reviewed`` takes part)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per code, then ``overall``: ready for CSV or ``pandas.DataFrame``."""
        return [c.as_dict(self.coders) for c in (*self.per_code, self.overall)]

    def to_json(self) -> str:
        def clean(value: Any) -> Any:
            return round(value, 4) if isinstance(value, float) else value

        return json.dumps(
            {
                "coders": list(self.coders),
                "reference": self.reference,
                "units": self.units,
                "unit_source": self.unit_source,
                "pending_units_left_out": self.pending,
                "codes": [{k: clean(v) for k, v in row.items()} for row in self.rows()],
                "problems": list(self.problems),
            },
            ensure_ascii=False,
            indent=2,
        )


def code_agreement(
    code: str, data: Sequence[Sequence[Value]], coders: Sequence[str], reference: str | None = None
) -> CodeAgreement:
    """Every figure for one code (or pooled items) from a coders x units table."""
    columns = zip(*data, strict=False) if data and data[0] else iter(())
    units = sum(sum(v is not None for v in column) >= 2 for column in columns)
    positives = {name: sum(v == 1 for v in row) for name, row in zip(coders, data, strict=False)}
    kappa = cohen_kappa(data[0], data[1]) if len(data) == 2 else None
    scores: dict[str, dict[str, float]] = {}
    if reference is not None:
        gold = data[list(coders).index(reference)]
        for name, row in zip(coders, data, strict=False):
            if name != reference:
                metrics = score_counts(code, *_two_by_two(gold, row))
                scores[name] = {"precision": metrics.precision, "recall": metrics.recall, "f1": metrics.f1}
    return CodeAgreement(
        code=code,
        units=units,
        positives=positives,
        percent=percent_agreement(data),
        kappa=kappa,
        alpha=krippendorff_alpha(data),
        scores=scores,
    )


# ---------------------------------------------------------------------------------------------
# Building the tables from a project and gold files


@dataclass(frozen=True)
class _Unit:
    doc_id: str
    occurrence: str  # the gold sentence and its occurrence number in its note, or ""
    start: int | None
    end: int | None


def agreement(
    inputs: Sequence[str | Path],
    *,
    project: str | Path | None = None,
    reference: str | None = None,
    codes: Sequence[str] | None = None,
    units_from: str | Path | None = None,
    codebook: str | Path | Codebook | None = None,
) -> AgreementReport:
    """Agreement between two or more coders (see the module doc for units and figures).

    ``inputs``: "auto", "reviewed", "reviewed:NAME", "imported", a reviewer's NAME or gold CSV
    paths (``parse_coder``). ``reference`` names one of them (its label: the input, or the gold
    file's stem, or the input as given). Codes follow the codebook
    (``codebook``, else the project's) when the project takes part. Raises ``UsageError``
    for fewer than two inputs, an unknown input or reference, or a missing project.
    """
    if len(inputs) < 2:
        raise UsageError(f"agree needs at least two coders: {CODER_KINDS}")
    coders = _coders(inputs)
    names = tuple(coder.label for coder in coders)
    reference = _reference(reference, inputs, names)
    reviewers = [coder.source for coder in coders if coder.kind == "reviewer"]
    if reviewers and not resolve_project_path(project).exists():
        raise UsageError(f"{reviewers[0]!r}: not {CODER_KINDS}, and there is no project whose reviewers it could name")
    golds = {coder.label: _gold_table(coder.source) for coder in coders if coder.kind == "gold"}
    needs_store = any(coder.kind != "gold" for coder in coders) or units_from is not None
    problems: list[str] = []
    store_spans: dict[str, Mapping[str, Sequence[tuple[int, int, str]]]] = {}
    pending = 0
    order: list[str] = []
    if not needs_store:
        units, problems, source = _frame_units(golds, coders, None)
    else:
        with Store.open(project, readonly=True) as store:
            book = choose_codebook(codebook, store, check_patterns=False)
            order = book.code_ids()
            if codes:
                check_codes(book, codes, extra=[*store.code_counts(), *store.review_proposals()])
            _check_reviewers(store, coders)
            units, problems, source = _frame_units(golds, coders, store)
            units, source, pending = _store_units(store, coders, units, source, units_from)
            for coder in coders:
                if coder.kind != "gold":
                    store_spans[coder.label] = _store_spans(store, coder)
    values: dict[str, list[frozenset[str] | None]] = {}
    for coder in coders:
        if coder.kind != "gold":
            values[coder.label] = [_codes_at(store_spans[coder.label], unit) for unit in units]
        else:
            table = golds[coder.label][1]
            values[coder.label] = [table.get((unit.doc_id, unit.occurrence)) for unit in units]
    found = set().union(*(v for row in values.values() for v in row if v))
    code_list = list(codes) if codes else [c for c in order if c in found] + sorted(found - set(order))
    per_code = []
    pooled: list[list[Value]] = [[] for _ in names]
    for code in code_list:
        data = [[None if v is None else int(code in v) for v in values[name]] for name in names]
        for index, row in enumerate(data):
            pooled[index].extend(row)
        per_code.append(code_agreement(code, data, names, reference))
    overall = code_agreement("overall", pooled, names, reference)
    return AgreementReport(
        coders=names,
        reference=reference,
        unit_source=source,
        units=len(units),
        per_code=tuple(per_code),
        overall=overall,
        problems=tuple(problems),
        pending=pending,
    )


def _frame_units(golds: dict[str, Any], coders: list[Coder], store: Store | None) -> tuple[list[_Unit], list[str], str]:
    """The units every coder is read on, their problems and where they come from: the first gold
    file's sentences (located in the notes when the store takes part), else the stored segments."""
    if golds:
        frame_name = next(coder.label for coder in coders if coder.kind == "gold")
        units, problems = _gold_units(golds[frame_name], store)
        return units, problems, f"sentences of the gold file {frame_name}"
    assert store is not None, "without a gold file every coder reads the store"
    return [_Unit(d, "", s, e) for d, s, e in store.agreement_units()], [], "stored segments"


def _store_units(
    store: Store, coders: list[Coder], units: list[_Unit], source: str, units_from: str | Path | None
) -> tuple[list[_Unit], str, int]:
    """``units`` restricted to a review sheet's (``units_from``), then to those decided for each
    ``reviewed`` coder; with their new source and how many were left out as pending."""
    pending = 0
    if units_from is not None:
        units, source = _restrict(units, units_from, store, source)
    for reviewer in dict.fromkeys(coder.source for coder in coders if coder.kind == "reviewed"):
        units, left_out = _decided_only(units, store, reviewer or None)
        pending += left_out
        if pending and not units:
            raise UsageError(
                f"none of the {pending} units has a review decision yet, so 'reviewed' has nothing "
                "to agree on: import a filled-in review sheet first (review import)"
            )
    return units, source, pending


class Coder(NamedTuple):
    """One input of ``agree``: ``label`` names it in the report; ``kind`` is auto, reviewed,
    imported, reviewer or gold; ``source`` is the reviewer's name (reviewed:NAME, NAME), the gold
    file's path, or ""."""

    label: str
    kind: str
    source: str = ""


def parse_coder(item: str | Path) -> Coder:
    """What one ``agree`` input names (see the module doc for what each kind measures).

    In order: ``auto``, ``reviewed``, ``imported``; ``reviewed:NAME``; an existing file (a gold
    CSV, named by its stem); anything else that looks like a path is refused; a bare word is a
    reviewer's name, checked against the project once it is open.
    """
    spec = str(item)
    if spec in (*STORE_CODERS, IMPORTED):
        return Coder(spec, spec)
    if spec.startswith(REVIEWER_PREFIX) and spec[len(REVIEWER_PREFIX) :]:
        return Coder(spec, "reviewed", spec[len(REVIEWER_PREFIX) :])
    if Path(spec).is_file():
        return Coder(Path(spec).stem, "gold", spec)
    if spec.lower().endswith(".csv") or "/" in spec or spec.startswith(REVIEWER_PREFIX):
        raise UsageError(f"{spec!r}: not {CODER_KINDS}")
    return Coder(spec, "reviewer", spec)


def _coders(inputs: Sequence[str | Path]) -> list[Coder]:
    """The coders of the inputs; repeated labels get #2, #3."""
    coders: list[Coder] = []
    seen: Counter[str] = Counter()
    for item in inputs:
        coder = parse_coder(item)
        seen[coder.label] += 1
        coders.append(coder if seen[coder.label] == 1 else coder._replace(label=f"{coder.label}#{seen[coder.label]}"))
    return coders


def _check_reviewers(store: Store, coders: Sequence[Coder]) -> None:
    """Refuse a reviewer's name (``NAME`` or ``reviewed:NAME``) the project has no decision of."""
    known = store.reviewers()
    for coder in coders:
        if coder.kind in ("reviewer", "reviewed") and coder.source and coder.source not in known:
            raise UsageError(
                f"{coder.label!r}: not {CODER_KINDS} of this project (reviewers: {', '.join(known) or 'none'})"
            )


def _store_spans(store: Store, coder: Coder) -> Mapping[str, Sequence[tuple[int, int, str]]]:
    """The spans of a coder the store holds: the rules, the reviewed view (of everyone or one
    reviewer), the imported hand coding or one reviewer's own codings."""
    if coder.kind in STORE_CODERS:
        return store.agreement_spans(coder.kind, reviewer=coder.source or None)
    if coder.kind == IMPORTED:
        from .qda_import import IMPORT_COMMAND  # lxml only when imported hand coding takes part

        users = sorted({user for stats in store.run_stats(IMPORT_COMMAND) for user in stats.get("users", [])})
        if not users:
            raise UsageError("'imported': no hand coding was imported into this project yet (phantomcode import qdpx)")
        return store.reviewer_spans(users)
    return store.reviewer_spans([coder.source])


def _reference(reference: str | None, inputs: Sequence[str | Path], names: Sequence[str]) -> str | None:
    if reference is None:
        return None
    if reference in names:
        return reference
    for item, name in zip(inputs, names, strict=False):
        if str(item) == reference or Path(str(item)) == Path(reference):
            return name
    raise OptionError(f"{{option}} {reference!r} is not one of the coders: {', '.join(names)}", option="reference")


def _gold_table(path: str) -> tuple[list[tuple[int, str, str, str]], dict[tuple[str, str], frozenset[str]]]:
    """Rows (row number, note_id, sentence, occurrence key) and codes by (note_id, occurrence key)."""
    rows: list[tuple[int, str, str, str]] = []
    table: dict[tuple[str, str], frozenset[str]] = {}
    seen: Counter[tuple[str, str]] = Counter()
    for unit in read_gold(path):
        seen[(unit.note_id, unit.sentence)] += 1
        occurrence = f"{unit.sentence}\x1f{seen[(unit.note_id, unit.sentence)]}"
        rows.append((unit.row, unit.note_id, unit.sentence, occurrence))
        table[(unit.note_id, occurrence)] = unit.codes
    return rows, table


def _gold_units(
    gold: tuple[list[tuple[int, str, str, str]], Any], store: Store | None
) -> tuple[list[_Unit], list[str]]:
    """The frame gold file's sentences, located in the notes when the store takes part."""
    rows, _ = gold
    if store is None:
        return [_Unit(note_id, occurrence, None, None) for _, note_id, _, occurrence in rows], []
    texts = store.document_texts(note_id for _, note_id, _, _ in rows)
    located, problems = locate_sentences([GoldRow(*row[:3]) for row in rows], texts)
    units = [_Unit(rows[span.position][1], rows[span.position][3], span.start, span.end) for span in located]
    return units, problems


def _restrict(units: list[_Unit], units_from: str | Path, store: Store, source: str) -> tuple[list[_Unit], str]:
    """Keep the units that overlap a segment listed in a review sheet (or carrying a decision)."""
    spans: list[tuple[str, int, int]]
    if str(units_from) == "reviewed":
        spans = list(store.agreement_units(reviewed_only=True))
        label = "segments with a review decision"
    else:
        spans = []
        for _, cells in read_review_sheet(units_from):
            parsed = parse_coding_key(cells.get("key", "")) if cells.get("key") else None
            if parsed is not None:
                spans.append(parsed[:3])
            elif cells.get("doc_id") and cells.get("start", "").isdigit() and cells.get("end", "").isdigit():
                spans.append((cells["doc_id"], int(cells["start"]), int(cells["end"])))
        label = f"segments listed in {Path(units_from).name}"
    by_doc = _spans_by_doc(spans)
    kept = [u for u in units if u.start is not None and _overlaps(by_doc, u)]
    return kept, f"{source}, restricted to {label}"


def _decided_only(units: list[_Unit], store: Store, reviewer: str | None) -> tuple[list[_Unit], int]:
    """(the units a reviewer has decided, how many were left out): a unit is decided when it
    overlaps a review decision (of ``reviewer``, when given) and no coding the rules count in it
    still waits for one."""
    decided = _spans_by_doc(store.agreement_units(reviewed_only=True, reviewer=reviewer))
    waiting = _spans_by_doc(store.pending_spans(reviewer=reviewer))
    kept = [u for u in units if u.start is not None and _overlaps(decided, u) and not _overlaps(waiting, u)]
    return kept, len(units) - len(kept)


def _spans_by_doc(spans: Sequence[tuple[str, int, int]]) -> dict[str, list[tuple[int, int]]]:
    by_doc: dict[str, list[tuple[int, int]]] = {}
    for doc_id, start, end in spans:
        by_doc.setdefault(doc_id, []).append((start, end))
    return by_doc


def _overlaps(spans: dict[str, list[tuple[int, int]]], unit: _Unit) -> bool:
    start, end = _located(unit)
    return any(s < end and e > start for s, e in spans.get(unit.doc_id, []))


def _codes_at(spans: Mapping[str, Sequence[tuple[int, int, str]]], unit: _Unit) -> frozenset[str]:
    start, end = _located(unit)
    return frozenset(code for s, e, code in spans.get(unit.doc_id, []) if s < end and e > start)


def _located(unit: _Unit) -> tuple[int, int]:
    """A unit's offsets; only gold units read without the store have none, and they meet no span."""
    assert unit.start is not None and unit.end is not None, "a unit compared with stored spans was located"
    return unit.start, unit.end
