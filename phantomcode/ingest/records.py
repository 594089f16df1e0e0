"""What ingest and re-code report, and what they know of their codebook before they load it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Skipped:
    """A note file that was not stored this run, and why."""

    source: str
    reason: str
    detail: str = ""  # a traceback, for --debug, when the reason is an unexpected exception


@dataclass
class IngestReport:
    """What an ingest did; ``exit_code`` is 0 when every note was stored, 1 when some were skipped."""

    root: str
    project: str
    codebook: str
    files: int = 0
    added: int = 0
    updated: int = 0
    recoded: int = 0
    unchanged: int = 0
    kept: int = 0  # unchanged notes coded with an earlier codebook whose edit cannot touch them
    changes: list[str] = field(default_factory=list)  # the codebook's rule changes, when notes were kept
    skipped: list[Skipped] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    pruned: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.added + self.updated + self.recoded

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0

    def as_stats(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "recoded": self.recoded,
            "unchanged": self.unchanged,
            "kept": self.kept,
            "skipped": len(self.skipped),
            "vanished": len(self.vanished),
            "pruned": self.pruned,
        }


@dataclass
class CodeReport:
    """What a re-code did."""

    project: str
    codebook: str
    documents: int = 0
    recoded: int = 0  # documents coded again: in full, or by the model alone (``rescored``)
    rescored: int = 0  # of those, only the model changed: re-scored by it, rule codings kept
    kept: int = 0  # coded with an earlier codebook whose changes cannot touch them: codings kept
    changes: list[str] = field(default_factory=list)  # the rule changes found, for the message
    warnings: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # documents the engine failed on: codings unchanged

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0

    def as_stats(self, status: str) -> dict[str, Any]:
        """The figures a run records; how many were kept is known for certain only once it completed."""
        if status != "completed":
            return {"recoded": self.recoded, "rescored": self.rescored}
        return {"recoded": self.recoded, "rescored": self.rescored, "kept": self.kept}


@dataclass(frozen=True)
class CodebookIdentity:
    """What ingest and re-code need of their codebook until they code something.

    A codebook whose bytes (``content_hash``) a completed run already used was valid then, so its
    name and version come from that run's record and it is not parsed: parsing the YAML costs a
    quarter of a second, most of re-ingesting an unchanged folder. It is loaded only when notes
    must be coded (``_engine``).
    """

    path: Path
    content_hash: str
    name: str
    version: str
