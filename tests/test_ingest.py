"""The ingest library call: interruption, worker processes, the unchanged-file fast path, migration 5."""

from __future__ import annotations

import os
import sqlite3
from importlib import import_module

import pytest

from phantomcode.errors import CodebookError, Interrupted, UsageError
from phantomcode.ingest import code_project, ingest
from phantomcode.store import SCHEMA_VERSION, Store

ingest_module = import_module("phantomcode.ingest")  # the package binds the name to the function

ADD_LANDLORD = ("      - five documents\n", "      - five documents\n      - landlord\n")  # a one-term edit
SENTENCES = (
    "The school asked for five documents and a lease in her own name. "
    "The hospital said the rural insurance would not reimburse anything here. "
)


def codings(project) -> list[tuple]:
    with Store.open(project, readonly=True) as store:
        return [
            (c["doc_id"], c["start"], c["end"], c["code"], c["rule"], c["matched"], c["negated"], c["hypothetical"])
            for c in store.coding_rows()
        ]


@pytest.mark.slow
def test_ctrl_c_keeps_committed_batches_and_rerun_completes(project, notes_dir, write_note) -> None:
    total = 200
    for number in range(total):
        write_note(f"n{number:03d}.md", SENTENCES, city="Beijing")

    def interrupt_late(done: int, _total: int) -> None:
        if done == 180:  # the engine reads ahead of the store, so stop well after the first batches
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="run the same command again"):
        ingest(notes_dir, project=project, batch_size=10, progress=interrupt_late)
    with Store.open(project, readonly=True) as store:
        stored = store.count_documents()
        [status] = [run.status for run in store.runs()]
    assert 0 < stored < total and stored % 10 == 0, "only whole batches are committed"
    assert status == "interrupted"
    report = ingest(notes_dir, project=project, batch_size=10)
    assert (report.unchanged, report.added) == (stored, total - stored)


@pytest.mark.slow
def test_worker_processes_code_exactly_like_one_process(tmp_path, notes_dir, write_note) -> None:
    for number in range(12):
        write_note(f"n{number:02d}.md", SENTENCES * (number % 3 + 1), city="Chengdu")
    ingest(notes_dir, project=tmp_path / "one.db", jobs=1)
    ingest(notes_dir, project=tmp_path / "two.db", jobs=2, batch_size=4)
    assert codings(tmp_path / "one.db") == codings(tmp_path / "two.db")
    assert codings(tmp_path / "one.db"), "the sample sentences must be coded for this test to mean anything"


@pytest.mark.slow
def test_document_sector_is_declared_or_inferred_from_cues(project, notes_dir, write_note) -> None:
    write_note("declared.md", "The hospital asked for a lease.\n", sector="education")
    write_note("inferred.md", "The hospital would not reimburse her rural insurance. The doctor was kind.\n")
    write_note("neither.md", "She sells vegetables at the market.\n")
    ingest(notes_dir, project=project)
    with Store.open(project, readonly=True) as store:
        sectors = {doc_id: tuple(sector) for doc_id, sector in store.document_sectors().items()}
    assert sectors == {
        "declared": ("education", "declared"),
        "inferred": ("healthcare", "inferred"),
        "neither": (None, None),
    }


def segments(project) -> list[tuple]:
    with Store.open(project, readonly=True) as store:
        return [(s.segment_id, s.doc_id, s.start, s.end, s.sector) for s in sorted(store.segments())]


@pytest.mark.slow
def test_recode_in_workers_writes_what_one_process_writes(tmp_path, notes_dir, write_note) -> None:
    for number in range(12):
        write_note(f"n{number:02d}.md", SENTENCES * (number % 3 + 1), city="Chengdu")
    ingest(notes_dir, project=tmp_path / "p.db", jobs=1)
    before = codings(tmp_path / "p.db"), segments(tmp_path / "p.db")
    report = code_project(project=tmp_path / "p.db", force=True, jobs=2, batch_size=5)
    assert report.recoded == 12
    assert codings(tmp_path / "p.db") == before[0]
    assert [row[1:] for row in segments(tmp_path / "p.db")] == [row[1:] for row in before[1]]


