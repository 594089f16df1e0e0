"""What a codebook edit can affect: documents without a clue of a changed rule must code the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantomcode.changes import codebook_change
from phantomcode.codebook import Codebook, load_codebook
from phantomcode.coding import CodingEngine
from phantomcode.notes import find_note_files, read_note_file

SAMPLE_NOTES = Path(__file__).resolve().parents[1] / "sample_data" / "notes"

# (description, old text, new text): each edit is made once in the bundled codebook.
EDITS = [
    ("a term added", "      - five documents\n", "      - five documents\n      - landlord\n"),
    ("a term removed", "      - five certificates\n", ""),
    ("a near-set word added", "told to go,", "told to go, office,"),
    ("a negation trigger added", "  before: [not,", "  before: [not, rarely,"),
    ("a sector cue added", "  education: [school,", "  education: [school, class,"),
    ("a regex changed", "(趟|次|个部门|个地方)", "(趟|次|个部门|个地方|个窗口)"),
]


def _sample_texts() -> list[str]:
    return [
        read_note_file(note).text for note in find_note_files(SAMPLE_NOTES) if note.relpath.endswith((".md", ".txt"))
    ]


def _codings(engine: CodingEngine, text: str) -> list[tuple]:
    return [
        (
            s.start,
            s.end,
            s.sector,
            c.code,
            c.rule,
            c.negated,
            c.hypothetical,
            tuple((m.start, m.end, m.term) for m in c.matched),
        )
        for s in engine.code_document(text)
        for c in s.codings
    ]


@pytest.fixture(scope="module")
def bundled() -> tuple[Codebook, CodingEngine]:
    book = load_codebook()
    return book, CodingEngine(book)


@pytest.mark.slow
@pytest.mark.parametrize("description,old,new", EDITS, ids=[e[0] for e in EDITS])
def test_documents_without_a_clue_code_the_same(
    own_codebook, bundled: tuple[Codebook, CodingEngine], description: str, old: str, new: str
) -> None:
    book, engine = bundled
    edited = load_codebook(own_codebook.edit(old, new))
    change = codebook_change(book, edited)
    assert not change.everything and change.changed, description
    edited_engine = CodingEngine(edited)
    texts = _sample_texts()
    unaffected = [text for text in texts if not change.affects(text)]
    assert unaffected, "some sample note must lack the clue, or the test proves nothing"
    for text in unaffected:
        assert _codings(edited_engine, text) == _codings(engine, text)


def test_an_added_term_affects_the_notes_that_use_any_form_of_it(
    own_codebook, bundled: tuple[Codebook, CodingEngine]
) -> None:
    edited = load_codebook(
        own_codebook.edit("      - five documents\n", "      - five documents\n      - stamped tenancy paper\n")
    )
    change = codebook_change(bundled[0], edited)
    assert change.changed == ("paperwork/terms: stamped tenancy paper",)
    assert change.affects("They had no TENANCIES at all.")  # another form, other case
    assert not change.affects("They had no lease at all.")
    engine = CodingEngine(edited)
    assert any(
        c.code == "paperwork" for s in engine.code_document("He needed stamped tenancy papers.") for c in s.codings
    )


def test_an_unchanged_codebook_affects_nothing(bundled: tuple[Codebook, CodingEngine]) -> None:
    change = codebook_change(bundled[0], bundled[0])
    assert not change.everything and not change.changed
    assert not change.affects("Five documents were demanded.")


@pytest.mark.parametrize(
    "old,new",
    [
        ("        within: 8\n      # a lack word", "        within: 9\n      # a lack word"),  # a near distance
        ("  window: {en: 6, zh: 8}", "  window: {en: 7, zh: 8}"),  # the negation window
    ],
)
def test_structural_changes_affect_everything(
    own_codebook, bundled: tuple[Codebook, CodingEngine], old: str, new: str
) -> None:
    change = codebook_change(bundled[0], load_codebook(own_codebook.edit(old, new)))
    assert change.everything and change.affects("anything at all")
