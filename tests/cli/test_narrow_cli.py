"""Tables in a terminal of 80 and 120 columns: every cell whole, one line per row, words unbroken."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.cells import cell_len

from phantomcode import Project
from phantomcode.cli import _console, explore
from phantomcode.cli.report import _render
from phantomcode.report import build_report

GOLD = Path(__file__).resolve().parents[2] / "sample_data" / "gold.csv"


@pytest.fixture(scope="session")
def sample(sample_db: Path) -> Path:
    return sample_db


def terminal(width: int) -> _console.DataConsole:
    return _console.DataConsole(
        file=io.StringIO(), width=width, force_terminal=True, color_system=None, highlight=False, soft_wrap=True
    )


def assert_fits(text: str, width: int) -> None:
    assert max(cell_len(line) for line in text.splitlines()) <= width
    assert "…" not in text, "no cell is cut"


@pytest.mark.slow
@pytest.mark.parametrize("width", [80, 120])
def test_the_report_fits_without_cut_cells_or_broken_words(sample, width) -> None:
    opened = Project(sample)
    report = build_report(opened.path, opened.codebook(), by=["city"])
    console = terminal(width)
    _render(report, console)
    text = console.file.getvalue()
    assert_fits(text, width)
    words = text.split()
    for line in report.description():
        assert all(word in words for word in line.split()), line  # wrapped between words, not inside one
    matrix = next(table for table in report.tables() if table.kind == "matrix")
    parts = text.split("Documents by city")[1:]
    assert (len(parts) > 1) == (width == 80), "split only when the whole matrix cannot fit"
    for row in matrix.rows:  # one line per row in each part, together every cell of the row, whole
        shown = [
            word
            for part in parts
            for line in part.splitlines()
            for word in _words(line)[1:]
            if _words(line)[:1] == [str(row[0])]
        ]
        assert shown == " ".join(str(cell) for cell in row[1:]).split(), row[0]


def _words(line: str) -> list[str]:
    return line.replace("│", " ").replace("┃", " ").split()


@pytest.mark.slow
@pytest.mark.parametrize("width", [80, 120])
def test_evaluate_and_kwic_fit(sample, width, monkeypatch, capsys) -> None:
    console = terminal(width)
    monkeypatch.setattr(_console, "out", console)
    explore.evaluate_command(gold=GOLD, with_decisions=False, project=sample, codebook=None)
    table = console.file.getvalue()
    assert_fits(table, width)
    assert "precision" in table and "recall" in table and "kappa" in table, "headers whole"
    console.file.truncate(0), console.file.seek(0)
    explore.kwic_command(term=None, code="paperwork", width=60, limit=12, project=sample, codebook=None)
    hits = console.file.getvalue().splitlines()
    assert max(cell_len(line) for line in hits) <= width
    assert len(hits) == 13, "a header and one line per hit"
    assert "12 line(s)" in capsys.readouterr().err


@pytest.mark.parametrize("width", [80, 120])
def test_agree_and_review_stats_fit(sample, width, monkeypatch, capsys) -> None:
    from phantomcode.cli import agree, review

    console = terminal(width)
    monkeypatch.setattr(_console, "out", console)
    agree.agree_command(
        coders=["auto", str(GOLD)],
        reference="gold",
        code=None,
        units_from=None,
        fmt="table",
        project=sample,
        codebook=None,
    )
    review.stats_command(fmt="table", project=sample, codebook=None)
    text = console.file.getvalue()
    assert_fits(text, width)
    assert "reimbursement_gap" in text and "unexplained_refusal" in text, "code IDs whole"
