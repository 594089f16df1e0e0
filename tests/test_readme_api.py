"""The README's Python API block runs as written, on the bundled sample notes."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def python_api_block() -> str:
    """The first ```python block of the README's "Python API" section."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Python API", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the README's Python API section has no python block"
    return found.group(1)


def test_the_block_is_found_and_covers_the_api() -> None:
    block = python_api_block()
    assert block.startswith("from phantomcode import") and "ingest(" in block and "Project(" in block


@pytest.mark.slow  # ingests the 54 sample notes and trains a model, as the block does
def test_the_readme_python_api_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sample_data").symlink_to(REPO / "sample_data")  # the block's relative paths
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(python_api_block(), "README.md (Python API)", "exec"), {"__name__": "readme"})
    lines = printed.getvalue().splitlines()
    assert lines[0] == "54 []", "ingest reports the 54 sample notes added, none skipped"
    assert any(line.startswith("paperwork paperwork/") for line in lines), "the engine codes the example text"
    assert (tmp_path / "demo.db").is_file()
