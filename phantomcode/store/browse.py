"""Reading a project one document at a time: what the review workspace (and a notebook) shows.

``find_documents`` filters and pages the documents (attributes, code, review status, source,
text search with ``*``); ``document_view`` gives one document's text, attributes, codings with
their decisions, and memos; ``highlight_pieces`` cuts a text where codings begin and end, so a
page can colour overlapping codings without computing offsets in the browser.

The SQL here reads the store's schema (``store.schema`` defines it) through an open ``Store``. It is
a module of its own, imported on demand (``from phantomcode.store import browse``), because only
the workspace and notebooks browse: the CLI's commands never load it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from . import Store
from .records import coding_key
from .schema import COUNTED

STATUSES = ("pending", "accepted", "rejected", "flagged")
SOURCES = ("rules", "learned", "human")
MAX_PER_PAGE = 500
SNIPPET_CHARS = 220
MISSING = Store.REPORT_MISSING
_HUMAN = f"c.rule = '{Store.REVIEW_ADD_RULE}'"
_STATUS_SQL = {
    "pending": f"{Store.AUTO_COUNTED} AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.doc_id = c.doc_id"
    " AND r.start = c.start AND r.end = c.end AND r.code = c.code)",
    "accepted": "c.status = 'accepted'",
    "rejected": "c.status = 'rejected'",
    "flagged": "(c.negated OR c.hypothetical) AND c.status = 'auto'",
}
_SOURCE_SQL = {"rules": f"c.source = 'rules' AND NOT {_HUMAN}", "learned": "c.source = 'learned'", "human": _HUMAN}


@dataclass(frozen=True)
class DocumentFilter:
    """Which documents to list. ``where``: attribute -> canonical values (OR within one attribute,
    AND across); ``code``, ``status`` and ``source`` must hold for one and the same coding;
    ``text``: words to find in the note, ``*`` matching any run of characters."""

    where: Mapping[str, Sequence[str]] = field(default_factory=dict)
    code: str | None = None
    status: str | None = None
    source: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class DocumentSummary:
    doc_id: str
    attributes: dict[str, str]
    codings: int
    counted: int
    pending: int
    codes: list[str]
    snippet: str


@dataclass(frozen=True)
class DocumentPage:
    total: int
    page: int
    per_page: int
    documents: list[DocumentSummary]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Piece:
    """A stretch of text covered by the same codings (``keys``, in text order), their codes, and
    the codings (``words``) whose matched words it is part of."""

    start: int
    end: int
    text: str
    codes: tuple[str, ...]
    keys: tuple[str, ...]
    words: tuple[str, ...] = ()


def check_filter(store: Store, wanted: DocumentFilter, names: Sequence[str] | None = None) -> DocumentFilter:
    """Raise ``UsageError`` naming the valid choices for an unknown attribute, status or source
    (``names``: the attributes, when the caller knows them)."""
    names = store.report_attribute_names() if names is None else names
    for name in wanted.where:
        if name not in names:
            raise UsageError(f"unknown attribute {name!r}; attributes: {', '.join(names)}")
    if wanted.status is not None and wanted.status not in STATUSES:
        raise UsageError(f"unknown review status {wanted.status!r}; choose {', '.join(STATUSES)}")
    if wanted.source is not None and wanted.source not in SOURCES:
        raise UsageError(f"unknown source {wanted.source!r}; choose {', '.join(SOURCES)}")
    return wanted


def find_documents(
    store: Store,
    wanted: DocumentFilter,
    *,
    page: int = 1,
    per_page: int = 50,
    after: str | None = None,
    names: Sequence[str] | None = None,
    text_index: str | None = None,
    count: Callable[[Callable[[], int]], int] | None = None,
) -> DocumentPage:
    """One page of the documents ``wanted`` selects, in ID order, with their coding counts.

    ``after``: the page starting after that document ID instead of page ``page`` (keyset paging,
    which costs the same on the last page as on the first). ``text_index``: the schema name of an
    attached trigram index of the texts (``store.text_index``) to find ``wanted.text`` with; its
    hits are checked against the stored text. ``count``: computes the total through the caller's
    cache (it is given the function that counts).
    """
    check_filter(store, wanted, names)
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise UsageError(f"page must be 1 or more and per_page 1 to {MAX_PER_PAGE}")
    condition, params = _document_condition(wanted, text_index)
    db = store.connection

    def counted() -> int:
        return int(db.execute(f"SELECT count(*) FROM documents d{condition}", params).fetchone()[0])

    total = count(counted) if count is not None else counted()
    if after is not None:
        keyset = f"{condition} AND d.doc_id > ?" if condition else " WHERE d.doc_id > ?"
        rows = db.execute(
            f"SELECT d.doc_id FROM documents d{keyset} ORDER BY d.doc_id LIMIT ?", [*params, after, per_page]
        )
    else:
        rows = db.execute(
            f"SELECT d.doc_id FROM documents d{condition} ORDER BY d.doc_id LIMIT ? OFFSET ?",
            [*params, per_page, (page - 1) * per_page],
        )
    ids = [row[0] for row in rows]
    return DocumentPage(total=total, page=page, per_page=per_page, documents=_summaries(store, ids, wanted))


def _document_condition(wanted: DocumentFilter, text_index: str | None = None) -> tuple[str, list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for name, values in wanted.where.items():
        if name == "sector":
            value = (
                "coalesce(nullif(d.sector, ''), (SELECT nullif(a.value, '') FROM doc_attributes a"
                f" WHERE a.doc_id = d.doc_id AND a.name = 'sector'), '{MISSING}')"
            )
        else:
            value = (
                f"coalesce((SELECT nullif(a.value, '') FROM doc_attributes a WHERE a.doc_id = d.doc_id"
                f" AND a.name = ?), '{MISSING}')"
            )
            params.append(name)
        conditions.append(f"{value} IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(values), ensure_ascii=False))
    coding, coding_params = _coding_condition(wanted)
    if coding:
        conditions.append(f"EXISTS (SELECT 1 FROM codings c WHERE c.doc_id = d.doc_id AND {coding})")
        params.extend(coding_params)
    if wanted.text and wanted.text.strip():
        if text_index is not None:
            conditions.append(
                f"d.doc_id IN (SELECT i.doc_id FROM {text_index}.notes n JOIN {text_index}.indexed i"
                " ON i.note = n.rowid WHERE n.text LIKE ?)"
            )  # no ESCAPE: it keeps FTS5 off its index
            params.append(like_pattern(wanted.text))
        conditions.append("d.text LIKE ? ESCAPE '\\'")
        params.append(like_pattern(wanted.text))
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), params


def _coding_condition(wanted: DocumentFilter) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if wanted.code:
        parts.append("c.code = ?")
        params.append(wanted.code)
        if not wanted.status:
            parts.append(COUNTED)
    if wanted.status:
        parts.append(_STATUS_SQL[wanted.status])
    if wanted.source:
        parts.append(_SOURCE_SQL[wanted.source])
    return " AND ".join(parts), params


def like_pattern(text: str) -> str:
    """A LIKE pattern finding ``text`` anywhere, ``*`` standing for any characters."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.replace('*', '%')}%"


