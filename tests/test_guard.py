"""The per-note guard: one note's failure, whatever its exception, costs that note only.

Every input here crashed a whole ingest (or ``pii-scan``) before: the batch with the good notes
was lost, the run stayed 'running', and a re-run failed the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from note_texts import NEUTRAL_BODY  # tests/ is on the path

from phantomcode import ingest
from phantomcode.cli import app
from phantomcode.errors import NoteError
from phantomcode.notes import NoteFile, read_note_file, split_front_matter
from phantomcode.store import Store

BODY = NEUTRAL_BODY  # codes nothing


def stored(project: Path) -> dict[str, dict]:
    with Store.open(project, readonly=True) as store:
        return {
            doc["doc_id"]: {"source": doc["source"], "attributes": doc["attributes"]} for doc in store.iter_documents()
        }


def last_run_status(project: Path) -> str:
    with Store.open(project, readonly=True) as store:
        return store.runs()[-1].status


@pytest.mark.parametrize(
    ("front", "value"),
    [
        ("!!int abc", "abc"),
        ("!!float abc", "abc"),
        ("!!timestamp abc", "abc"),
        ("!!timestamp 2020-13-45", "2020-13-45"),
        ("!!bool q", "q"),
        ("!!int", ""),
        ("!!binary '%%%'", "%%%"),
        ("!!null x", "x"),
        ("!!int 007", "007"),
    ],
)
def test_typed_yaml_tags_are_kept_as_text(front: str, value: str) -> None:
    attributes, body = split_front_matter(f"---\nyear: {front}\nid: A1\n---\n{BODY}")
    assert attributes == {"year": value, "id": "A1"} and body == BODY


@pytest.mark.parametrize(
    "front", ["x: !!set {a: b}", "x: !!python/object:os.system ls", "x: !custom 1", "? [a, b]\n: c", "x: !!str [a, b]"]
)
def test_other_tags_and_shapes_are_a_note_error(front: str) -> None:
    with pytest.raises(NoteError):
        split_front_matter(f"---\n{front}\n---\n{BODY}")


def test_lone_surrogate_becomes_a_replacement_character() -> None:
    attributes, _ = split_front_matter(f'---\ncity: "\\ud800x"\n---\n{BODY}')
    assert attributes == {"city": "\ufffdx"}


def test_deep_nesting_and_an_alias_bomb_are_refused_quickly() -> None:
    deep = "---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\nbody\n"
    with pytest.raises(NoteError, match="nested more than"):
        split_front_matter(deep)
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    laughs += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
    with pytest.raises(NoteError, match="alias"):
        split_front_matter("---\n" + "\n".join(laughs) + "\n---\nbody\n")


def write(folder: Path, name: str | bytes, text: str) -> None:
    if isinstance(name, bytes):  # a name that is not UTF-8: Python sees it surrogate-escaped
        name = name.decode("utf-8", "surrogateescape")
    path = folder / name
    path.write_bytes(text.encode("utf-8"))


HOSTILE_FRONT = {
    "tag.md": "---\nyear: !!int abc\n---\n" + BODY,
    "surrogate.md": '---\ncity: "\\ud800"\n---\n' + BODY,
    "deep.md": "---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n" + BODY,
}


@pytest.mark.slow
def test_one_batch_with_hostile_notes_stores_the_good_ones_and_completes(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in HOSTILE_FRONT.items():
        write(notes, name, text)
    write(notes, "good.md", BODY)
    write(notes, b"\xb1\xb1\xbe\xa9.txt", BODY)  # GBK bytes for 北京.txt, as unzip leaves them on Linux
    report = ingest(notes, project=tmp_path / "p.db", jobs=1)
    docs = stored(tmp_path / "p.db")
    assert set(docs) == {"good", "tag", "surrogate", "\\xb1\\xb1\\xbe\\xa9"}
    assert docs["tag"]["attributes"] == {"year": "abc"}
    assert docs["surrogate"]["attributes"] == {"city": "\ufffd"}
    assert [s.source for s in report.skipped] == ["deep.md"]
    assert last_run_status(tmp_path / "p.db") == "completed"
    again = ingest(notes, project=tmp_path / "p.db", jobs=1)
    assert again.unchanged == 4 and [s.source for s in again.skipped] == ["deep.md"]


@pytest.mark.slow
def test_an_unexpected_exception_in_one_note_skips_that_note_only(tmp_path: Path, runner, monkeypatch) -> None:
    import phantomcode.workers as workers

    notes = tmp_path / "notes"
    notes.mkdir()
    for name in ("a.md", "b.md", "c.md"):
        write(notes, name, BODY)
    original = workers.read_note_file

    def explode_on_b(note_file, **kwargs):
        if note_file.relpath == "b.md":
            raise AttributeError("'NoneType' object has no attribute 'x'")
        return original(note_file, **kwargs)

    monkeypatch.setattr(workers, "read_note_file", explode_on_b)
    project = tmp_path / "p.db"
    result = runner.invoke(app, ["ingest", str(notes), "-p", str(project), "-q", "-j", "1"])
    assert result.exit_code == 1, result.output
    assert set(stored(project)) == {"a", "c"}
    assert "b.md: could not be read (AttributeError" in result.output
    assert "Traceback" not in result.output
    assert last_run_status(project) == "completed"
    debug = runner.invoke(app, ["--debug", "ingest", str(notes), "-p", str(project), "-q", "-j", "1"])
    assert debug.exit_code == 1 and "Traceback (most recent call last)" in debug.output
    assert "explode_on_b" in debug.output


@pytest.mark.slow
def test_an_engine_failure_on_one_note_skips_that_note_only(tmp_path: Path, fail_coding_on) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    write(notes, "a.md", BODY)
    write(notes, "b.md", "poison " + BODY)
    fail_coding_on("poison", IndexError("list index out of range"))
    report = ingest(notes, project=tmp_path / "p.db", jobs=1)
    assert set(stored(tmp_path / "p.db")) == {"a"}
    assert [(s.source, s.reason.split(" (")[0]) for s in report.skipped] == [("b.md", "could not be coded")]


@pytest.mark.slow
def test_a_value_the_store_refuses_skips_that_note_only(tmp_path: Path, monkeypatch) -> None:
    """The last line of defence: a record SQLite cannot write is retried alone and skipped."""
    import phantomcode.store as store_module

    notes = tmp_path / "notes"
    notes.mkdir()
    for name in ("a.md", "b.md", "c.md"):
        write(notes, name, BODY)
    original = store_module.Store.save_documents

    def refuse_b(self, batch, **kwargs):
        if any(record.doc_id == "b" for record, _ in batch):
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return original(self, batch, **kwargs)

    monkeypatch.setattr(store_module.Store, "save_documents", refuse_b)
    report = ingest(notes, project=tmp_path / "p.db", jobs=1)
    assert set(stored(tmp_path / "p.db")) == {"a", "c"}
    assert [s.source for s in report.skipped] == ["b.md"] and report.added == 2


def test_pii_scan_reports_hostile_notes_and_scans_the_rest(tmp_path: Path, runner) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in HOSTILE_FRONT.items():
        write(notes, name, text)
    write(notes, "phone.md", "Call me on 13812345678.\n")
    write(notes, b"\xb1\xb1.txt", BODY)
    result = runner.invoke(app, ["pii-scan", str(notes)])
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert "phone.md" in result.output and "deep.md" in result.output


def test_read_note_file_of_a_non_utf8_name(tmp_path: Path) -> None:
    raw = bytes(tmp_path) + b"/\xb1\xb1.txt"
    Path(raw.decode("utf-8", "surrogateescape")).write_text(BODY)
    from phantomcode.notes import scan_note_folder

    [found] = scan_note_folder(tmp_path).files
    assert found.relpath == "\\xb1\\xb1.txt"
    assert read_note_file(NoteFile(found.path, found.relpath)).text == BODY
