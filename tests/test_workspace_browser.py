"""The review workspace in a real headless Chromium (Debian's ``chromium`` driven by Playwright):
open a document, click a highlight, accept it with the keyboard, select a passage and code it,
and find each change in the store; screenshots of the overview and a document view.

These run wherever ``/usr/bin/chromium`` exists (``.ci/run`` installs it with apt-get); locally:
``sudo apt-get install chromium`` then ``pytest -m browser``. Screenshots go to the test's
folder, or to ``$PHANTOMCODE_SCREENSHOTS`` (``PHANTOMCODE_SCREENSHOTS=docs pytest -m browser``
refreshes the README's pictures).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SAMPLE_NOTES = Path(__file__).resolve().parents[1] / "sample_data" / "notes"
PASSAGE = "no lease in his own name"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium); .ci/run installs it",
    ),
]

NOTES = {
    "beijing/a.md": "---\nid: BJ-01\ncity: Beijing\nsector: education\n---\n"
    "The school told him to bring the wuzheng 五证 to the street office first.\n\n"
    f"🙂 He had {PASSAGE}, so the school refused the permit.\nHis son stayed home that autumn.\n",
}


# Selects ``passage`` in the note as a mouse drag would: a range from its first character's text
# node to its last one's, however many highlighted pieces lie between.
SELECT_PASSAGE = """(passage) => {
    const nodes = [];
    const walker = document.createTreeWalker(document.getElementById("text"), NodeFilter.SHOW_TEXT);
    let joined = "";
    while (walker.nextNode()) {
        nodes.push([walker.currentNode, joined.length]);
        joined += walker.currentNode.textContent;
    }
    const first = joined.indexOf(passage);
    if (first < 0) throw new Error("passage not found");
    const locate = (at) => {
        const [node, offset] = nodes.filter(([, start]) => start <= at).pop();
        return [node, at - offset];
    };
    const range = document.createRange();
    range.setStart(...locate(first));
    range.setEnd(...locate(first + passage.length - 1));
    range.setEnd(range.endContainer, range.endOffset + 1);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
}"""


class Server:
    """``phantomcode serve``'s app under uvicorn in a thread, on a free port."""

    def __init__(self, project: Path) -> None:
        import uvicorn

        from phantomcode.workspace import Workspace, create_app

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.workspace = Workspace.prepare(project, reviewer="ana", port=port)
        self.base = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(self.workspace), host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the workspace server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def opened(page, project: Path, path: str) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    """The workspace served over ``project``, entered by its printed URL, at ``path``."""
    with Server(project) as server:
        page.goto(server.workspace.url)  # the printed URL: token -> cookie -> overview
        page.goto(server.base + path)
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def decisions(project: Path) -> list[dict]:
    from phantomcode.store import Store

    with Store.open(project, readonly=True) as store:
        return store.review_decisions()


def test_click_a_highlight_accept_it_with_the_keyboard_and_undo(project_from, page) -> None:
    project = project_from(NOTES)
    with Server(project) as server:
        page.goto(server.workspace.url)  # the printed URL: token -> cookie -> overview
        assert page.url == server.base + "/"
        page.goto(f"{server.base}/documents/BJ-01")
        highlight = page.locator("#text span.hl[data-keys*=':paperwork']:not([data-keys*='|'])").first
        key = highlight.get_attribute("data-keys").split("|")[0]
        highlight.click()
        assert page.locator("#detail").is_visible()
        assert "paperwork" in page.locator("#detail-code").inner_text()
        assert page.locator("#detail-rule").inner_text().startswith("paperwork/")
        page.keyboard.press("a")
        page.wait_for_selector("#banner.info")
        assert "Accepted paperwork" in page.locator("#banner").inner_text()
        accepted = [d for d in decisions(project) if d["decision"] == "accept"]
        assert [(f"BJ-01:{d['start']}-{d['end']}:{d['code']}", d["reviewer"]) for d in accepted] == [(key, "ana")]
        page.keyboard.press("u")  # undo
        page.wait_for_selector("#banner.info >> text=Undone")
    assert decisions(project) == []


