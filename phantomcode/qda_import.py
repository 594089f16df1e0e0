"""Import a REFI-QDA project (NVivo, MAXQDA, ATLAS.ti, QualCoder, phantomcode) into a project.

Text sources become documents (their text exactly as in the file), variables become attributes,
and every coded selection becomes a human coding: a review decision by the user who made it, at
the time the file gives, of kind ``accept`` when the rules already make that coding and ``add``
otherwise, stored through ``review.store_decisions`` as the rows of a review sheet are. So
``agree``, ``review stats``, reports and exports use the hand coding as they use any review.
The documents are stored uncoded: ``phantomcode code`` then codes them with the rules.

Re-importing the same file updates: a document whose text and attributes are unchanged is left as
it is, identical decisions stay (with their first time), changed ones are replaced. A document
already in the project with the same id and the same text (a project exported, coded by hand
elsewhere and brought back) receives the codings without being touched; one with the same id and
another text is left alone and named. Codings that cannot be stored (a code the codebook lacks)
are counted and named, never dropped silently. Two users who coded the same text with the same
code keep a decision each, as two reviewers do (``agree alice bob`` compares them); the coding
takes the latest decision that differs, as ``review import`` does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .qda import PHANTOMCODE_USER, qdc_to_yaml, write_bytes
from .qdpx_read import QdpxProject, QdpxSource, read_qdpx
from .review import ReviewImport, coding_key, store_decisions
from .store import CodedRows, DocumentRecord, Store, StoredState, text_hash

__all__ = ["IMPORT_COMMAND", "QdpxImport", "import_qdpx"]

IMPORT_COMMAND = "import qdpx"  # the runs table's command; its stats list the users imported
_UNCODED = CodedRows(None, None, [], [])
_DESCRIBED = re.compile(r"^[a-z][a-z0-9_]*: [a-z][a-z0-9_]*/\S+")  # a line of qda._describe


@dataclass
class QdpxImport:
    """What ``import_qdpx`` did; ``exit_code`` 1 when something in the file could not be used."""

    path: str
    project: str
    origin: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    decisions: Counter = field(default_factory=Counter)  # accept / add
    new: int = 0
    changed: int = 0
    same: int = 0
    users: list[str] = field(default_factory=list)
    codes: int = 0
    skipped: list[str] = field(default_factory=list)  # sources not imported, with why
    problems: list[str] = field(default_factory=list)  # codings or values not imported, with why
    uncoded_selections: int = 0
    undated: int = 0
    rule_codings: int = 0  # unreviewed codings of a phantomcode export: the rules remake them
    withdrawn: int = 0  # codings an earlier import of this file brought in that it no longer holds
    codebook_out: str | None = None

    @property
    def documents(self) -> int:
        return self.added + self.updated + self.unchanged

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped or self.problems else 0


def import_qdpx(
    path: str | Path, *, project: str | Path | None = None, codebook_out: str | Path | None = None
) -> QdpxImport:
    """Bring a ``.qdpx`` (or ``.qde``) into the project (see the module doc); ``codebook_out``
    also writes its codebook as a phantomcode YAML codebook to fill with rules.

    Raises ``UsageError`` for a file that is not a REFI-QDA project, ``ProjectError`` for the store.
    """
    path = Path(path)
    parsed = read_qdpx(path)
    yaml_text = qdc_to_yaml(path) if codebook_out is not None and parsed.codebook is not None else None
    with Store.open(project) as store, store.writer():
        report = QdpxImport(
            path=str(path),
            project=str(store.path),
            origin=parsed.origin,
            skipped=list(parsed.skipped),
            problems=list(parsed.problems),
            uncoded_selections=parsed.uncoded_selections,
            codes=len(parsed.codebook.codes) if parsed.codebook else 0,
        )
        run_id = store.begin_run(IMPORT_COMMAND)
        doc_ids = _DocumentWriter(store, path, report).write(parsed, run_id)
        decisions = _decisions(parsed, doc_ids, store, report)
        _store(store, decisions, report, parsed)
        report.withdrawn = store.delete_reviews(_withdrawn(store, path, doc_ids, decisions))
        report.users = sorted({d["reviewer"] for d in decisions})
        store.finish_run(
            run_id,
            status="completed",
            stats={
                "file": str(path.resolve()),
                "users": report.users,
                "documents": report.documents,
                "decisions": len(decisions),
                "skipped": len(report.skipped),
            },
        )
    if yaml_text is not None and codebook_out is not None:
        write_bytes(Path(codebook_out), yaml_text.encode("utf-8"))
        report.codebook_out = str(codebook_out)
    elif codebook_out is not None:
        report.problems.append("the file has no codebook; no YAML codebook was written")
    return report


class _DocumentWriter:
    """Stores the text sources as documents, deciding per source: add, update, leave or refuse."""

    def __init__(self, store: Store, path: Path, report: QdpxImport) -> None:
        self.store = store
        self.root = f"qdpx:{path.resolve()}"
        self.stat = path.stat()
        self.report = report

    def write(self, parsed: QdpxProject, run_id: int) -> dict[str, str]:
        """Source GUID -> doc_id of every source whose codings can be stored."""
        states = self.store.stored_states()
        taken: Counter = Counter()
        named = [(_doc_id(source, taken), source) for source in parsed.sources]
        texts = self.store.document_texts(d for d, _ in named if d in states and states[d].root != self.root)
        doc_ids: dict[str, str] = {}
        batch: list[tuple[DocumentRecord, CodedRows]] = []
        for doc_id, source in named:
            record = self._record(doc_id, source)
            state = states.get(doc_id)
            if state is not None and state.root != self.root:
                if texts.get(doc_id) != source.text:
                    self.report.skipped.append(
                        f"{source.name}: the project already holds a different document "
                        f"{doc_id!r} (from {state.source}); left out with its codings"
                    )
                    continue
                self.report.unchanged += 1
            elif state is not None and _same(state, record):
                self.report.unchanged += 1
            else:
                batch.append((record, _UNCODED))
                self.report.added += state is None
                self.report.updated += state is not None
            doc_ids[source.guid] = doc_id
        if batch:
            self.store.save_documents(batch, codebook_hash=None, run_id=run_id)  # type: ignore[arg-type]
        return doc_ids

    def _record(self, doc_id: str, source: QdpxSource) -> DocumentRecord:
        digest = text_hash(source.text)
        meta = hashlib.sha256(json.dumps(source.values, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        return DocumentRecord(
            doc_id=doc_id,
            root=self.root,
            source=source.name,
            source_hash=digest,
            meta_hash=meta,
            content_hash=digest,
            encoding="utf-8",
            text=source.text,
            attributes=source.values,
            attribute_rows=[(k, v, v) for k, v in source.values.items()],
            size=len(source.text.encode("utf-8")),
            mtime_ns=self.stat.st_mtime_ns,
        )


def _same(state: StoredState, record: DocumentRecord) -> bool:
    return (state.source_hash, state.meta_hash, state.source) == (record.source_hash, record.meta_hash, record.source)


def _doc_id(source: QdpxSource, taken: Counter) -> str:
    """The source's name (MAXQDA allows two sources of one name: the second gets ``#2``)."""
    name = " ".join(source.name.split()) or source.guid
    taken[name] += 1
    return name if taken[name] == 1 else f"{name}#{taken[name]}"


