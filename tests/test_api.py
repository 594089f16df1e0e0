"""The public API of ``import phantomcode``: names imported on first use, functions never hidden by modules."""

from __future__ import annotations

import subprocess
import sys

import pytest

import phantomcode


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in phantomcode.__all__:
        assert getattr(phantomcode, name) is not None, name
    assert set(phantomcode.__all__) <= set(dir(phantomcode))


@pytest.mark.slow  # a fresh interpreter
def test_ingest_and_evaluate_stay_functions_after_their_modules_are_imported() -> None:
    script = (
        "import phantomcode, phantomcode.ingest, phantomcode.evaluate\n"
        "from phantomcode.ingest import code_project\n"
        "print(callable(phantomcode.ingest), callable(phantomcode.evaluate), callable(code_project),\n"
        "      type(phantomcode.ingest).__name__, type(phantomcode.evaluate).__name__)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "True", "True", "function", "function"], done.stderr


def test_the_identifier_scan_is_part_of_the_api() -> None:
    from phantomcode import scan_identifiers

    assert [(f.kind, f.line) for f in scan_identifiers("Name withheld.\nCall 13812345678.")] == [("phone", 2)]
