"""Every command has help text and a row in the README's command reference."""

from __future__ import annotations

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
