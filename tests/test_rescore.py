"""`code` after the model changed: the model alone re-scores documents whose codebook is current.

The proof is a comparison: a project re-coded along the model-only path must hold exactly the
rows (segments, codings with every column, scores, documents, reviews) that a full re-code
(``force``) of a copy writes. Only IDs, run IDs and times may differ (and the ``runs`` table,
whose record of each run counts what it did): rule codings kept by the model-only path keep the
run that made them.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bench_scripts import bench_module
from note_texts import BEIJING, NEGATED, TWO_INTERVIEWS, note

from phantomcode import code_project, ingest, train
from phantomcode.codebook import load_codebook
from phantomcode.coding import CodingEngine
from phantomcode.coding import engine as engine_module
from phantomcode.coding.learned import LearnedModel
from phantomcode.store import Store
from phantomcode.store import codings as codings_module
from phantomcode.training import default_model

pytestmark = pytest.mark.slow  # each codes a project twice, a second or more

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


# Rows that differ between two codings of the same thing by design: IDs given in order, and the
# run that wrote a row (a rule coding the model-only path keeps was written by an earlier run).
VOLATILE = {"segment_id", "coding_id", "review_id", "memo_id", "run_id", "ingested_at", "decided_at", "written_at"}
# The tables coding writes, each with an ORDER BY that makes it independent of insertion order (the
# ones bench/dump_project.py dumps, less ``codebooks`` and ``runs``: records of runs, not codings).
TABLES = {
    table: order for table, order in bench_module("dump_project").TABLES.items() if table not in ("codebooks", "runs")
}

# Sentences the bundled codebook's rules flag while its default model is sure of the same code:
# the flagged rule coding must veto the model's (negated, then hypothetical).
VETOED = (
    "We did not go back to Henan.",
    "If she goes back to her hometown for the operation, it will be cheaper.",
)
NO_RULE = "The first-grade rooms were already at their limit."  # no rule fires; the model codes class_size
EXTRA_NOTES = {
    "extra/veto.md": note(*VETOED, id="X-VETO", city="Chengdu"),
    "extra/no_rule.md": note(NO_RULE, "The weather was mild that spring.", id="X-NORULE", city="Beijing"),
    "extra/accepted.md": note(*BEIJING, NEGATED, id="X-ACCEPTED", city="Beijing"),
}


def dump(project: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row that coding writes, in a stable order, without the volatile columns; a coding
    names its segment by span."""
    with sqlite3.connect(project) as connection:
        connection.row_factory = sqlite3.Row
        tables = {}
        for table, order in TABLES.items():
            query = f"SELECT * FROM {table} ORDER BY {order}"
            if table == "codings":
                query = (
                    "SELECT c.*, s.start AS segment_start, s.end AS segment_end FROM codings c"
                    f" JOIN segments s USING (segment_id) ORDER BY c.{order.replace(', ', ', c.')}"
                )
            tables[table] = [
                {key: row[key] for key in row.keys() if key not in VOLATILE}
                for row in connection.execute(query).fetchall()
            ]
    connection.close()
    return tables


def assert_same_as_full_recode(rescored: Path, forced: Path) -> None:
    mine, full = dump(rescored), dump(forced)
    for table in TABLES:
        assert mine[table] == full[table], f"{table} differs from a full re-code"


def copy_of(project: Path, name: str) -> Path:
    copy = project.with_name(name)
    shutil.copy(project, copy)
    return copy


def recode_both_ways(project: Path, **options: Any) -> tuple[Any, Any]:
    """(report of ``code`` on ``project``, report of ``code --force`` on a copy made first)."""
    forced = copy_of(project, "forced.db")
    return code_project(project=project, jobs=1, **options), code_project(project=forced, jobs=1, force=True, **options)


def decide(project: Path, doc_id: str, sentence: str, code: str, decision: str) -> None:
    """Store one review decision on the sentence of ``doc_id`` (it must occur once in the text)."""
    with Store.open(project) as store:
        text = store.document_texts([doc_id])[doc_id]
        start = text.index(sentence)
        assert text.count(sentence) == 1
        store.save_reviews(
            [
                {
                    "doc_id": doc_id,
                    "start": start,
                    "end": start + len(sentence),
                    "code": code,
                    "decision": decision,
                    "reviewer": "test",
                    "decided_at": "2026-12-07T00:00:00Z",
                    "text": sentence,
                }
            ]
        )