def _summaries(store: Store, ids: list[str], wanted: DocumentFilter) -> list[DocumentSummary]:
    if not ids:
        return []
    db = store.connection
    page = json.dumps(ids, ensure_ascii=False)
    attributes: dict[str, dict[str, str]] = {}
    for row in db.execute(
        "SELECT doc_id, name, value FROM doc_attributes WHERE doc_id IN (SELECT value FROM json_each(?)) ORDER BY name",
        (page,),
    ):
        attributes.setdefault(row[0], {})[row[1]] = row[2]
    counts: dict[str, tuple[int, int, int, str]] = {
        row[0]: tuple(row[1:])
        for row in db.execute(
            f"SELECT c.doc_id, count(*), sum({COUNTED}), sum({_STATUS_SQL['pending']}),"
            f" group_concat(DISTINCT CASE WHEN {COUNTED} THEN c.code END) FROM codings c"
            " WHERE c.doc_id IN (SELECT value FROM json_each(?)) GROUP BY c.doc_id",
            (page,),
        )
    }
    snippets = _snippets(store, page, wanted)
    summaries = []
    for doc_id in ids:
        codings, counted, pending, codes = counts.get(doc_id, (0, 0, 0, ""))
        summaries.append(
            DocumentSummary(
                doc_id=doc_id,
                attributes=attributes.get(doc_id, {}),
                codings=codings,
                counted=counted or 0,
                pending=pending or 0,
                codes=sorted(set((codes or "").split(",")) - {""}),
                snippet=snippets.get(doc_id, ""),
            )
        )
    return summaries


def _snippets(store: Store, page: str, wanted: DocumentFilter) -> dict[str, str]:
    """Per document: the first coding the filter asked for (a quote), else the note's opening."""
    coding, params = _coding_condition(wanted)
    if coding:
        # min(c.start) is the only aggregate, so SQLite takes the bare columns from that row
        sql = (
            "SELECT c.doc_id, substr(d.text, c.start + 1, min(c.end - c.start, ?)), min(c.start) FROM codings c"
            " JOIN documents d ON d.doc_id = c.doc_id WHERE c.doc_id IN (SELECT value FROM json_each(?))"
            f" AND {coding} GROUP BY c.doc_id"
        )
        rows = store.connection.execute(sql, [SNIPPET_CHARS, page, *params])
    else:
        rows = store.connection.execute(
            "SELECT doc_id, substr(text, 1, ?) FROM documents WHERE doc_id IN (SELECT value FROM json_each(?))",
            (SNIPPET_CHARS, page),
        )
    return {row[0]: " ".join(row[1].split()) for row in rows}


