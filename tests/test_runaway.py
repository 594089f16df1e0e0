"""Runaway matching: glob terms in linear time, a time budget per note for regexes that
backtrack, and Ctrl-C/SIGTERM that stop a run even in the middle of one long note.

Each scenario hung for minutes (or for good) before; they run in subprocesses with timeouts so
a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from note_texts import REDOS_BOOK, SCHOOL  # tests/ is on the path
from polling import finish, ingest_process, notes_and_codebook, phantomcode

from phantomcode.globs import Glob, glob_phrase_spans
from phantomcode.store import Store

GLOB_BOOK = """\
name: globs
version: "1"
codes:
  - id: glob
    label: Glob
    definition: A glob with many stars.
    terms: ['a*a*a*a*b', school]
"""


@settings(max_examples=300, deadline=None, derandomize=True)
@given(pattern=st.text("ab*", min_size=1, max_size=8), word=st.text("ab", max_size=10))
def test_glob_matches_like_the_regex_it_replaces(pattern: str, word: str) -> None:
    import re

    expected = re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), word) is not None
    assert Glob(pattern).fullmatch(word) is expected


def test_glob_phrases_in_text() -> None:
    text = "The hukou certificate, the Hukou  certificates and hukou-certs."
    assert [text[s:e] for s, e in glob_phrase_spans(text, "hukou cert*")] == [
        "hukou certificate",
        "Hukou  certificates",
    ]
    assert list(glob_phrase_spans("a" * 3000, "a*a*a*a*a*a*b")) == []


@pytest.mark.slow  # runs phantomcode as a separate process
def test_a_many_star_glob_and_a_long_word_do_not_hang_ingest_or_kwic(tmp_path: Path) -> None:
    notes, book, project = notes_and_codebook(tmp_path, GLOB_BOOK, {"long.md": "a" * 3000 + " aab school\n"})
    code, stderr = finish(ingest_process(notes, project, book, "-j", "1"), 120)
    assert code == 0, stderr
    with Store.open(project, readonly=True) as store:
        assert len(list(store.coding_rows(code="glob"))) >= 1
    kwic = phantomcode("kwic", "a*a*a*a*a*a*b", "-p", str(project))
    code, stderr = finish(kwic, 60)
    assert code == 0, stderr


@pytest.mark.slow  # runs phantomcode as a separate process
def test_a_regex_that_backtracks_skips_its_note_after_the_time_budget(tmp_path: Path) -> None:
    notes, book, project = notes_and_codebook(tmp_path, REDOS_BOOK, {"slow.md": "a" * 40 + " c\n", "ok.md": SCHOOL})
    started = time.monotonic()
    process = ingest_process(notes, project, book, "-j", "1", env={"PHANTOMCODE_NOTE_SECONDS": "2"})
    code, stderr = finish(process, 120)
    assert code == 1, stderr
    assert "slow.md: coding this note took longer than 2 s" in stderr
    assert time.monotonic() - started < 60
    with Store.open(project, readonly=True) as store:
        assert store.doc_ids() == ["ok"]
        assert [run.status for run in store.runs()] == ["completed"]


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.slow  # runs phantomcode as a separate process
def test_sigterm_stops_within_seconds_inside_a_runaway_note(tmp_path: Path, jobs: str) -> None:
    notes, book, project = notes_and_codebook(tmp_path, REDOS_BOOK, {"slow.md": "a" * 60 + " c\n"})
    process = ingest_process(notes, project, book, "-j", jobs, env={"PHANTOMCODE_NOTE_SECONDS": "0"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the run is recorded, then give coding a moment
        if project.exists():
            try:
                with sqlite3.connect(project) as connection:
                    if connection.execute("SELECT count(*) FROM runs").fetchone()[0]:
                        break
            except sqlite3.Error:
                pass
        time.sleep(0.2)
    time.sleep(8)  # loading spaCy takes a few seconds; then the note runs for good
    assert process.poll() is None, "the runaway note should still be running"
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code, stderr = finish(process, 30)
    assert code == 128 + signal.SIGTERM, stderr
    assert time.monotonic() - sent < 10
    assert "stopped (SIGTERM)" in stderr


def test_a_second_signal_stops_at_once_where_the_first_only_asks() -> None:
    """The first Ctrl-C/SIGTERM sets the flag the loops check; a second one interrupts right away
    (a user pressing Ctrl-C twice means it), whatever the run is doing."""
    from phantomcode.ingest.stopping import StopRequested

    before = signal.getsignal(signal.SIGTERM)
    with StopRequested() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signum == signal.SIGTERM, "the first signal is recorded, not raised"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs between bytecodes; the raise must come before this ends
        assert stop.signum == signal.SIGTERM, "the run still reports the signal that stopped it"
    assert signal.getsignal(signal.SIGTERM) == before, "the handlers it replaced are back"
