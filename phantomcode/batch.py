"""The batch API: read a note exactly as ingest stores it, and code documents into Arrow rows.

For users who run the engine on their own machinery (Dask, Spark, Ray, a notebook), and for
``ingest --engine dask`` (:mod:`phantomcode.distributed`), which ships notes and rows in these
shapes. Two tables, each with a versioned schema recorded in its metadata
(``phantomcode.schema_version``), so Parquet files written today can be read by later versions:

* notes (:data:`NOTES_SCHEMA`): one row per note a run read, in the run's order (``position``):
  its identity, hashes, text and attributes as the project stores them, its document-level
  sector, the warnings it raised, or ``error``: why it was skipped (its other columns then null).
* codings (:data:`CODINGS_SCHEMA`): one row per coding: the note's position and ID, its segment (index and
  offsets, unit, sector), the code, the rule, the matched words, the negation and hypothetical
  flags, what produced it (``source``: "rules", or "learned" with the model's ``probability``,
  ``model_hash`` and ``explanation`` as JSON) and the codebook's hash.

Schema version 2 added the learned layer's ``explanation`` (codings) and each note's
``model_hash`` and unit ``scores`` (notes, JSON); version 1 tables are still read (those null).

Every table also carries the codebook's name, version, hash and YAML bytes in its metadata, so
``import parquet`` can bring rows into a project that never saw the codebook. Needs pyarrow
(``pip install "phantomcode[dask]"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pyarrow as pa

from . import __version__
from .codebook import Codebook, default_codebook_path, load_codebook
from .errors import UsageError
from .guard import NoteSkip
from .notes import (
    DEFAULT_MAX_BYTES,
    NoteFile,
    Sidecar,
    compile_path_template,
    load_sidecars,
    path_attributes,
    sidecar_for,
)
from .store import (
    CodedRows,
    DocumentRecord,
    coded_rows,
    to_json,  # matched spans encoded as the store encodes them
)
from .workers import NoteOutcome, NoteTask, ReadNote, read_task

if TYPE_CHECKING:
    from .coding import CodedDocument, CodingEngine

SCHEMA_VERSION = 2
ADDED_IN_2 = {"notes": ("model_hash", "scores"), "codings": ("explanation",)}

_MATCHED = pa.list_(
    pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()), ("term", pa.string())])
)
_ATTRIBUTES = pa.list_(pa.struct([("name", pa.string()), ("value", pa.string()), ("raw", pa.string())]))
_WARNINGS = pa.list_(pa.string())


def _versioned(kind: str, fields: list[tuple[str, pa.DataType]]) -> pa.Schema:
    return pa.schema(fields, metadata={"phantomcode.table": kind, "phantomcode.schema_version": str(SCHEMA_VERSION)})


NOTES_SCHEMA = _versioned(
    "notes",
    [
        ("position", pa.int64()),
        ("source", pa.string()),
        ("error", pa.string()),
        ("doc_id", pa.string()),
        ("root", pa.string()),
        ("source_hash", pa.string()),
        ("meta_hash", pa.string()),
        ("content_hash", pa.string()),
        ("encoding", pa.string()),
        ("text", pa.string()),
        ("attributes", _ATTRIBUTES),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("sector", pa.string()),
        ("sector_source", pa.string()),
        ("pii_warnings", _WARNINGS),
        ("attribute_warnings", _WARNINGS),
        ("codebook_hash", pa.string()),
        ("model_hash", pa.string()),
        ("scores", pa.string()),
    ],
)

CODINGS_SCHEMA = _versioned(
    "codings",
    [
        ("position", pa.int64()),
        ("doc_id", pa.string()),
        ("segment", pa.int32()),
        ("segment_start", pa.int64()),
        ("segment_end", pa.int64()),
        ("unit", pa.string()),
        ("segment_sector", pa.string()),
        ("segment_sector_source", pa.string()),
        ("code", pa.string()),
        ("rule", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("matched", _MATCHED),
        ("negated", pa.bool_()),
        ("hypothetical", pa.bool_()),
        ("cue", pa.string()),
        ("source", pa.string()),
        ("probability", pa.float64()),
        ("codebook_hash", pa.string()),
        ("model_hash", pa.string()),
        ("explanation", pa.string()),
    ],
)


class NoteRead(NamedTuple):
    """A note as ingest stores it (``record``), with the warnings ingest would report for it."""

    record: DocumentRecord
    pii_warnings: list[str]
    attribute_warnings: list[str]


# ---------------------------------------------------------------------------------------------
# Reading one note


def read_note(
    path: str | Path,
    root: str | Path,
    *,
    codebook: str | Path | Codebook | None = None,
    path_attrs: str | None = None,
    sidecars: Mapping[str, Sidecar] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    pii: str = "warn",
) -> NoteRead:
    """Read the note at ``path`` under the notes folder ``root`` exactly as ``ingest`` would:
    the same text (after the ``pii`` mode), attributes (front matter, sidecar, ``path_attrs``),
    canonical attribute values (``codebook``'s aliases; the bundled codebook by default) and
    ``doc_id``.

    ``sidecars``: the folder's ``load_sidecars(root)[0]``; pass it when reading many notes, else
    it is loaded for every call. Raises ``NoteError`` when ingest would skip the note, with its
    reason, and ``UsageError`` when ``path`` is not under ``root``.
    """
    root = Path(root).resolve()
    try:
        relpath = Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        raise UsageError(f"{path} is not inside the notes folder {root}") from None
    book = codebook if isinstance(codebook, Codebook) else load_codebook(codebook or default_codebook_path())
    if sidecars is None:
        sidecars = load_sidecars(root)[0]
    from_path = path_attributes(relpath, compile_path_template(path_attrs)) if path_attrs else {}
    task = NoteTask(NoteFile(str(path), relpath), sidecar_for(relpath, sidecars), from_path or {})
    return NoteRead(*read_task(task, book, root_key=str(root), max_bytes=max_bytes, pii=pii))


# ---------------------------------------------------------------------------------------------
# Outcomes to tables


def codebook_metadata(codebook: Codebook) -> dict[str, str | bytes]:
    """What a table carries of its codebook: enough to keep it in a project and to name it."""
    return {
        "phantomcode.codebook_name": codebook.name,
        "phantomcode.codebook_version": codebook.version,
        "phantomcode.codebook_hash": codebook.content_hash,
        "phantomcode.codebook_path": str(codebook.path),
        "phantomcode.codebook": codebook.source,
        "phantomcode.version": __version__,
    }


def _with_metadata(table: pa.Table, codebook: Codebook) -> pa.Table:
    return table.replace_schema_metadata({**table.schema.metadata, **codebook_metadata(codebook)})


def codings_table(coded: Sequence[tuple[str, CodedDocument]], engine: CodingEngine) -> pa.Table:
    """One row per coding of each ``(doc_id, coded document)``, in :data:`CODINGS_SCHEMA`
    (``position``: the document's index in ``coded``)."""
    model_hash = engine.learned.content_hash if engine.learned is not None else None
    return _with_metadata(
        _codings_table(
            [(i, doc_id, coded_rows(result, model_hash)) for i, (doc_id, result) in enumerate(coded)],
            engine.codebook.content_hash,
        ),
        engine.codebook,
    )


def _codings_table(coded: Iterable[tuple[int, str, CodedRows]], codebook_hash: str) -> pa.Table:
    """Codings of (position, doc_id, rows): the position tells apart notes that claim one ID."""
    columns: dict[str, list] = {name: [] for name in CODINGS_SCHEMA.names}
    for position, doc_id, rows in coded:
        for (
            segment,
            code,
            rule,
            start,
            end,
            matched,
            negated,
            hypothetical,
            cue,
            source,
            probability,
            model_hash,
            explanation,
        ) in rows.codings:
            seg_start, seg_end, unit, sector, sector_source = rows.segments[segment]
            for name, value in (
                ("position", position),
                ("doc_id", doc_id),
                ("segment", segment),
                ("segment_start", seg_start),
                ("segment_end", seg_end),
                ("unit", unit),
                ("segment_sector", sector),
                ("segment_sector_source", sector_source),
                ("code", code),
                ("rule", rule),
                ("start", start),
                ("end", end),
                ("matched", json.loads(matched)),
                ("negated", bool(negated)),
                ("hypothetical", bool(hypothetical)),
                ("cue", cue),
                ("source", source),
                ("probability", probability),
                ("codebook_hash", codebook_hash),
                ("model_hash", model_hash),
                ("explanation", explanation),
            ):
                columns[name].append(value)
    return pa.table(columns, schema=CODINGS_SCHEMA)


def outcome_tables(
    sources: Sequence[str], outcomes: Sequence[NoteOutcome], *, first_position: int, codebook: Codebook
) -> tuple[pa.Table, pa.Table]:
    """The notes and codings tables of a run's notes ``sources`` (relative paths) from
    ``first_position`` on, given what reading and coding each gave (a note, or why it was skipped)."""
    columns: dict[str, list] = {name: [] for name in NOTES_SCHEMA.names}
    for position, (source, outcome) in enumerate(zip(sources, outcomes, strict=True), start=first_position):
        columns["position"].append(position)
        columns["source"].append(source)
        if isinstance(outcome, NoteSkip):
            columns["error"].append(outcome.reason)
            for name in NOTES_SCHEMA.names[3:]:
                columns[name].append(None)
            continue
        record, coded, pii_warnings, attribute_warnings = outcome
        columns["error"].append(None)
        for name in (
            "doc_id",
            "root",
            "source_hash",
            "meta_hash",
            "content_hash",
            "encoding",
            "text",
            "size",
            "mtime_ns",
        ):
            columns[name].append(getattr(record, name))
        columns["attributes"].append([{"name": n, "value": v, "raw": r} for n, v, r in record.attribute_rows])
        columns["sector"].append(coded.sector)
        columns["sector_source"].append(coded.sector_source)
        columns["pii_warnings"].append(pii_warnings)
        columns["attribute_warnings"].append(attribute_warnings)
        columns["codebook_hash"].append(codebook.content_hash)
        columns["model_hash"].append(coded.model_hash)
        columns["scores"].append(to_json(coded.scores))
    notes = pa.table(columns, schema=NOTES_SCHEMA)
    coded_notes = (
        (position, o.record.doc_id, o.coded)
        for position, o in enumerate(outcomes, start=first_position)
        if not isinstance(o, NoteSkip)
    )
    return (
        _with_metadata(notes, codebook),
        _with_metadata(_codings_table(coded_notes, codebook.content_hash), codebook),
    )


# ---------------------------------------------------------------------------------------------
# Tables back to outcomes


def check_schema(table: pa.Table, kind: str, where: str) -> None:
    """Refuse a table that is not phantomcode's ``kind`` table, or is of a newer schema version."""
    metadata = table.schema.metadata or {}
    if metadata.get(b"phantomcode.table") != kind.encode():
        raise UsageError(f"{where}: not a phantomcode {kind} table (written by ingest --parquet-out)")
    version = int(metadata.get(b"phantomcode.schema_version", b"0"))
    if version > SCHEMA_VERSION:
        raise UsageError(
            f"{where}: written with schema version {version}, newer than this phantomcode "
            f"reads ({SCHEMA_VERSION}); upgrade phantomcode"
        )
    missing = set(NOTES_SCHEMA.names if kind == "notes" else CODINGS_SCHEMA.names) - set(table.column_names)
    if version < 2:
        missing -= set(ADDED_IN_2[kind])  # read as nulls
    if missing:
        raise UsageError(f"{where}: columns missing: {', '.join(sorted(missing))}")


def outcomes_from_tables(notes: pa.Table, codings: pa.Table) -> list[tuple[str, NoteOutcome]]:
    """(source, outcome) of each note row, in position order: what :func:`outcome_tables` took."""
    coded_by_position = _coded_rows_by_position(codings)
    notes = notes.sort_by("position")
    rows = zip(*(_column(notes, name) for name in NOTES_SCHEMA.names), strict=True)
    outcomes: list[tuple[str, NoteOutcome]] = []
    for (
        position,
        source,
        error,
        doc_id,
        root,
        source_hash,
        meta_hash,
        content_hash,
        encoding,
        text,
        attributes,
        size,
        mtime_ns,
        sector,
        sector_source,
        pii_warnings,
        attribute_warnings,
        _,
        model_hash,
        scores,
    ) in rows:
        if error is not None:
            outcomes.append((source, NoteSkip(error)))
            continue
        attribute_rows = [(a["name"], a["value"], a["raw"]) for a in attributes]
        record = DocumentRecord(
            doc_id,
            root,
            source,
            source_hash,
            meta_hash,
            content_hash,
            encoding,
            text,
            {name: raw for name, _, raw in attribute_rows},
            attribute_rows,
            size,
            mtime_ns,
        )
        segments, codings_rows = coded_by_position.get(position, ([], []))
        unit_scores = [tuple(score) for score in json.loads(scores)] if scores else []
        outcomes.append(
            (
                source,
                ReadNote(
                    record,
                    CodedRows(sector, sector_source, segments, codings_rows, unit_scores, model_hash),
                    pii_warnings,
                    attribute_warnings,
                ),
            )
        )
    return outcomes


def _coded_rows_by_position(codings: pa.Table) -> dict[int, tuple[list, list]]:
    """A note's position -> its (segments, codings) in the store's row format (``CodedRows``)."""
    by_position: dict[int, tuple[list, list]] = {}
    names = (
        "position",
        "segment",
        "segment_start",
        "segment_end",
        "unit",
        "segment_sector",
        "segment_sector_source",
        "code",
        "rule",
        "start",
        "end",
        "matched",
        "negated",
        "hypothetical",
        "cue",
        "source",
        "probability",
        "model_hash",
        "explanation",
    )
    for (
        position,
        segment,
        seg_start,
        seg_end,
        unit,
        sector,
        sector_source,
        code,
        rule,
        start,
        end,
        matched,
        negated,
        hypothetical,
        cue,
        source,
        probability,
        model_hash,
        explanation,
    ) in zip(*(_column(codings, name) for name in names), strict=True):
        segments, rows = by_position.setdefault(position, ([], []))
        if segment == len(segments):
            segments.append((seg_start, seg_end, unit, sector, sector_source))
        rows.append(
            (
                segment,
                code,
                rule,
                start,
                end,
                to_json(matched),
                int(negated),
                int(hypothetical),
                cue,
                source,
                probability,
                model_hash,
                explanation,
            )
        )
    return by_position


def _column(table: pa.Table, name: str) -> list:
    """A column's values; nulls for a column a version 1 table does not have (``ADDED_IN_2``)."""
    return table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows
