"""``phantomcode review export|import|stats`` and ``phantomcode agree`` through the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from note_texts import BEIJING, note  # tests/ is on the path

from phantomcode.cli import app
from phantomcode.store import Store

NOTE = note(*BEIJING, id="BJ-01", city="Beijing")


@pytest.fixture
def project(project_from) -> Path:
    return project_from({"a.md": NOTE})


def run(runner, *args: str):
    return runner.invoke(app, list(args))


@pytest.mark.slow
def test_export_to_stdout_then_import_and_stats(runner, project, tmp_path) -> None:
    result = run(runner, "review", "export", "-p", str(project), "--code", "paperwork,class_size")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["code"] for r in rows] == ["paperwork", "paperwork", "class_size"]
    assert "wrote 3 codings in 3 segments to stdout" in result.stderr
    rows[0]["decision"], rows[1]["decision"] = "accept", "reject"
    rows[2].update(decision="reject", correct_code="unexplained_refusal", note="a flat no")
    rows.append({**rows[1], "decision": "bogus"})
    sheet = tmp_path / "done.csv"
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    result = run(runner, "review", "import", str(sheet), "-p", str(project), "--reviewer", "ana")
    assert result.exit_code == 1
    assert "row 5: unknown decision 'bogus'" in result.stderr
    assert "decisions: 1 accept, 2 reject, 1 add (4 new, 0 changed, 0 unchanged)" in result.stderr

    result = run(runner, "review", "stats", "-p", str(project))
    assert result.exit_code == 0, result.output
    assert "Review: 4 decisions" in result.stdout
    line = next(text for text in result.stdout.splitlines() if "paperwork" in text)
    assert "0.50 [" in line
    result = run(runner, "review", "stats", "-p", str(project), "--format", "csv")
    stats = {r["code"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert stats["paperwork"]["accepted"] == "1" and stats["paperwork"]["rejected"] == "1"
    assert stats["unexplained_refusal"]["added"] == "1" and stats["total"]["precision"] == "0.3333"
    order = list(stats)
    assert order.index("paperwork") < order.index("class_size") < order.index("unexplained_refusal"), (
        "codes in codebook order, not alphabetical"
    )
    data = json.loads(run(runner, "review", "stats", "-p", str(project), "--format", "json").stdout)
    assert data["decisions"] == 4 and data["stale"] == []
    assert run(runner, "review", "stats", "-p", str(project), "--format", "xml").exit_code == 2

    result = run(runner, "review", "export", "-p", str(project), "--pending")
    assert [r["code"] for r in csv.DictReader(io.StringIO(result.stdout))] == ["office_runaround"]


def test_sample_to_xlsx_and_usage_errors(runner, project, tmp_path) -> None:
    result = run(
        runner,
        "review",
        "export",
        "-p",
        str(project),
        "--out",
        str(tmp_path / "s.xlsx"),
        "--sample",
        "2",
        "--seed",
        "4",
    )
    assert result.exit_code == 0, result.output
    assert "(2 of 3 segments drawn with --seed 4)" in result.stderr and (tmp_path / "s.xlsx").exists()
    assert run(runner, "review", "export", "-p", str(project), "--format", "xlsx").exit_code == 2
    result = run(runner, "review", "export", "-p", str(project), "--where", "city")
    assert result.exit_code == 2 and "write ATTR=VALUE" in result.stderr
    result = run(runner, "review", "export", "-p", str(project), "--code", "nope")
    assert result.exit_code == 2 and "unknown code 'nope'" in result.stderr
    result = run(runner, "review", "import", str(tmp_path / "missing.csv"), "-p", str(project))
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_stats_list_decisions_whose_text_changed(runner, project, tmp_path) -> None:
    key = "BJ-01:0-86:paperwork"
    (tmp_path / "d.csv").write_text(
        f"key,segment,code,decision\n{key},Some other text.,paperwork,accept\n", encoding="utf-8"
    )
    result = run(runner, "review", "import", str(tmp_path / "d.csv"), "-p", str(project))
    assert result.exit_code == 0 and "1 decision(s) point at text that changed" in result.stderr
    result = run(runner, "review", "stats", "-p", str(project))
    assert "1 decision(s) point at text that changed" in result.stderr
    assert "BJ-01:0-86 paperwork accept" in result.stderr


def test_agree_table_csv_json(runner, project, tmp_path) -> None:
    gold = tmp_path / "gold.csv"
    gold.write_text(
        "note_id,sentence,codes\n"
        "BJ-01,The principal said the school is full this year.,class_size\n"
        'BJ-01,"He had no lease in his own name, so the permit was impossible.",\n',
        encoding="utf-8",
    )
    result = run(runner, "agree", "auto", str(gold), "-p", str(project), "--reference", "gold")
    assert result.exit_code == 0, result.output
    assert "auto vs gold: 2 units (sentences of the gold file gold)" in result.stdout
    header = [line for line in result.stdout.splitlines() if line.startswith("┃")]
    assert [cell.strip() for cell in header[0].split("┃")[-4:-1]] == ["P", "R", "F1"]
    assert [cell.strip() for cell in header[1].split("┃")[-4:-1]] == ["auto"] * 3 and "overall" in result.stdout
    result = run(runner, "agree", "auto", str(gold), "-p", str(project), "--format", "csv", "--code", "paperwork")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["code"] for r in rows] == ["paperwork", "overall"]
    assert rows[0]["coded_auto"] == "1" and rows[0]["coded_gold"] == "0" and rows[0]["percent_agreement"] == "0.5"
    nothing_reviewed = run(runner, "agree", "auto", "reviewed", "-p", str(project), "--format", "json")
    assert (
        nothing_reviewed.exit_code == 2 and "none of the 3 units has a review decision yet" in nothing_reviewed.stderr
    )
    result = run(runner, "agree", "auto", "-p", str(project))
    assert result.exit_code == 2 and "at least two coders" in result.stderr
    for command in (["agree", "auto", str(gold)], ["review", "stats"], ["report"], ["export", "segments"]):
        bad = run(runner, *command, "-p", str(project), "--format", "pdf")
        assert bad.exit_code == 2 and bad.stderr.startswith("error: unknown format 'pdf'; choose one of "), command


def test_agree_with_reviewed_counts_only_decided_units_and_says_how_many(runner, project, tmp_path) -> None:
    sheet = tmp_path / "sheet.csv"
    assert run(runner, "review", "export", "-p", str(project), "-o", str(sheet)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
    assert len({r["segment"] for r in rows}) == 3
    for row in rows:  # one sentence decided (each of its codings), two pending
        row["decision"] = "reject" if row["segment"] == rows[0]["segment"] else ""
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert run(runner, "review", "import", str(sheet), "-p", str(project), "-r", "ana").exit_code == 0
    result = run(
        runner,
        "agree",
        "auto",
        "reviewed",
        "-p",
        str(project),
        "--units-from",
        str(sheet),
        "--reference",
        "reviewed",
        "-f",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["units"] == 1 and json.loads(result.stdout)["pending_units_left_out"] == 2
    assert (
        "1 units used (stored segments, restricted to segments listed in sheet.csv); 2 without a review "
        "decision yet left out" in result.stderr
    )


@pytest.mark.parametrize(
    "command", [["review"], ["review", "export"], ["review", "import"], ["review", "stats"], ["agree"]]
)
def test_every_command_has_help(runner, command) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and len(result.stdout) > 200


EN_NOTE = """---
id: EN-01
city: Beijing
---
The school demanded five documents before it would enrol her son.
The hospital asked for a stamped lease and a labour contract.
He had no hukou booklet.
"""
ZH_NOTE = "---\nid: ZH-02\ncity: Beijing\n---\n名额已满。\n"


@pytest.mark.slow
def test_a_sheet_saved_by_excel_as_gbk_is_read_as_gb18030_and_says_so(runner, project_from, tmp_path) -> None:
    project = project_from({"a.md": EN_NOTE, "b.md": ZH_NOTE})
    sheet = tmp_path / "review.csv"
    assert run(runner, "review", "export", "-p", str(project), "--code", "paperwork", "-o", str(sheet)).exit_code == 0
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbf"), "a BOM, so Excel opens the sheet as UTF-8"
    rows = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
    rows[0].update(decision="accept", note="太多")
    add = {column: "" for column in rows[0]}
    add.update(doc_id="ZH-02", segment="名额已满。", code="class_size", decision="add")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows([rows[0], add])
    sheet.write_bytes(text.getvalue().encode("gbk"))  # what Excel on Chinese Windows saves as "CSV"

    result = run(runner, "review", "import", str(sheet), "-p", str(project), "--reviewer", "ana")
    assert result.exit_code == 0, result.output
    assert "2 rows read (decoded as gb18030, not UTF-8); decisions: 1 accept, 1 add" in result.stderr
    decisions = json.loads(run(runner, "review", "stats", "-p", str(project), "-f", "json").stdout)
    with Store.open(project, readonly=True) as store:
        decided = store.review_decisions()
        assert [d["note"] for d in decided if d["note"]] == ["太多"]
        assert [(d["decision"], d["reviewer"], d["text"]) for d in decided if d["code"] == "class_size"] == [
            ("add", "ana", "名额已满。")
        ], "the add row, read intact"
        rules_code_it = len(
            [
                c
                for c in store.coding_rows(code="class_size")
                if c["doc_id"] == "ZH-02" and c["rule"] != Store.REVIEW_ADD_RULE
            ]
        )
    class_size = {row["code"]: row for row in decisions["codes"]}["class_size"]
    assert rules_code_it and (class_size["accepted"], class_size["added"]) == (1, 0), (
        "an add the rules make too confirms them: counted as accepted, not as missed"
    )


def test_a_second_reviewer_is_recorded_and_two_coders_can_be_compared(runner, project, tmp_path) -> None:
    sheet = tmp_path / "sheet.csv"
    assert run(runner, "review", "export", "-p", str(project), "-o", str(sheet)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))

    def decide(decisions: list[str]) -> None:
        for row, decision in zip(rows, decisions, strict=True):
            row["decision"] = decision
        with sheet.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    decide(["accept"] * len(rows))
    first = run(runner, "review", "import", str(sheet), "-p", str(project), "-r", "ana")
    assert f"({len(rows)} new, 0 changed, 0 unchanged)" in first.stderr
    decide(["accept"] * (len(rows) - 1) + ["reject"])
    second = run(runner, "review", "import", str(sheet), "-p", str(project), "-r", "bo")
    assert f"({len(rows)} new, 0 changed, 0 unchanged)" in second.stderr, "bo's decisions, not 'unchanged'"
    again = run(runner, "review", "import", str(sheet), "-p", str(project), "-r", "bo")
    assert f"(0 new, 0 changed, {len(rows)} unchanged)" in again.stderr

    result = run(runner, "agree", "reviewed:ana", "reviewed:bo", "-p", str(project), "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["units"] == 3 and data["pending_units_left_out"] == 0
    overall = data["codes"][-1]
    assert overall["code"] == "overall" and overall["percent_agreement"] < 1.0, "bo rejected one coding ana accepted"
