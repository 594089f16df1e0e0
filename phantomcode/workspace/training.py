"""Retraining from the browser without holding a request open.

Fitting the learned layer takes seconds (about 2.4 s on a 3,000-note project), far above what a
page or API call may take (200 ms), and a request held that long also ties up a server thread.
So ``POST /api/train`` starts ``training.train`` in a background thread and answers at once (202),
and ``GET /api/train`` says how the run is going and, once it is done, gives the new
cross-validated figures. One run at a time per workspace: a second POST while one runs answers
the running one's state. A run that fails keeps its message for the page; nothing is lost, since
``train`` stores a model only when it completes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..errors import PhantomcodeError
from .api import workspace

if TYPE_CHECKING:
    from ..training import TrainReport

router = APIRouter()
TrainState = Literal["idle", "running", "done", "failed"]


@dataclass
class TrainingRun:
    """The latest retraining of a workspace's project: its state, and its figures or error."""

    state: TrainState = "idle"
    started_at: str | None = None
    finished_at: str | None = None
    figures: dict[str, Any] | None = None
    error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, project: Path) -> bool:
        """Start training ``project`` in a background thread; False when a run is already going."""
        with self._lock:
            if self.state == "running":
                return False
            self.state, self.started_at, self.finished_at = "running", _now(), None
            self.figures = self.error = None
        threading.Thread(target=self._run, args=(project,), name="phantomcode-train", daemon=True).start()
        return True

    def _run(self, project: Path) -> None:
        from ..training import train

        try:
            figures, error = train_figures(train(project)), None
        except PhantomcodeError as exc:  # a busy project, too few labels: the message says what to do
            figures, error = None, str(exc)
        except Exception as exc:  # never a traceback in the page; the server keeps serving
            figures, error = None, f"training failed ({exc.__class__.__name__}: {exc})"
        with self._lock:
            self.state = "done" if error is None else "failed"
            self.figures, self.error, self.finished_at = figures, error, _now()

    def snapshot(self) -> dict[str, Any]:
        """The run as the API answers it."""
        with self._lock:
            return {
                "state": self.state,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "figures": self.figures,
                "error": self.error,
            }


def train_figures(report: TrainReport) -> dict[str, Any]:
    """What the queue page shows of a new model: its hash, what it learned from, and the
    cross-validated figures per code with the codes that need more reviewed examples."""
    return {
        "model_hash": report.model_hash,
        "sentences": report.sentences,
        "sources": report.sources,
        "codes": [
            {
                "code": c.code,
                "positives": c.positives,
                "negatives": c.negatives,
                "precision": c.precision,
                "recall": c.recall,
                "f1": c.f1,
                "needs_more": c.needs_more_examples,
            }
            for c in report.codes
        ],
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@router.post(
    "/api/train",
    status_code=202,
    tags=["api"],
    summary="Start retraining the learned layer in the background; poll GET /api/train for the figures",
)
def start_training(request: Request) -> JSONResponse:
    space = workspace(request)
    space.training.start(space.project)  # a run already going is left alone: its state is answered
    return JSONResponse(space.training.snapshot(), status_code=202)


@router.get(
    "/api/train",
    tags=["api"],
    summary="The latest retraining: idle, running, done (with the cross-validated figures) or failed",
)
def training_state(request: Request) -> dict[str, Any]:
    return workspace(request).training.snapshot()
