"""Every command has help text and a row in the README's command reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from phantomcode.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every (path, command) below ``command``; a group that runs on its own counts as a command too."""
    paths = []
    if hasattr(command, "commands"):  # a group (typer ships its own copy of click's classes)
        for name, sub in command.commands.items():
            paths += command_paths(sub, (*prefix, name))
        if not getattr(command, "invoke_without_command", False):
            return paths
    return [(prefix, command), *paths] if prefix else paths


COMMANDS = command_paths(typer.main.get_command(app))


def test_there_are_commands_to_check() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"ingest", "code", "info", "codebook lint", "export documents"} <= names


def command_id(entry: tuple[tuple[str, ...], Any]) -> str:
    return " ".join(entry[0])


@pytest.fixture(scope="module")
def command_reference() -> str:
    return README.read_text(encoding="utf-8").split("## Command reference", 1)[1]


# One test per command (sqlite-utils' test_docs.py): a missing help text or README entry fails on
# its own, naming the command, instead of stopping a loop at the first one.
@pytest.mark.parametrize("path, command", COMMANDS, ids=[command_id(entry) for entry in COMMANDS])
def test_command_has_help_text(path: tuple[str, ...], command: Any) -> None:
    assert (command.help or "").strip(), f"'phantomcode {' '.join(path)}' has no help text"


@pytest.mark.parametrize("path, command", COMMANDS, ids=[command_id(entry) for entry in COMMANDS])
def test_command_is_in_the_readme_command_reference(
    path: tuple[str, ...], command: Any, command_reference: str
) -> None:
    name = " ".join(path)
    assert f"`phantomcode {name}" in command_reference, f"'phantomcode {name}' is missing from the README"


@pytest.mark.parametrize("path, command", COMMANDS, ids=[command_id(entry) for entry in COMMANDS])
def test_command_help_runs_and_shows_its_usage(path: tuple[str, ...], command: Any) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert f"Usage: phantomcode {' '.join(path)}" in result.stdout
    opening = " ".join((command.help or "").split())[:40]  # rich re-wraps the text: compare words
    assert opening in " ".join(result.stdout.split()), "the help page does not show the command's help text"


HEAVY = ("pandas", "numpy", "spacy", "matplotlib", "openpyxl", "lxml", "krippendorff")


def imported_by(*argv: str, watched: tuple[str, ...] = HEAVY) -> set[str]:
    """The ``watched`` packages a fresh interpreter has loaded after running ``phantomcode ARGV``."""
    script = (
        "import sys\nfrom phantomcode.cli import main\nsys.argv = ['phantomcode', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('loaded:', *(name for name in {watched!r} if name in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120)
    return set(done.stderr.rsplit("loaded:", 1)[1].split())


@pytest.mark.slow  # fresh interpreters, one per command
def test_the_cli_imports_no_heavy_package_until_a_command_needs_it() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, phantomcode.cli\n"
            f"print(' '.join(n for n in {HEAVY!r} + ('yaml', 'phantomcode.ingest') if n in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
    assert imported_by("--help") == set()
    assert imported_by("codebook", "lint", "--help") == set()


@pytest.mark.slow  # fresh interpreters, one per command
def test_report_and_export_run_without_pandas_or_spacy(project_from) -> None:
    path = str(project_from({"beijing/a.md": "---\ncity: Beijing\n---\nThe school asked for the five documents.\n"}))
    for argv in (
        ["report", "-p", path],
        ["report", "-p", path, "-f", "csv", "--wide"],
        ["report", "-p", path, "cooccurrence"],
        ["export", "segments", "-p", path],
        ["export", "documents", "-p", path],
        ["info", "-p", path],
    ):
        assert imported_by(*argv) == set(), argv
    assert imported_by("export", "segments", "-p", path, watched=("yaml", "phantomcode.codebook")) == set()


def test_version() -> None:
    from typer.testing import CliRunner

    from phantomcode import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"phantomcode {__version__}\n"


def test_usage_lines_name_arguments_as_the_readme_does() -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    for command, usage in (
        (["ingest"], "phantomcode ingest [OPTIONS] NOTES_DIR"),
        (["kwic"], "phantomcode kwic [OPTIONS] [TERM]"),
        (["agree"], "phantomcode agree [OPTIONS] CODERS..."),
        (["review", "import"], "phantomcode review import [OPTIONS] FILE"),
    ):
        result = runner.invoke(app, [*command, "--help"], terminal_width=200)
        assert usage in result.stdout, command


def test_help_says_what_the_command_does() -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    assert "qdpx" in runner.invoke(app, ["export", "--help"], terminal_width=200).stdout
    wide = runner.invoke(app, ["report", "cooccurrence", "--help"], terminal_width=200).stdout
    assert "code x code matrix" in wide
