"""Shared fixtures: note folders written from code, a project path in tmp_path, a CLI runner,
an editable copy of the bundled codebook; and what makes the fast tier fast: projects ingested
once and copied per test, one engine for the bundled codebook, each learned model fitted once."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from phantomcode.codebook import default_codebook_path, load_codebook

if TYPE_CHECKING:
    from phantomcode.coding import CodingEngine

NoteWriter = Callable[..., Path]


_FRESH_TRAINING = {"now": False}  # set per test before its fixtures, read by the patched fit


def pytest_runtest_setup(item: pytest.Item) -> None:
    _FRESH_TRAINING["now"] = item.get_closest_marker("fresh_training") is not None


@pytest.fixture(scope="session", autouse=True)
def _reuse_fitted_models() -> Iterator[None]:
    """Fit each learned model once per session: every new project trains the bundled codebook's
    default model on first use (about 5 s, most of a small ingest). ``fit`` is deterministic for
    the same sentences, codes, seed and parameters (tests/test_learned.py proves it with real
    fits: its tests, marked ``fresh_training``, always train), so a repeated fit gets a model
    rebuilt from the first one's bytes, as a project reloads a stored model. Session-scoped, so
    session and module fixtures that ingest or fit share it too."""
    from phantomcode.coding import learned

    fit = learned.fit
    fitted: dict[tuple, bytes] = {}

    def fit_once(sentences, codes, **options):  # options: seed, parameters (hashable values)
        if _FRESH_TRAINING["now"]:
            return fit(sentences, codes, **options)
        sentences = tuple(sentences)
        key = (sentences, tuple(codes), tuple(sorted(options.items())))
        if key not in fitted:
            fitted[key] = fit(sentences, codes, **options).to_bytes()
        return learned.LearnedModel.from_bytes(fitted[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(learned, "fit", fit_once)
        yield


@pytest.fixture(scope="session")
def bundled_engine() -> CodingEngine:
    """A coding engine for the bundled codebook, rules only, built once per session: what it
    learns while coding (word forms, glob matches) only saves work, never changes a result."""
    from phantomcode.coding import CodingEngine

    return CodingEngine(load_codebook())


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "project.db"


@pytest.fixture
def notes_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    return folder


@pytest.fixture
def write_note(notes_dir: Path) -> NoteWriter:
    """Write a note with optional front matter; ``encoding`` controls the bytes on disk."""

    def write(relpath: str, body: str, *, encoding: str = "utf-8", **attributes: str) -> Path:
        front = "".join(f"{key}: {value}\n" for key, value in attributes.items())
        text = f"---\n{front}---\n{body}" if attributes else body
        path = notes_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))
        return path

    return write


SAMPLE_NOTES = Path(__file__).resolve().parents[1] / "sample_data" / "notes"


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample notes ingested once per session (tests/test_report.py uses the same file)."""
    from phantomcode import ingest

    path = tmp_path_factory.getbasetemp() / "sample-project" / "sample.db"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        assert not ingest(SAMPLE_NOTES, project=path).skipped
    return path


@pytest.fixture(scope="session")
def _ingested_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple, Path]:
    return {}


@pytest.fixture
def project_from(
    _ingested_templates: dict[tuple, Path], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> Callable[[dict[str, str]], Path]:
    """A fresh copy of a project ingested from ``{relpath: text}``; each set of notes is ingested
    once. ``learned=False``: coded by the rules alone."""
    from phantomcode import ingest

    def make(notes: dict[str, str], *, learned: bool = True) -> Path:
        key = (learned, *sorted(notes.items()))
        if key not in _ingested_templates:
            root = tmp_path_factory.mktemp("template")
            for relpath, text in notes.items():
                (root / "notes" / relpath).parent.mkdir(parents=True, exist_ok=True)
                (root / "notes" / relpath).write_text(text, encoding="utf-8")
            ingest(root / "notes", project=root / "template.db", jobs=1, learned=learned)
            _ingested_templates[key] = root / "template.db"
        copy = tmp_path / "p.db"
        shutil.copy(_ingested_templates[key], copy)
        return copy

    return make


@pytest.fixture
def two_interviews(project_from: Callable[..., Path]) -> Path:
    """A project of tests/note_texts.py's TWO_INTERVIEWS coded by the rules alone: seven codings,
    one negated."""
    from note_texts import TWO_INTERVIEWS

    return project_from(TWO_INTERVIEWS, learned=False)


class CodebookCopy:
    """A copy of the bundled codebook in the test's folder, to edit as a researcher would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        shutil.copy(default_codebook_path(), path)

    def edit(self, old: str, new: str) -> Path:
        """Replace ``old``, which must occur exactly once, by ``new``; return the codebook's path."""
        text = self.path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"edit anchor {old!r} must occur once in the codebook"
        self.path.write_text(text.replace(old, new), encoding="utf-8")
        return self.path


@pytest.fixture
def own_codebook(tmp_path: Path) -> CodebookCopy:
    return CodebookCopy(tmp_path / "book.yaml")


@pytest.fixture
def undo_learned_layer_migration() -> Callable[[sqlite3.Connection], None]:
    """Turns a project back into one made before the learned layer (schema 7): no models or
    scores tables, no source, probability, model or explanation on codings."""

    def undo(connection: sqlite3.Connection) -> None:
        connection.execute("DROP TABLE IF EXISTS memos")  # the workspace's migration, which comes after
        connection.execute("DROP TABLE models")
        connection.execute("DROP TABLE scores")
        connection.execute("DELETE FROM codings WHERE source != 'rules'")
        for column in ("source", "probability", "model_hash", "explanation"):
            connection.execute(f"ALTER TABLE codings DROP COLUMN {column}")
        connection.execute("ALTER TABLE documents DROP COLUMN model_hash")
        connection.execute("DELETE FROM migrations WHERE version >= 8")
        connection.execute("PRAGMA user_version = 7")

    return undo


@pytest.fixture
def refuse_listing(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``refuse_listing("locked")``: from then on ``os.scandir`` of a folder whose path ends in
    "locked" fails with permission denied (chmod 000 does not stop root, who runs CI's tests)."""

    def refuse(name: str) -> None:
        real_scandir = os.scandir

        def scandir(path):
            if os.fspath(path).endswith(name):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)

    return refuse


@pytest.fixture
def fail_coding_on(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Exception], None]:
    """``fail_coding_on("poison", IndexError(...))``: from then on the coding engine raises the error
    for a text starting with "poison" and codes the others (the per-note guard's tests)."""
    from phantomcode.coding import CodingEngine

    def fail(prefix: str, error: Exception) -> None:
        original = CodingEngine.code_documents

        def code_documents(self, items):
            for text, attributes in items:
                if text.startswith(prefix):
                    raise error
                yield from original(self, [(text, attributes)])

        monkeypatch.setattr(CodingEngine, "code_documents", code_documents)

    return fail