def _withdrawn(
    store: Store, path: Path, doc_ids: dict[str, str], decisions: list[dict[str, Any]]
) -> list[tuple[str, int, int, str, str]]:
    """Keys (with their reviewer) of decisions an earlier import of this same file made (its users,
    its documents) that the file no longer holds: a coding removed in the other tool goes here too."""
    earlier = {
        user
        for stats in store.run_stats(IMPORT_COMMAND)
        if stats.get("file") == str(path.resolve())
        for user in stats.get("users", [])
    }
    if not earlier:
        return []
    kept = {(d["doc_id"], d["start"], d["end"], d["code"], d["reviewer"]) for d in decisions}
    return [key for key in store.reviewer_decision_keys(sorted(earlier), doc_ids.values()) if key not in kept]


def _memo(description: str | None, code: str) -> str | None:
    """A coding's memo from its selection's description: the whole text when a person wrote it;
    from one that phantomcode's export wrote (one ``code: rule ...`` line per code), only the
    ``note:`` of this code's line."""
    if not description:
        return None
    lines = description.splitlines()
    if not all(_DESCRIBED.match(line) for line in lines):
        return description
    line = next((line for line in lines if line.startswith(f"{code}: ")), "")
    return line.split("; note: ", 1)[1] if "; note: " in line else None


