"""The workspace application: configuration, the security guard around every request, and serving.

Safe by default, because a browser is a confused deputy: any web page the reviewer opens can
send requests to 127.0.0.1.

- Every request needs the access token: once as ``?token=`` (the URL printed at start), which
  sets an HttpOnly, SameSite=Strict cookie and redirects to the same URL without the token; then
  the cookie, or the ``X-Phantomcode-Token`` header for scripts.
- Requests that change the project are POST and must carry the token in the header (the pages'
  script sends it): another site can make a browser send a cookie, never a custom header.
- The Host header must name the bound host (``localhost`` too when bound to 127.0.0.1; any IP
  address when bound to every interface, 0.0.0.0), so a DNS-rebinding page (``evil.example``
  resolving to 127.0.0.1) is refused.
- Pages escape every note, attribute and codebook string (Jinja2 autoescaping; JSON for the
  scripts goes through ``tojson``) and a Content-Security-Policy allows only this server's scripts.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..codebook import Codebook
from ..errors import UsageError
from ..project import resolve_codebook
from ..review import default_reviewer
from ..store import Store, resolve_project_path
from ..store.text_index import TextIndex
from .cache import ProjectCache
from .training import TrainingRun

TOKEN_HEADER = "X-Phantomcode-Token"
TOKEN_COOKIE = "phantomcode_token"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DECISION_LOCK_TIMEOUT = 2.0  # seconds a decision waits for a running ingest or code before saying so
HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class Workspace:
    """What the app serves and how: the project, who decides, the token and the bound address."""

    project: Path
    codebook: Codebook
    reviewer: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lock_timeout: float = DECISION_LOCK_TIMEOUT
    cache: ProjectCache = field(init=False)
    search: TextIndex = field(init=False)
    training: TrainingRun = field(init=False)

    def __post_init__(self) -> None:
        self.cache = ProjectCache(self.project)
        self.search = TextIndex(self.project, self.cache.documents_version)
        self.training = TrainingRun()

    @classmethod
    def prepare(
        cls,
        project: str | Path | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        reviewer: str | None = None,
        codebook: str | Path | Codebook | None = None,
    ) -> Workspace:
        """Check the project opens and load its codebook; raises ``ProjectError`` or ``UsageError``."""
        path = resolve_project_path(project)
        with Store.open(path, readonly=True):
            pass
        if not 0 < port < 65536:
            raise UsageError(f"port {port} is not a TCP port (1 to 65535)")
        return cls(
            project=path,
            codebook=resolve_codebook(path, codebook),
            reviewer=reviewer or default_reviewer(),
            host=host,
            port=port,
        )

    @property
    def url(self) -> str:
        """The address to open, with the token: the only way in."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?{urlencode({'token': self.token})}"

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the server."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def allowed_hosts(self) -> set[str]:
        """Host header values accepted: the bound host (with and without the port)."""
        names = {self.host, f"[{self.host}]"}
        if self.loopback or self.wildcard:
            names |= {"localhost", "127.0.0.1", "[::1]"}
        return names | {f"{name}:{self.port}" for name in names}

    @property
    def wildcard(self) -> bool:
        """Whether the server listens on every interface (0.0.0.0 or ::)."""
        try:
            return ipaddress.ip_address(self.host).is_unspecified
        except ValueError:
            return False

    def host_allowed(self, header: str) -> bool:
        """Whether a request's Host header names this server. Bound to every interface, any IP
        address does (other machines use one of ours); a name never does beyond ``localhost``,
        which is what defeats DNS rebinding (the attacking page can only send its own name)."""
        if header in self.allowed_hosts():
            return True
        if not self.wildcard:
            return False
        address = (
            header[1 : header.index("]")] if header.startswith("[") and "]" in header else header.rsplit(":", 1)[0]
        )
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return False
        return header in (address, f"[{address}]", f"{address}:{self.port}", f"[{address}]:{self.port}")

    def check_port_free(self) -> None:
        """Raise ``UsageError`` when the address is taken, before the server starts and fails."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise UsageError(
                    f"cannot listen on {self.host}:{self.port} ({exc.strerror}); choose another port"
                ) from None


def create_app(workspace: Workspace):  # -> fastapi.FastAPI (imported here: the CLI loads it only to serve)
    """The ASGI application over ``workspace``: pages, the JSON API and static files, guarded."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response
    from fastapi.staticfiles import StaticFiles

    from ..errors import PhantomcodeError, ProjectBusyError
    from . import api, pages, queue, training

    app = FastAPI(
        title="phantomcode workspace API",
        version="1",
        docs_url=None,
        redoc_url=None,
        description=api.DESCRIPTION,
        openapi_url="/openapi.json",
    )
    app.state.workspace = workspace
    app.include_router(api.router)
    app.include_router(queue.router)
    app.include_router(training.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(ProjectBusyError)
    async def busy(request: Request, exc: ProjectBusyError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "busy": True}, status_code=409)

    @app.exception_handler(UsageError)
    async def bad_request(request: Request, exc: UsageError) -> Response:
        return pages.error_response(request, str(exc), 400)

    @app.exception_handler(PhantomcodeError)
    async def project_error(request: Request, exc: PhantomcodeError) -> Response:
        return pages.error_response(request, str(exc), 503)

    app.middleware("http")(_guard(workspace))
    return app


def _guard(workspace: Workspace) -> Callable[..., Awaitable[object]]:
    """The middleware checking Host and token on every request (see the module's docstring)."""
    from fastapi.responses import PlainTextResponse, RedirectResponse

    def valid(candidate: str | None) -> bool:
        return candidate is not None and secrets.compare_digest(candidate.encode(), workspace.token.encode())

    async def guard(request: Any, call_next: Any) -> Any:
        if not workspace.host_allowed(request.headers.get("host", "")):
            return PlainTextResponse(
                "refused: this server answers only to the address it printed at start "
                f"({workspace.host}:{workspace.port})",
                status_code=421,
            )
        offered = request.query_params.get("token")
        if offered is not None and request.method in ("GET", "HEAD"):
            if not valid(offered):
                return PlainTextResponse(
                    "refused: wrong access token; open the URL 'phantomcode serve' printed", status_code=403
                )
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            response = RedirectResponse(request.url.path + (f"?{urlencode(rest)}" if rest else ""), status_code=303)
            response.set_cookie(TOKEN_COOKIE, workspace.token, httponly=True, samesite="strict", path="/")
            return _secured(response)
        header = request.headers.get(TOKEN_HEADER)
        if request.method not in ("GET", "HEAD"):
            if not valid(header):
                return PlainTextResponse(f"refused: changes need the {TOKEN_HEADER} header", status_code=403)
        elif not (valid(header) or valid(request.cookies.get(TOKEN_COOKIE))):
            return PlainTextResponse(
                "refused: no access token; open the URL 'phantomcode serve' printed (it ends in ?token=...)",
                status_code=401,
            )
        return _secured(await call_next(request))

    return guard


def _secured(response: Any) -> Any:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def run(workspace: Workspace) -> None:
    """Serve until interrupted (Ctrl-C stops uvicorn, which then returns)."""
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise UsageError(
            f"the workspace needs {exc.name}, which is not installed; install it with: pip install 'phantomcode[serve]'"
        ) from None

    workspace.search.refresh_in_background()  # ready by the first text search, on a large project too
    uvicorn.run(
        create_app(workspace),
        host=workspace.host,
        port=workspace.port,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
    )