def _no_coding(monkeypatch) -> None:
    """Make any attempt to load the codebook fully or build the engine fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged folder must not load the codebook or build the engine")

    monkeypatch.setattr(ingest_module, "_engine", refuse)
    monkeypatch.setattr(ingest_module, "load_codebook", refuse)


def _stored_stat(project, doc_id: str) -> tuple:
    with Store.open(project, readonly=True) as store:
        state = store.stored_states()[doc_id]
        return state.size, state.mtime_ns, store.document_texts([doc_id])[doc_id]


@pytest.mark.slow
def test_touched_file_with_same_bytes_is_not_read_or_recoded_and_its_stat_is_refreshed(
    project, notes_dir, write_note, monkeypatch
) -> None:
    path = write_note("a.md", SENTENCES, city="Beijing")
    write_note("b.md", SENTENCES, city="Beijing")
    ingest(notes_dir, project=project)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    _no_coding(monkeypatch)
    report = ingest(notes_dir, project=project)
    assert (report.unchanged, report.stored) == (2, 0)
    assert _stored_stat(project, "a")[:2] == (stat.st_size, stat.st_mtime_ns + 5_000_000_000)


@pytest.mark.slow
def test_same_size_and_mtime_hides_a_rewrite_the_documented_limitation(project, notes_dir, write_note) -> None:
    path = write_note("a.md", "The school asked for a lease.\n")
    ingest(notes_dir, project=project)
    stat = path.stat()
    path.write_text("The clinic asked for a lease.\n", encoding="utf-8")  # same length, other bytes
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert ingest(notes_dir, project=project).unchanged == 1
    assert _stored_stat(project, "a")[2] == "The school asked for a lease.\n"
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert ingest(notes_dir, project=project).updated == 1
    assert _stored_stat(project, "a")[2] == "The clinic asked for a lease.\n"


@pytest.mark.slow
def test_project_from_before_file_stats_is_upgraded_and_reingested_without_coding(
    project, notes_dir, write_note, monkeypatch, undo_learned_layer_migration
) -> None:
    path = write_note("a.md", SENTENCES, city="Beijing")
    ingest(notes_dir, project=project)
    with sqlite3.connect(project) as connection:  # back to schema 4: no size or mtime_ns columns
        undo_learned_layer_migration(connection)
        connection.execute("ALTER TABLE documents DROP COLUMN size")
        connection.execute("ALTER TABLE documents DROP COLUMN mtime_ns")
        connection.execute("DROP TABLE codebooks")
        connection.execute("DROP TABLE reviewer_decisions")
        connection.execute("DELETE FROM migrations WHERE version >= 5")
        connection.execute("PRAGMA user_version = 4")
    _no_coding(monkeypatch)
    report = ingest(notes_dir, project=project)
    assert report.unchanged == 1
    with sqlite3.connect(project) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 10
    assert _stored_stat(project, "a")[:2] == (path.stat().st_size, path.stat().st_mtime_ns)


@pytest.mark.slow
def test_a_codebook_with_a_bad_token_pattern_stops_ingest_before_a_run_is_recorded(
    tmp_path, project, notes_dir, write_note
) -> None:
    write_note("a.md", SENTENCES)
    book = tmp_path / "book.yaml"
    book.write_text(
        "name: bad\nversion: '1'\ncodes:\n  - id: fees\n    label: Fees\n    definition: Fees.\n"
        "    patterns: [[{LEMMA: {IN: ask}}]]\ngroups:\n  mechanisms: [fees]\n",
        encoding="utf-8",
    )
    with pytest.raises(CodebookError) as caught:
        ingest(notes_dir, project=project, codebook=book)
    assert "CB006" in {problem.rule for problem in caught.value.problems}
    assert not project.exists(), "a new project is not even created"
    ingest(notes_dir, project=project)
    with pytest.raises(CodebookError):
        ingest(notes_dir, project=project, codebook=book)
    with Store.open(project, readonly=True) as store:
        assert len(store.runs()) == 1


def _sector_rows(project) -> list[tuple]:
    with Store.open(project, readonly=True) as store:
        return [(s.doc_id, s.start, s.end, s.sector, s.sector_source) for s in store.segments()]


@pytest.mark.slow
def test_recode_after_a_term_edit_recodes_only_notes_with_its_words_and_equals_a_fresh_ingest(
    tmp_path, notes_dir, write_note, own_codebook
) -> None:
    write_note("lease.md", "The school asked for a lease. The landlord refused to sign.", city="Chengdu")
    write_note("fees.md", "They paid a sponsorship fee of 5,000 yuan.", city="Beijing")
    write_note("plain.md", "He works on building sites in the east of the city.", city="Beijing")
    book = own_codebook.path
    ingest(notes_dir, project=tmp_path / "p.db", codebook=book)
    own_codebook.edit(*ADD_LANDLORD)

    report = code_project(project=tmp_path / "p.db", codebook=book)
    assert (report.recoded, report.kept) == (1, 2)
    assert report.changes == ["paperwork/terms: landlord"]
    ingest(notes_dir, project=tmp_path / "fresh.db", codebook=book)
    assert codings(tmp_path / "p.db") == codings(tmp_path / "fresh.db")
    assert _sector_rows(tmp_path / "p.db") == _sector_rows(tmp_path / "fresh.db")
    assert code_project(project=tmp_path / "p.db", codebook=book).recoded == 0  # all now coded with it


@pytest.mark.slow
def test_recode_without_the_earlier_codebook_kept_recodes_everything(
    tmp_path, notes_dir, write_note, own_codebook
) -> None:
    write_note("a.md", "The school asked for a lease.")
    write_note("b.md", "He works on building sites.")
    book = own_codebook.path
    ingest(notes_dir, project=tmp_path / "p.db", codebook=book)
    with sqlite3.connect(tmp_path / "p.db") as connection:
        connection.execute("DELETE FROM codebooks")  # as in a project made before codebooks were kept
    book.write_text(book.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    report = code_project(project=tmp_path / "p.db", codebook=book)
    assert (report.recoded, report.kept) == (2, 0)


@pytest.mark.slow
def test_reingest_after_a_term_edit_reads_again_only_notes_with_its_words(
    tmp_path, notes_dir, write_note, own_codebook
) -> None:
    write_note("lease.md", "The school asked for a lease. The landlord refused to sign.", city="Chengdu")
    write_note("fees.md", "They paid a sponsorship fee of 5,000 yuan.", city="Beijing")
    book = own_codebook.path
    ingest(notes_dir, project=tmp_path / "p.db", codebook=book)
    own_codebook.edit(*ADD_LANDLORD)
    report = ingest(notes_dir, project=tmp_path / "p.db", codebook=book)
    assert (report.recoded, report.unchanged, report.kept) == (1, 1, 1)
    assert report.changes == ["paperwork/terms: landlord"]
    ingest(notes_dir, project=tmp_path / "fresh.db", codebook=book)
    assert codings(tmp_path / "p.db") == codings(tmp_path / "fresh.db")
    again = ingest(notes_dir, project=tmp_path / "p.db", codebook=book)
    assert (again.recoded, again.unchanged, again.kept) == (0, 2, 0)


@pytest.mark.slow
def test_a_codebook_saved_again_during_the_run_stops_it_clearly(
    project, notes_dir, write_note, own_codebook, monkeypatch
) -> None:
    write_note("a.md", SENTENCES)
    ingest(notes_dir, project=project, codebook=own_codebook.path)
    write_note("b.md", SENTENCES)  # a new note: this run must load the codebook it identified
    identify = ingest_module._identify_codebook

    def identify_then_edit(store, codebook):
        identified = identify(store, codebook)
        own_codebook.edit(*ADD_LANDLORD)  # the researcher saves an edit at that moment
        return identified

    monkeypatch.setattr(ingest_module, "_identify_codebook", identify_then_edit)
    with pytest.raises(UsageError, match="changed on disk during the run; run the command again"):
        ingest(notes_dir, project=project, codebook=own_codebook.path)
