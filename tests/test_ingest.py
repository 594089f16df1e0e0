"""The ingest library call: interruption, worker processes, codebook memory."""

from __future__ import annotations

import sqlite3

import pytest

from phantomcode.errors import Interrupted
from phantomcode.ingest import ingest

SENTENCES = ("The school asked for five documents and a lease in her own name. "
             "The hospital said the rural insurance would not reimburse anything here. ")


def codings(project) -> list[tuple]:
    with sqlite3.connect(project) as connection:
        return connection.execute(
            "SELECT doc_id, start, end, code, rule, matched, negated, hypothetical FROM codings ORDER BY 1, 2, 4"
        ).fetchall()


def test_ctrl_c_keeps_committed_batches_and_rerun_completes(project, notes_dir, write_note) -> None:
    total = 200
    for number in range(total):
        write_note(f"n{number:03d}.md", SENTENCES, city="Beijing")

    def interrupt_late(done: int, _total: int) -> None:
        if done == 180:  # the engine reads ahead of the store, so stop well after the first batches
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="run the same command again"):
        ingest(notes_dir, project=project, batch_size=10, progress=interrupt_late)
    with sqlite3.connect(project) as connection:
        stored = connection.execute("SELECT count(*) FROM documents").fetchone()[0]
        status = connection.execute("SELECT status FROM runs").fetchone()[0]
    assert 0 < stored < total and stored % 10 == 0, "only whole batches are committed"
    assert status == "interrupted"
    report = ingest(notes_dir, project=project, batch_size=10)
    assert (report.unchanged, report.added) == (stored, total - stored)


def test_worker_processes_code_exactly_like_one_process(tmp_path, notes_dir, write_note) -> None:
    for number in range(12):
        write_note(f"n{number:02d}.md", SENTENCES * (number % 3 + 1), city="Chengdu")
    ingest(notes_dir, project=tmp_path / "one.db", jobs=1)
    ingest(notes_dir, project=tmp_path / "two.db", jobs=2, batch_size=4)
    assert codings(tmp_path / "one.db") == codings(tmp_path / "two.db")
    assert codings(tmp_path / "one.db"), "the sample sentences must be coded for this test to mean anything"


def test_document_sector_is_declared_or_inferred_from_cues(project, notes_dir, write_note) -> None:
    write_note("declared.md", "The hospital asked for a lease.\n", sector="education")
    write_note("inferred.md", "The hospital would not reimburse her rural insurance. The doctor was kind.\n")
    write_note("neither.md", "She sells vegetables at the market.\n")
    ingest(notes_dir, project=project)
    with sqlite3.connect(project) as connection:
        sectors = dict((doc, (sector, source)) for doc, sector, source in
                       connection.execute("SELECT doc_id, sector, sector_source FROM documents"))
    assert sectors == {"declared": ("education", "declared"), "inferred": ("healthcare", "inferred"),
                       "neither": (None, None)}
