"""The review queue: the sentences the learned layer would learn most from, judged one at a time.

``GET /api/queue`` asks ``suggest_for_review`` (what ``review export --suggest`` writes) for N
sentences and adds each one's context and any decisions already made on its candidate codes;
``POST /api/queue/decision`` stores a judgement on one (sentence, code) through
``review.apply_decisions``: accept/reject of a coding the project has, else ``add`` (accept of a
code nobody stored) or a reject kept for the model to learn from. Retraining runs in the
background (``workspace.training``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from ..review import SUGGESTED, coding_key
from ..store import Store
from ..suggest import Suggestion
from .api import apply_one, workspace
from .ranking import Ranking

router = APIRouter()
CONTEXT_CHARS = 240
DEFAULT_QUEUE = 50


class QueueDecisionIn(BaseModel):
    doc_id: str
    start: int = Field(..., ge=0)
    end: int = Field(..., gt=0)
    code: str
    decision: Literal["accept", "reject"]
    note: str | None = Field(None, max_length=10_000)


@router.get("/queue", response_class=HTMLResponse, include_in_schema=False)
def queue_page(request: Request, n: int = Query(DEFAULT_QUEUE, ge=1, le=500)) -> HTMLResponse:
    from .pages import code_list, render

    return render(request, "queue.html", script_data={"n": n, "codes": code_list(request)})


@router.get("/api/queue", tags=["api"], summary="Suggested sentences to judge, as `review export --suggest`")
def queue(request: Request, n: int = Query(DEFAULT_QUEUE, ge=1, le=500), seed: int = 0) -> dict[str, Any]:
    from ..suggest import suggest_for_review

    space = workspace(request)
    ranking = space.cache.get("ranking", lambda: Ranking.read(space.project), scope="documents")

    def suggest() -> list[Suggestion]:
        if ranking is None:  # more scored sentences than the workspace keeps
            return suggest_for_review(space.project, n=n, seed=seed)
        return ranking.suggest(space.project, n=n, seed=seed)

    suggestions = space.cache.get(("queue", n, seed), suggest)  # until the next decision
    with Store.open(space.project, readonly=True) as store:
        texts = store.document_texts(s.doc_id for s in suggestions)
        decided = {coding_key(*key): decision for key, decision in store.decisions_of(texts).items()}
    return {"items": [queue_item(s, texts[s.doc_id], decided) for s in suggestions if s.doc_id in texts]}


def queue_item(suggestion: Any, text: str, decided: dict[str, str]) -> dict[str, Any]:
    """One suggested sentence with some context either side and its candidate codes."""
    start, end = suggestion.start, suggestion.end
    candidates = []
    for candidate in suggestion.candidates:
        key = coding_key(suggestion.doc_id, start, end, candidate.code)
        candidates.append(
            {
                "code": candidate.code,
                "probability": candidate.probability,
                "rule_decision": candidate.rule_decision,
                "key": key,
                "decision": decided.get(key),
            }
        )
    return {
        "doc_id": suggestion.doc_id,
        "start": start,
        "end": end,
        "text": text[start:end],
        "before": text[max(0, start - CONTEXT_CHARS) : start],
        "after": text[end : end + CONTEXT_CHARS],
        "candidates": candidates,
    }


@router.post("/api/queue/decision", tags=["api"], summary="Judge one code of a suggested sentence")
def queue_decision(request: Request, body: QueueDecisionIn) -> dict[str, Any]:
    """As a row of ``review export --suggest``: a code the project has no coding for yet is a
    ``suggested`` row, which ``accept`` adds and ``reject`` records for the model to learn from."""
    key = coding_key(body.doc_id, body.start, body.end, body.code)
    with Store.open(workspace(request).project, readonly=True) as store:
        coded = (body.doc_id, body.start, body.end, body.code) in store.review_coding_keys([body.doc_id])
    cells = {
        "key": key,
        "code": body.code,
        "decision": body.decision,
        "note": body.note or "",
        **({} if coded else {"status": SUGGESTED}),
    }
    return {"key": key, **apply_one(request, body.doc_id, cells, exact_spans=False)}