def document_view(store: Store, doc_id: str) -> dict[str, Any]:
    """One document: text, attributes (verbatim and canonical), source file, codings in text
    order with key, rule, matched words, flags, status, source and decision, and memos.

    Raises ``UsageError`` when there is no such document.
    """
    row = store.connection.execute(
        "SELECT doc_id, source, text, attributes, sector, sector_source, coded_with FROM documents WHERE doc_id = ?",
        (doc_id,),
    ).fetchone()
    if row is None:
        raise UsageError(f"no document {doc_id!r} in the project")
    canonical = {
        r[0]: r[1]
        for r in store.connection.execute(
            "SELECT name, value FROM doc_attributes WHERE doc_id = ? ORDER BY name", (doc_id,)
        )
    }
    return {
        "doc_id": row["doc_id"],
        "source": row["source"],
        "text": row["text"],
        "attributes": json.loads(row["attributes"]),
        "canonical_attributes": canonical,
        "sector": row["sector"],
        "sector_source": row["sector_source"],
        "codebook_hash": row["coded_with"],
        "codings": document_codings(store, doc_id),
        "memos": store.memos(doc_id),
    }


def document_codings(store: Store, doc_id: str) -> list[dict[str, Any]]:
    """A document's codings in text order, each with its review decision (or None); ``source`` is
    ``rules``, ``learned`` (with the model's probability, hash and explanation) or ``human``."""
    rows = store.connection.execute(
        f"SELECT c.start, c.end, c.code, c.rule, c.matched, c.negated, c.hypothetical, c.cue, c.status,"
        f" {COUNTED} AS counted, c.source, c.probability, c.model_hash, c.explanation,"
        " r.decision, r.correct_code, r.note, r.reviewer, r.decided_at"
        " FROM codings c LEFT JOIN reviews r ON r.doc_id = c.doc_id AND r.start = c.start AND r.end = c.end"
        " AND r.code = c.code WHERE c.doc_id = ? ORDER BY c.start, c.end, c.code",
        (doc_id,),
    )
    codings = []
    for row in rows:
        record = dict(row)
        record["key"] = coding_key(doc_id, row["start"], row["end"], row["code"])
        record["matched"] = json.loads(row["matched"])
        record["source"] = "human" if row["rule"] == Store.REVIEW_ADD_RULE else row["source"]
        record["explanation"] = json.loads(row["explanation"]) if row["explanation"] else None
        for flag in ("negated", "hypothetical", "counted"):
            record[flag] = bool(record[flag])
        codings.append(record)
    return codings


def highlight_pieces(text: str, codings: Sequence[Mapping[str, Any]]) -> list[Piece]:
    """``text`` cut at every coding's and matched word's start and end; each piece lists the
    codings covering it and those whose matched words it holds.

    One sweep over the cuts keeps the codings open at each point, so a long note with a
    thousand codings costs a few thousand steps, not pieces x codings.
    """
    spans = [c for c in codings if 0 <= c["start"] < c["end"] <= len(text)]
    words = [(m["start"], m["end"]) for c in spans for m in c.get("matched", ()) if "start" in m]
    cuts = sorted(
        {
            0,
            len(text),
            *(c["start"] for c in spans),
            *(c["end"] for c in spans),
            *(cut for word in words for cut in word if 0 <= cut <= len(text)),
        }
    )
    starting: dict[int, list[Mapping[str, Any]]] = {}
    for coding in sorted(spans, key=lambda c: (c["start"], c["end"])):
        starting.setdefault(coding["start"], []).append(coding)
    open_codings: list[Mapping[str, Any]] = []
    pieces = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        open_codings = [c for c in open_codings if c["end"] > start] + starting.get(start, [])
        pieces.append(
            Piece(
                start=start,
                end=end,
                text=text[start:end],
                codes=tuple(dict.fromkeys(c["code"] for c in open_codings)),
                keys=tuple(c["key"] for c in open_codings),
                words=tuple(
                    c["key"]
                    for c in open_codings
                    if any(m.get("start", -1) <= start and end <= m.get("end", -1) for m in c.get("matched", ()))
                ),
            )
        )
    return pieces


def neighbours(store: Store, doc_id: str) -> tuple[str | None, str | None]:
    """The document IDs before and after ``doc_id`` in ID order (None at either end)."""
    db = store.connection
    before = db.execute("SELECT max(doc_id) FROM documents WHERE doc_id < ?", (doc_id,)).fetchone()[0]
    after = db.execute("SELECT min(doc_id) FROM documents WHERE doc_id > ?", (doc_id,)).fetchone()[0]
    return before, after
