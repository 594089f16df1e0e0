"""Scoring a project's codings against a gold CSV, sentence by sentence (phantomcode.evaluate)."""

from __future__ import annotations

from pathlib import Path

import pytest
from note_texts import FULL, HOMETOWN, LEASE, NEGATED, WUZHENG  # tests/ is on the path

from phantomcode.errors import UsageError
from phantomcode.evaluate import EvaluationError, GoldUnit, evaluate, read_gold


@pytest.fixture
def project(two_interviews: Path) -> Path:
    return two_interviews


def write_gold(path: Path, rows: list[tuple[str, str, str]], *, header: str = "note_id,sentence,codes") -> Path:
    lines = [header, *(",".join(f'"{cell}"' for cell in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_gold_splits_codes_and_numbers_rows_as_a_spreadsheet_does(tmp_path: Path) -> None:
    gold = write_gold(tmp_path / "gold.csv", [("BJ-01", f" {FULL} ", "class_size; paperwork"), ("BJ-01", LEASE, "")])
    assert read_gold(gold) == [
        GoldUnit(2, "BJ-01", FULL, frozenset({"class_size", "paperwork"})),
        GoldUnit(3, "BJ-01", LEASE, frozenset()),
    ]


def test_a_gold_file_without_its_columns_is_refused_naming_them(tmp_path: Path) -> None:
    gold = write_gold(tmp_path / "gold.csv", [("BJ-01", FULL)], header="note_id,text")
    with pytest.raises(UsageError, match="missing sentence, codes"):
        read_gold(gold)
    with pytest.raises(UsageError, match="cannot read the gold file"):
        read_gold(tmp_path / "absent.csv")


@pytest.mark.slow
def test_rules_are_scored_per_sentence_and_unusable_rows_are_listed(project: Path, tmp_path: Path) -> None:
    gold = write_gold(
        tmp_path / "gold.csv",
        [
            ("BJ-01", WUZHENG, "paperwork"),  # the rules also say office_runaround: a false positive
            ("BJ-01", LEASE, "paperwork"),  # found
            ("BJ-01", FULL, "class_size"),  # found
            ("BJ-01", NEGATED, ""),  # the negated hit does not count: a true negative
            ("SH-01", HOMETOWN, "return_home;deterred"),  # deterred missed
            ("SH-01", "A sentence the note does not hold.", "deterred"),
            ("XX-01", "Nope.", ""),
        ],
    )
    result = evaluate(gold, project=project)
    assert result.measured == "rules" and result.gold_rows == 7 and result.metrics.units == 5
    assert result.problems == (
        "row 7: sentence not found in SH-01: 'A sentence the note does not hold.'",
        "row 8: no stored document 'XX-01'",
    )
    scores = {c.code: (c.tp, c.fp, c.fn) for c in result.metrics.per_code}
    assert scores["paperwork"] == (2, 0, 0)
    assert scores["office_runaround"] == (0, 1, 0)
    assert scores["class_size"] == (1, 0, 0)
    assert scores["deterred"] == (0, 0, 1)
    assert scores["return_home"] == (1, 0, 0)
    assert (result.metrics.micro.tp, result.metrics.micro.fp, result.metrics.micro.fn) == (4, 1, 1)
    assert [c.code for c in result.metrics.per_code] == [  # the gold's and the project's codes, codebook order
        "paperwork",
        "office_runaround",
        "class_size",
        "reimbursement_gap",
        "return_home",
        "deterred",
    ]


def test_codes_limits_the_scored_codes(project: Path, tmp_path: Path) -> None:
    gold = write_gold(tmp_path / "gold.csv", [("BJ-01", WUZHENG, "paperwork")])
    result = evaluate(gold, project=project, codes=["paperwork"])
    assert [c.code for c in result.metrics.per_code] == ["paperwork"]
    assert result.metrics.micro.precision == 1.0


def test_a_gold_file_for_other_notes_is_an_error_not_a_zero_score(project: Path, tmp_path: Path) -> None:
    gold = write_gold(tmp_path / "gold.csv", [("XX-01", "Nope.", ""), ("XX-02", "Nope.", "paperwork")])
    with pytest.raises(EvaluationError, match="none of the 2 documents"):
        evaluate(gold, project=project)


def test_unknown_predictions_are_refused(project: Path, tmp_path: Path) -> None:
    gold = write_gold(tmp_path / "gold.csv", [("BJ-01", WUZHENG, "paperwork")])
    with pytest.raises(UsageError, match="combined, rules, model"):
        evaluate(gold, project=project, predictions="both")
