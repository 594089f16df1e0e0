"""The review queue's n (next) and p (previous) keys in a real headless Chromium, and the
codebook page's precision measured from a known set of review decisions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

import test_workspace_browser  # noqa: E402
from test_workspace_api import NOTES, signed_in  # noqa: E402
from test_workspace_browser import CHROMIUM, opened  # noqa: E402

from phantomcode.review import ReviewImport, apply_decisions, wilson_interval  # noqa: E402
from phantomcode.workspace import Workspace  # noqa: E402

# the browser tests' Chromium and page (a real headless Chromium, errors on the page fail the test)
browser = test_workspace_browser.browser
page = test_workspace_browser.page


def test_the_codebook_page_shows_the_precision_review_measured(project_from) -> None:
    """Two paperwork codings accepted and one rejected: precision 2/3 with its Wilson interval."""
    project = project_from(NOTES)
    client = signed_in(Workspace.prepare(project, reviewer="ana"))
    keys = [
        c["key"]
        for doc in ("BJ-01", "SH-02")
        for c in client.get(f"/api/documents/{doc}").json()["codings"]
        if c["code"] == "paperwork" and c["counted"]
    ]
    assert len(keys) >= 3, keys
    rows = [
        (1, {"key": keys[0], "decision": "accept"}),
        (2, {"key": keys[1], "decision": "accept"}),
        (3, {"key": keys[2], "decision": "reject"}),
    ]
    result = apply_decisions(rows, ReviewImport(path="test"), project=project, reviewer="ana")
    assert result.problems == []
    page = client.get("/codebook").text
    card = re.search(r'<article class="card code" id="code-paperwork">(.*?)</article>', page, re.S)
    assert card is not None
    low, high = wilson_interval(2, 3)
    shown = re.sub(r"\s+", " ", card[1])
    assert f"precision <b>0.67</b> [{low:.2f}, {high:.2f}] <small>(3 reviewed)</small>" in shown
    other = re.search(r'id="code-return_home">(.*?)</article>', page, re.S)
    assert other is not None and "not reviewed" in other[1]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_review_queue_moves_with_n_and_p(project_from, page) -> None:
    project: Path = project_from(NOTES)
    with opened(page, project, "/queue?n=5"):
        page.wait_for_selector("#item:not([hidden])")
        counted = re.search(r"of (\d+)", page.locator("#counter").inner_text())
        assert counted is not None
        total = int(counted[1])
        assert total >= 3
        first = page.locator("#item-text").inner_text()
        page.keyboard.press("p")  # nothing before the first sentence: it stays
        assert page.locator("#counter").inner_text().startswith("sentence 1 of ")
        page.keyboard.press("n")
        page.wait_for_selector("#counter:has-text('sentence 2 of')")
        second = page.locator("#item-text").inner_text()
        assert second != first
        page.keyboard.press("n")
        page.wait_for_selector("#counter:has-text('sentence 3 of')")
        page.keyboard.press("p")
        page.wait_for_selector("#counter:has-text('sentence 2 of')")
        assert page.locator("#item-text").inner_text() == second
        page.keyboard.press("p")
        page.wait_for_selector("#counter:has-text('sentence 1 of')")
        assert page.locator("#item-text").inner_text() == first
        for _ in range(total):
            page.keyboard.press("n")
        page.wait_for_selector("#done:not([hidden])")  # past the last sentence: nothing left
        assert page.locator("#item").is_hidden()
        page.keyboard.press("p")
        page.wait_for_selector("#item:not([hidden])")
        assert page.locator("#counter").inner_text().startswith(f"sentence {total} of {total}")
