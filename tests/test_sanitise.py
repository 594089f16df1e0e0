"""Outputs never run or inject user text: formulas, HTML in Markdown, rich markup, terminal
escapes, XML-illegal characters and matplotlib math, each through the CLI on a real project."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from phantomcode import ingest
from phantomcode.cli import app
from phantomcode.codebook import default_codebook_path
from phantomcode.sanitise import markdown_text, markup_text, plot_text, spreadsheet_cell, terminal_text, xml_text

FORMULA = '=HYPERLINK("http://evil.example","x")'
NOTE = (
    "The respondent said the school asked for a hukou certificate and refused to enrol her son.\f\n\n"
    "She moved from Henan in 2015 \x1b[31mand\x1b[0m works in a garment factory \x01 now.\n"
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A project whose notes, attributes, folder and codebook carry every kind of hostile text."""
    root = tmp_path_factory.mktemp("hostile")
    notes = root / "notes" / "[bold]x[/x]"
    notes.mkdir(parents=True)
    front = (
        f"---\n'{FORMULA}': yes\ncity: \"<script>alert(1)</script> [/x] $\\\\undefined$ \\f\\x01\"\n"
        "quote: '[link=http://evil.example]click[/link]'\n---\n"
    )
    (notes / "a.md").write_text(front + NOTE)
    (notes / "b.md").write_text("---\ncity: Beijing\n---\n" + NOTE)
    book = root / "book.yaml"
    shutil.copy(default_codebook_path(), book)
    text = book.read_text(encoding="utf-8")
    book.write_text(text.replace("label: Paperwork barriers", f"label: '{FORMULA}'", 1), encoding="utf-8")
    project = root / "p.db"
    ingest(root / "notes", project=project, codebook=book, jobs=1)
    return {"root": root, "project": project, "book": book}


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.slow
def test_formulas_in_csv_headers_are_guarded(hostile, tmp_path: Path) -> None:
    project = str(hostile["project"])
    for command in (
        ["export", "documents", "--format", "csv"],
        ["export", "segments", "--format", "csv"],
        ["export", "matrix", "--format", "csv"],
        ["review", "export", "--format", "csv"],
    ):
        out = tmp_path / f"{command[1]}.csv"
        invoke(*command, "-p", project, "-o", str(out))
        header = next(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        assert not any(cell.startswith("=") for cell in header), (command, header)
        if command[1] in ("documents", "export"):
            assert "'" + FORMULA in header, (command, header)


def formula_cells(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path)
    return [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]


def test_review_and_report_workbooks_hold_no_formulas_and_survive_control_characters(hostile, tmp_path) -> None:
    project, book = str(hostile["project"]), str(hostile["book"])
    invoke("review", "export", "-p", project, "-c", book, "-o", str(tmp_path / "r.xlsx"))
    invoke(
        "report",
        "-p",
        project,
        "-c",
        book,
        "--by",
        "city",
        "--quotes",
        "3",
        "--format",
        "xlsx",
        "-o",
        str(tmp_path / "t.xlsx"),
    )
    assert formula_cells(tmp_path / "r.xlsx") == [] and formula_cells(tmp_path / "t.xlsx") == []
    header = [cell.value for cell in openpyxl.load_workbook(tmp_path / "r.xlsx").worksheets[0][1]]
    assert FORMULA in header  # kept as text, so a round trip finds the column under its name


def test_markdown_report_escapes_html(hostile) -> None:
    result = invoke("report", "-p", str(hostile["project"]), "--by", "city", "--quotes", "5", "--format", "md")
    assert "<script>" not in result.stdout and "&lt;script&gt;" in result.stdout


@pytest.mark.slow
def test_rich_markup_and_escapes_in_user_text_print_verbatim(hostile, tmp_path: Path) -> None:
    project = str(hostile["project"])
    info = invoke("info", "-p", project)
    assert "[/x]" in info.stdout and "\x1b]8;" not in info.stdout
    kwic = invoke("kwic", "garment", "-p", project)
    assert "\x1b" not in kwic.stdout and "\x01" not in kwic.stdout
    folder = hostile["root"] / "notes" / "[bold]x[/x]"
    again = CliRunner().invoke(app, ["ingest", str(folder), "-p", str(tmp_path / "q.db"), "-q"])
    assert again.exception is None or isinstance(again.exception, SystemExit), again.exception
    assert "[bold]x[/x]" in again.output


def test_qdpx_export_and_png_report_survive_control_characters_and_math(hostile, tmp_path: Path) -> None:
    project = str(hostile["project"])
    invoke("export", "qdpx", "-p", project, "--include-unreviewed", "-o", str(tmp_path / "p.qdpx"))
    with zipfile.ZipFile(tmp_path / "p.qdpx") as package:
        assert "project.qde" in package.namelist()
    invoke("report", "-p", project, "--by", "city", "--format", "png", "-o", str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_sanitisers() -> None:
    assert spreadsheet_cell("=1+1") == "'=1+1" and spreadsheet_cell(3) == 3
    assert xml_text("a\fb\x01c") == "a b c"  # same length: coding offsets stay right
    assert markdown_text("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert terminal_text("a\x1b[31mb\x9bc\td\n") == "a[31mbc\td\n"
    assert markup_text("[/x] [link=y]") == "\\[/x] \\[link=y]"
    assert plot_text("$x^2$") == r"\$x^2\$"
