"""``import qdpx`` stores its hand codings through the same library path as ``review import``
(``review.store_decisions``): each with its coder and time, and counted in ``review stats`` and
``agree`` exactly as the same decisions imported from a review sheet."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from qdpx_fixtures import standard_sources, write_qdpx
from test_qda_import import EXPECTED_DECISIONS

from phantomcode.agree import agreement
from phantomcode.qda_import import import_qdpx
from phantomcode.review import decisions, import_review, review_stats
from phantomcode.store import Store


def per_reviewer(project: Path) -> set[tuple[Any, ...]]:
    with Store.open(project, must_exist=True) as store:
        return {
            (d.doc_id, d.start, d.end, d.code, d.reviewer, d.decided_at, d.decision, d.note)
            for d in store.reviewer_decisions()
        }


def test_import_qdpx_resolves_its_codings_as_review_sheet_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[dict[str, str]] = []
    resolve = decisions._RowResolver.resolve

    def watched(self: Any, number: int, cells: dict[str, str]) -> list[dict[str, Any]]:
        rows.append(cells)
        return resolve(self, number, cells)

    monkeypatch.setattr(decisions._RowResolver, "resolve", watched)
    report = import_qdpx(write_qdpx(tmp_path / "m.qdpx"), project=tmp_path / "p.db")
    assert report.problems == [] and report.new == len(EXPECTED_DECISIONS)
    assert sorted((r["reviewer"], r["decided_at"], r["decision"]) for r in rows) == sorted(
        (d[4], d[5], d[6]) for d in EXPECTED_DECISIONS
    )
    assert {d[:7] for d in per_reviewer(tmp_path / "p.db")} == EXPECTED_DECISIONS


def test_imported_codings_count_in_review_stats_and_agree_as_the_same_review_sheet(tmp_path: Path) -> None:
    """The phantomcode codebook's codes only: a sheet cannot name the file's own code Barriers."""
    sources = standard_sources()
    for source in sources:
        source.selections = [
            (start, end, [(user, [c for c in codes if c != "Barriers"], date) for user, codes, date in codings])
            for start, end, codings in source.selections
        ]
    imported = tmp_path / "qdpx.db"
    import_qdpx(write_qdpx(tmp_path / "m.qdpx", sources), project=imported)
    from_sheet = tmp_path / "sheet.db"
    sources = standard_sources()
    for source in sources:
        source.selections = []
    import_qdpx(write_qdpx(tmp_path / "bare.qdpx", sources), project=from_sheet)  # the documents alone
    sheet = tmp_path / "review.csv"
    with sheet.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["doc_id", "start", "end", "code", "decision", "reviewer", "decided_at", "note"])
        writer.writerows([d[0], d[1], d[2], d[3], d[6], d[4], d[5], d[7] or ""] for d in sorted(per_reviewer(imported)))
    result = import_review(sheet, project=from_sheet)
    assert result.problems == [], result.problems
    assert per_reviewer(from_sheet) == per_reviewer(imported)
    assert review_stats(project=from_sheet).rows() == review_stats(project=imported).rows()
    codes = ["paperwork", "class_size"]
    assert (
        agreement(["alice", "bob"], project=from_sheet, codes=codes).per_code
        == agreement(["alice", "bob"], project=imported, codes=codes).per_code
    )