def _store(store: Store, decisions: list[dict[str, Any]], report: QdpxImport, parsed: QdpxProject) -> None:
    """Store the decisions as ``review import`` stores a sheet's rows (``review.store_decisions``):
    an accept by its coding's key, an add by its offsets, each with its coder and time."""
    rows = []
    for number, d in enumerate(decisions, start=1):
        common = {
            "decision": d["decision"],
            "note": d["note"] or "",
            "reviewer": d["reviewer"],
            "decided_at": d["decided_at"],
        }
        if d["decision"] == "accept":
            rows.append((number, {"key": coding_key(d["doc_id"], d["start"], d["end"], d["code"]), **common}))
        else:
            rows.append(
                (
                    number,
                    {
                        "doc_id": d["doc_id"],
                        "start": str(d["start"]),
                        "end": str(d["end"]),
                        "code": d["code"],
                        **common,
                    },
                )
            )
    codes = parsed.codebook.guids.values() if parsed.codebook else ()
    stored = store_decisions(store, rows, ReviewImport(path=report.path), exact_spans=True, codes=codes)
    report.new, report.changed, report.same = stored.new, stored.changed, stored.unchanged
    report.decisions = stored.decisions
    where = {
        number: f"{d['doc_id']} {d['start']}-{d['end']} {d['code']} ({d['reviewer']})"
        for number, d in enumerate(decisions, start=1)
    }
    for problem in stored.problems:
        row, _, why = problem.removeprefix("row ").partition(": ")
        report.problems.append(f"{where.get(int(row), row) if row.isdigit() else row}: {why}; left out")


def _decisions(parsed: QdpxProject, doc_ids: dict[str, str], store: Store, report: QdpxImport) -> list[dict[str, Any]]:
    """One decision per (document, span, code, user): accept when the rules make it, else add."""
    guids = parsed.codebook.guids if parsed.codebook else {}
    existing = store.review_coding_keys(doc_ids.values(), rules_only=True)
    ours = parsed.origin.startswith(PHANTOMCODE_USER)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    chosen: dict[tuple[str, int, int, str, str], dict[str, Any]] = {}
    for source in parsed.sources:
        doc_id = doc_ids.get(source.guid)
        if doc_id is None:
            continue
        for coding in source.codings:
            if ours and coding.user == PHANTOMCODE_USER:
                report.rule_codings += 1
                continue
            code = guids.get(coding.code_guid)
            where = f"{source.name} {coding.start}-{coding.end}"
            if code is None:
                report.problems.append(
                    f"{where}: code {coding.code_guid} is not a codable code of the codebook; left out"
                )
                continue
            key = (doc_id, coding.start, coding.end, code)
            if (*key, coding.user) in chosen:
                continue  # the same user coded the same text with the same code twice: one coding
            report.undated += coding.date is None
            chosen[(*key, coding.user)] = {
                "doc_id": doc_id,
                "start": coding.start,
                "end": coding.end,
                "code": code,
                "decision": "accept" if key in existing else "add",
                "correct_code": None,
                "note": coding.note or _memo(coding.memo, code),
                "reviewer": coding.user,
                "decided_at": coding.date or now,
                "text": source.text[coding.start : coding.end],
            }
    decisions = list(chosen.values())
    report.decisions = Counter(d["decision"] for d in decisions)
    return decisions
