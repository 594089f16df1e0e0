"""Golden files for table output (tests/golden/): compared exactly, regenerated on purpose.

``PHANTOMCODE_UPDATE_GOLDEN=1 pytest tests/test_export.py`` rewrites them; review the diff.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("PHANTOMCODE_UPDATE_GOLDEN") == "1"


def assert_golden(name: str, text: str) -> None:
    """``text`` equals tests/golden/NAME, or the test fails with a diff (or, when updating, writes it)."""
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.write_text(text, encoding="utf-8", newline="")
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing: create it with PHANTOMCODE_UPDATE_GOLDEN=1 and review it")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "now", n=1))
        pytest.fail(f"{name} differs from its golden file (PHANTOMCODE_UPDATE_GOLDEN=1 to accept):\n{diff[:4000]}")
