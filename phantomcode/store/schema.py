"""The project's schema: named, ordered migrations, and the SQL conditions every query shares.

``PRAGMA user_version`` counts the applied migrations, and the ``migrations`` table records them
by name, so a project made by an older phantomcode is upgraded on open and a file phantomcode did
not make is refused (see ``Store.open``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "create documents, segments, codings and runs",
        """
        CREATE TABLE migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        );
        CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,
            codebook_name TEXT,
            codebook_version TEXT,
            codebook_hash TEXT,
            codebook_path TEXT,
            tool_version TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',
            stats TEXT
        );
        CREATE TABLE documents (
            doc_id TEXT PRIMARY KEY,
            root TEXT NOT NULL,
            source TEXT NOT NULL,
            source_hash TEXT NOT NULL,
            meta_hash TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            encoding TEXT,
            text TEXT NOT NULL,
            attributes TEXT NOT NULL,
            coded_with TEXT,
            ingested_at TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(run_id)
        );
        CREATE INDEX documents_source ON documents(root, source);
        CREATE TABLE doc_attributes (
            doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            raw TEXT NOT NULL,
            PRIMARY KEY (doc_id, name)
        );
        CREATE INDEX doc_attributes_name_value ON doc_attributes(name, value);
        CREATE TABLE segments (
            segment_id INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            unit TEXT NOT NULL,
            sector TEXT,
            sector_source TEXT,
            UNIQUE (doc_id, start, end)
        );
        CREATE TABLE codings (
            coding_id INTEGER PRIMARY KEY,
            segment_id INTEGER NOT NULL REFERENCES segments(segment_id) ON DELETE CASCADE,
            doc_id TEXT NOT NULL,
            code TEXT NOT NULL,
            rule TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            matched TEXT NOT NULL,
            negated INTEGER NOT NULL DEFAULT 0,
            hypothetical INTEGER NOT NULL DEFAULT 0,
            cue TEXT,
            status TEXT NOT NULL DEFAULT 'auto',
            codebook_hash TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(run_id),
            UNIQUE (doc_id, start, end, code)
        );
        CREATE INDEX codings_code ON codings(code, doc_id);
        CREATE INDEX codings_doc ON codings(doc_id);
        CREATE INDEX segments_doc ON segments(doc_id);
    """,
    ),
    (
        "record each document's sector, declared or inferred",
        """
        ALTER TABLE documents ADD COLUMN sector TEXT;
        ALTER TABLE documents ADD COLUMN sector_source TEXT;
        CREATE INDEX documents_sector ON documents(sector);
    """,
    ),
    (
        "record review decisions keyed by document, offsets and code, with the text reviewed",
        """
        CREATE TABLE reviews (
            review_id INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            code TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'add')),
            correct_code TEXT,
            note TEXT,
            reviewer TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            text TEXT NOT NULL,
            UNIQUE (doc_id, start, end, code)
        );
        CREATE INDEX reviews_code ON reviews(code);
    """,
    ),
    (
        "index codings by segment, so deleting a document's segments does not scan every coding",
        """
        CREATE INDEX codings_segment ON codings(segment_id);
    """,
    ),
    (
        "record each source file's size and modification time, so an unchanged file is not read again",
        """
        ALTER TABLE documents ADD COLUMN size INTEGER;
        ALTER TABLE documents ADD COLUMN mtime_ns INTEGER;
    """,
    ),
    (
        "keep the codebook files documents were coded with, so a re-code can tell what a change affects",
        """
        CREATE TABLE codebooks (
            content_hash TEXT PRIMARY KEY,
            source BLOB NOT NULL,
            tool_version TEXT NOT NULL,
            saved_at TEXT NOT NULL
        );
    """,
    ),
    (
        "keep every reviewer's decisions, so that two coders' decisions can be compared",
        """
        CREATE TABLE reviewer_decisions (
            doc_id TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            code TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'add')),
            correct_code TEXT,
            note TEXT,
            decided_at TEXT NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (doc_id, start, end, code, reviewer)
        );
        INSERT INTO reviewer_decisions (doc_id, start, end, code, reviewer, decision, correct_code, note,
                                        decided_at, text)
            SELECT doc_id, start, end, code, reviewer, decision, correct_code, note, decided_at, text FROM reviews;
    """,
    ),
    (
        "learned layer: trained models, each coding's source, probability, model and explanation, unit scores",
        """
        CREATE TABLE models (
            model_id INTEGER PRIMARY KEY,
            content_hash TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            codebook_hash TEXT,
            labels TEXT NOT NULL,
            parameters TEXT NOT NULL,
            versions TEXT NOT NULL,
            metrics TEXT NOT NULL,
            data BLOB NOT NULL,
            created_at TEXT NOT NULL
        );
        ALTER TABLE codings ADD COLUMN source TEXT NOT NULL DEFAULT 'rules';
        ALTER TABLE codings ADD COLUMN probability REAL;
        ALTER TABLE codings ADD COLUMN model_hash TEXT;
        ALTER TABLE codings ADD COLUMN explanation TEXT;
        ALTER TABLE documents ADD COLUMN model_hash TEXT;
        CREATE TABLE scores (
            doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            probabilities TEXT NOT NULL,
            model_hash TEXT NOT NULL,
            PRIMARY KEY (doc_id, start, end)
        );
    """,
    ),
    (
        "keep memos on documents and on codings, written in the review workspace",
        """
        CREATE TABLE memos (
            memo_id INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL,
            start INTEGER NOT NULL DEFAULT 0,
            end INTEGER NOT NULL DEFAULT 0,
            code TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            author TEXT NOT NULL,
            written_at TEXT NOT NULL,
            UNIQUE (doc_id, start, end, code)
        );
    """,
    ),
    (
        "keep the passage a memo on a coding is about, so the memo follows it as a decision does",
        """
        ALTER TABLE memos ADD COLUMN passage TEXT;
    """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# A coding counts in tables and metrics unless it is negated, hypothetical or rejected in review.
COUNTED = "c.negated = 0 AND c.hypothetical = 0 AND c.status != 'rejected'"
CODING_SOURCES = ("rules", "learned")

# The rules' own view of a coding ("auto"): not added in review, no cue, no flags (see reviews.py).
REVIEW_ADD_RULE = "review/add"
AUTO_COUNTED = f"c.rule != '{REVIEW_ADD_RULE}' AND c.negated = 0 AND c.hypothetical = 0 AND c.cue IS NULL"
# A decision is fresh while the text it judged is still at its offsets (``r``: the decision, ``d``: its document).
REVIEW_FRESH = "substr(d.text, r.start + 1, r.end - r.start) = r.text"
# The group key reports give documents without a value for an attribute.
REPORT_MISSING = "(missing)"


def source_condition(source: str | None) -> str:
    """`` AND`` the coding came from ``source`` ('rules', 'learned'); nothing for None (both)."""
    if source is None:
        return ""
    if source not in CODING_SOURCES:
        raise ValueError(f"unknown coding source {source!r}")
    return f" AND c.source = '{source}'"


def in_list(column: str) -> str:
    """``column IN`` the values of one JSON-array parameter (see ``json_list``).

    One parameter whatever the number of values: no 999-variable limit to page around, and the
    statement text (and SQLite's prepared-statement cache) stays the same for every list.
    """
    return f"{column} IN (SELECT value FROM json_each(?))"


def json_list(values: Iterable[str]) -> str:
    """The parameter ``in_list`` expects: the values as one JSON array."""
    return json.dumps(list(values), ensure_ascii=False)


def split_sql(script: str) -> list[str]:
    """A migration's statements, one by one."""
    return [s.strip() for s in script.split(";") if s.strip()]
