"""``import parquet`` that fails on its first run leaves no project file behind, as ingest does
(issue 11): a mistyped folder or a bad file must not leave an empty ``phantomcode.db`` that later
commands would take for the user's project."""

from __future__ import annotations

from pathlib import Path

from phantomcode.batch import outcome_tables
from phantomcode.cli import app
from phantomcode.codebook import default_codebook_path, load_codebook
from phantomcode.distributed import write_partition
from phantomcode.guard import NoteSkip


def _partition_of_skipped_notes(directory: Path, index: int, *, codebook_hash: str | None = None) -> None:
    """A partition as ``ingest --parquet-out`` writes it, of one note that could not be read;
    ``codebook_hash`` pretends it was coded with another codebook."""
    notes, codings = outcome_tables(
        [f"note-{index}.md"],
        [NoteSkip("not valid UTF-8")],
        first_position=index,
        codebook=load_codebook(default_codebook_path()),
    )
    if codebook_hash is not None:
        metadata = {**notes.schema.metadata, b"phantomcode.codebook_hash": codebook_hash.encode()}
        notes = notes.replace_schema_metadata(metadata)
    write_partition(directory, index, notes, codings)


def test_a_first_import_that_fails_on_a_later_partition_leaves_no_project(runner, tmp_path: Path) -> None:
    out, project = tmp_path / "parquet", tmp_path / "new.db"
    _partition_of_skipped_notes(out, 0)
    _partition_of_skipped_notes(out, 1, codebook_hash="0" * 64)
    result = runner.invoke(app, ["import", "parquet", str(out), "--project", str(project), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "coded with another codebook" in result.output
    assert not project.exists() and not list(tmp_path.glob("new.db*")), "no project file is left behind"


def test_a_first_import_of_an_unreadable_file_leaves_no_project(runner, tmp_path: Path) -> None:
    out, project = tmp_path / "parquet", tmp_path / "new.db"
    for kind in ("notes", "codings"):
        (out / kind).mkdir(parents=True)
        (out / kind / "part-00000.parquet").write_bytes(b"not parquet")
    result = runner.invoke(app, ["import", "parquet", str(out), "--project", str(project), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "cannot read it as Parquet" in result.output
    assert not project.exists()


def test_a_failed_import_into_an_existing_project_keeps_it(runner, tmp_path: Path) -> None:
    out, project = tmp_path / "parquet", tmp_path / "kept.db"
    _partition_of_skipped_notes(out, 0)
    assert runner.invoke(app, ["import", "parquet", str(out), "--project", str(project), "--quiet"]).exit_code == 1
    assert project.exists(), "an import that stored nothing but ran makes the project, as ingest does"
    _partition_of_skipped_notes(out, 1, codebook_hash="0" * 64)
    result = runner.invoke(app, ["import", "parquet", str(out), "--project", str(project), "--quiet"])
    assert result.exit_code == 2 and project.exists(), result.output
