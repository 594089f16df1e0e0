"""Which codebook a command uses: the one named, else the project's own, never a silent swap.

A project remembers the codebook its last run coded with: the file's absolute path (or
``bundled``) and the sha256 of its bytes. A command that names no codebook uses that file only
while it still holds those bytes. When the file is missing (moved, renamed, another folder) or was
edited since, the command stops and says what changed and how to go on, instead of coding or
reporting with another codebook than the one the researcher believes is in use (re-coding a
project with the bundled codebook undid every edit of theirs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .codebook import Codebook, default_codebook_path, load_codebook
from .errors import OptionError

if TYPE_CHECKING:
    from .store import Store

BUNDLED = "bundled"  # what ``--codebook bundled`` names and what a project records for the bundled codebook

MATCHES, MISSING, CHANGED = "matches", "missing", "changed"


@dataclass(frozen=True)
class ProjectCodebook:
    """The codebook the project's last run used, and whether its file still holds those bytes."""

    recorded: str  # the absolute path the run recorded, or "bundled"
    content_hash: str  # sha256 of the bytes the run used
    name: str | None
    version: str | None
    state: str  # MATCHES, MISSING or CHANGED
    current_hash: str | None  # sha256 of the file now (None when it is missing)

    @property
    def bundled(self) -> bool:
        return self.recorded == BUNDLED

    @property
    def path(self) -> Path:
        return default_codebook_path() if self.bundled else Path(self.recorded)

    def describe(self) -> str:
        """One line for ``info``: which codebook, and whether the file still matches."""
        where = "the bundled codebook" if self.bundled else str(self.path)
        state = {MATCHES: "unchanged since the last run", MISSING: "MISSING", CHANGED: "CHANGED since the last run"}[
            self.state
        ]
        return f"{where} ({state})"

    def problem(self) -> OptionError:
        """Why a command that names no codebook cannot use this one, and the two ways forward: an
        error naming the ``codebook`` option, to raise (or, for ``info``, to show)."""
        used = (
            f"{self.name} {self.version}, sha256 {self.content_hash[:12]}"
            if self.name
            else f"sha256 {self.content_hash[:12]}"
        )
        if self.state == MISSING:
            text = (
                f"the project's codebook {self.path} is missing (the project was last coded with it: {used}). "
                "Name the codebook to use: {option} FILE (the file, wherever it is now), or "
                "{option} bundled for the bundled one"
            )
        elif self.bundled:
            text = (
                f"the bundled codebook has changed since the project was last coded with it ({used}; "
                f"sha256 {str(self.current_hash)[:12]} now, after a phantomcode upgrade?). "
                "To use the new one, say so: {option} bundled; or name your own: {option} FILE"
            )
        else:
            text = (
                f"the project's codebook {self.path} has changed since the project was last coded with it "
                f"({used}; sha256 {str(self.current_hash)[:12]} now). To use the edited file, name it: "
                f"{{option}} {self.path}; or use the bundled codebook: {{option}} bundled"
            )
        return OptionError(text, option="codebook")


def recorded_path(path: str | Path) -> str:
    """What a run records for its codebook file: ``bundled``, else the file's absolute path."""
    resolved = Path(path).resolve()
    return BUNDLED if resolved == default_codebook_path().resolve() else str(resolved)


def file_hash(path: Path) -> str | None:
    """sha256 of the file's bytes, or None when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def project_codebook(store: Store) -> ProjectCodebook | None:
    """The codebook of the project's most recent run that recorded one, checked against its file."""
    last = store.last_codebook()
    if last is None:
        return None
    recorded, content_hash, name, version = last
    if recorded != BUNDLED and Path(recorded) == default_codebook_path():
        recorded = BUNDLED  # recorded by a version that stored the bundled file's path
    path = default_codebook_path() if recorded == BUNDLED else Path(recorded)
    current = file_hash(path) if path.is_file() else None
    state = MISSING if current is None else (MATCHES if current == content_hash or not content_hash else CHANGED)
    return ProjectCodebook(recorded, content_hash or "", name, version, state, current)


def codebook_path_for(codebook: str | Path | None, store: Store | None) -> Path:
    """The codebook file to use: the one named (``bundled``: the bundled one), else the project's own
    if its file still holds the bytes the project last used, else (no run yet) the bundled one.

    Raises ``OptionError`` naming the file and what changed (missing, edited) when the project's
    codebook can no longer be used as it was: never a silent fall-back to another codebook.
    """
    if codebook is not None:
        return default_codebook_path() if str(codebook) == BUNDLED else Path(codebook)
    own = project_codebook(store) if store is not None else None
    if own is None:
        return default_codebook_path()
    if own.state != MATCHES:
        raise own.problem()
    return own.path


def choose_codebook(
    codebook: str | Path | Codebook | None, store: Store | None, *, check_patterns: bool = True
) -> Codebook:
    """The ``Codebook`` given, else the file :func:`codebook_path_for` picks, loaded."""
    if isinstance(codebook, Codebook):
        return codebook
    return load_codebook(codebook_path_for(codebook, store), check_patterns=check_patterns)


def project_codebook_path(project: str | Path | None, codebook: str | Path | None = None) -> Path:
    """:func:`codebook_path_for` with the project at ``project`` (opened read-only)."""
    from .store import Store

    with Store.open(project, readonly=True) as store:
        return codebook_path_for(codebook, store)
