"""The JSON API under ``/api``: what the pages call, and what scripts may call (with the token header).

Reads open the project read-only for each request (SQLite's write-ahead log keeps them working
while ``ingest`` or ``code`` writes); every change goes through ``review.store_decisions`` (what
``review import`` runs) on the workspace's own connection (``ProjectCache.writing``), which keeps
the whole-project figures up to date with it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ..project import Project
from ..report import Report
from ..review import (
    ReviewImport,
    ReviewStats,
    parse_coding_key,
    reviewer_keys,
    stats_records,
    store_decisions,
)
from ..store import Store, browse, text_index
from ..store.records import CodeCount
from . import figures

DESCRIPTION = """The phantomcode review workspace. Every request needs the access token printed by
`phantomcode serve`: the `X-Phantomcode-Token` header (scripts) or the cookie the first visit sets.
Offsets are characters (Unicode code points) of the stored text. Changes are POST with the header.
Decisions are stored exactly as `phantomcode review import` stores them. While `ingest` or `code`
writes the project, a change waits about two seconds and then answers 409 with `"busy": true`."""

router = APIRouter(prefix="/api", tags=["api"])
LIST_PARAMETERS = {"code", "status", "source", "q", "page", "per_page", "after"}


class DecisionIn(BaseModel):
    decision: Literal["accept", "reject"]
    correct_code: str | None = Field(None, description="With reject: the code that applies instead (added).")
    note: str | None = Field(None, max_length=10_000)


class HumanCodingIn(BaseModel):
    start: int = Field(..., ge=0, description="Offset of the first character in the stored text.")
    end: int = Field(..., gt=0, description="Offset after the last character.")
    code: str
    note: str | None = Field(None, max_length=10_000)


class UndoIn(BaseModel):
    keys: list[str] = Field(
        ...,
        min_length=1,
        max_length=1000,
        description="Coding keys whose decisions to take back (a reject with a correct "
        "code also added that code: give both keys).",
    )


class MemoIn(BaseModel):
    text: str = Field(..., max_length=100_000, description="Empty text deletes the memo.")
    key: str | None = Field(None, description="A coding's key for a memo on that coding; none: on the document.")


def workspace(request: Request) -> Any:
    return request.app.state.workspace


def document_filter(
    request: Request, code: str | None, status: str | None, source: str | None, q: str | None
) -> browse.DocumentFilter:
    """Every query parameter that is not a list option is an attribute filter (``?city=Beijing``)."""
    where: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name not in LIST_PARAMETERS and name != "token" and value:
            where.setdefault(name, []).append(value)
    return browse.DocumentFilter(
        where=where, code=code or None, status=status or None, source=source or None, text=q or None
    )


@router.get("/documents", summary="Documents by filter, one page at a time")
def list_documents(
    request: Request,
    code: str | None = None,
    status: str | None = Query(None, description="pending, accepted, rejected or flagged"),
    source: str | None = Query(None, description="rules, learned or human"),
    q: str | None = Query(None, description="text to find; * matches any characters"),
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=browse.MAX_PER_PAGE),
    after: str | None = Query(
        None,
        description="the page after this document ID (instead of "
        "page): as fast at the end of a long list as at its start",
    ),
) -> dict[str, Any]:
    """Any other parameter filters by attribute (canonical value): `?city=Beijing&city=Shanghai&sector=education`.
    `next` is the `after` value of the following page (null on the last)."""
    wanted = document_filter(request, code, status, source, q)
    found = find_page(workspace(request), wanted, page=page, per_page=per_page, after=after)
    last = found.documents[-1].doc_id if len(found.documents) == found.per_page else None
    return {
        "total": found.total,
        "page": found.page,
        "per_page": found.per_page,
        "pages": found.pages,
        "next": last,
        "text_index": workspace(request).search.state(),
        "documents": [summary.__dict__ for summary in found.documents],
    }


def find_page(
    space: Any, wanted: browse.DocumentFilter, *, page: int, per_page: int, after: str | None = None
) -> browse.DocumentPage:
    """``browse.find_documents`` with what the workspace keeps: the attribute names and each
    filter's total (until the documents change, or with a coding filter, the project), and the
    text index when it is current and can answer the search."""
    names = space.cache.get("attribute_names", lambda: _attribute_names(space.project), scope="documents")
    scope = "project" if wanted.code or wanted.status or wanted.source else "documents"
    key = (
        "count",
        tuple(sorted((k, tuple(v)) for k, v in wanted.where.items())),
        wanted.code,
        wanted.status,
        wanted.source,
        wanted.text,
    )
    with Store.open(space.project, readonly=True) as store:
        index_schema = None
        if wanted.text and text_index.usable(wanted.text) and space.search.current():
            space.search.attach(store)
            index_schema = text_index.SCHEMA
        return browse.find_documents(
            store,
            wanted,
            page=page,
            per_page=per_page,
            after=after,
            names=names,
            text_index=index_schema,
            count=lambda compute: space.cache.get(key, compute, scope=scope),
        )


def _attribute_names(project: Any) -> list[str]:
    with Store.open(project, readonly=True) as store:
        return store.report_attribute_names()


@router.get("/documents/{doc_id:path}", summary="One document: text, attributes, codings, memos")
def get_document(request: Request, doc_id: str) -> dict[str, Any]:
    with Store.open(workspace(request).project, readonly=True) as store:
        return browse.document_view(store, doc_id)


@router.post("/documents/{doc_id:path}/codings", summary="Code a passage by hand (stored like a review 'add')")
def add_coding(request: Request, doc_id: str, body: HumanCodingIn) -> dict[str, Any]:
    cells = {
        "doc_id": doc_id,
        "start": str(body.start),
        "end": str(body.end),
        "code": body.code,
        "decision": "add",
        "note": body.note or "",
    }
    return apply_one(request, doc_id, cells, exact_spans=True)


@router.post("/documents/{doc_id:path}/memo", summary="Write the memo on a document or on one of its codings")
def write_memo(request: Request, doc_id: str, body: MemoIn) -> dict[str, Any]:
    space = workspace(request)
    start = end = 0
    code = ""
    if body.key:
        parsed = parse_coding_key(body.key)
        if parsed is None or parsed[0] != doc_id:
            raise HTTPException(400, f"{body.key!r} is not the key of a coding of {doc_id!r}")
        _, start, end, code = parsed
    with space.cache.writing((), timeout=space.lock_timeout) as store:  # a memo moves no figure
        browse.document_view(store, doc_id)  # raises for an unknown document
        store.save_memo(doc_id, start=start, end=end, code=code, text=body.text, author=space.reviewer)
        return {"memos": store.memos(doc_id)}


@router.post("/codings/{key:path}/decision", summary="Accept or reject a coding (as a review sheet row)")
def decide(request: Request, key: str, body: DecisionIn) -> dict[str, Any]:
    parsed = parse_coding_key(key)
    if parsed is None:
        raise HTTPException(404, f"{key!r} is not a coding key (doc_id:start-end:code)")
    cells = {
        "key": key,
        "code": parsed[3],
        "decision": body.decision,
        "correct_code": body.correct_code or "",
        "note": body.note or "",
    }
    return apply_one(request, parsed[0], cells, exact_spans=False)


@router.post("/decisions/undo", summary="Take back decisions (the codings are as the rules made them again)")
def undo(request: Request, body: UndoIn) -> dict[str, Any]:
    space = workspace(request)
    keys = reviewer_keys(body.keys, space.reviewer)  # a bad key is a 400 before any figure is touched
    with space.cache.writing({key[0] for key in keys}, timeout=space.lock_timeout) as store:
        withdrawn = store.delete_reviews(keys)
    return {"withdrawn": withdrawn}


def apply_one(request: Request, doc_id: str, cells: dict[str, str], *, exact_spans: bool) -> dict[str, Any]:
    """One decision through ``store_decisions``; its problems become a 400, its result the codings."""
    space = workspace(request)
    with space.cache.writing([doc_id], timeout=space.lock_timeout) as store:
        result = store_decisions(
            store,
            [(1, cells)],
            ReviewImport(path="workspace"),
            reviewer=space.reviewer,
            codebook=space.codebook,
            exact_spans=exact_spans,
        )
    if result.problems:
        raise HTTPException(400, "; ".join(p.removeprefix("row 1: ") for p in result.problems))
    with Store.open(space.project, readonly=True) as store:
        codings = browse.document_codings(store, doc_id)
    return {
        "decisions": dict(result.decisions),
        "new": result.new,
        "changed": result.changed,
        "warnings": [w.removeprefix("row 1: ") for w in result.warnings],
        "codings": codings,
    }


def cached_report(space: Any, by: str, status: str | None = None) -> Report:
    """``build_report`` by one attribute, kept until the project changes (our decisions update it)."""

    def compute() -> Report:
        project = Project(space.project)
        return figures.report(project.path, project.codebook(space.codebook), by, status)

    return space.cache.get(
        ("report", by, status),
        compute,
        figure=figures.ReportFigure(),
    )


def cached_review_stats(space: Any) -> ReviewStats:
    """``review stats`` with the workspace's codebook (not read again from its YAML file)."""
    kept = space.cache.get(
        "review_stats", lambda: figures.review(space.project, space.codebook), figure=figures.ReviewFigure()
    )
    return kept.stats


def cached_code_counts(space: Any) -> dict[str, CodeCount]:
    def count() -> dict[str, CodeCount]:
        with Store.open(space.project, readonly=True) as store:
            return store.code_counts()

    return space.cache.get("code_counts", count, figure=figures.CodeCountFigure())


@router.get("/matrix", summary="Code x group matrix: the numbers of `phantomcode report`")
def matrix(request: Request, by: str = "city", status: str | None = None) -> dict[str, Any]:
    report = cached_report(workspace(request), by, status)
    return {
        "by": list(report.by),
        "documents": report.documents,
        "groups": [{"group": list(keys), "documents": n} for keys, n in report.groups()],
        "codes": [{"code": code, "label": report.label(code)} for code in report.codes],
        "cells": report.records,
        "warnings": report.warnings(),
    }


@router.get("/stats", summary="Review figures per code, as `phantomcode review stats`")
def stats(request: Request) -> dict[str, Any]:
    result = cached_review_stats(workspace(request))
    return {"codes": list(stats_records(result)), "decisions": result.decisions, "stale": len(result.stale)}
