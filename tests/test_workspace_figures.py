"""The workspace keeps whole-project figures and updates them with its own decisions: after every
kind of write the pages' figures are those a fresh computation by the library gives (``report``,
``review stats``, ``review export --suggest``), without computing them again; a write by any
other connection or process starts them afresh."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from test_suggest import scored_units  # noqa: E402
from test_workspace_api import NOTES, signed_in  # noqa: E402
from test_workspace_queue import PARAPHRASE  # noqa: E402

from phantomcode import review_stats  # noqa: E402
from phantomcode.codebook import Codebook  # noqa: E402
from phantomcode.report import build_report  # noqa: E402
from phantomcode.review import ReviewImport, apply_decisions, stats_records  # noqa: E402
from phantomcode.store import Store  # noqa: E402
from phantomcode.store.records import CodeCount, UnitScore  # noqa: E402
from phantomcode.suggest import _ranked, _spread, suggest_for_review  # noqa: E402
from phantomcode.workspace import Workspace, figures, ranking  # noqa: E402
from phantomcode.workspace.api import cached_code_counts  # noqa: E402

MORE = {
    "chengdu/d.md": f"---\nid: CD-01\ncity: Chengdu\nsector: education\n---\n{PARAPHRASE}\n"
    "The school refused him because he had no hukou, and the clinic wanted a residence permit.\n",
    "beijing/e.md": "---\nid: BJ-02\ncity: Beijing\nsector: healthcare\n---\n"
    "The hospital sent her back home; the insurance reimbursed nothing and she gave up.\n",
}


@pytest.fixture
def project(project_from) -> Path:
    return project_from({**NOTES, **MORE})


@pytest.fixture
def space(project: Path) -> Workspace:
    return Workspace.prepare(project, reviewer="ana")


@pytest.fixture
def client(space: Workspace) -> TestClient:
    return signed_in(space)


@pytest.fixture
def computed(monkeypatch) -> list[str]:
    """The whole-project figures the workspace computes from scratch, in order."""
    calls: list[str] = []
    for name in ("report", "review"):
        original = getattr(figures, name)
        monkeypatch.setattr(figures, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    original_read = ranking.Ranking.read
    monkeypatch.setattr(
        ranking.Ranking, "read", classmethod(lambda cls, p: calls.append("ranking") or original_read(p))
    )
    return calls


def fresh(project: Path, codebook: Codebook) -> dict[str, Any]:
    """What the library computes now, in the API's shapes."""
    stats = review_stats(project=project, codebook=codebook)
    with Store.open(project, readonly=True) as store:
        counts = store.code_counts()
    return {
        "city": build_report(project, codebook, by="city").records,
        "sector accepted": build_report(project, codebook, by="sector", status="accepted").records,
        "stats": {"codes": list(stats_records(stats)), "decisions": stats.decisions, "stale": len(stats.stale)},
        "counts": counts,
        "queue": [(s.doc_id, s.start, s.end, [c.code for c in s.candidates]) for s in suggest_for_review(project, n=5)],
    }


def shown(client: TestClient, space: Workspace) -> dict[str, Any]:
    """What the workspace's API and pages show."""
    queue = client.get("/api/queue?n=5").json()["items"]
    assert client.get("/").status_code == client.get("/codebook").status_code == 200
    return {
        "city": client.get("/api/matrix?by=city").json()["cells"],
        "sector accepted": client.get("/api/matrix?by=sector&status=accepted").json()["cells"],
        "stats": client.get("/api/stats").json(),
        "counts": cached_code_counts(space),
        "queue": [(i["doc_id"], i["start"], i["end"], [c["code"] for c in i["candidates"]]) for i in queue],
    }


def keys(client: TestClient, doc_id: str) -> list[str]:
    return [c["key"] for c in client.get(f"/api/documents/{doc_id}").json()["codings"] if c["counted"]]


