"""The library's edges (issue 17, part 2): it takes parsed objects, writes only where it is told,
names options without their flags, and reports problems as one type; ``cli/`` does the rest."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phantomcode import Project
from phantomcode.cli import app
from phantomcode.cli._parsing import flag_worded, parse_where, split_codes
from phantomcode.dictionaries import import_codebook
from phantomcode.errors import CodebookError, OptionError, Problem, UsageError
from phantomcode.export import export_documents, export_matrix, export_segments
from phantomcode.report import build_cooccurrence, build_report, write_report

PACKAGE = Path(__file__).resolve().parents[1] / "phantomcode"
NOTE = "---\nid: BJ-01\ncity: Beijing\n---\nThe school asked for the five documents before it would enrol him.\n"


@pytest.fixture
def small(project_from) -> Project:
    return Project(project_from({"bj.md": NOTE}))


def test_cli_parses_where_and_code_lists_the_library_takes_them_parsed() -> None:
    assert parse_where(["city=Beijing", "city = Chengdu", "sector=education"]) == {
        "city": ["Beijing", "Chengdu"],
        "sector": ["education"],
    }
    assert split_codes(["a,b", " c ", ""]) == ["a", "b", "c"] and split_codes(None) == []
    with pytest.raises(UsageError, match="--where 'city': write ATTR=VALUE"):
        parse_where(["city"])
    import phantomcode.report as report

    assert not hasattr(report, "parse_where") and not hasattr(report, "split_codes")


@pytest.mark.slow
def test_a_comma_list_is_one_unknown_code_for_the_library(small: Project) -> None:
    with pytest.raises(UsageError, match="unknown code 'paperwork,deterred'"):
        small.matrix(codes="paperwork,deterred")
    assert list(small.matrix(codes=["deterred", "paperwork"]).index) == ["paperwork", "deterred"]


def test_library_messages_name_the_option_the_cli_names_the_flag(small: Project, runner: CliRunner) -> None:
    with pytest.raises(OptionError) as caught:
        small.matrix(where={"city": "Wuhan"})
    message = str(caught.value)
    assert message.startswith("where city=Wuhan: no document has this value") and "--" not in message
    assert flag_worded(caught.value).startswith("--where city=Wuhan: no document has this value")
    result = runner.invoke(app, ["report", "-p", str(small.path), "--where", "city=Wuhan"])
    assert result.exit_code == 2 and "error: --where city=Wuhan: no document has this value" in result.stderr


@pytest.mark.parametrize(
    ("args", "flagged"),
    [
        (["export", "matrix", "--status", "bogus"], "--status 'bogus': use accepted"),
        (["kwic"], "or --code ID (the matched words of a code), e.g. kwic --code paperwork"),
        (["kwic", "hukou", "--code", "paperwork"], "give either --code ID or a TERM, not both"),
        (["report", "-o", "report.pdf"], "give --format (table, csv, json, xlsx, md, html, png)"),
        (["agree", "auto", "auto", "--reference", "zed"], "--reference 'zed' is not one of the coders"),
    ],
)
def test_every_option_error_reaches_the_user_with_its_flag(
    small: Project, runner: CliRunner, args: list[str], flagged: str
) -> None:
    result = runner.invoke(app, [*args, "-p", str(small.path)])
    assert result.exit_code == 2 and flagged in result.stderr, result.stderr


def test_option_error_words_the_option_as_asked() -> None:
    error = OptionError("{option} 'x': choose one of a, b; or leave {option} out", option="pii")
    assert str(error) == "pii 'x': choose one of a, b; or leave pii out"
    assert flag_worded(error) == "--pii 'x': choose one of a, b; or leave --pii out"
    assert isinstance(error, UsageError) and error.exit_code == 2


def test_reports_are_written_only_where_they_are_told(small: Project, tmp_path: Path, capsys) -> None:
    report = build_report(small.path, small.codebook(), by="city")
    text = io.StringIO()
    assert write_report(report, fmt="csv", out=text) == []
    binary = io.BytesIO()
    write_report(build_cooccurrence(small.path, small.codebook()), fmt="xlsx", out=binary)
    write_report(report, fmt="md", out=tmp_path / "report.md")
    assert capsys.readouterr().out == ""
    assert text.getvalue().startswith("city,code,documents,segments,group_documents,share\n")
    assert binary.getvalue()[:2] == b"PK" and (tmp_path / "report.md").read_text(encoding="utf-8").startswith("# ")


def test_exports_are_written_only_where_they_are_told(small: Project, capsys) -> None:
    documents, segments, matrix = io.StringIO(), io.StringIO(), io.StringIO()
    assert export_documents(project=small.path, out=documents, fmt="jsonl") == 1
    assert export_segments(project=small.path, out=segments) >= 1
    assert export_matrix(project=small.path, out=matrix) == 1
    assert capsys.readouterr().out == ""
    assert '"doc_id": "BJ-01"' in documents.getvalue() and segments.getvalue().startswith("doc_id,start,end,")
    assert matrix.getvalue().splitlines()[1].startswith("BJ-01,")


def test_the_cli_still_sends_data_to_stdout(small: Project, runner: CliRunner) -> None:
    report = runner.invoke(app, ["report", "-p", str(small.path), "-f", "csv"])
    documents = runner.invoke(app, ["export", "documents", "-p", str(small.path), "-o", "-"])
    assert report.exit_code == 0 and report.stdout.startswith("city,code,documents,")
    assert documents.exit_code == 0 and documents.stdout.startswith("doc_id,text,source,")


def test_reports_do_not_import_the_project_module() -> None:
    code = "import sys, phantomcode.report; print('phantomcode.project' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert shown.stdout.strip() == "False", "build_report takes (path, codebook): no report -> project import"


def test_dictionary_problems_are_problems_as_codebook_lint_gives(tmp_path: Path) -> None:
    path = tmp_path / "bad.dic"
    path.write_text("%\n1\tfunct\n%\nlonely\n", encoding="utf-8")
    with pytest.raises(CodebookError) as caught:
        import_codebook(path)
    [problem] = caught.value.problems
    assert isinstance(problem, Problem) and (problem.line, problem.column, problem.rule) == (4, None, None)
    assert str(problem) == f"{path}:4: 'lonely' has no category numbers"
    assert str(Problem("book.yaml", 3, 7, "CB012", "error", "bad unit")) == "book.yaml:3:7: error CB012 bad unit"


def test_a_chinese_dictionary_category_gets_a_pinyin_id_as_the_readme_says(tmp_path: Path) -> None:
    path = tmp_path / "words.dic"
    path.write_text("%\n1\t户口\n2\t123\n%\n户口本\t1\nform\t2\n", encoding="utf-8")
    imported = import_codebook(path)
    assert "  - id: hukou\n" in imported.text and "  - id: c_123\n" in imported.text


@pytest.mark.parametrize("module", ["report", "codebook", "qda"])
def test_the_split_modules_stay_under_600_lines(module: str) -> None:
    files = sorted((PACKAGE / module).glob("*.py"))
    assert files and not (PACKAGE / f"{module}.py").exists()
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in files}
    assert max(sizes.values()) < 600, sizes
