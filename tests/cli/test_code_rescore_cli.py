"""`phantomcode code` says how many notes the model alone re-scored and how many it re-coded in full."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from note_texts import TWO_INTERVIEWS

from phantomcode.cli import app

pytestmark = pytest.mark.slow  # each codes a project, a second or more


def test_code_after_the_model_changed_says_what_the_model_alone_re_scored(
    runner, project_from: Callable[..., Path]
) -> None:
    project = project_from(TWO_INTERVIEWS, learned=False)
    gained = runner.invoke(app, ["code", "-p", str(project), "--quiet"])
    assert gained.exit_code == 0, gained.output
    assert "re-coded 2 of 2 notes" in gained.output
    message = " ".join(gained.output.split())
    assert (
        "2 of them re-scored only: the learned model changed, not the codebook, so their rule codings were kept;"
        " 0 re-coded in full"
    ) in message
    dropped = runner.invoke(app, ["code", "-p", str(project), "--rules-only", "--quiet"])
    assert dropped.exit_code == 0, dropped.output
    assert "re-coded 2 of 2 notes" in dropped.output and "2 of them re-scored" in dropped.output
    forced = runner.invoke(app, ["code", "-p", str(project), "--force", "--quiet"])
    assert forced.exit_code == 0, forced.output
    assert "re-coded 2 of 2 notes" in forced.output and "re-scored" not in forced.output


def test_code_with_nothing_changed_says_nothing_of_re_scoring(runner, project_from: Callable[..., Path]) -> None:
    project = project_from(TWO_INTERVIEWS)
    unchanged = runner.invoke(app, ["code", "-p", str(project), "--quiet"])
    assert unchanged.exit_code == 0 and "re-coded 0 of 2 notes" in unchanged.output
    assert "re-scored" not in unchanged.output