def test_each_kind_of_decision_updates_the_kept_figures_to_a_fresh_computations(
    client, space, project, computed
) -> None:
    assert shown(client, space) == fresh(project, space.codebook)
    first = sorted(computed)
    assert first == ["ranking", "report", "report", "review"]
    lease, *_ = keys(client, "BJ-01")
    hospital, *_ = keys(client, "BJ-02")
    item = client.get("/api/queue?n=5").json()["items"][0]
    writes = [
        ("post", f"/api/codings/{lease}/decision", {"decision": "accept"}),
        ("post", f"/api/codings/{hospital}/decision", {"decision": "reject", "correct_code": "return_home"}),
        ("post", f"/api/codings/{lease}/decision", {"decision": "reject", "note": "not the lease"}),
        ("post", "/api/documents/SH-01/codings", {"start": 0, "end": 20, "code": "deterred"}),
        ("post", "/api/documents/CD-01/memo", {"text": "a memo"}),
        ("post", "/api/decisions/undo", {"keys": [lease]}),
        ("post", "/api/decisions/undo", {"keys": [hospital, hospital.rsplit(":", 1)[0] + ":return_home"]}),
        (
            "post",
            "/api/queue/decision",
            {**{k: item[k] for k in ("doc_id", "start", "end")}, "code": "return_home", "decision": "accept"},
        ),
    ]
    for _, path, body in writes:
        answer = client.post(path, json=body)
        assert answer.status_code == 200, (path, answer.text)
        assert shown(client, space) == fresh(project, space.codebook), path
    assert client.post("/api/decisions/undo", json={"keys": ["not a key"]}).status_code == 400
    assert shown(client, space) == fresh(project, space.codebook)
    assert sorted(computed) == first  # every figure followed the writes; none was computed again
    assert review_stats(project=project).decisions == 2  # the hand coding and the accepted suggestion


@pytest.mark.parametrize("seed", [0, 5])
def test_the_kept_ranking_ranks_as_suggest_does_whichever_sentences_are_reviewed(seed, monkeypatch) -> None:
    units = [UnitScore(*unit) for unit in scored_units(2000, seed) if unit[3]]
    thresholds = {"fees": 0.35, "hukou": 0.5, "deterred": 0.995, "paperwork": 0.2}
    kept = ranking.Ranking.of(units, thresholds)
    monkeypatch.setattr(ranking, "CHUNK", 300)  # the margins are computed a chunk at a time
    assert ranking.Ranking.of(units, thresholds).margins.tolist() == kept.margins.tolist()
    draw = random.Random(seed)
    for share in (0.0, 0.01, 0.3):
        reviewed = {unit[:3] for unit in units if draw.random() < share} | {("gone", 0, 1)}
        expected = [(rank, code, unit[:3]) for rank, code, unit in _ranked(units, thresholds, reviewed, seed)]
        assert kept.ranked(reviewed, seed) == expected


@pytest.mark.parametrize("seed", [0, 5])
def test_the_queue_spreads_the_reachable_sentences_as_it_spreads_them_all(seed) -> None:
    draw = random.Random(seed)
    units = [UnitScore(*unit) for unit in scored_units(3000, seed) if unit[3]]
    crowded = [UnitScore(f"C{i % 3}", i * 40, i * 40 + 30, {"fees": 0.35 + i / 1e5}) for i in range(300)]
    thresholds = {"fees": 0.35, "hukou": 0.5, "deterred": 0.995, "paperwork": 0.2}
    kept = ranking.Ranking.of(sorted(units + crowded), thresholds)
    for n in (1, 2, 5, 13, 50, 200):
        reviewed = {unit[:3] for unit in units if draw.random() < 0.05}
        reachable = kept.ranked(reviewed, seed, spread=n)
        assert len(reachable) < len(kept.units) - len(reviewed) or n == 200
        assert _spread(reachable, n) == _spread(kept.ranked(reviewed, seed), n)


def test_decisions_and_reads_at_once_from_several_threads_leave_the_figures_right(client, space, project) -> None:
    shown(client, space)
    decided = [key for doc_id in ("BJ-01", "SH-01", "SH-02", "CD-01", "BJ-02") for key in keys(client, doc_id)]
    reads = ["/api/stats", "/api/matrix?by=city", "/codebook", "/", "/api/queue?n=5"]

    def decide(key: str) -> int:
        return client.post(f"/api/codings/{key}/decision", json={"decision": "reject"}).status_code

    def read(path: str) -> int:
        return client.get(path).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = [pool.submit(decide, key) for key in decided]
        answers += [pool.submit(read, path) for path in reads * 4]
        assert {answer.result() for answer in answers} == {200}
    assert shown(client, space) == fresh(project, space.codebook)
    assert client.get("/api/stats").json()["decisions"] == len(decided) > 5


