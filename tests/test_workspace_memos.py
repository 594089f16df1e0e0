"""Memos on a coding follow their passage as review decisions do: through re-coding, and
through a re-ingest after the note's text shifted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from test_workspace_api import LEASE, signed_in  # noqa: E402

from phantomcode.ingest import code_project, ingest  # noqa: E402
from phantomcode.workspace import Workspace  # noqa: E402

NOTE = (
    "---\nid: BJ-01\ncity: Beijing\nsector: education\n---\n"
    "The school told him to bring the wuzheng 五证 to the street office first.\n\n"
    f"{LEASE}\nHis son stayed home that autumn.\n"
)
SHIFTED = NOTE.replace("The school told him", "In March, after two visits, the school told him")


def lease_coding(client: Any) -> dict[str, Any]:
    """The paperwork coding on the sentence about the lease."""
    view = client.get("/api/documents/BJ-01").json()
    return next(
        c for c in view["codings"] if c["code"] == "paperwork" and "lease" in view["text"][c["start"] : c["end"]]
    )


@pytest.mark.slow
def test_a_memo_on_a_coding_survives_re_ingest_after_the_text_shifted(tmp_path: Path) -> None:
    note = tmp_path / "notes" / "a.md"
    note.parent.mkdir()
    note.write_text(NOTE, encoding="utf-8")
    project = tmp_path / "p.db"
    ingest(note.parent, project=project, jobs=1, learned=False)
    client = signed_in(Workspace.prepare(project, reviewer="ana"))
    coding = lease_coding(client)
    saved = client.post("/api/documents/BJ-01/memo", json={"text": "Typical wording.", "key": coding["key"]})
    assert saved.status_code == 200, saved.text
    client.post("/api/documents/BJ-01/memo", json={"text": "Call back in May."})

    code_project(project=project, force=True)  # re-coding: same text, same offsets
    assert memo_keys(client) == [("", "Call back in May."), (coding["key"], "Typical wording.")]

    note.write_text(SHIFTED, encoding="utf-8")
    ingest(note.parent, project=project, jobs=1, learned=False)
    shift = len(SHIFTED) - len(NOTE)
    moved = lease_coding(client)
    assert (moved["start"], moved["end"]) == (coding["start"] + shift, coding["end"] + shift)
    assert memo_keys(client) == [("", "Call back in May."), (moved["key"], "Typical wording.")]
    assert "Typical wording." in client.get("/documents/BJ-01").text


def memo_keys(client: Any) -> list[tuple[str, str]]:
    """(the coding key a memo is on, or '' for the document's own memo, its text)."""
    memos = client.get("/api/documents/BJ-01").json()["memos"]
    return [(f"BJ-01:{m['start']}-{m['end']}:{m['code']}" if m["code"] else "", m["text"]) for m in memos]