def rows(project: Path, sql: str, *params: Any) -> list[tuple]:
    with sqlite3.connect(project) as connection:
        found = connection.execute(sql, params).fetchall()
    connection.close()
    return found


def latest_model(project: Path) -> LearnedModel:
    with Store.open(project, readonly=True) as store:
        record = store.latest_model()
        assert record is not None
        return LearnedModel.from_bytes(record.data)


# ---------------------------------------------------------------------------------------------
# The words a re-score reads are the engine's own


def words_handed_to_the_model(engine: CodingEngine, texts: list[str], monkeypatch: pytest.MonkeyPatch) -> list:
    """The UnitWords ``code_documents`` hands the learned layer for each text."""
    seen: list = []
    real = engine_module.add_learned_codings

    def spy(model, documents, words, codebook):
        seen.extend(words)
        return real(model, documents, words, codebook)

    monkeypatch.setattr(engine_module, "add_learned_codings", spy)
    list(engine.code_documents((text, {}) for text in texts))
    return seen


def same_words(left: list, right: list) -> bool:
    """Whether two lists of UnitWords hold the same spans and the same word ids."""

    def plain(all_words: list) -> list:
        return [(words.spans, [array.tolist() for array in words.words]) for words in all_words]

    return plain(left) == plain(right)


TEXTS = [
    "\n".join(BEIJING),
    "她回老家做手术了。学校说满了，不收外地孩子。\n\nHe said: the hukou 户口 office sent us away.",
    "A hard-wrapped paragraph that goes on for a while and keeps going past the end of\n"
    "the line without any sentence end at all because it was typed in a narrow editor\n"
    "window long ago by someone in a hurry. Then it stops.\n\n- a list item\n- another one",
    "",
    "   \n\n  ",
]


def test_unit_words_are_the_words_coding_hands_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    book = load_codebook()
    engine = CodingEngine(book, learned=default_model(book))
    handed = words_handed_to_the_model(engine, TEXTS, monkeypatch)
    assert [len(words.spans) for words in handed] == [3, 3, 4, 0, 0]
    assert same_words(list(engine.unit_words(TEXTS)), handed)


