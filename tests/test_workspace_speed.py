"""What keeps the workspace fast on large projects, checked for the answers it gives: the trigram
text index finds exactly what reading every text finds, follows a re-ingest, and keyset pages
list every document once; figures that only runs change survive a decision."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from test_workspace_api import NOTES, signed_in  # noqa: E402

from phantomcode.ingest import ingest  # noqa: E402
from phantomcode.review import ReviewImport, apply_decisions  # noqa: E402
from phantomcode.store import Store, browse  # noqa: E402
from phantomcode.store.text_index import SCHEMA, TextIndex, usable  # noqa: E402
from phantomcode.workspace import Workspace  # noqa: E402
from phantomcode.workspace.cache import ProjectCache  # noqa: E402

SEARCHES = [
    "school",
    "SCHOOL",
    "wuzheng 五证",
    "五证 to",
    "sch*ool",
    "rural*city",
    "went back*hometown",
    "<script>",
    "no such words",
]


def found(store: Store, text: str, text_index: str | None) -> list[str]:
    page = browse.find_documents(store, browse.DocumentFilter(text=text), per_page=500, text_index=text_index)
    return [d.doc_id for d in page.documents] + [f"total {page.total}"]


@pytest.mark.slow
def test_the_text_index_finds_what_reading_the_texts_finds_and_follows_a_re_ingest(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    for relpath, text in NOTES.items():
        (notes / relpath).parent.mkdir(parents=True, exist_ok=True)
        (notes / relpath).write_text(text, encoding="utf-8")
    project = tmp_path / "p.db"
    ingest(notes, project=project, jobs=1, learned=False)
    index = TextIndex(project, ProjectCache(project).documents_version)
    assert not index.current()  # nothing indexed yet: searches read the texts meanwhile
    index.refresh()
    assert index.current() and index.failed is None
    assert all(usable(text) for text in SEARCHES)
    with Store.open(project, readonly=True) as store:
        index.attach(store)
        assert [found(store, text, SCHEMA) for text in SEARCHES] == [found(store, text, None) for text in SEARCHES]
        assert found(store, "school", SCHEMA) == ["BJ-01", "total 1"]
        assert found(store, "the", SCHEMA) == ["BJ-01", "SH-01", "SH-02", "total 3"]

    (notes / "shanghai/b.md").write_text(NOTES["shanghai/b.md"].replace("hometown", "native village"), encoding="utf-8")
    ingest(notes, project=project, jobs=1, learned=False)
    assert not index.current()
    index.refresh()
    with Store.open(project, readonly=True) as store:
        index.attach(store)
        assert found(store, "native village", SCHEMA) == ["SH-01", "total 1"]
        assert found(store, "hometown", SCHEMA) == ["total 0"]


def test_short_fragments_and_like_wildcards_are_left_to_the_texts() -> None:
    assert not usable("五证") and not usable("ab*school") and not usable("50%") and not usable("no_lease")
    assert usable("*school*") and usable("hukou*ben")


def test_keyset_pages_list_every_document_once(project_from) -> None:
    client = signed_in(Workspace.prepare(project_from(NOTES), reviewer="ana"))
    seen: list[str] = []
    after = None
    while True:
        query = "per_page=1" + (f"&after={after}" if after else "")
        page = client.get(f"/api/documents?{query}").json()
        seen += [d["doc_id"] for d in page["documents"]]
        after = page["next"]
        if after is None:
            break
    listed = client.get("/api/documents").json()["documents"]
    assert seen == ["BJ-01", "SH-01", "SH-02"] == [d["doc_id"] for d in listed]


def test_a_decision_keeps_the_document_figures_and_renews_the_coding_figures(project_from) -> None:
    project = project_from(NOTES)
    space = Workspace.prepare(project, reviewer="ana")
    client = signed_in(space)
    before = space.cache.documents_version()
    calls: list[str] = []

    def computed(what: str) -> int:
        calls.append(what)
        return len(calls)

    space.cache.get("documents figure", lambda: computed("documents"), scope="documents")
    space.cache.get("coding figure", lambda: computed("codings"))
    pending = client.get("/api/documents?status=pending").json()["total"]
    keys = [c["key"] for c in client.get("/api/documents/SH-01").json()["codings"] if c["counted"]]
    rows = [(number, {"key": key, "decision": "accept"}) for number, key in enumerate(keys, start=1)]
    assert apply_decisions(rows, ReviewImport(path="t"), project=project, reviewer="ana").problems == []
    space.cache.get("documents figure", lambda: computed("documents"), scope="documents")
    space.cache.get("coding figure", lambda: computed("codings"))
    assert calls == ["documents", "codings", "codings"] and space.cache.documents_version() == before
    assert client.get("/api/documents?status=pending").json()["total"] == pending - 1
