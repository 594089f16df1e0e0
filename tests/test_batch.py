"""The batch API: ``read_note``, the pickled engine, the versioned row schema and its round trip,
and a Dask partition's handling of bad notes (run here, in this process)."""

from __future__ import annotations

import pickle
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from note_texts import REDOS_BOOK  # tests/ is on the path, as for qdpx_fixtures

from phantomcode.batch import (
    CODINGS_SCHEMA,
    NOTES_SCHEMA,
    SCHEMA_VERSION,
    check_schema,
    outcome_tables,
    outcomes_from_tables,
    read_note,
)
from phantomcode.cli import app
from phantomcode.codebook import load_codebook
from phantomcode.coding import CodingEngine
from phantomcode.coding.engine import engine_from_source
from phantomcode.distributed import code_partition, import_parquet, partition_bounds
from phantomcode.errors import NoteError, UsageError
from phantomcode.ingest import ingest
from phantomcode.notes import NoteFile
from phantomcode.store import Store
from phantomcode.workers import IngestJob, NoteSkip, NoteTask, code_tasks

SENTENCES = (
    "The school asked for five documents and a lease in her own name. "
    "The hospital said the rural insurance would not reimburse anything here. "
)


@pytest.fixture(scope="module")
def engine(bundled_engine: CodingEngine) -> CodingEngine:
    return bundled_engine


def test_engine_pickles_as_its_codebook_bytes_and_is_rebuilt_once_per_process(engine) -> None:
    data = pickle.dumps(engine)
    assert len(data) < len(engine.codebook.source) + 1024, "the engine ships as its codebook's bytes"
    first, second = pickle.loads(data), pickle.loads(data)
    assert first is second, "unpickling again reuses the engine this process already built"
    assert first.code_document(SENTENCES) == engine.code_document(SENTENCES)
    assert engine_from_source(engine.codebook.source, "x.yaml", None) is first


@pytest.mark.slow
def test_read_note_gives_the_text_attributes_and_id_ingest_stores(tmp_path, notes_dir, write_note) -> None:
    write_note("beijing/migrant/a.md", SENTENCES + "Call 13812345678.", city="bj", id="A-1")
    write_note("chengdu/official/b.txt", SENTENCES)
    (notes_dir / "metadata.csv").write_text("file,year\nchengdu/official/b.txt,2019\n", encoding="utf-8")
    project = tmp_path / "p.db"
    ingest(notes_dir, project=project, path_attrs="{city}/{respondent_type}", pii="redact")
    with Store.open(project, readonly=True) as store:
        stored = {doc["doc_id"]: (doc["text"], doc["attributes"], doc["source"]) for doc in store.iter_documents()}
    for relpath in ("beijing/migrant/a.md", "chengdu/official/b.txt"):
        read = read_note(notes_dir / relpath, notes_dir, path_attrs="{city}/{respondent_type}", pii="redact")
        text, attributes, source = stored[read.record.doc_id]
        assert (read.record.text, source) == (text, relpath)
        assert read.record.attributes == attributes
    assert "13812345678" not in read_note(notes_dir / "beijing/migrant/a.md", notes_dir, pii="redact").record.text
    assert read_note(notes_dir / "beijing/migrant/a.md", notes_dir).record.attributes["city"] == "bj"


def test_read_note_maps_attribute_values_with_the_codebook_it_is_given(notes_dir, write_note, own_codebook) -> None:
    path = write_note("a.md", SENTENCES, city="BJ")
    edited = load_codebook(
        own_codebook.edit(
            "Beijing: [Peking, 北京, 北京市, bei jing, BJ]",
            "Beijing: [Peking, 北京, 北京市, bei jing]\n    Bj-Region: [BJ]",
        )
    )
    assert read_note(path, notes_dir).record.attribute_rows == [("city", "Beijing", "BJ")]
    assert read_note(path, notes_dir, codebook=edited).record.attribute_rows == [("city", "Bj-Region", "BJ")]


def test_unpickled_engines_are_one_per_thread(engine) -> None:
    data = pickle.dumps(engine)
    here = pickle.loads(data)
    elsewhere = []
    thread = threading.Thread(target=lambda: elsewhere.append(pickle.loads(data)))
    thread.start()
    thread.join()
    assert elsewhere[0] is not here, "an engine learns word forms as it codes: never shared by two threads"