def test_a_write_by_another_connection_before_a_decision_starts_the_figures_afresh(
    client, space, project, computed
) -> None:
    shown(client, space)
    first = len(computed)
    lease, *_ = keys(client, "BJ-01")
    hospital, *_ = keys(client, "BJ-02")
    outside = apply_decisions([(1, {"key": hospital, "decision": "reject"})], ReviewImport(path="t"), project=project)
    assert outside.problems == []
    assert client.post(f"/api/codings/{lease}/decision", json={"decision": "accept"}).status_code == 200
    assert shown(client, space) == fresh(project, space.codebook)
    assert sorted(computed[first:]) == ["report", "report", "review"]  # the outside write: all afresh
    assert client.get("/api/stats").json()["decisions"] == 2


def test_a_memo_written_outside_the_workspace_is_a_write_too(space, project) -> None:
    calls: list[str] = []

    def counts() -> dict[str, CodeCount]:
        calls.append("counted")
        return {}

    for _ in range(2):
        space.cache.get("counts", counts, figure=figures.CodeCountFigure())
    with Store.open(project) as store:
        store.save_memo("BJ-01", text="from a notebook", author="ana")
    space.cache.get("counts", counts, figure=figures.CodeCountFigure())
    assert calls == ["counted", "counted"]


def test_reads_during_a_write_of_ours_compute_afresh_rather_than_wait_for_it(space) -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    with space.cache.writing(["BJ-01"]):
        assert [space.cache.get("n", compute), space.cache.get("n", compute)] == [1, 2]
    assert [space.cache.get("n", compute), space.cache.get("n", compute)] == [3, 3]


def test_a_project_file_moved_into_place_under_the_workspace_starts_the_figures_afresh(
    client, space, project, tmp_path
) -> None:
    shown(client, space)
    hospital, *_ = keys(client, "BJ-02")
    other = tmp_path / "other.db"
    shutil.copy(project, other)
    rejected = apply_decisions([(1, {"key": hospital, "decision": "reject"})], ReviewImport(path="t"), project=other)
    assert rejected.problems == []
    for leftover in (Path(f"{project}-wal"), Path(f"{project}-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(other, project)
    assert shown(client, space) == fresh(project, space.codebook)
    assert client.get("/api/stats").json()["decisions"] == 1
    os.unlink(project)
    gone = client.get("/api/stats")
    assert gone.status_code == 503 and "the project file is gone" in gone.json()["detail"]


@pytest.mark.slow
def test_review_import_code_and_ingest_in_other_processes_start_the_figures_afresh(
    client, space, project, tmp_path, computed
) -> None:
    shown(client, space)
    lease, *_ = keys(client, "BJ-01")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"key,code,decision\n{lease},{lease.rsplit(':', 1)[1]},reject\n", encoding="utf-8")
    command = [sys.executable, "-m", "phantomcode"]
    imported = subprocess.run(
        [*command, "review", "import", str(sheet), "--project", str(project), "--reviewer", "bo"],
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    assert shown(client, space) == fresh(project, space.codebook)
    assert client.get("/api/stats").json()["decisions"] == 1
    recoded = subprocess.run(
        [*command, "code", "--project", str(project), "--force", "--rules-only"], capture_output=True, text=True
    )
    assert recoded.returncode == 0, recoded.stderr
    assert shown(client, space) == fresh(project, space.codebook)
    assert computed.count("ranking") == 2  # new scores after 'code': the queue ranks them afresh
    more = tmp_path / "more" / "f.md"
    more.parent.mkdir()
    more.write_text("---\nid: BJ-03\ncity: Beijing\n---\nThe school refused the permit.\n", encoding="utf-8")
    ingested = subprocess.run(
        [*command, "ingest", str(more.parent), "--project", str(project), "--quiet"], capture_output=True, text=True
    )
    assert ingested.returncode == 0, ingested.stderr
    assert shown(client, space) == fresh(project, space.codebook)
    assert client.get("/api/matrix?by=city").json()["documents"] == len(NOTES) + len(MORE) + 1
