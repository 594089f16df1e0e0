"""``phantomcode serve``: what it prints, when it warns, and its errors (the server itself is not started)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

import phantomcode.workspace  # noqa: E402
from phantomcode.cli import app  # noqa: E402


@pytest.fixture
def project(project_from) -> Path:
    return project_from({"a.md": "---\nid: BJ-01\ncity: Beijing\n---\nThe school asked for five documents.\n"})


@pytest.fixture
def served(monkeypatch) -> list:
    """The workspaces ``serve`` would have run, and the pages it would have opened."""
    calls: list = []
    monkeypatch.setattr(phantomcode.workspace, "run", calls.append)
    monkeypatch.setattr("webbrowser.open", lambda url: calls.append(("browser", url)))
    return calls


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_serve_prints_the_url_with_its_token_and_opens_the_browser(runner, project, served) -> None:
    port = free_port()
    result = runner.invoke(app, ["serve", "-p", str(project), "--port", str(port), "--reviewer", "ana"])
    assert result.exit_code == 0, result.output
    workspace = served[-1]
    assert workspace.reviewer == "ana" and workspace.host == "127.0.0.1" and workspace.port == port
    assert f"http://127.0.0.1:{port}/?token={workspace.token}" in result.stderr
    assert served[0] == ("browser", workspace.url)
    assert "warning" not in result.stderr


def test_serve_on_another_interface_warns_and_no_browser_opens_none(runner, project, served) -> None:
    result = runner.invoke(
        app, ["serve", "-p", str(project), "--host", "0.0.0.0", "--port", str(free_port()), "--no-browser"]
    )
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "other machines" in result.stderr
    assert [call for call in served if isinstance(call, tuple)] == []


def test_serve_stops_with_a_message_when_the_port_is_taken_or_there_is_no_project(
    runner, project, served, tmp_path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "-p", str(project), "--port", str(port), "--no-browser"])
    assert result.exit_code == 2 and "choose another port" in result.stderr
    result = runner.invoke(app, ["serve", "-p", str(tmp_path / "none.db"), "--no-browser"])
    assert result.exit_code == 2 and "no project here yet" in result.stderr
    assert served == []
