"""``phantomcode ingest`` end to end through the CLI, on real files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import docx
import pytest
from note_texts import NEUTRAL_BODY  # tests/ is on the path
from polling import documents_committed  # tests/ is on the path, as for qdpx_fixtures

from phantomcode.cli import app
from phantomcode.store import Store

BODY = NEUTRAL_BODY  # codes nothing


def stored(project: Path) -> dict[str, dict]:
    """doc_id -> {text, source, attributes} straight from the store."""
    with Store.open(project, readonly=True) as store:
        return {
            doc["doc_id"]: {"text": doc["text"], "source": doc["source"], "attributes": doc["attributes"]}
            for doc in store.iter_documents()
        }


def run(runner, *args: str):
    return runner.invoke(app, [*args, "--quiet"] if args[0] == "ingest" else list(args))


def make_docx(path: Path, *paragraphs: str) -> None:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(path)


@pytest.mark.slow
def test_ingest_stores_bodies_attributes_and_ids(runner, project, notes_dir, write_note) -> None:
    write_note("beijing/a.md", BODY, id="BJ-01", city="Beijing", year="2019", sector="education")
    write_note("chengdu/b.txt", "No front matter here.\n")
    make_docx(notes_dir / "docx" / "c.docx", "First paragraph.", "Second paragraph.")
    (notes_dir / "docx" / "metadata.csv").write_text("file,id,city\nc.docx,DG-01,Dongguan\n")
    result = run(runner, "ingest", str(notes_dir), "--project", str(project))
    assert result.exit_code == 0, result.output
    docs = stored(project)
    assert set(docs) == {"BJ-01", "chengdu/b", "DG-01"}
    assert docs["BJ-01"]["text"] == BODY
    assert docs["BJ-01"]["attributes"] == {"id": "BJ-01", "city": "Beijing", "year": "2019", "sector": "education"}
    assert docs["DG-01"] == {
        "text": "First paragraph.\n\nSecond paragraph.",
        "source": "docx/c.docx",
        "attributes": {"id": "DG-01", "city": "Dongguan"},
    }
    assert "3 note files" in result.output and "3 added" in result.output


@pytest.mark.slow
def test_metadata_precedence_and_path_template(runner, project, notes_dir, write_note) -> None:
    write_note("Shanghai/official/a.md", BODY, city="Shanghai ", sector="hukou")
    write_note("Shanghai/official/b.md", BODY)
    (notes_dir / "metadata.csv").write_text(
        "file,city,sector,year\nShanghai/official/a.md,Wuhan,education,2020\nShanghai/official/b.md,,healthcare,2021\n"
    )
    result = run(runner, "ingest", str(notes_dir), "-p", str(project), "--path-attrs", "{city}/{respondent_type}")
    assert result.exit_code == 0, result.output
    docs = stored(project)
    assert docs["Shanghai/official/a"]["attributes"] == {
        "city": "Shanghai",
        "sector": "hukou",
        "year": "2020",
        "respondent_type": "official",
    }
    assert docs["Shanghai/official/b"]["attributes"] == {
        "city": "Shanghai",
        "sector": "healthcare",
        "year": "2021",
        "respondent_type": "official",
    }


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "gb18030"])
def test_encodings_are_detected_and_stored_as_nfc_text(runner, project, notes_dir, write_note, encoding) -> None:
    body = "学校要求五证：户口本、暂住证、租房合同、劳动合同和老家的证明。\r\n她说没有办法。\r\n"
    write_note("zh.txt", body, encoding=encoding, id="ZH-1", city="北京")
    result = run(runner, "ingest", str(notes_dir), "-p", str(project))
    assert result.exit_code == 0, result.output
    doc = stored(project)["ZH-1"]
    assert doc["text"] == body.replace("\r\n", "\n")
    assert doc["attributes"]["city"] == "北京"


@pytest.mark.slow
def test_bad_inputs_are_skipped_named_and_the_rest_stored(runner, project, notes_dir, write_note) -> None:
    write_note("good.md", BODY, id="G-1")
    write_note("dup_a.md", BODY, id="DUP")
    write_note("dup_b.md", "Another body.\n", id="DUP")
    (notes_dir / "empty.txt").write_bytes(b"")
    (notes_dir / "binary.txt").write_bytes(b"\x00\x01\x02GIF89a\x00\xff" * 20)
    (notes_dir / "undecodable.txt").write_bytes(b"\xff\xfe\x00\xd8\x41")
    (notes_dir / "frontmatter.md").write_text("---\ncity: [Beijing\n---\nBody.\n")
    (notes_dir / "unsafe.md").write_text("---\nx: !!python/object/apply:os.system ['echo pwned']\n---\nBody.\n")
    (notes_dir / "corrupt.docx").write_bytes(b"PK\x03\x04garbage")
    (notes_dir / "huge.txt").write_text("word " * 400_000)
    result = run(runner, "ingest", str(notes_dir), "-p", str(project), "--max-size", "1")
    assert result.exit_code == 1
    assert set(stored(project)) == {"G-1", "DUP"}
    assert stored(project)["DUP"]["text"] == BODY
    expected = {
        "empty.txt": "empty file",
        "binary.txt": "binary",
        "undecodable.txt": "utf-16",
        "frontmatter.md": "at line 2",
        "unsafe.md": "not allowed",
        "corrupt.docx": "docx",
        "huge.txt": "limit",
        "dup_b.md": "duplicate id 'DUP': dup_a.md already has it",
    }
    skipped = result.output.split("skipped:")[1]
    for name, reason in expected.items():
        line = next(line for line in skipped.splitlines() if line.strip().startswith(name + ":"))
        assert reason in line, line
    assert "pwned" not in result.output


@pytest.mark.slow
def test_permission_denied_note_is_skipped(runner, project, notes_dir, write_note, monkeypatch) -> None:
    write_note("ok.md", BODY)
    secret = write_note("secret.md", BODY)
    original = os.open

    def guarded(path, *args, **kwargs) -> int:  # tests run as root, where chmod 000 would not stop a read
        if os.fspath(path) == os.fspath(secret):
            raise PermissionError(13, "Permission denied")
        return original(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)
    result = run(runner, "ingest", str(notes_dir), "-p", str(project))
    assert result.exit_code == 1
    assert "secret.md: permission denied" in result.output
    assert set(stored(project)) == {"ok"}


@pytest.mark.slow
def test_reingest_is_incremental_and_reports_vanished_files(runner, project, notes_dir, write_note) -> None:
    write_note("a.md", BODY, city="Beijing")
    write_note("b.md", BODY, city="Chengdu")
    write_note("c.md", BODY, city="Dongguan")
    assert run(runner, "ingest", str(notes_dir), "-p", str(project)).exit_code == 0
    first = stored(project)

    again = run(runner, "ingest", str(notes_dir), "-p", str(project))
    assert "0 added, 0 updated, 0 re-coded, 3 unchanged" in again.output
    assert stored(project) == first

    write_note("a.md", BODY + "A new paragraph.\n", city="Beijing")
    (notes_dir / "c.md").unlink()
    changed = run(runner, "ingest", str(notes_dir), "-p", str(project))
    assert "0 added, 1 updated, 0 re-coded, 1 unchanged" in changed.output
    assert "1 stored notes have vanished" in changed.output and "c.md" in changed.output
    assert stored(project)["a"]["text"].endswith("A new paragraph.\n")
    assert "c" in stored(project)

    pruned = run(runner, "ingest", str(notes_dir), "-p", str(project), "--prune")
    assert "removed (1)" in pruned.output
    assert set(stored(project)) == {"a", "b"}


@pytest.mark.slow
def test_sidecar_change_updates_attributes(runner, project, notes_dir, write_note) -> None:
    write_note("a.txt", BODY)
    (notes_dir / "metadata.csv").write_text("file,city\na.txt,Beijing\n")
    run(runner, "ingest", str(notes_dir), "-p", str(project))
    (notes_dir / "metadata.csv").write_text("file,city\na.txt,Hangzhou\n")
    result = run(runner, "ingest", str(notes_dir), "-p", str(project))
    assert "1 updated" in result.output
    assert stored(project)["a"]["attributes"] == {"city": "Hangzhou"}


@pytest.mark.slow
def test_duplicate_of_a_note_stored_from_another_folder_is_skipped(runner, project, tmp_path, write_note) -> None:
    write_note("a.md", BODY, id="X-1")
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.md").write_text("---\nid: X-1\n---\nA different note.\n")
    assert run(runner, "ingest", str(tmp_path / "notes"), "-p", str(project)).exit_code == 0
    result = run(runner, "ingest", str(other), "-p", str(project))
    assert result.exit_code == 1
    assert "duplicate id 'X-1': already stored from" in result.output
    assert stored(project)["X-1"]["text"] == BODY


def test_usage_errors_exit_2_without_traceback(runner, tmp_path, notes_dir, write_note) -> None:
    missing = run(runner, "ingest", str(tmp_path / "nope"), "-p", str(tmp_path / "p.db"))
    assert missing.exit_code == 2 and "no such folder" in missing.output
    write_note("a.md", BODY)
    not_a_project = tmp_path / "notes.docx"
    not_a_project.write_bytes(b"PK\x03\x04" + b"x" * 2000)
    bad = run(runner, "ingest", str(notes_dir), "-p", str(not_a_project))
    assert bad.exit_code == 2 and "not a phantomcode project" in bad.output
    assert "Traceback" not in missing.output + bad.output


def test_second_writer_fails_with_a_clear_message(runner, project, notes_dir, write_note, monkeypatch) -> None:
    write_note("a.md", BODY)
    monkeypatch.setenv("PHANTOMCODE_LOCK_TIMEOUT", "0.2")
    with Store.open(project) as holder, holder.writer():
        result = run(runner, "ingest", str(notes_dir), "-p", str(project))
    assert result.exit_code == 2
    assert "another phantomcode command is writing this project" in result.output


@pytest.mark.slow
def test_export_documents_jsonl_and_csv(runner, project, notes_dir, write_note, tmp_path) -> None:
    write_note("a.md", '=HYPERLINK("x") starts this note.\n', id="A", city="Beijing")
    write_note("b.md", BODY, id="B", sector="healthcare")
    run(runner, "ingest", str(notes_dir), "-p", str(project))
    result = runner.invoke(app, ["export", "documents", "-p", str(project), "--format", "jsonl"])
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0] == {
        "doc_id": "A",
        "text": '=HYPERLINK("x") starts this note.\n',
        "source": "a.md",
        "id": "A",
        "city": "Beijing",
    }
    out = tmp_path / "docs.csv"
    assert runner.invoke(app, ["export", "documents", "-p", str(project), "-f", "csv", "-o", str(out)]).exit_code == 0
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["doc_id", "text", "source", "city", "id", "sector"]
    assert rows[0]["text"].startswith("'=HYPERLINK")
    assert rows[1]["text"] == BODY and rows[1]["sector"] == "healthcare" and rows[1]["city"] == ""


@pytest.mark.slow
def test_info_lists_attributes_and_last_run(runner, project, notes_dir, write_note) -> None:
    write_note("a.md", BODY, city="Beijing")
    write_note("b.md", BODY, city="Beijing")
    write_note("c.md", BODY, city="Chengdu")
    run(runner, "ingest", str(notes_dir), "-p", str(project))
    result = runner.invoke(app, ["info", "-p", str(project)])
    assert result.exit_code == 0, result.output
    assert "3 documents" in result.stdout
    assert "last run: ingest completed" in result.stdout
    cells = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in result.stdout.splitlines()
        if "Beijing" in line or "Chengdu" in line
    ]
    assert cells == [["city", "Beijing", "2"], ["", "Chengdu", "1"]]


@pytest.mark.slow  # kills a separate phantomcode process
def test_sigkill_mid_ingest_then_rerun_stores_each_note_once(tmp_path, notes_dir, write_note) -> None:
    total = 1500
    for number in range(total):
        write_note(
            f"n{number:04d}.md",
            f"Note {number}. The school asked for a lease and a labour contract.\n" * 5,
            city="Beijing",
        )
    project = tmp_path / "p.db"
    command = [
        sys.executable,
        "-m",
        "phantomcode",
        "ingest",
        str(notes_dir),
        "-p",
        str(project),
        "--quiet",
        "--jobs",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    committed = _wait_for_documents(project, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 0 < committed < total, "the kill must land mid-run for this test to mean anything"
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    with sqlite3.connect(project) as connection:  # SQLite's own check of the file, not of the schema
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store.open(project, readonly=True) as store:
        states = store.stored_states().values()
        assert (len(states), len({state.source for state in states})) == (total, total)
        keys = [(c["doc_id"], c["start"], c["end"], c["code"]) for c in store.coding_rows()]
        assert len(keys) == len(set(keys)), "no coding is stored twice"
        assert all(state.coded_with is not None for state in states)
        statuses = [run.status for run in store.runs()]
    assert statuses == ["interrupted", "completed"]


def _wait_for_documents(project: Path, process: subprocess.Popen, timeout: float = 120) -> int:
    """Poll until the running ingest has committed at least one batch; return the count seen."""
    count = documents_committed(project, process, timeout)
    if not count:
        pytest.fail("ingest ended or stalled before committing a batch")
    return count


PLANTED = "The respondent gave her number 13812345678 and said Mr. Wang at the school refused.\n"


@pytest.mark.slow
def test_pii_warn_stores_and_lists_masked_identifiers(runner, project, notes_dir, write_note) -> None:
    write_note("a.md", PLANTED, city="Beijing")
    result = run(runner, "ingest", str(notes_dir), "-p", str(project))
    assert result.exit_code == 0
    assert "a.md:line 4: possible mobile number 138****5678" in result.output
    assert "possible name after a title W***" in result.output
    assert "13812345678" not in result.output and "Wang" not in result.output
    assert stored(project)["a"]["text"] == PLANTED


@pytest.mark.slow
def test_pii_block_skips_the_note(runner, project, notes_dir, write_note) -> None:
    write_note("a.md", PLANTED)
    write_note("b.md", BODY)
    result = run(runner, "ingest", str(notes_dir), "-p", str(project), "--pii", "block")
    assert result.exit_code == 1
    assert "a.md: likely identifiers" in result.output
    assert set(stored(project)) == {"b"}


@pytest.mark.slow
def test_pii_redact_stores_placeholders_and_leaves_the_source_alone(runner, project, notes_dir, write_note) -> None:
    source = write_note("a.md", PLANTED, interviewer="Ms. Zhao")
    before = source.read_bytes()
    assert run(runner, "ingest", str(notes_dir), "-p", str(project)).exit_code == 0
    result = run(runner, "ingest", str(notes_dir), "-p", str(project), "--pii", "redact")
    assert result.exit_code == 0 and "1 updated" in result.output, "a new --pii mode re-reads unchanged files"
    doc = stored(project)["a"]
    assert doc["text"] == "The respondent gave her number [PHONE] and said Mr. [NAME] at the school refused.\n"
    assert doc["attributes"]["interviewer"] == "Ms. [NAME]"
    assert source.read_bytes() == before


def test_pii_scan_command_lists_findings_and_exits_1(runner, notes_dir, write_note) -> None:
    write_note("clean.md", BODY)
    write_note("sub/planted.txt", "Write to someone@example.org.\n")
    result = runner.invoke(app, ["pii-scan", str(notes_dir)])
    assert result.exit_code == 1
    assert result.stdout.strip() == "sub/planted.txt:line 1: possible e-mail address s***@example.org"
    (notes_dir / "sub" / "planted.txt").unlink()
    assert runner.invoke(app, ["pii-scan", str(notes_dir)]).exit_code == 0


@pytest.mark.slow
def test_full_disk_stops_cleanly_and_the_store_stays_intact(
    runner, project, notes_dir, write_note, monkeypatch
) -> None:
    for number in range(300):
        write_note(f"n{number:03d}.md", "The school asked for a lease and five documents. " * 30, city="Beijing")
    original = Store._connect

    def small_disk(path, readonly, **options):
        connection = original(path, readonly, **options)
        connection.execute("PRAGMA max_page_count = 400")  # SQLite then reports 'database or disk is full'
        return connection

    monkeypatch.setattr(Store, "_connect", staticmethod(small_disk))
    # rules only: the learned layer's default model alone would take most of the 400 pages
    full = run(runner, "ingest", str(notes_dir), "-p", str(project), "--jobs", "1", "--rules-only")
    assert full.exit_code == 2
    assert "disk is full" in full.output and "Traceback" not in full.output
    monkeypatch.setattr(Store, "_connect", staticmethod(original))
    with sqlite3.connect(project) as connection:  # SQLite's own check of the file, not of the schema
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store.open(project, readonly=True) as store:
        kept = store.count_documents()
    assert 0 < kept < 300 and kept % 64 == 0, "whole batches only"
    again = run(runner, "ingest", str(notes_dir), "-p", str(project), "--jobs", "1")
    assert again.exit_code == 0, again.output
    assert f"{300 - kept} added" in again.output and f"{kept} unchanged" in again.output


@pytest.mark.slow
def test_project_from_a_newer_phantomcode_is_refused(runner, project, notes_dir, write_note) -> None:
    write_note("a.md", BODY)
    assert run(runner, "ingest", str(notes_dir), "-p", str(project)).exit_code == 0
    with sqlite3.connect(project) as connection:
        connection.execute("PRAGMA user_version = 99")
    for command in (["ingest", str(notes_dir)], ["info"], ["export", "documents"]):
        result = runner.invoke(app, [*command, "-p", str(project)])
        assert result.exit_code == 2 and "written by a newer phantomcode" in result.output


def test_a_folder_without_notes_names_what_it_holds_and_exits_1(runner, project, notes_dir) -> None:
    for name in ("a.pdf", "b.pdf", "c.doc", ".hidden.txt"):
        (notes_dir / name).write_bytes(b"%PDF-1.4")
    result = runner.invoke(app, ["ingest", str(notes_dir), "-p", str(project), "--quiet"])
    assert result.exit_code == 1
    assert f"{notes_dir}: no note files to ingest (2 .pdf, 1 .doc; ignored)" in result.stderr
    assert ".docx, .markdown, .md, .txt" in result.stderr
    assert not project.exists() and not Path(f"{project}.lock").exists()
