"""The review queue's API: the sentences ``review export --suggest`` picks, judged one code at a
time through the same code as ``review import``, undone, and the model retrained."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from test_workspace_api import NOTES, signed_in  # noqa: E402

from phantomcode.errors import ProjectError  # noqa: E402
from phantomcode.review import export_review, read_review_sheet  # noqa: E402
from phantomcode.store import Store  # noqa: E402
from phantomcode.workspace import Workspace  # noqa: E402

# A paraphrase no rule codes and the default model does (return_home, probability about 0.97).
PARAPHRASE = "The boy went back to his grandparents' county to take the exam there."


@pytest.fixture
def project(project_from) -> Path:
    return project_from({**NOTES, "chengdu/d.md": f"---\nid: CD-01\ncity: Chengdu\n---\n{PARAPHRASE}\n"})


@pytest.fixture
def client(project: Path) -> TestClient:
    return signed_in(Workspace.prepare(project, reviewer="ana"))


def decisions(project: Path) -> dict[tuple[str, int, int, str], str]:
    with Store.open(project, readonly=True) as store:
        return {(d["doc_id"], d["start"], d["end"], d["code"]): d["decision"] for d in store.review_decisions()}


@pytest.mark.slow
def test_the_queue_holds_the_sentences_review_export_suggest_picks(client, project, tmp_path) -> None:
    items = client.get("/api/queue?n=4").json()["items"]
    sheet = tmp_path / "suggest.csv"
    export_review(project=project, out=sheet, suggest=4)
    rows = [cells for _, cells in read_review_sheet(sheet)]
    assert [(i["doc_id"], i["start"], i["end"], c["code"]) for i in items for c in i["candidates"]] == [
        (r["doc_id"], int(r["start"]), int(r["end"]), r["code"]) for r in rows
    ]
    item = items[0]
    text = client.get(f"/api/documents/{item['doc_id']}").json()["text"]
    assert item["text"] == text[item["start"] : item["end"]]
    assert text[item["end"] : item["end"] + len(item["after"])] == item["after"]
    assert text[item["start"] - len(item["before"]) : item["start"]] == item["before"]
    assert all(c["key"] == f"{item['doc_id']}:{item['start']}-{item['end']}:{c['code']}" for c in item["candidates"])
    assert client.get("/queue").status_code == 200


def test_judging_a_suggested_sentence_stores_decisions_like_review_import(client, project) -> None:
    item = client.get("/api/queue?n=10").json()["items"][0]
    unit = (item["doc_id"], item["start"], item["end"])
    first = item["candidates"][0]["code"]
    accepted = client.post(
        "/api/queue/decision",
        json={"doc_id": unit[0], "start": unit[1], "end": unit[2], "code": first, "decision": "accept"},
    )
    assert accepted.status_code == 200, accepted.text
    other = next(
        code for code in ("self_blame", "deterred", "extra_fees") if code not in {c["code"] for c in item["candidates"]}
    )
    rejected = client.post(
        "/api/queue/decision",
        json={"doc_id": unit[0], "start": unit[1], "end": unit[2], "code": other, "decision": "reject"},
    )
    assert rejected.status_code == 200, rejected.text
    stored = decisions(project)
    assert stored[(*unit, other)] == "reject"
    assert stored[(*unit, first)] in ("accept", "add")  # add when the project had no such coding
    coded = {
        (c["start"], c["end"], c["code"])
        for c in client.get(f"/api/documents/{unit[0]}").json()["codings"]
        if c["status"] == "accepted"
    }
    assert (unit[1], unit[2], first) in coded
    again = client.get("/api/queue?n=10").json()["items"]
    assert unit not in {(i["doc_id"], i["start"], i["end"]) for i in again}  # judged: no longer suggested
    client.post("/api/decisions/undo", json={"keys": [accepted.json()["key"], rejected.json()["key"]]})
    assert decisions(project) == {}


def finished_training(client: TestClient, seconds: float = 120) -> dict:
    """``GET /api/train`` until the background run is no longer running."""
    deadline = time.monotonic() + seconds
    while (run := client.get("/api/train").json())["state"] == "running":
        assert time.monotonic() < deadline, "training did not finish"
        time.sleep(0.05)
    return run


@pytest.mark.slow
def test_retrain_runs_in_the_background_and_gives_the_new_cross_validated_figures(client, project) -> None:
    assert client.get("/api/train").json()["state"] == "idle"
    started = client.post("/api/train", json={})
    assert started.status_code == 202, started.text
    assert started.json()["state"] in ("running", "done")  # answered without waiting for the fit
    run = finished_training(client)
    assert run["state"] == "done" and run["error"] is None and run["finished_at"] >= run["started_at"]
    report = run["figures"]
    assert len(report["model_hash"]) == 64 and report["sentences"] > 0
    codes = {row["code"]: row for row in report["codes"]}
    assert "paperwork" in codes
    assert {"positives", "negatives", "precision", "recall", "f1", "needs_more"} <= set(codes["paperwork"])
    with Store.open(project, readonly=True) as store:
        assert store.latest_model().content_hash == report["model_hash"]


class _HeldTraining:
    """A stand-in for ``training.train`` that runs until the test releases it, counting its calls."""

    def __init__(self, outcome: Exception | None = None) -> None:
        self.release, self.calls, self.outcome = threading.Event(), 0, outcome

    def __call__(self, project: Path) -> SimpleNamespace:
        self.calls += 1
        assert self.release.wait(30), "the test never released training"
        if self.outcome is not None:
            raise self.outcome
        return SimpleNamespace(model_hash="f" * 64, sentences=3, sources={"review": 3}, codes=[])


def test_a_second_retrain_while_one_runs_starts_nothing(client, monkeypatch) -> None:
    held = _HeldTraining()
    monkeypatch.setattr("phantomcode.training.train", held)
    assert client.post("/api/train", json={}).json()["state"] == "running"
    again = client.post("/api/train", json={})
    assert again.status_code == 202 and again.json()["state"] == "running"
    assert client.get("/api/queue?n=3").status_code == 200  # the server keeps answering meanwhile
    held.release.set()
    run = finished_training(client)
    assert (run["state"], run["figures"]["model_hash"], held.calls) == ("done", "f" * 64, 1)


@pytest.mark.parametrize(
    "failure, message",
    [
        (ProjectError("another phantomcode command is writing the project"), "another phantomcode command is writing"),
        (RuntimeError("boom"), "training failed (RuntimeError: boom)"),
    ],
)
def test_a_failed_retrain_says_why_and_the_next_one_can_start(client, monkeypatch, failure, message) -> None:
    held = _HeldTraining(failure)
    monkeypatch.setattr("phantomcode.training.train", held)
    client.post("/api/train", json={})
    held.release.set()
    run = finished_training(client)
    assert run["state"] == "failed" and message in run["error"] and run["figures"] is None
    held.outcome = None
    client.post("/api/train", json={})
    assert finished_training(client)["state"] == "done" and held.calls == 2


def test_learned_codings_show_their_probability_and_explanation_and_filter_by_source(client, project) -> None:
    learned = [d["doc_id"] for d in client.get("/api/documents?source=learned").json()["documents"]]
    assert "CD-01" in learned
    learned_codings = [c for c in client.get("/api/documents/CD-01").json()["codings"] if c["source"] == "learned"]
    assert "return_home" in {c["code"] for c in learned_codings}
    coding = next(c for c in learned_codings if c["code"] == "return_home")
    assert coding["rule"] == "learned"
    assert 0.5 < coding["probability"] <= 1 and len(coding["model_hash"]) == 64
    assert all(n["text"] and "codes" in n for n in coding["explanation"]["neighbours"])
    assert "CD-01" not in {d["doc_id"] for d in client.get("/api/documents?source=rules").json()["documents"]}
    page = client.get("/documents/CD-01").text
    assert f"model {coding['probability']:.2f}" in page  # the coding list names the model's probability
