"""``phantomcode serve`` through the CLI: the printed URL with its token, the browser opened
unless --no-browser, the warning for another interface, a taken port and a missing project as
messages with exit 2; and the Host check when bound to every interface."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from test_workspace_api import NOTES  # noqa: E402

from phantomcode.cli import app  # noqa: E402
from phantomcode.workspace import Workspace, create_app  # noqa: E402
from phantomcode.workspace.app import TOKEN_HEADER  # noqa: E402


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What ``serve`` handed to the server and to the browser, instead of serving."""
    seen: dict[str, Any] = {"opened": []}
    monkeypatch.setattr("phantomcode.workspace.run", lambda workspace: seen.update(workspace=workspace))
    monkeypatch.setattr("webbrowser.open", lambda url: seen["opened"].append(url))
    return seen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_prints_the_url_with_its_token_and_opens_the_browser(runner, project_from, served) -> None:
    project = project_from(NOTES)
    port = free_port()
    result = runner.invoke(app, ["serve", "--project", str(project), "--port", str(port), "--reviewer", "ana"])
    assert result.exit_code == 0, result.output
    space: Workspace = served["workspace"]
    assert (space.host, space.port, space.reviewer) == ("127.0.0.1", port, "ana")
    assert f"http://127.0.0.1:{port}/?token={space.token}" in result.output
    assert served["opened"] == [space.url] and "warning" not in result.output


def test_serve_no_browser_and_another_interface_warns(runner, project_from, served) -> None:
    project = project_from(NOTES)
    result = runner.invoke(
        app, ["serve", "--project", str(project), "--port", str(free_port()), "--no-browser", "--host", "0.0.0.0"]
    )
    assert result.exit_code == 0, result.output
    assert served["opened"] == []
    assert "warning: listening on 0.0.0.0: other machines on this network can reach" in " ".join(result.output.split())


def test_a_taken_port_and_a_missing_project_are_messages_with_exit_2(
    runner, project_from, served, tmp_path: Path
) -> None:
    project = project_from(NOTES)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--project", str(project), "--port", str(port), "--no-browser"])
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output
    missing = runner.invoke(app, ["serve", "--project", str(tmp_path / "none.db"), "--no-browser"])
    assert missing.exit_code == 2 and "no project here yet" in missing.output
    assert "Traceback" not in result.output + missing.output and "workspace" not in served


def test_bound_to_every_interface_an_address_is_a_valid_host_and_a_name_is_not(project_from) -> None:
    """Other machines reach a wildcard bind by one of this machine's addresses; a DNS-rebinding
    page can only send its own name."""
    space = Workspace.prepare(project_from(NOTES), host="0.0.0.0", port=8765)
    headers = {TOKEN_HEADER: space.token}
    for host, status in (
        ("192.168.1.20:8765", 200),
        ("10.0.0.7", 200),
        ("[fe80::1]:8765", 200),
        ("localhost:8765", 200),
        ("evil.example:8765", 421),
        ("192.168.1.20.evil.example", 421),
    ):
        client = TestClient(create_app(space), base_url=f"http://{host}")
        assert client.get("/api/stats", headers=headers).status_code == status, host