def test_read_note_raises_what_ingest_reports(tmp_path, notes_dir) -> None:
    (notes_dir / "broken.docx").write_bytes(b"not a zip file")
    with pytest.raises(NoteError):
        read_note(notes_dir / "broken.docx", notes_dir)
    outside = tmp_path / "elsewhere.md"
    outside.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="not inside the notes folder"):
        read_note(outside, notes_dir)


def test_code_batch_gives_one_row_per_coding_in_the_versioned_schema(engine) -> None:
    table = engine.code_batch([("d1", SENTENCES, {}), ("d2", "Nothing to code here.", {}), ("d3", SENTENCES, {})])
    assert table.schema.equals(CODINGS_SCHEMA, check_metadata=False)
    assert table.schema.metadata[b"phantomcode.schema_version"] == str(SCHEMA_VERSION).encode()
    assert table.schema.metadata[b"phantomcode.codebook"] == engine.codebook.source
    expected = sum(len(s.codings) for s in engine.code_document(SENTENCES))
    assert table.column("doc_id").to_pylist() == ["d1"] * expected + ["d3"] * expected
    assert set(table.column("source").to_pylist()) == {"rules"}
    assert table.column("probability").null_count == table.num_rows
    assert table.column("model_hash").null_count == table.num_rows
    first = engine.code_document(SENTENCES)[0].codings[0]
    row = table.slice(0, 1).to_pylist()[0]
    assert (row["code"], row["rule"], row["start"], row["end"]) == (first.code, first.rule, first.start, first.end)
    assert [m["text"] for m in row["matched"]] == [m.text for m in first.matched]


def _tasks(notes_dir, names):
    return [NoteTask(NoteFile(str(notes_dir / name), name), None, {}) for name in names]


def test_tables_give_back_exactly_what_the_workers_returned(engine, notes_dir, write_note) -> None:
    write_note("a.md", SENTENCES, city="Beijing", sector="health")
    write_note("b.md", "Nothing here.")
    write_note("c.md", SENTENCES * 3 + "\n\n学校要求五证。", city="上海")
    (notes_dir / "d.docx").write_bytes(b"not a zip file")
    names = ["a.md", "b.md", "c.md", "d.docx"]
    job = IngestJob(engine, _tasks(notes_dir, names), str(notes_dir), 10**6, "warn")
    outcomes = code_tasks(job, range(len(names)))
    assert isinstance(outcomes[3], NoteSkip) and not isinstance(outcomes[0], NoteSkip)
    notes, codings = outcome_tables(names, outcomes, first_position=7, codebook=engine.codebook)
    check_schema(notes, "notes", "n")
    check_schema(codings, "codings", "c")
    assert notes.column("position").to_pylist() == [7, 8, 9, 10]
    assert outcomes_from_tables(notes, codings) == list(zip(names, outcomes, strict=True))
    assert notes.schema.equals(NOTES_SCHEMA, check_metadata=False)


def test_a_newer_schema_or_another_table_is_refused(engine) -> None:
    table = engine.code_batch([("d1", SENTENCES, {})])
    newer = table.replace_schema_metadata(
        {**table.schema.metadata, b"phantomcode.schema_version": str(SCHEMA_VERSION + 1).encode()}
    )
    with pytest.raises(UsageError, match="newer than this phantomcode reads"):
        check_schema(newer, "codings", "f.parquet")
    with pytest.raises(UsageError, match="not a phantomcode notes table"):
        check_schema(table, "notes", "f.parquet")
    with pytest.raises(UsageError, match="not a phantomcode codings table"):
        check_schema(pa.table({"x": [1]}), "codings", "f.parquet")


def test_a_note_whose_coding_raises_is_reported_and_the_partition_keeps_the_others(
    engine, notes_dir, write_note, fail_coding_on
) -> None:
    write_note("a.md", SENTENCES)
    write_note("b.md", "EXPLODE " + SENTENCES)
    write_note("c.md", SENTENCES)
    fail_coding_on("EXPLODE", RuntimeError("the engine broke on this note"))
    notes, codings = code_partition(
        engine, _tasks(notes_dir, ["a.md", "b.md", "c.md"]), str(notes_dir), 10**6, "warn", 0
    )
    errors = notes.column("error").to_pylist()
    assert errors[0] is None and errors[2] is None
    assert "RuntimeError: the engine broke on this note" in errors[1]
    assert set(codings.column("doc_id").to_pylist()) == {"a", "c"}


