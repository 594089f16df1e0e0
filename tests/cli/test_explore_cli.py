"""``code``, ``export segments``, ``evaluate``, ``kwic`` and ``codebook stats`` on a small coded project."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from phantomcode.cli import app
from phantomcode.codebook import default_codebook_path
from phantomcode.store import Store

PAPERWORK = "The school demanded five documents before it would enrol her son."
QUIET = "She sells vegetables at the morning market."
NEGATED = "The school did not ask for any documents."


@pytest.fixture
def coded(runner, project, write_note, notes_dir) -> Path:
    write_note("a.md", f"{PAPERWORK} {QUIET}\n", id="A", city="Peking", sector="education")
    write_note("b.md", f"{QUIET} {NEGATED}\n", id="B", city="Chengdu", sector="education")
    result = runner.invoke(app, ["ingest", str(notes_dir), "-p", str(project), "--quiet"])
    assert result.exit_code == 0, result.output
    return project


@pytest.mark.slow
def test_export_segments_rows_slice_back_to_the_text(runner, coded) -> None:
    result = runner.invoke(app, ["export", "segments", "-p", str(coded)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    header = list(rows[0])
    assert header[:14] == [
        "doc_id",
        "start",
        "end",
        "text",
        "code",
        "rule",
        "matched",
        "negated",
        "hypothetical",
        "cue",
        "status",
        "segment_sector",
        "sector_source",
        "codebook_hash",
    ]
    assert {"city", "sector", "id"} <= set(header)
    with Store.open(coded, readonly=True) as store:
        texts = store.document_texts(store.doc_ids())
    for row in rows:
        assert texts[row["doc_id"]][int(row["start"]) : int(row["end"])] == row["text"]
        for words in row["matched"].split(" | "):
            assert words in row["text"]
    paperwork = [r for r in rows if r["code"] == "paperwork"]
    assert {(r["doc_id"], r["text"], r["negated"]) for r in paperwork} == {
        ("A", PAPERWORK, "FALSE"),
        ("B", NEGATED, "TRUE"),
    }
    assert paperwork[0]["city"] == "Beijing", "segment export uses the codebook's canonical city"


@pytest.mark.slow
def test_export_segments_jsonl_keeps_matched_spans(runner, coded) -> None:
    result = runner.invoke(app, ["export", "segments", "-p", str(coded), "-f", "jsonl"])
    record = next(json.loads(line) for line in result.stdout.splitlines() if '"A"' in line)
    assert record["matched"] and {"start", "end", "text", "term"} <= set(record["matched"][0])


@pytest.mark.slow
def test_code_recodes_only_what_a_codebook_change_can_affect(runner, coded, tmp_path) -> None:
    unchanged = runner.invoke(app, ["code", "-p", str(coded), "--quiet"])
    assert "re-coded 0 of 2 notes" in unchanged.output
    edited = tmp_path / "edited.yaml"
    shutil.copy(default_codebook_path(), edited)
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# a reviewer's comment\n", encoding="utf-8")
    changed = runner.invoke(app, ["code", "-p", str(coded), "--codebook", str(edited), "--quiet"])
    assert "re-coded 0 of 2 notes" in changed.output
    assert "2 notes kept their codings: the codebook change does not touch any rule" in changed.output
    remembered = runner.invoke(app, ["code", "-p", str(coded), "--quiet"])
    assert "re-coded 0 of 2 notes" in remembered.output, "the project remembers its last codebook"
    forced = runner.invoke(app, ["code", "-p", str(coded), "--force", "--quiet"])
    assert "re-coded 2 of 2 notes" in forced.output


def test_code_without_a_project_exits_2(runner, tmp_path) -> None:
    result = runner.invoke(app, ["code", "-p", str(tmp_path / "none.db"), "--quiet"])
    assert result.exit_code == 2 and "no project here yet" in result.output


@pytest.mark.slow
def test_evaluate_scores_gold_sentences(runner, coded, tmp_path) -> None:
    gold = tmp_path / "gold.csv"
    gold.write_text(
        "note_id,sentence,codes\n"
        f"A,{PAPERWORK},paperwork\nA,{QUIET},\nB,{NEGATED},\nB,{QUIET},deterred\n"
        "Z,Missing note.,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["evaluate", "--gold", str(gold), "-p", str(coded)])
    assert result.exit_code == 1, "a skipped gold row is skipped input: exit 1"
    assert "1 of 5 gold rows skipped" in result.stderr
    lines = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    }
    assert lines["paperwork"][:4] == ["1", "1", "0", "0"]
    assert lines["deterred"][:4] == ["1", "0", "0", "1"]
    assert "row 6: no stored document 'Z'" in result.output
    assert list(lines).index("paperwork") < list(lines).index("deterred"), "codes in codebook order"
    assert "rules vs 4 gold sentences" in result.stdout and "review decisions not applied" in result.stderr


@pytest.mark.slow
def test_evaluate_against_other_notes_is_one_line_and_exit_1(runner, coded, tmp_path) -> None:
    gold = tmp_path / "gold.csv"
    gold.write_text(
        "note_id,sentence,codes\n" + "".join(f"Z{n},Sentence {n}.,paperwork\n" for n in range(40)), encoding="utf-8"
    )
    result = runner.invoke(app, ["evaluate", "--gold", str(gold), "-p", str(coded)])
    assert result.exit_code == 1
    assert "none of its 40 sentences can be scored: the project has none of the 40 documents" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3 and result.stdout == ""


@pytest.mark.slow
def test_evaluate_rejects_a_gold_file_without_its_columns(runner, coded, tmp_path) -> None:
    gold = tmp_path / "gold.csv"
    gold.write_text("id,text\nA,x\n")
    result = runner.invoke(app, ["evaluate", "--gold", str(gold), "-p", str(coded)])
    assert result.exit_code == 2 and "missing note_id, sentence, codes" in result.output


@pytest.mark.slow
def test_kwic_by_code_and_by_term(runner, coded) -> None:
    by_code = runner.invoke(app, ["kwic", "--code", "paperwork", "-p", str(coded)], terminal_width=200)
    assert by_code.exit_code == 0, by_code.output
    assert "five documents" in by_code.stdout and "paperwork/" in by_code.stdout and "(negated)" in by_code.stdout
    by_term = runner.invoke(app, ["kwic", "vegeta*", "-p", str(coded)], terminal_width=200)
    assert by_term.stdout.count("vegetables") == 2 and "2 line(s)" in by_term.output
    neither = runner.invoke(app, ["kwic", "-p", str(coded)])
    assert neither.exit_code == 2 and "nothing to look for: give a TERM" in neither.stderr
    unknown = runner.invoke(app, ["kwic", "--code", "paperwrok", "-p", str(coded)])
    assert (
        unknown.exit_code == 2
        and "unknown code 'paperwrok'; valid codes: paperwork, residency_duration" in unknown.stderr
    )


@pytest.mark.slow
def test_codebook_stats_counts_terms_and_flags_silent_ones(runner, coded) -> None:
    result = runner.invoke(app, ["codebook", "stats", "-p", str(coded)], terminal_width=200)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "five documents" in line)
    assert line.split("│")[3].strip() == "1" and line.split("│")[4].strip() == "1"
    assert "(never fires)" in result.stdout
    assert "term(s) never fire in this project" in result.output
