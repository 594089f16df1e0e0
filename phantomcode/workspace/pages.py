"""The HTML pages: overview, documents, one document, codebook. Jinja2 templates, autoescaped.

Each page reads what it shows in one short read-only visit to the store; its script (under
``static/``) calls the JSON API for changes and reloads the page to show their effect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from .. import __version__
from ..qda import code_colour
from ..report import percent
from ..store import Store, browse
from ..store.records import ValueCount
from .api import cached_code_counts, cached_report, cached_review_stats, document_filter, find_page, workspace
from .app import HERE, TOKEN_HEADER

router = APIRouter(include_in_schema=False)
A = TypeVar("A")
B = TypeVar("B")
templates = Jinja2Templates(directory=HERE / "templates")
OVERVIEW_ATTRIBUTES = ("city", "sector", "respondent_type")
MAX_FILTER_VALUES = 100  # an attribute with more values is no filter menu (use the API or the text search)
MAX_STACKED = 4  # overlapping codings drawn as stacked underlines; more are listed in the panel


def render(request: Request, name: str, **context: Any) -> HTMLResponse:
    space = workspace(request)
    return templates.TemplateResponse(
        request,
        name,
        {
            "project": space.project.name,
            "reviewer": space.reviewer,
            "token": space.token,
            "token_header": TOKEN_HEADER,
            "version": __version__,
            "codebook": space.codebook,
            "colour": lambda code: _colour(request, code),
            "percent": percent,
            "labels": {code.id: code.label for code in space.codebook.codes},
            **context,
        },
    )


def error_response(request: Request, message: str, status: int) -> JSONResponse | HTMLResponse:
    """JSON for the API, a page for a browser."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status)
    response = render(request, "error.html", message=message, status=status)
    response.status_code = status
    return response


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, by: str = "city") -> HTMLResponse:
    space = workspace(request)
    names, breakdown, total = space.cache.get("breakdown", lambda: _breakdown(space.project), scope="documents")
    by = by if by in names else next((name for name in OVERVIEW_ATTRIBUTES if name in names), names[0])
    report, review = together(lambda: cached_report(space, by), lambda: cached_review_stats(space))
    labels, values = report.matrix("documents")
    shares = report.matrix("share")[1]
    return render(
        request,
        "overview.html",
        total=total,
        breakdown=breakdown,
        report=report,
        by=by,
        attribute_names=names,
        groups=report.groups(),
        labels=labels,
        rows=list(zip(report.codes, values, shares, strict=True)),
        review=review.total,
    )


def together(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """Both results, the second computed in another thread meanwhile: after a change a page needs
    two whole-project figures, and SQLite lets go of Python's lock while it scans."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(second)
        return first(), later.result()


def _breakdown(project: Any) -> tuple[list[str], dict[str, list[ValueCount]], int]:
    """The attributes, documents by city, sector and respondent type, and the number of documents."""
    with Store.open(project, readonly=True) as store:
        names = store.report_attribute_names()
        breakdown = {
            name: sorted(store.report_attribute_values(name), key=lambda item: -item[1])
            for name in OVERVIEW_ATTRIBUTES
            if name in names
        }
        return names, breakdown, store.count_documents()


@router.get("/documents", response_class=HTMLResponse)
def documents(
    request: Request,
    code: str | None = None,
    status: str | None = None,
    source: str | None = None,
    q: str | None = None,
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=browse.MAX_PER_PAGE),
) -> HTMLResponse:
    space = workspace(request)
    wanted = document_filter(request, code, status, source, q)
    found = find_page(space, wanted, page=page, per_page=per_page)
    values = space.cache.get("filter_values", lambda: _filter_values(space.project), scope="documents")
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "token")]
    return render(
        request,
        "documents.html",
        found=found,
        wanted=wanted,
        values=values,
        query=query,
        statuses=browse.STATUSES,
        sources=browse.SOURCES,
    )


def _filter_values(project: Any) -> dict[str, list[ValueCount]]:
    """The attributes to offer as filter menus, with their values and document counts."""
    with Store.open(project, readonly=True) as store:
        values = {name: options for name, options in store.attribute_values().items() if _groups(options)}
        if "sector" not in values:
            values["sector"] = store.report_attribute_values("sector")
    return values


def _groups(options: Sequence[tuple[str, int]]) -> bool:
    """Whether an attribute's values group documents (city), rather than name each one (id)."""
    return len(options) <= MAX_FILTER_VALUES and any(n > 1 for _, n in options)


@router.get("/documents/{doc_id:path}", response_class=HTMLResponse)
def document(request: Request, doc_id: str) -> HTMLResponse:
    with Store.open(workspace(request).project, readonly=True) as store:
        view = browse.document_view(store, doc_id)
        before, after = browse.neighbours(store, doc_id)
    pieces = browse.highlight_pieces(view["text"], view["codings"])
    by_key = {coding["key"]: coding for coding in view["codings"]}
    return render(
        request,
        "document.html",
        doc=view,
        pieces=[(p, _piece_style(p, by_key, request)) for p in pieces],
        before=before,
        after=after,
        script_data={
            "doc_id": doc_id,
            "text": view["text"],
            "codings": view["codings"],
            "memos": view["memos"],
            "codes": code_list(request),
        },
    )


def _piece_style(piece: browse.Piece, by_key: dict[str, dict[str, Any]], request: Request) -> tuple[str, str]:
    """(CSS class, inline style) of a piece: a tint of its first counted coding's colour and one
    underline band per coding, so overlaps show as stacked colours."""
    if not piece.keys:
        return "", ""
    codings = [by_key[key] for key in piece.keys]
    counted = [c for c in codings if c["counted"]]
    colours = {c["code"]: _colour(request, c["code"]) for c in codings}
    shadows = ", ".join(
        f"inset 0 -{3 * (i + 1)}px 0 {colours[c['code']]}{'' if c['counted'] else '55'}"
        for i, c in enumerate(codings[:MAX_STACKED])
    )
    style = f"box-shadow: {shadows};"
    if counted:
        style += f" background-color: {colours[counted[0]['code']]}26;"
    css = "hl" if counted else "hl muted"
    return css, style


def code_list(request: Request) -> list[dict[str, str]]:
    return [
        {"id": code.id, "label": code.label, "colour": _colour(request, code.id)}
        for code in workspace(request).codebook.codes
    ]


def _colour(request: Request, code: str) -> str:
    """The code's colour, as in the REFI-QDA export: by codebook position, else from its name."""
    codes = workspace(request).codebook.code_ids()
    return code_colour(code, codes.index(code) if code in codes else None)


@router.get("/codebook", response_class=HTMLResponse)
def codebook(request: Request) -> HTMLResponse:
    space = workspace(request)
    counts, review = together(lambda: cached_code_counts(space), lambda: cached_review_stats(space))
    precision = {row.code: row for row in review.per_code}
    return render(request, "codebook.html", groups=space.codebook.groups, counts=counts, precision=precision)