@pytest.mark.slow
def test_a_partition_keeps_the_time_budget_per_note(tmp_path, notes_dir, write_note) -> None:
    """The budget of issue 12 reaches a Dask task: a runaway note is skipped, the others coded."""
    book = tmp_path / "redos.yaml"
    book.write_text(REDOS_BOOK, encoding="utf-8")
    write_note("ok.md", "a b c")
    write_note("slow.md", "a" * 40 + " c")
    started = time.monotonic()
    notes, codings = code_partition(
        CodingEngine(load_codebook(book)),
        _tasks(notes_dir, ["ok.md", "slow.md"]),
        str(notes_dir),
        10**6,
        "warn",
        0,
        1.0,
    )
    assert time.monotonic() - started < 30, "the runaway note must be stopped by its budget"
    errors = notes.column("error").to_pylist()
    assert errors[0] is None and "took longer than 1 s" in errors[1]
    assert set(codings.column("doc_id").to_pylist()) <= {"ok"}


@pytest.mark.parametrize(("count", "partitions"), [(10, 3), (3, 5), (2000, 7), (1, 1)])
def test_partitions_cover_every_note_once_in_order(count, partitions) -> None:
    bounds = partition_bounds(count, partitions)
    assert [i for part in bounds for i in part] == list(range(count))
    assert all(len(part) for part in bounds) and len(bounds) == min(count, partitions)
    assert max(map(len, bounds)) - min(map(len, bounds)) <= 1


def test_import_parquet_refuses_a_folder_without_phantomcode_files(tmp_path, runner) -> None:
    (tmp_path / "notes").mkdir()
    result = runner.invoke(app, ["import", "parquet", str(tmp_path), "--project", str(tmp_path / "p.db")])
    assert result.exit_code == 2 and "no notes/*.parquet files" in result.output
    pq.write_table(pa.table({"x": [1]}), tmp_path / "notes" / "part-00000.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "notes" / "part-00001.parquet")
    (tmp_path / "codings").mkdir()
    pq.write_table(pa.table({"x": [1]}), tmp_path / "codings" / "part-00000.parquet")
    with pytest.raises(UsageError, match="codings file .* is missing"):
        import_parquet(tmp_path, project=tmp_path / "p.db")


def test_dask_options_only_with_engine_dask(runner, notes_dir, tmp_path) -> None:
    result = runner.invoke(app, ["ingest", str(notes_dir), "--project", str(tmp_path / "p.db"), "--partitions", "3"])
    assert result.exit_code == 2 and "--partitions only apply with --engine dask" in result.output
    result = runner.invoke(app, ["ingest", str(notes_dir), "--project", str(tmp_path / "p.db"), "--engine", "spark"])
    assert result.exit_code == 2 and "unknown --engine" in result.output


@pytest.fixture(scope="module")
def learned_engine() -> CodingEngine:
    from phantomcode.coding.learned import fit
    from phantomcode.training import labelled_sentences

    book = load_codebook()
    return CodingEngine(book, learned=fit(labelled_sentences(book), book.code_ids()))


@pytest.mark.slow
def test_a_pickled_engine_carries_its_learned_model_and_code_batch_fills_the_learned_columns(learned_engine) -> None:
    """The Dask path ships the engine pickled: without the model's bytes a worker would code with
    the rules alone and a Dask ingest would differ from a local one."""
    rebuilt = pickle.loads(pickle.dumps(learned_engine))
    assert rebuilt is not learned_engine and rebuilt.learned is not None
    assert rebuilt.learned.content_hash == learned_engine.learned.content_hash
    docs = [("d1", SENTENCES, {}), ("d2", "The first-grade rooms were already at their limit, she said.", {})]
    table = rebuilt.code_batch(docs)
    assert table.to_pylist() == learned_engine.code_batch(docs).to_pylist()
    learned = [row for row in table.to_pylist() if row["source"] == "learned"]
    assert learned, "the learned layer adds codings the rules missed"
    for row in learned:
        assert 0 < row["probability"] <= 1 and row["model_hash"] == learned_engine.learned.content_hash
        assert row["explanation"]
    rules = [row for row in table.to_pylist() if row["source"] == "rules"]
    assert rules and all(row["probability"] is None and row["model_hash"] is None for row in rules)
