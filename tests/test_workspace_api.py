"""The review workspace's JSON API and pages through the framework's test client: filters,
decisions and human codings reaching review stats and the exports, the token and Host checks,
escaping of hostile notes, offsets with emoji and CRLF, and a decision while a writer holds
the project."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from phantomcode import Project, agreement, export_qdpx, export_segments, review_stats  # noqa: E402
from phantomcode.review import ReviewImport, apply_decisions  # noqa: E402
from phantomcode.store import Store  # noqa: E402
from phantomcode.workspace import Workspace, create_app  # noqa: E402
from phantomcode.workspace.app import TOKEN_COOKIE, TOKEN_HEADER  # noqa: E402

BASE = "http://127.0.0.1:8765"
LEASE = "He had no lease in his own name, so the school refused the permit."
NOTES = {
    "beijing/a.md": "---\nid: BJ-01\ncity: Beijing\nsector: education\n---\n"
    "The school told him to bring the wuzheng 五证 to the street office first.\n\n"
    f"{LEASE}\nHis son stayed home that autumn.\n",
    "shanghai/b.md": "---\nid: SH-01\ncity: Shanghai\nsector: healthcare\n---\n"
    "She went back to her hometown for the operation because it was cheaper.\n"
    "Her rural insurance reimbursed nothing in the city hospital.\n",
    "shanghai/c.md": "---\nid: SH-02\ncity: Shanghai\nsector: education\n"
    'respondent_type: "<img src=x onerror=alert(2)>"\n---\n'
    "The principal wrote <script>alert(1)</script> on the form and asked for five documents.\n",
}


@pytest.fixture
def project(project_from) -> Path:
    return project_from(NOTES)


@pytest.fixture
def workspace(project: Path) -> Workspace:
    return Workspace.prepare(project, reviewer="ana")


def signed_in(workspace: Workspace) -> TestClient:
    """A client that has opened the printed URL: it holds the token cookie and sends the header."""
    client = TestClient(create_app(workspace), base_url=BASE)
    client.cookies.set(TOKEN_COOKIE, workspace.token)
    client.headers[TOKEN_HEADER] = workspace.token
    return client


@pytest.fixture
def client(workspace: Workspace) -> TestClient:
    return signed_in(workspace)


def text_of(project: Path, doc_id: str) -> str:
    with Store.open(project, readonly=True) as store:
        return store.document_texts([doc_id])[doc_id]


def coding_of(client: TestClient, doc_id: str, code: str) -> dict:
    return next(c for c in client.get(f"/api/documents/{doc_id}").json()["codings"] if c["code"] == code)


# -- access --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_request_without_the_token_is_refused_and_the_printed_url_lets_the_browser_in(workspace) -> None:
    client = TestClient(create_app(workspace), base_url=BASE)
    assert client.get("/").status_code == 401
    assert client.get("/api/documents").status_code == 401
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/?token=wrong", follow_redirects=False).status_code == 403
    entry = client.get(f"/documents?city=Beijing&token={workspace.token}", follow_redirects=False)
    assert entry.status_code == 303 and entry.headers["location"] == "/documents?city=Beijing"
    cookie = entry.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/documents?city=Beijing").status_code == 200  # the cookie now
    script = TestClient(create_app(workspace), base_url=BASE, headers={TOKEN_HEADER: workspace.token})
    assert script.get("/api/documents").json()["total"] == 3


def test_a_host_header_other_than_the_bound_host_is_refused(client) -> None:
    assert client.get("/api/documents", headers={"Host": "evil.example:8765"}).status_code == 421
    assert client.get("/api/documents", headers={"Host": "127.0.0.1.evil.example"}).status_code == 421
    assert client.get("/api/documents", headers={"Host": "localhost:8765"}).status_code == 200


def test_a_change_needs_the_token_header_a_cookie_alone_is_not_enough(client, project, workspace) -> None:
    key = coding_of(client, "SH-01", "reimbursement_gap")["key"]
    del client.headers[TOKEN_HEADER]
    refused = client.post(f"/api/codings/{key}/decision", json={"decision": "accept"})
    assert refused.status_code == 403
    assert client.get(f"/api/codings/{key}/decision").status_code == 405  # never a GET
    assert review_stats(project=project).decisions == 0


# -- reading -------------------------------------------------------------------------------------


def test_documents_filter_by_attribute_code_text_status_and_page(client) -> None:
    def ids(query: str) -> list[str]:
        answer = client.get(f"/api/documents?{query}")
        assert answer.status_code == 200, answer.text
        return [d["doc_id"] for d in answer.json()["documents"]]

    assert ids("city=Shanghai") == ["SH-01", "SH-02"]
    assert ids("city=Shanghai&city=Beijing&sector=education") == ["BJ-01", "SH-02"]
    assert ids("code=reimbursement_gap") == ["SH-01"]
    assert ids("q=reimburs*hospital") == ["SH-01"]
    assert ids("q=wuzheng") == ["BJ-01"]
    assert ids("q=100%25") == []  # % is a character to find, not a wildcard
    assert ids("status=pending&code=paperwork") == ["BJ-01", "SH-02"]
    assert ids("source=human") == []
    page = client.get("/api/documents?per_page=2&page=2").json()
    assert (page["total"], page["pages"], [d["doc_id"] for d in page["documents"]]) == (3, 2, ["SH-02"])
    assert client.get("/api/documents?colour=blue").status_code == 400
    listed = client.get("/documents?code=reimbursement_gap").text
    assert "SH-01" in listed and "BJ-01" not in listed and "reimbursed nothing" in listed


def test_a_document_comes_with_its_codings_offsets_and_the_matrix_with_the_report_numbers(client, project) -> None:
    document = client.get("/api/documents/BJ-01").json()
    text = text_of(project, "BJ-01")
    assert document["text"] == text and document["attributes"]["city"] == "Beijing"
    assert {c["code"] for c in document["codings"]} >= {"paperwork"}
    for coding in document["codings"]:
        assert coding["key"] == f"BJ-01:{coding['start']}-{coding['end']}:{coding['code']}"
        assert coding["status"] == "auto"
        if coding["source"] == "learned":  # the default model may add what the rules missed
            assert coding["rule"] == "learned" and coding["probability"] >= 0.6
        else:
            assert coding["source"] == "rules" and coding["rule"].startswith(coding["code"] + "/")
    assert any(c["source"] == "rules" and c["code"] == "paperwork" for c in document["codings"])
    assert client.get("/api/documents/NOPE").status_code == 400
    matrix = client.get("/api/matrix?by=city").json()
    expected = Project(project).matrix(by="city")
    for cell in matrix["cells"]:
        assert cell["documents"] == expected.loc[cell["code"], cell["city"]]
    assert {p for p in client.get("/openapi.json").json()["paths"]} >= {
        "/api/documents",
        "/api/documents/{doc_id}",
        "/api/codings/{key}/decision",
        "/api/documents/{doc_id}/codings",
        "/api/matrix",
    }


def test_every_page_renders(client) -> None:
    for url in ("/", "/?by=sector", "/documents", "/documents/BJ-01", "/codebook"):
        page = client.get(url)
        assert page.status_code == 200 and "<title>" in page.text, url
        assert "script-src 'self'" in page.headers["content-security-policy"]


# -- writing -------------------------------------------------------------------------------------


def test_a_decision_is_stored_like_review_import_and_counts_in_review_stats(client, project) -> None:
    lease = coding_of(client, "BJ-01", "paperwork")
    assert client.get("/api/stats").json()["decisions"] == 0  # the figures are now kept until a change
    answer = client.post(f"/api/codings/{lease['key']}/decision", json={"decision": "accept", "note": "clear case"})
    assert answer.status_code == 200, answer.text
    stats = review_stats(project=project)
    paperwork = next(c for c in stats.per_code if c.code == "paperwork")
    assert (paperwork.accepted, paperwork.rejected, stats.decisions) == (1, 0, 1)
    shown = {row["code"]: row for row in client.get("/api/stats").json()["codes"]}
    assert (shown["paperwork"]["accepted"], shown["total"]["accepted"]) == (1, 1)
    gap = coding_of(client, "SH-01", "reimbursement_gap")
    recoded = client.post(
        f"/api/codings/{gap['key']}/decision", json={"decision": "reject", "correct_code": "return_home"}
    )
    assert recoded.status_code == 200, recoded.text
    with Store.open(project, readonly=True) as store:
        decisions = {(d["code"], d["decision"]): d for d in store.review_decisions()}
    assert decisions[("paperwork", "accept")]["reviewer"] == "ana"
    assert decisions[("paperwork", "accept")]["note"] == "clear case"
    assert decisions[("reimbursement_gap", "reject")]["correct_code"] == "return_home"
    assert ("return_home", "add") in decisions
    assert coding_of(client, "SH-01", "reimbursement_gap")["status"] == "rejected"
    bad = client.post(f"/api/codings/{gap['key']}/decision", json={"decision": "reject", "correct_code": "nonsense"})
    assert bad.status_code == 400 and "nonsense" in bad.json()["detail"]


def test_a_passage_coded_by_hand_is_stored_by_offsets_counted_and_exported(client, project, tmp_path) -> None:
    text = text_of(project, "BJ-01")
    start = text.index("no lease in his own name")
    end = start + len("no lease in his own name")
    answer = client.post("/api/documents/BJ-01/codings", json={"start": start, "end": end, "code": "deterred"})
    assert answer.status_code == 200, answer.text
    made = [c for c in answer.json()["codings"] if c["code"] == "deterred"]
    assert [(c["start"], c["end"], c["source"], c["status"]) for c in made] == [(start, end, "human", "accepted")]
    assert client.get("/api/documents?source=human").json()["documents"][0]["doc_id"] == "BJ-01"
    assert next(c for c in review_stats(project=project).per_code if c.code == "deterred").added == 1
    # agreement on 'reviewed' counts decided sentences only: the rules' pending coding there is judged too
    pending = next(
        c
        for c in client.get("/api/documents/BJ-01").json()["codings"]
        if c["code"] == "paperwork" and c["start"] <= start < c["end"]
    )
    assert client.post(f"/api/codings/{pending['key']}/decision", json={"decision": "accept"}).status_code == 200
    agreed = next(c for c in agreement(["auto", "reviewed"], project=project).per_code if c.code == "deterred")
    assert agreed.positives == {"auto": 0, "reviewed": 1}
    assert Project(project).matrix(by="city").loc["deterred", "Beijing"] == 1  # reports count it

    segments = tmp_path / "segments.csv"
    export_segments(project=project, out=segments)
    rows = [r for r in csv.DictReader(segments.open(encoding="utf-8")) if r["code"] == "deterred"]
    assert [(r["start"], r["end"], r["text"], r["rule"], r["status"]) for r in rows] == [
        (str(start), str(end), "no lease in his own name", "review/add", "accepted")
    ]

    qdpx = tmp_path / "p.qdpx"
    export_qdpx(project=project, out=qdpx)
    with zipfile.ZipFile(qdpx) as archive:
        xml = archive.read("project.qde").decode("utf-8")
    assert f'startPosition="{start}" endPosition="{end}"' in xml and 'name="ana"' in xml

    beyond = client.post("/api/documents/BJ-01/codings", json={"start": 5, "end": 10**6, "code": "deterred"})
    assert beyond.status_code == 400


@pytest.mark.slow
def test_decisions_and_hand_codings_made_in_the_browser_survive_recoding(client, project) -> None:
    from phantomcode import code_project

    gap = coding_of(client, "SH-01", "reimbursement_gap")
    client.post(f"/api/codings/{gap['key']}/decision", json={"decision": "reject"})
    text = text_of(project, "BJ-01")
    start = text.index("His son")
    client.post("/api/documents/BJ-01/codings", json={"start": start, "end": start + 7, "code": "deterred"})
    code_project(project=project, force=True)
    assert coding_of(client, "SH-01", "reimbursement_gap")["status"] == "rejected"
    assert [
        (c["start"], c["end"], c["source"])
        for c in client.get("/api/documents/BJ-01").json()["codings"]
        if c["code"] == "deterred"
    ] == [(start, start + 7, "human")]


def test_memos_on_a_document_and_on_a_coding_are_kept(client, project) -> None:
    key = coding_of(client, "SH-01", "reimbursement_gap")["key"]
    assert client.post("/api/documents/SH-01/memo", json={"text": "Ask about the 2018 reform."}).status_code == 200
    memos = client.post("/api/documents/SH-01/memo", json={"text": "Typical wording.", "key": key}).json()["memos"]
    assert [(m["code"], m["text"], m["author"]) for m in memos] == [
        ("", "Ask about the 2018 reform.", "ana"),
        ("reimbursement_gap", "Typical wording.", "ana"),
    ]
    assert "Ask about the 2018 reform." in client.get("/documents/SH-01").text
    assert client.post("/api/documents/SH-01/memo", json={"text": "x", "key": "BJ-01:0-5:paperwork"}).status_code == 400


def test_a_decision_while_another_command_writes_waits_then_says_so_and_reads_go_on(client, project, workspace) -> None:
    workspace.lock_timeout = 0.2
    key = coding_of(client, "SH-01", "reimbursement_gap")["key"]
    with Store.open(project) as writer, writer.writer():
        busy = client.post(f"/api/codings/{key}/decision", json={"decision": "accept"})
        assert client.get("/documents/SH-01").status_code == 200
        assert client.get("/api/documents?q=hospital").status_code == 200
    assert busy.status_code == 409 and busy.json()["busy"] is True
    assert "another phantomcode command is writing" in busy.json()["detail"]
    assert client.post(f"/api/codings/{key}/decision", json={"decision": "accept"}).status_code == 200


# -- text ----------------------------------------------------------------------------------------


def test_hostile_codebook_strings_are_shown_as_text(project, own_codebook) -> None:
    book = own_codebook.edit("label: Paperwork barriers", 'label: "<b onmouseover=alert(3)>Paperwork</b>"')
    client = signed_in(Workspace.prepare(project, reviewer="ana", codebook=book))
    for url in ("/codebook", "/", "/documents", "/documents/BJ-01"):
        page = client.get(url).text
        assert "<b onmouseover" not in page, url
    assert "&lt;b onmouseover=alert(3)&gt;Paperwork&lt;/b&gt;" in client.get("/codebook").text


def test_hostile_note_text_and_attributes_are_shown_as_text(client) -> None:
    for url in ("/documents/SH-02", "/documents", "/documents?city=Shanghai", "/"):
        page = client.get(url).text
        assert "<script>alert" not in page and "<img src=x" not in page, url
    page = client.get("/documents/SH-02").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    data = page.split('id="doc-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and json.loads(data)["text"].count("<script>") == 1


@pytest.mark.slow
def test_offsets_are_the_stored_texts_with_emoji_crlf_and_chinese(project_from, tmp_path) -> None:
    note = (
        "---\r\nid: E-01\r\ncity: Beijing\r\n---\r\n🙂🙂 The school asked for the wuzheng 五证.\r\n"
        "学校说需要五证。\r\nShe had no lease 😞 and the school refused.\r\n"
    )
    project = project_from({"e.md": note})
    client = signed_in(Workspace.prepare(project, reviewer="ana"))
    document = client.get("/api/documents/E-01").json()
    text = document["text"]
    assert "\r" not in text and text.startswith("🙂🙂 The school")
    assert document["codings"]
    for coding in document["codings"]:
        assert text[coding["start"] : coding["end"]] in text.split("\n")
    page = client.get("/documents/E-01").text
    start = text.index("no lease")
    answer = client.post("/api/documents/E-01/codings", json={"start": start, "end": start + 8, "code": "paperwork"})
    assert answer.status_code == 200
    with Store.open(project, readonly=True) as store:
        decision = store.review_decisions()[0]
    assert decision["text"] == "no lease" and decision["fresh"]
    assert 'data-s="0"' in page and f'data-e="{len(text)}"' in page


def test_undo_takes_decisions_and_hand_codings_back(client, project) -> None:
    gap = coding_of(client, "SH-01", "reimbursement_gap")
    client.post(f"/api/codings/{gap['key']}/decision", json={"decision": "reject", "correct_code": "return_home"})
    added = next(c for c in client.get("/api/documents/SH-01").json()["codings"] if c["source"] == "human")
    assert (added["code"], added["start"], added["end"]) == ("return_home", gap["start"], gap["end"])
    text = text_of(project, "BJ-01")
    start = text.index("His son")
    client.post("/api/documents/BJ-01/codings", json={"start": start, "end": start + 7, "code": "deterred"})
    assert review_stats(project=project).decisions == 3
    undone = client.post("/api/decisions/undo", json={"keys": [gap["key"], added["key"]]})
    assert undone.status_code == 200 and undone.json() == {"withdrawn": 2}
    assert coding_of(client, "SH-01", "reimbursement_gap")["status"] == "auto"
    assert "return_home" not in {
        c["code"] for c in client.get("/api/documents/SH-01").json()["codings"] if c["source"] == "human"
    }
    client.post("/api/decisions/undo", json={"keys": [f"BJ-01:{start}-{start + 7}:deterred"]})
    assert review_stats(project=project).decisions == 0
    assert "deterred" not in {c["code"] for c in client.get("/api/documents/BJ-01").json()["codings"]}
    assert client.post("/api/decisions/undo", json={"keys": ["not a key"]}).status_code == 400


@pytest.mark.slow
def test_a_long_note_with_hundreds_of_codings_renders_every_character_once(project_from) -> None:
    sentences = [
        "The school demanded the five documents before it would look at the application.",
        "学校说名额已满，要等明年。",
        "She went back to her hometown for the operation because it was cheaper.",
        "Nothing much happened that week, and the weather was mild. 🙂",
    ]
    body = ""
    while len(body) < 100_000:
        body += " ".join(sentences) + "\n\n"
    project = project_from({"long.md": f"---\nid: LONG\ncity: Beijing\n---\n{body}"})
    client = signed_in(Workspace.prepare(project, reviewer="ana"))
    document = client.get("/api/documents/LONG").json()
    text, codings = document["text"], document["codings"]
    assert len(text) >= 100_000 and len(codings) >= 300
    page = client.get("/documents/LONG").text
    spans = [(int(s), int(e)) for s, e in re.findall(r'data-s="(\d+)" data-e="(\d+)"', page)]
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(end == next_start for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False))
    shown = set("|".join(re.findall(r'data-keys="([^"]*)"', page)).split("|"))
    assert {c["key"] for c in codings} <= shown


@pytest.mark.slow
def test_a_document_id_with_a_slash_space_and_hash_has_a_working_page(project_from) -> None:
    project = project_from({"beijing/int 3#x.md": "---\ncity: Beijing\n---\nThe school asked for five documents.\n"})
    client = signed_in(Workspace.prepare(project, reviewer="ana"))
    link = re.search(r'href="(/documents/[^"]+)"', client.get("/documents").text)[1]
    page = client.get(link.replace("&amp;", "&"))
    assert page.status_code == 200 and "<h1>beijing/int 3#x</h1>" in page.text
    key = client.get("/api/documents/beijing%2Fint%203%23x").json()["codings"][0]["key"]
    assert client.post(f"/api/codings/{quote(key, safe='')}/decision", json={"decision": "accept"}).status_code == 200


def test_undo_in_the_browser_withdraws_only_its_reviewers_decision(client, project) -> None:
    gap = coding_of(client, "SH-01", "reimbursement_gap")
    row = {"key": gap["key"], "code": gap["code"], "decision": "reject"}
    earlier = apply_decisions([(1, row)], ReviewImport(path="sheet"), project=project, reviewer="bo")
    assert not earlier.problems
    client.post(f"/api/codings/{gap['key']}/decision", json={"decision": "accept"})
    assert coding_of(client, "SH-01", "reimbursement_gap")["status"] == "accepted"
    assert client.post("/api/decisions/undo", json={"keys": [gap["key"]]}).json() == {"withdrawn": 1}
    assert coding_of(client, "SH-01", "reimbursement_gap")["status"] == "rejected"  # bo's decision applies again
    with Store.open(project, readonly=True) as store:
        assert [(d["reviewer"], d["decision"]) for d in store.review_decisions()] == [("bo", "reject")]
        assert store.reviewers() == ["bo"]
