"""Every command has help text and a row in the README's command reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

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


def test_every_command_has_help_and_a_readme_entry() -> None:
    readme = README.read_text(encoding="utf-8")
    reference = readme.split("## Command reference", 1)[1]
    for path, command in COMMANDS:
        name = " ".join(path)
        assert (command.help or "").strip(), f"'phantomcode {name}' has no help text"
        assert f"`phantomcode {name}" in reference, f"'phantomcode {name}' is missing from the README"


HEAVY = ("pandas", "numpy", "spacy", "matplotlib", "openpyxl", "lxml", "krippendorff")


def imported_by(*argv: str, watched: tuple[str, ...] = HEAVY) -> set[str]:
    """The ``watched`` packages a fresh interpreter has loaded after running ``phantomcode ARGV``."""
    script = ("import sys\nfrom phantomcode.cli import main\nsys.argv = ['phantomcode', *sys.argv[1:]]\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              f"print('loaded:', *(name for name in {watched!r} if name in sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120)
    return set(done.stderr.rsplit("loaded:", 1)[1].split())


def test_the_cli_imports_no_heavy_package_until_a_command_needs_it() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, phantomcode.cli\n"
                           f"print(' '.join(n for n in {HEAVY!r} + ('yaml', 'phantomcode.ingest') if n in sys.modules))"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
    assert imported_by("--help") == set()
    assert imported_by("codebook", "lint", "--help") == set()


def test_report_and_export_run_without_pandas_or_spacy(project_from) -> None:
    path = str(project_from({"beijing/a.md": "---\ncity: Beijing\n---\nThe school asked for the five documents.\n"}))
    for argv in (["report", "-p", path], ["report", "-p", path, "-f", "csv", "--wide"],
                 ["report", "-p", path, "cooccurrence"], ["export", "segments", "-p", path],
                 ["export", "documents", "-p", path], ["info", "-p", path]):
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
    for command, usage in ((["ingest"], "phantomcode ingest [OPTIONS] NOTES_DIR"),
                           (["kwic"], "phantomcode kwic [OPTIONS] [TERM]"),
                           (["agree"], "phantomcode agree [OPTIONS] CODERS..."),
                           (["review", "import"], "phantomcode review import [OPTIONS] FILE")):
        result = runner.invoke(app, [*command, "--help"], terminal_width=200)
        assert usage in result.stdout, command


def test_help_says_what_the_command_does() -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    assert "qdpx" in runner.invoke(app, ["export", "--help"], terminal_width=200).stdout
    wide = runner.invoke(app, ["report", "cooccurrence", "--help"], terminal_width=200).stdout
    assert "code x code matrix" in wide
