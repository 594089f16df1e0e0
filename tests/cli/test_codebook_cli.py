"""`phantomcode codebook lint|show|test` through the real CLI."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from phantomcode.cli import app

FAILING = """\
name: failing
version: "1"
groups:
  mechanisms: [fees]
codes:
  - id: fees
    label: Fees
    definition: Extra fees for outsiders.
    terms: [jiedu fei, sponsorship]
    veto:
      terms: [for everyone]
    examples:
      positive:
        - They paid the jiedu fei.
        - The school wanted a donation.
        - The sponsorship fee is charged for everyone.
      negative:
        - A local bank paid for the sponsorship of the football team.
        - The school did not charge any jiedu fei.
"""


def test_lint_default_codebook_is_clean(runner: CliRunner) -> None:
    result = runner.invoke(app, ["codebook", "lint"])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_lint_lists_problems_with_positions_and_fails(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\nversion: '1'\nunit: page\ncodes:\n  - id: a\n    label: A\n    definition: A.\n    regex: ['(']\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["codebook", "lint", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3:7: error CB012" in result.stdout
    assert f"{path}:8:13: error CB005" in result.stdout
    assert "3 error(s)" in result.stderr  # the regex, and so no rules left (CB007)


def test_show_renders_groups_codes_and_rule_counts(runner: CliRunner) -> None:
    result = runner.invoke(app, ["codebook", "show"])
    assert result.exit_code == 0, result.output
    flat = " ".join(line.strip("│├└─ ") for line in result.stdout.splitlines())  # undo wrapping
    assert "mechanisms" in result.stdout and "consequences" in result.stdout
    assert "class_size Class size and full schools (" in flat
    assert re.search(r"class_size [^(]*\(\d+ terms, \d+ regex, 1 near; veto: \d+ terms\)", flat)
    assert result.stdout.index("mechanisms") < result.stdout.index("paperwork") < result.stdout.index("consequences")
    assert "Demands for documents" in result.stdout


def test_test_passes_on_the_default_codebook(runner: CliRunner) -> None:
    result = runner.invoke(app, ["codebook", "test"])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.stderr and "FAIL" not in result.stdout


def test_test_prints_each_failure_with_its_rule(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "failing.yaml"
    path.write_text(FAILING, encoding="utf-8")
    result = runner.invoke(app, ["codebook", "test", str(path)])
    assert result.exit_code == 1
    out = result.stdout
    assert "FAIL fees positive: 'The school wanted a donation.'" in out
    assert "no rule fired" in out
    assert "FAIL fees positive: 'The sponsorship fee is charged for everyone.'" in out
    assert "vetoed by fees/veto/terms: for everyone" in out
    assert "FAIL fees negative: 'A local bank paid for the sponsorship of the football team.'" in out
    assert "fees/terms fired on 'sponsorship'" in out
    assert "They paid the jiedu fei." not in out and "did not charge" not in out
    assert "5 examples: 2 passed, 3 failed" in result.stderr


def test_commands_report_a_broken_codebook_without_traceback(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ncodes: [", encoding="utf-8")
    for command in ("show", "test"):
        result = runner.invoke(app, ["codebook", command, str(path)])
        assert result.exit_code == 2, "a broken codebook: the command could not run"
        assert "CB001" in result.stderr and "Traceback" not in result.output


def test_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["codebook", "lint", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "cannot read codebook" in result.stderr


def test_every_codebook_command_has_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["codebook", "--help"])
    assert result.exit_code == 0
    for command in ("lint", "show", "test"):
        assert command in result.stdout
        assert runner.invoke(app, ["codebook", command, "--help"]).exit_code == 0


def test_lint_quotes_a_regex_as_written(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "rx.yaml"
    path.write_text(
        'name: x\nversion: "1"\ncodes:\n  - id: a\n    label: A\n    definition: A.\n'
        '    regex: ["\\\\d+ (", "a\\\\sb"]\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["codebook", "lint", str(path)])
    assert result.exit_code == 1
    assert "invalid regex '\\d+ (': missing )" in result.stdout and "\\\\d" not in result.stdout
