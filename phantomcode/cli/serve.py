"""``phantomcode serve``: the review workspace in the browser."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer
from rich.markup import escape

from ..workspace.app import DEFAULT_HOST, DEFAULT_PORT, Workspace
from ._console import err
from ._options import ProjectOption


def serve_command(
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.")] = DEFAULT_PORT,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Interface to bind; anything but 127.0.0.1 lets other machines reach the workspace (with the token).",
        ),
    ] = DEFAULT_HOST,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")] = False,
    reviewer: Annotated[
        str | None,
        typer.Option("--reviewer", "-r", help="Name stored with each decision (default: $USER).", show_default=False),
    ] = None,
    project: ProjectOption = None,
) -> None:
    """Read notes with their codings highlighted, judge codings and code passages by hand, in the browser."""
    from ..workspace import run

    workspace = Workspace.prepare(project, host=host, port=port, reviewer=reviewer)
    workspace.check_port_free()
    if not workspace.loopback:
        err.print(
            f"[bold yellow]warning:[/] listening on {escape(host)}: other machines on this network can reach "
            "the workspace; anyone with the URL below can read and change the project"
        )
    err.print(f"phantomcode workspace for {escape(str(workspace.project))}, reviewing as {escape(workspace.reviewer)}")
    err.print(f"open [bold]{escape(workspace.url)}[/]  (Ctrl-C stops)")
    if not no_browser:
        webbrowser.open(workspace.url)
    run(workspace)
