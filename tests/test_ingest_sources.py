"""A source file maps to one document, and a folder the walk cannot list is never pruned.

Both were wrong without any error: a changed front-matter ``id`` left the old document beside the
new one (reports counted that respondent twice), and notes under an unreadable folder were
reported as vanished and deleted by ``--prune`` although their files still existed.
"""

from __future__ import annotations

from pathlib import Path

from phantomcode import ingest
from phantomcode.store import Store

NOTE = (
    "The respondent said the school asked for a hukou certificate and refused to enrol her son.\n\n"
    "She moved from Henan in 2015 and works in a garment factory.\n"
)


def opened(project: Path) -> Store:
    return Store.open(project, readonly=True)


def test_an_id_change_replaces_the_document_and_moves_its_review_decisions(tmp_path: Path) -> None:
    notes, project = tmp_path / "notes", tmp_path / "p.db"
    notes.mkdir()
    (notes / "a.md").write_text(f"---\nid: A1\ncity: Beijing\n---\n{NOTE}")
    ingest(notes, project=project, jobs=1)
    with opened(project) as store:
        start, end, code = next((c["start"], c["end"], c["code"]) for c in store.coding_rows() if c["doc_id"] == "A1")
    with Store.open(project) as store, store.writer():
        store.save_reviews(
            [
                {
                    "doc_id": "A1",
                    "start": start,
                    "end": end,
                    "code": code,
                    "decision": "reject",
                    "reviewer": "t",
                    "decided_at": "2026-12-07T00:00:00",
                    "text": NOTE[start:end],
                }
            ]
        )
    (notes / "a.md").write_text(f"---\nid: A2\ncity: Beijing\n---\n{NOTE}")
    report = ingest(notes, project=project, jobs=1, prune=True)
    with opened(project) as store:
        assert [(state.doc_id, state.source) for state in store.stored_states().values()] == [("A2", "a.md")]
    assert report.updated == 1 and not report.vanished
    assert any("id changed from 'A1' to 'A2'" in warning for warning in report.warnings)
    with opened(project) as store:
        assert [(d["doc_id"], d["decision"]) for d in store.review_decisions()] == [("A2", "reject")]
        assert [(d.doc_id, d.reviewer, d.decision) for d in store.reviewer_decisions()] == [("A2", "t", "reject")]
        assert [
            c["status"]
            for c in store.coding_rows(code=code)
            if (c["doc_id"], c["start"], c["end"]) == ("A2", start, end)
        ] == ["rejected"]
        assert "A1" not in store.canonical_attribute_table()


def test_an_unreadable_folder_is_reported_and_never_pruned(tmp_path: Path, refuse_listing) -> None:
    notes, project = tmp_path / "notes", tmp_path / "p.db"
    (notes / "locked").mkdir(parents=True)
    (notes / "a.md").write_text(NOTE)
    (notes / "locked" / "b.md").write_text(NOTE)
    ingest(notes, project=project, jobs=1)
    refuse_listing("locked")
    report = ingest(notes, project=project, jobs=1, prune=True)
    assert report.vanished == [] and report.pruned == 0
    assert any(warning.startswith("locked/: cannot list this folder") for warning in report.warnings)
    with opened(project) as store:
        assert store.doc_ids() == ["a", "locked/b"]