def test_unit_words_of_a_paragraph_codebook_and_of_an_installed_pipeline(
    own_codebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spacy

    paragraphs = load_codebook(own_codebook.edit("unit: sentence", "unit: paragraph"))
    model = default_model(load_codebook())
    engine = CodingEngine(paragraphs, learned=model)
    handed = words_handed_to_the_model(engine, TEXTS, monkeypatch)
    assert [len(words.spans) for words in handed][:3] == [2, 2, 2]  # one unit per paragraph
    assert same_words(list(engine.unit_words(TEXTS)), handed)
    pipeline = spacy.blank("en")
    pipeline.add_pipe("sentencizer")
    pipeline.to_disk(tmp_path / "pipeline")  # a --model pipeline: its own vocabulary and sentences
    engine = CodingEngine(load_codebook(), model=str(tmp_path / "pipeline"), learned=model)
    assert same_words(list(engine.unit_words(TEXTS)), words_handed_to_the_model(engine, TEXTS, monkeypatch))


# ---------------------------------------------------------------------------------------------
# Rules-only projects gaining a model, and projects losing it (--rules-only)


def test_a_rules_only_project_gains_the_models_codings_as_a_full_recode_gives_them(
    project_from: Callable[..., Path],
) -> None:
    project = project_from({**TWO_INTERVIEWS, **EXTRA_NOTES}, learned=False)
    assert rows(project, "SELECT count(*) FROM codings WHERE source = 'learned'") == [(0,)]
    rules_before = dump(project)["codings"]
    report, forced = recode_both_ways(project)
    assert (report.recoded, report.rescored, report.skipped) == (5, 5, [])
    assert (forced.recoded, forced.rescored) == (5, 0)
    assert_same_as_full_recode(project, project.with_name("forced.db"))
    learned = rows(project, "SELECT doc_id, code FROM codings WHERE source = 'learned'")
    assert ("X-NORULE", "class_size") in learned, "the document without a rule coding got the model's"
    assert [row for row in dump(project)["codings"] if row["source"] == "rules"] == rules_before
    assert rows(project, "SELECT count(DISTINCT model_hash) FROM documents WHERE model_hash IS NOT NULL") == [(1,)]


def assert_flagged_rule_codings_vetoed_the_model(project: Path) -> None:
    """In X-VETO, each flagged rule coding's code reaches the latest model's threshold in its
    sentence, and the model did not code it there: only the veto stopped it."""
    model = latest_model(project)
    threshold = dict(zip(model.codes, model.thresholds.tolist(), strict=True))
    text = rows(project, "SELECT text FROM documents WHERE doc_id = 'X-VETO'")[0][0]
    flagged = rows(
        project,
        "SELECT c.start, c.end, c.code, s.probabilities FROM codings c JOIN scores s USING (doc_id, start, end)"
        " WHERE c.doc_id = 'X-VETO' AND c.source = 'rules' AND (c.negated = 1 OR c.hypothetical = 1)",
    )
    assert sorted(text[start:end] for start, end, _, _ in flagged) == sorted(VETOED)
    for start, _, code, probabilities in flagged:
        assert json.loads(probabilities)[code] >= threshold[code], "the model would code it: only the veto stops it"
        learned = (
            "SELECT count(*) FROM codings WHERE doc_id = 'X-VETO' AND start = ? AND code = ? AND source = 'learned'"
        )
        assert rows(project, learned, start, code) == [(0,)]


def test_flagged_rule_codings_veto_the_model_on_the_model_only_path(project_from: Callable[..., Path]) -> None:
    project = project_from({**TWO_INTERVIEWS, **EXTRA_NOTES}, learned=False)
    assert code_project(project=project, jobs=1).rescored == 5
    assert_flagged_rule_codings_vetoed_the_model(project)


def test_rules_only_code_removes_the_models_codings_as_a_full_recode_does(
    project_from: Callable[..., Path],
) -> None:
    project = project_from({**TWO_INTERVIEWS, **EXTRA_NOTES})
    assert rows(project, "SELECT count(*) FROM codings WHERE source = 'learned'") != [(0,)]
    report, _ = recode_both_ways(project, learned=False)
    assert (report.recoded, report.rescored) == (5, 5)
    assert_same_as_full_recode(project, project.with_name("forced.db"))
    assert rows(project, "SELECT count(*) FROM codings WHERE source = 'learned'") == [(0,)]
    assert rows(project, "SELECT count(*) FROM scores") == [(0,)]
    assert rows(project, "SELECT count(*) FROM documents WHERE model_hash IS NOT NULL") == [(0,)]
    assert code_project(project=project, jobs=1, learned=False).recoded == 0  # done: nothing left to do


def test_notes_whose_codebook_changed_are_re_coded_in_full(project_from: Callable[..., Path], own_codebook) -> None:
    project = project_from({**TWO_INTERVIEWS, **EXTRA_NOTES}, learned=False)
    code_project(project=project, jobs=1, learned=False, codebook=own_codebook.path)  # now coded with the copy
    edited = own_codebook.edit("  window: {en: 6, zh: 8}", "  window: {en: 7, zh: 8}")  # touches every note
    report, _ = recode_both_ways(project, codebook=edited)
    assert (report.recoded, report.rescored) == (5, 0)
    assert_same_as_full_recode(project, project.with_name("forced.db"))


def test_notes_coded_with_a_codebook_another_version_kept_are_re_coded_in_full(
    project_from: Callable[..., Path],
) -> None:
    older = project_from({**TWO_INTERVIEWS, **EXTRA_NOTES}, learned=False)
    with sqlite3.connect(older) as connection:
        connection.execute("UPDATE codebooks SET tool_version = '0.0.1'")  # as if coded by an older phantomcode
    connection.close()
    report, _ = recode_both_ways(older)
    assert (report.recoded, report.rescored) == (5, 0)
    assert_same_as_full_recode(older, older.with_name("forced.db"))


# ---------------------------------------------------------------------------------------------
# Reviews, failures and kills


def test_reviews_apply_again_and_an_accepted_flagged_coding_sends_its_note_to_the_full_path(
    project_from: Callable[..., Path],
) -> None:
    project = project_from({**TWO_INTERVIEWS, **EXTRA_NOTES}, learned=False)
    decide(project, "X-ACCEPTED", NEGATED, "paperwork", "accept")  # clears the rule's negated flag
    decide(project, "BJ-01", BEIJING[3], "class_size", "reject")
    decide(project, "X-NORULE", NO_RULE, "class_size", "add")  # the model will code it too: accepted
    decide(project, "X-NORULE", "The weather was mild that spring.", "deterred", "add")
    report, _ = recode_both_ways(project)
    assert (report.recoded, report.rescored) == (5, 4), "the note with the accepted negated coding: in full"
    assert_same_as_full_recode(project, project.with_name("forced.db"))
    statuses = rows(project, "SELECT doc_id, code, rule, source, status FROM codings WHERE status != 'auto'")
    assert ("X-NORULE", "class_size", "learned", "learned", "accepted") in statuses
    assert ("X-NORULE", "deterred", "review/add", "rules", "accepted") in statuses
    assert [status for doc_id, code, _, _, status in statuses if (doc_id, code) == ("BJ-01", "class_size")] == [
        "rejected"
    ]


def test_a_note_failing_on_the_model_only_path_is_skipped_and_keeps_its_codings(
    project_from: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_from({**TWO_INTERVIEWS, **EXTRA_NOTES}, learned=False)
    before = dump(project)
    real = CodingEngine.unit_words

    def fails_on_the_veto_note(self, texts):
        texts = list(texts)
        if any(VETOED[0] in text for text in texts):
            raise RuntimeError("boom")
        return real(self, texts)

    monkeypatch.setattr(CodingEngine, "unit_words", fails_on_the_veto_note)
    report = code_project(project=project, jobs=1)
    assert (report.recoded, report.rescored, report.exit_code) == (4, 4, 1)
    assert [(item.source, item.reason.split(" (")[0]) for item in report.skipped] == [("X-VETO", "could not be scored")]
    assert "RuntimeError: boom" in report.skipped[0].reason
    after = dump(project)
    assert [row for row in after["codings"] if row["doc_id"] == "X-VETO"] == [
        row for row in before["codings"] if row["doc_id"] == "X-VETO"
    ]
    assert rows(project, "SELECT model_hash FROM documents WHERE doc_id = 'X-VETO'") == [(None,)]
    monkeypatch.undo()
    again = code_project(project=project, jobs=1)
    assert (again.recoded, again.rescored, again.skipped) == (1, 1, [])


def test_a_run_killed_inside_a_batch_and_run_again_ends_as_a_full_recode(
    project_from: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_from({**TWO_INTERVIEWS, **EXTRA_NOTES}, learned=False)
    forced = copy_of(project, "forced.db")
    real = codings_module.replace_learned
    calls = []

    def dies_in_the_second_batch(db, documents, codebook_hash, run_id):
        calls.append([doc_id for doc_id, _ in documents])
        real(db, documents, codebook_hash, run_id)
        if len(calls) == 2:
            raise SystemExit("killed")  # inside the batch's transaction, after its writes

    monkeypatch.setattr(codings_module, "replace_learned", dies_in_the_second_batch)
    with pytest.raises(SystemExit):
        code_project(project=project, jobs=1, batch_size=2)
    monkeypatch.undo()
    done = rows(project, "SELECT doc_id FROM documents WHERE model_hash IS NOT NULL ORDER BY doc_id")
    assert done == [(doc_id,) for doc_id in sorted(calls[0])], "the first batch only: the second rolled back"
    again = code_project(project=project, jobs=1)
    assert (again.recoded, again.rescored) == (3, 3)
    code_project(project=forced, jobs=1, force=True)
    assert_same_as_full_recode(project, forced)


# ---------------------------------------------------------------------------------------------
# After `train`: the sample notes, Chinese ones included, and a paragraph codebook


def test_code_after_train_matches_a_full_recode_on_the_sample_notes(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    shutil.copytree(SAMPLE / "notes", notes)
    for relpath, text in EXTRA_NOTES.items():
        (notes / relpath).parent.mkdir(exist_ok=True)
        (notes / relpath).write_text(text, encoding="utf-8")
    project = tmp_path / "p.db"
    assert not ingest(notes, project=project, jobs=1).skipped
    decide(project, "X-ACCEPTED", NEGATED, "paperwork", "accept")
    decide(project, "X-NORULE", "The weather was mild that spring.", "deterred", "add")
    before = dump(project)
    old_model = rows(project, "SELECT DISTINCT model_hash FROM documents")
    trained = train(project, gold=[SAMPLE / "gold.csv"])
    assert [(trained.model_hash,)] != old_model
    documents = len(before["documents"])
    report, forced = recode_both_ways(project)
    assert (report.recoded, report.rescored) == (documents, documents - 1)
    assert forced.recoded == documents
    assert_same_as_full_recode(project, project.with_name("forced.db"))
    after = dump(project)
    assert after["codings"] != before["codings"] and after["scores"] != before["scores"], "the model changed codings"
    assert_flagged_rule_codings_vetoed_the_model(project)
    assert ("X-NORULE", "class_size") in rows(project, "SELECT doc_id, code FROM codings WHERE source = 'learned'")
    chinese = rows(project, "SELECT doc_id FROM documents WHERE source LIKE '%\\_zh.%' ESCAPE '\\'")
    assert len(chinese) >= 3
    assert rows(
        project,
        "SELECT count(DISTINCT doc_id) FROM scores WHERE doc_id IN (SELECT doc_id FROM documents"
        " WHERE source LIKE '%\\_zh.%' ESCAPE '\\')",
    ) == [(len(chinese),)]


def test_code_after_train_matches_a_full_recode_with_a_paragraph_codebook(tmp_path: Path, own_codebook) -> None:
    codebook = own_codebook.edit("unit: sentence", "unit: paragraph")
    notes = tmp_path / "notes"
    for relpath, text in {**TWO_INTERVIEWS, **EXTRA_NOTES}.items():
        (notes / relpath).parent.mkdir(parents=True, exist_ok=True)
        (notes / relpath).write_text(text, encoding="utf-8")
    project = tmp_path / "p.db"
    ingest(notes, project=project, codebook=codebook, jobs=1)
    assert rows(project, "SELECT DISTINCT unit FROM segments") == [("paragraph",)]
    decide(project, "X-NORULE", NO_RULE, "class_size", "add")
    train(project, codebook=codebook, gold=[SAMPLE / "gold.csv"])
    report, _ = recode_both_ways(project, codebook=codebook)
    assert (report.recoded, report.rescored) == (5, 5)
    assert_same_as_full_recode(project, project.with_name("forced.db"))


def test_sigkill_during_a_model_only_code_then_rerun_ends_as_a_full_recode(tmp_path: Path) -> None:
    notes, project = tmp_path / "notes", tmp_path / "p.db"
    for number in range(1200):
        body = "\n".join([*VETOED, NO_RULE, BEIJING[0], TWO_INTERVIEWS["b.md"].split("---\n")[-1]])
        (notes / f"c{number % 6}").mkdir(parents=True, exist_ok=True)
        (notes / f"c{number % 6}" / f"n{number:05d}.md").write_text(f"Note {number}.\n{body}", encoding="utf-8")

    def phantomcode(*args: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "phantomcode", *args, "--project", str(project), "--quiet", "--jobs", "1"]
        return subprocess.Popen(command, stderr=subprocess.PIPE, text=True)

    assert phantomcode("ingest", str(notes), "--rules-only").wait() == 0
    forced = copy_of(project, "forced.db")
    process = phantomcode("code")
    done = 0
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline and not done:
        try:
            done = rows(project, "SELECT count(*) FROM documents WHERE model_hash IS NOT NULL")[0][0]
        except sqlite3.OperationalError:
            pass
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = rows(project, "SELECT count(*) FROM documents WHERE model_hash IS NOT NULL")[0][0]
    assert 0 < done < 1200, "the kill must land mid-run for this test to mean anything"
    rerun = phantomcode("code")
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert f"re-coded {1200 - done} of 1200" in stderr and f"{1200 - done} of them re-scored" in stderr
    code_project(project=forced, jobs=1, force=True)
    assert_same_as_full_recode(project, forced)