def test_select_a_passage_and_code_it(project_from, page) -> None:
    project = project_from(NOTES)
    with opened(page, project, "/documents/BJ-01"):
        page.evaluate(SELECT_PASSAGE, PASSAGE)  # it spans several highlighted pieces
        page.locator("#text").dispatch_event("mouseup")
        page.wait_for_selector("#selection:not([hidden])")
        assert page.locator("#selection-text").inner_text() == PASSAGE
        page.keyboard.press("9")  # the ninth code of the codebook
        chosen = page.locator("#selection-code").input_value()
        page.keyboard.press("Enter")
        page.wait_for_selector("#banner.info")
        assert page.locator("#detail").is_visible()  # the new coding is shown, selected
    added = [d for d in decisions(project) if d["decision"] == "add"]
    with_text = [(d["code"], d["text"], d["reviewer"]) for d in added]
    assert with_text == [(chosen, PASSAGE, "ana")]
    text = project_text(project, "BJ-01")
    assert text[added[0]["start"] : added[0]["end"]] == PASSAGE  # the emoji before it counts as one character


def test_a_decision_while_another_command_writes_says_so_in_the_page(project_from, page) -> None:
    from phantomcode.store import Store

    project = project_from(NOTES)
    with opened(page, project, "/documents/BJ-01") as server:
        server.workspace.lock_timeout = 0.3
        page.locator("#text span.hl").first.click()
        with Store.open(project) as writer, writer.writer():  # as a running ingest or code would
            page.keyboard.press("a")
            page.wait_for_selector("#banner.busy")
        assert "another phantomcode command" in page.locator("#banner").inner_text()
        assert page.locator("#detail").is_visible()  # nothing reloaded: the reviewer can try again
    assert decisions(project) == []


def test_the_review_queue_by_keyboard_and_retrain(project_from, page) -> None:
    project = project_from(NOTES)
    with opened(page, project, "/queue?n=5"):
        page.wait_for_selector("#item:not([hidden])")
        counter = page.locator("#counter").inner_text()
        assert counter.startswith("sentence 1 of ") and "0 judged" in counter
        first = page.locator("#options li .o-code").first.inner_text()
        page.keyboard.press("a")
        page.wait_for_selector("#options li.accept, #counter:has-text('1 judged')")
        assert "1 judged" in page.locator("#counter").inner_text()
        judged = decisions(project)
        assert [d["decision"] for d in judged] in (["accept"], ["add"])
        page.keyboard.press("u")
        page.wait_for_selector("#banner.info >> text=Undone")
        assert decisions(project) == []
        page.keyboard.press("9")  # a code nobody proposed, from the rest of the codebook
        chosen = page.locator("#options li.chosen .o-code").inner_text()
        page.keyboard.press("r")
        page.wait_for_selector("#options li.reject")
        assert [(d["decision"]) for d in decisions(project)] == ["reject"] and chosen != first
        page.click("#retrain")
        page.wait_for_selector("#figures:not([hidden])")
        assert page.locator("#train-rows tr").count() >= 10


def project_text(project: Path, doc_id: str) -> str:
    from phantomcode.store import Store

    with Store.open(project, readonly=True) as store:
        return store.document_texts([doc_id])[doc_id]


def test_screenshots_of_the_overview_a_document_and_the_queue(tmp_path_factory, page) -> None:
    from phantomcode import ingest

    root = tmp_path_factory.mktemp("sample")
    ingest(SAMPLE_NOTES, project=root / "demo.db", jobs=1)
    folder = Path(os.environ.get("PHANTOMCODE_SCREENSHOTS") or root)
    folder.mkdir(parents=True, exist_ok=True)
    with Server(root / "demo.db") as server:
        page.goto(server.workspace.url)
        page.screenshot(path=folder / "workspace-overview.png", full_page=True)
        assert page.locator("table.matrix tbody tr").count() == 12
        page.goto(f"{server.base}/documents/BJ-01")
        page.locator("#text span.hl[data-keys*=':office_runaround']").nth(2).click()
        page.screenshot(path=folder / "workspace-document.png")
        assert page.locator("#detail").is_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        page.goto(f"{server.base}/queue?n=20")
        page.wait_for_selector("#item:not([hidden])")
        page.screenshot(path=folder / "workspace-queue.png")
    for name in ("workspace-overview.png", "workspace-document.png", "workspace-queue.png"):
        assert (folder / name).stat().st_size > 20_000
