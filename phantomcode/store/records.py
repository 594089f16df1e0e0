"""The records the store reads and writes: named rows rather than dicts or positional tuples.

NamedTuples where callers unpack or slice rows (they stay tuples), frozen dataclasses elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ..coding import CodedDocument


@dataclass(frozen=True)
class StoredState:
    """What the store knows of a document, enough to decide whether it must be read again.

    ``size`` and ``mtime_ns`` describe the source file when it was last read (None in projects
    made before they were recorded): equal values let ingest skip reading the file at all.
    """

    doc_id: str
    root: str
    source: str
    source_hash: str
    meta_hash: str
    coded_with: str | None
    size: int | None = None
    mtime_ns: int | None = None


# (attribute name, canonical value, raw value): one ``doc_attributes`` row without its doc_id.
AttributeRow = tuple[str, str, str]


@dataclass(frozen=True)
class ModelRecord:
    """A trained model as the ``models`` table keeps it (``data``: the model's bytes)."""

    content_hash: str
    kind: str  # "trained" (phantomcode train) or "default" (from the codebook's examples)
    codebook_hash: str | None
    labels: dict[str, Any]
    parameters: dict[str, Any]
    versions: dict[str, str]
    metrics: list[dict[str, Any]]
    data: bytes
    created_at: str | None = None


class CodedRows(NamedTuple):
    """A coded document in the store's own row format: plain tuples, cheap to send between processes.

    ``segments``: (start, end, unit, sector, sector_source); ``codings``: (index of its segment,
    code, rule, start, end, matched spans as JSON, negated, hypothetical, cue, source, probability,
    model hash, explanation as JSON); ``scores``: (start, end, {code: probability} as JSON) of the
    units the learned layer scored; ``model_hash``: its model. Workers build these, so the writing
    process only runs ``executemany``.
    """

    sector: str | None
    sector_source: str | None
    segments: list[tuple[int, int, str, str | None, str | None]]
    codings: list[tuple[Any, ...]]
    scores: list[tuple[int, int, str]] = []
    model_hash: str | None = None


def coded_rows(coded: CodedDocument, model_hash: str | None = None) -> CodedRows:
    """The rows ``save_documents`` and ``save_codings`` write for one coded document."""
    segments: list[tuple[int, int, str, str | None, str | None]] = []
    codings: list[tuple[Any, ...]] = []
    for index, segment in enumerate(coded.segments):
        segments.append((segment.start, segment.end, segment.unit, segment.sector, segment.sector_source))
        codings.extend(
            (
                index,
                c.code,
                c.rule,
                c.start,
                c.end,
                to_json([{"start": m.start, "end": m.end, "text": m.text, "term": m.term} for m in c.matched]),
                int(c.negated),
                int(c.hypothetical),
                c.cue,
                c.source,
                c.probability,
                c.model_hash,
                c.explanation.to_json() if c.explanation is not None else None,
            )
            for c in segment.codings
        )
    scores = [(unit.start, unit.end, to_json(dict(unit.probabilities))) for unit in coded.scores]
    return CodedRows(coded.sector, coded.sector_source, segments, codings, scores, model_hash)


# json.dumps(..., ensure_ascii=False) builds a new encoder per call; coded_rows encodes every coding.
to_json = json.JSONEncoder(ensure_ascii=False).encode


class DocumentRecord(NamedTuple):
    """A read note ready to be written; ``attribute_rows`` pair raw values with canonical ones."""

    doc_id: str
    root: str
    source: str
    source_hash: str
    meta_hash: str
    content_hash: str
    encoding: str
    text: str
    attributes: dict[str, str]
    attribute_rows: list[AttributeRow]
    size: int
    mtime_ns: int
    replaces: str | None = None  # the ID this file's document had before its front matter changed it


def attribute_rows(raw: dict[str, str], canonical: dict[str, str]) -> list[AttributeRow]:
    """``doc_attributes`` rows: each raw value with its canonical form (the raw one when unmapped)."""
    return [(name, canonical.get(name, value), value) for name, value in raw.items()]


@dataclass(frozen=True)
class RunInfo:
    """One command's run as the ``runs`` table records it."""

    run_id: int
    command: str
    codebook_name: str | None
    codebook_version: str | None
    codebook_hash: str | None
    tool_version: str
    started_at: str
    finished_at: str | None
    status: str
    stats: dict[str, Any]
    codebook_path: str | None = None  # as recorded: relative to the project, or "bundled"


def text_hash(text: str) -> str:
    """The ``content_hash`` of a stored text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Sector(NamedTuple):
    """A document's sector and where it came from ('declared' or 'inferred'); None for both when neither."""

    sector: str | None
    source: str | None


class SegmentRecord(NamedTuple):
    """A stored segment: a unit (sentence or paragraph) of a document, with its sector."""

    segment_id: int
    doc_id: str
    start: int
    end: int
    unit: str
    sector: str | None
    sector_source: str | None


class ReviewerDecision(NamedTuple):
    """One reviewer's own decision on a coding, as ``reviewer_decisions`` keeps it."""

    doc_id: str
    start: int
    end: int
    code: str
    reviewer: str
    decision: str
    correct_code: str | None
    note: str | None
    decided_at: str
    text: str


class Span(NamedTuple):
    """A coded passage of a document: what agreement and evaluation compare."""

    start: int
    end: int
    code: str


class Unit(NamedTuple):
    """A passage of a document (a stored segment, or the span of a decision)."""

    doc_id: str
    start: int
    end: int


class CodingKey(NamedTuple):
    """What identifies a coding and the decisions on it."""

    doc_id: str
    start: int
    end: int
    code: str


class DecisionKey(NamedTuple):
    """What identifies one reviewer's decision."""

    doc_id: str
    start: int
    end: int
    code: str
    reviewer: str


class CodeCount(NamedTuple):
    """How many segments and documents have a counted coding of a code."""

    segments: int
    documents: int


class TermCount(NamedTuple):
    """How often one codebook term of a code made counted codings."""

    code: str
    term: str
    segments: int
    documents: int


class CodingCounts(NamedTuple):
    """All codings, and those that count (not negated, hypothetical or rejected)."""

    total: int
    counted: int


class SavedDecisions(NamedTuple):
    """How ``save_reviews`` found each decision, counted per reviewer."""

    new: int
    changed: int
    unchanged: int


class SqlPart(NamedTuple):
    """A piece of SQL (a CTE, a condition) and the parameters of its placeholders, in order."""

    sql: str
    params: list[Any]


class Proposals(NamedTuple):
    """A code's codings the rules count, and how many of them have no decision yet."""

    proposals: int
    pending: int


class UnitCoding(NamedTuple):
    """One coding of a unit, as the learned layer's suggestions weigh it."""

    code: str
    source: str
    negated: bool
    hypothetical: bool
    status: str


class UnitScore(NamedTuple):
    """The learned layer's probabilities for one unit."""

    doc_id: str
    start: int
    end: int
    probabilities: dict[str, float]


class DocumentText(NamedTuple):
    """A stored document's text with its raw attributes."""

    doc_id: str
    text: str
    attributes: dict[str, str]


class CodebookName(NamedTuple):
    """A codebook's name and version, as a run recorded them."""

    name: str
    version: str


class KeptCodebook(NamedTuple):
    """A codebook's bytes as the project kept them, with the phantomcode version that coded with it."""

    source: bytes
    tool_version: str


class LastCodebook(NamedTuple):
    """The codebook the most recent run used: its path as recorded, hash, name and version."""

    path: str
    content_hash: str
    name: str | None
    version: str | None


class ValueCount(NamedTuple):
    """An attribute value (or group key) with the number of documents that have it."""

    value: str
    documents: int


class Cooccurrence(NamedTuple):
    """Documents and segments where two codes are both counted."""

    code: str
    other: str
    documents: int
    segments: int


def coding_key(doc_id: str, start: int, end: int, code: str) -> str:
    """The stable key of a coding: ``doc_id:start-end:code`` (offsets into the stored text)."""
    return f"{doc_id}:{start}-{end}:{code}"
