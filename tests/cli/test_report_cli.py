"""``phantomcode report`` and ``phantomcode report cooccurrence`` through the real CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from phantomcode import Project
from phantomcode.cli import app
from phantomcode.report import TIDY_COLUMNS

CITIES = ["Beijing", "Chengdu", "Shanghai", "Guangzhou", "Hangzhou", "Dongguan"]


@pytest.fixture(scope="session")
def sample(sample_db: Path) -> Path:
    return sample_db


def report(runner: CliRunner, sample: Path, *args: str):
    return runner.invoke(app, ["report", *args, "--project", str(sample)])


def test_default_report_shows_each_city_then_the_code_by_city_matrix(runner: CliRunner, sample: Path) -> None:
    result = report(runner, sample)
    assert result.exit_code == 0, result.output
    text = result.stdout
    project = Project(sample)
    codes = project.codebook().code_ids()
    tidy = project.matrix(tidy=True)
    groups = tidy.drop_duplicates("city")
    positions = [
        text.index(f"{city} (N = {n})") for city, n in zip(groups["city"], groups["group_documents"], strict=True)
    ]
    assert positions == sorted(positions) and list(groups["city"]) == CITIES
    assert text.index("Documents by city") > positions[-1]
    assert all(text.count(code) >= len(CITIES) + 1 for code in codes)
    first = tidy.iloc[0]  # Beijing's first code: documents, share and segments in its row
    row = next(line for line in text[positions[0] :].splitlines() if f" {first.code} " in line)
    assert [cell.strip() for cell in row.split("│")[3:6]] == [
        str(first.documents),
        f"{first.share:.0%}",
        str(first.segments),
    ]
    assert "Counted:" in text and result.stderr == ""


def test_csv_to_stdout_is_the_tidy_table(runner: CliRunner, sample: Path) -> None:
    result = report(runner, sample, "--format", "csv", "--by", "city", "--by", "sector", "--codes", "paperwork")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["city", "sector", *TIDY_COLUMNS]
    expected = Project(sample).matrix(by=["city", "sector"], codes="paperwork", tidy=True)
    assert [(r["city"], r["sector"], int(r["documents"])) for r in rows] == list(
        zip(expected["city"], expected["sector"], expected["documents"], strict=True)
    )


def test_where_measure_and_wide_reach_the_output(runner: CliRunner, sample: Path) -> None:
    result = report(
        runner,
        sample,
        "-f",
        "json",
        "--wide",
        "--measure",
        "segments",
        "--where",
        "city=beijing",
        "--where",
        "city=Chengdu",
        "--group",
        "consequences",
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    expected = Project(sample).matrix(measure="segments", group="consequences", where={"city": ["Beijing", "Chengdu"]})
    assert [r["code"] for r in records] == list(expected.index)
    assert [[r["Beijing"], r["Chengdu"]] for r in records] == expected.to_numpy().tolist()
    assert set(records[0]) == {"code", "Beijing", "Chengdu"}


@pytest.mark.parametrize(
    ("args", "message", "valid"),
    [
        (["--by", "province"], "unknown attribute 'province'", "city, id, interviewer, respondent_type, sector, year"),
        (["--codes", "paperwork,papers"], "unknown code 'papers'", "paperwork, residency_duration"),
        (["--group", "mechanism"], "unknown code group 'mechanism'", "mechanisms, consequences"),
        (["--where", "city=Wuhan"], "no document has this value", "Beijing (9)"),
        (["--where", "city"], "write ATTR=VALUE", "--where city=Beijing"),
        (["--measure", "words"], "unknown measure 'words'", "documents, segments"),
        (["--status", "auto"], "unknown status 'auto'", "accepted"),
        (["--format", "pdf"], "unknown format 'pdf'", "table, csv, json, xlsx, md, html, png"),
        (["--wide"], "--wide goes with --format csv or json", "csv"),
        (["--format", "csv", "--quotes", "2"], "no place for quotes", "html"),
    ],
)
def test_bad_options_exit_2_naming_the_valid_choices(runner: CliRunner, sample: Path, args, message, valid) -> None:
    result = report(runner, sample, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and valid in result.stderr
    assert result.stdout == "" and "Traceback" not in result.output


@pytest.mark.slow
def test_out_suffix_chooses_the_format_and_files_are_written(runner: CliRunner, sample: Path, tmp_path: Path) -> None:
    for name in ("r.xlsx", "r.png", "r.html", "r.md", "r.csv", "r.json", "r.txt"):
        result = report(runner, sample, "--out", str(tmp_path / name), "--codes", "paperwork,deterred")
        assert result.exit_code == 0, result.output
        assert result.stdout == "" and f"to {tmp_path / name}" in result.stderr
    assert openpyxl.load_workbook(tmp_path / "r.xlsx")["quotes"].max_row > 1  # xlsx and html get quotes by default
    assert "<blockquote>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# Codes by city")
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").startswith("city,code,documents")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))[0]["code"] == "paperwork"
    assert "Documents by city" in (tmp_path / "r.txt").read_text(encoding="utf-8")


def test_binary_formats_can_go_to_a_redirected_stdout(runner: CliRunner, sample: Path) -> None:
    result = report(runner, sample, "--format", "png", "--codes", "paperwork")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes[:8] == b"\x89PNG\r\n\x1a\n"


def test_quotes_are_listed_with_their_doc_ids(runner: CliRunner, sample: Path) -> None:
    result = report(runner, sample, "--quotes", "1", "--codes", "paperwork", "--where", "city=Beijing")
    assert result.exit_code == 0, result.output
    quote = Project(sample).quotes("paperwork", where={"city": "Beijing"}, n=1).iloc[0]
    assert "Quotes" in result.stdout and quote.doc_id in result.stdout
    assert quote.text[:8] in result.stdout


def test_status_accepted_counts_only_accepted_codings(runner: CliRunner, sample: Path) -> None:
    result = report(runner, sample, "--status", "accepted", "-f", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and all(row["documents"] == "0" and row["segments"] == "0" for row in rows)  # nothing reviewed yet
    assert "only codings accepted in review" in report(runner, sample, "--status", "accepted").stdout


def test_cooccurrence_shows_documents_and_segments(runner: CliRunner, sample: Path) -> None:
    result = report(runner, sample, "cooccurrence", "--group", "consequences")
    assert result.exit_code == 0, result.output
    assert "Co-occurrence in documents" in result.stdout and "Co-occurrence in segments" in result.stdout
    result = report(runner, sample, "cooccurrence", "-f", "csv", "--codes", "paperwork,deterred")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["code_a"], r["code_b"]) for r in rows] == [
        ("paperwork", "paperwork"),
        ("paperwork", "deterred"),
        ("deterred", "paperwork"),
        ("deterred", "deterred"),
    ]
    assert rows[1]["documents"] == rows[2]["documents"] and rows[1]["segments"] == rows[2]["segments"]
    wide = report(runner, sample, "cooccurrence", "-f", "csv", "--wide", "--codes", "paperwork,deterred")
    assert wide.stdout.splitlines()[0] == "code,paperwork,deterred"
    bad = report(runner, sample, "cooccurrence", "--codes", "nope")
    assert bad.exit_code == 2 and "valid codes" in bad.stderr


def test_options_before_the_sub_command_apply_to_it(runner: CliRunner, sample: Path) -> None:
    result = runner.invoke(
        app,
        [
            "report",
            "--project",
            str(sample),
            "--format",
            "csv",
            "--wide",
            "--codes",
            "paperwork,deterred",
            "cooccurrence",
            "--measure",
            "segments",
        ],
    )
    assert result.exit_code == 0, result.output
    expected = Project(sample).cooccurrence(measure="segments", codes=["paperwork", "deterred"])
    assert result.stdout.splitlines() == [
        "code,paperwork,deterred",
        *(f"{code},{','.join(str(v) for v in expected.loc[code])}" for code in expected.index),
    ]
    refused = runner.invoke(app, ["report", "--project", str(sample), "--by", "sector", "cooccurrence"])
    assert refused.exit_code == 2 and "do not apply" in refused.stderr


def test_report_commands_have_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "--help"])
    assert result.exit_code == 0 and "cooccurrence" in result.stdout
    for option in (
        "--by",
        "--codes",
        "--group",
        "--where",
        "--measure",
        "--quotes",
        "--status",
        "--format",
        "--out",
        "--wide",
    ):
        assert option in result.stdout
    result = runner.invoke(app, ["report", "cooccurrence", "--help"])
    assert result.exit_code == 0 and "diagonal" in result.stdout
    assert "report" in runner.invoke(app, ["--help"]).stdout
