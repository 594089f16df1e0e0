"""Shared fixtures: note folders written from code, a project path in tmp_path, a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

NoteWriter = Callable[..., Path]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "project.db"


@pytest.fixture
def notes_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    return folder


@pytest.fixture
def write_note(notes_dir: Path) -> NoteWriter:
    """Write a note with optional front matter; ``encoding`` controls the bytes on disk."""

    def write(relpath: str, body: str, *, encoding: str = "utf-8", **attributes: str) -> Path:
        front = "".join(f"{key}: {value}\n" for key, value in attributes.items())
        text = f"---\n{front}---\n{body}" if attributes else body
        path = notes_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))
        return path

    return write
