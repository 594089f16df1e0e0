"""The review workspace: a local web app to read notes with their codings, judge them and code by hand.

    from phantomcode.workspace import Workspace, create_app, run
    workspace = Workspace.prepare("study.db", reviewer="ana")
    print(workspace.url)          # includes the access token
    run(workspace)                # serves until Ctrl-C

``create_app`` gives the ASGI application alone (for tests or another server). The pages and the
JSON API under ``/api`` read the project through ``phantomcode.browse`` and write every decision
through ``phantomcode.review.apply_decisions``, the same code ``review import`` runs.
"""

from .app import Workspace, create_app, run

__all__ = ["Workspace", "create_app", "run"]
