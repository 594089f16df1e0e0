"""Agreement figures against values computed by hand, and the unit frames they are computed on."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from note_texts import BEIJING, FULL, LEASE, NEGATED, WUZHENG, note  # tests/ is on the path

from phantomcode.agree import agreement, code_agreement, cohen_kappa, krippendorff_alpha, percent_agreement
from phantomcode.errors import UsageError
from phantomcode.evaluate import evaluate
from phantomcode.review import export_review, import_review

# -- the figures on small tables ------------------------------------------------------------------


def table(tp: int, fp: int, fn: int, tn: int) -> tuple[list[int], list[int]]:
    """Two coders' 0/1 values producing this 2x2 table (first coder = rows, second = columns)."""
    first = [1] * tp + [0] * fp + [1] * fn + [0] * tn
    second = [1] * tp + [1] * fp + [0] * fn + [0] * tn
    return first, second


def test_cohen_kappa_by_hand() -> None:
    # n = 50, p_o = 35/50 = 0.70; marginals 30/50 and 25/50 say "present":
    # p_e = 0.6 * 0.5 + 0.4 * 0.5 = 0.50 (a sum over both categories); kappa = 0.2 / 0.5 = 0.40
    first, second = table(20, 5, 10, 15)
    assert cohen_kappa(first, second) == pytest.approx(0.40)
    assert cohen_kappa(second, first) == pytest.approx(0.40)
    assert percent_agreement([first, second]) == pytest.approx(0.70)
    # perfect agreement on a rare code: p_o = 1, p_e = 0.1^2 + 0.9^2 = 0.82 -> kappa 1
    first, second = table(1, 0, 0, 9)
    assert cohen_kappa(first, second) == pytest.approx(1.0)
    # units no coder coded count as agreement on absence: 2 extra empty units raise p_o and p_e
    # p_o = 37/52, p_e = (30*25 + 22*27) / 52^2 = 1344/2704; kappa = (37*52 - 1344) / (2704 - 1344)
    first, second = table(20, 5, 10, 17)
    assert cohen_kappa(first, second) == pytest.approx((37 * 52 - 1344) / (2704 - 1344))


def test_undefined_figures_are_none_not_one() -> None:
    assert cohen_kappa([0, 0, 0], [0, 0, 0]) is None
    assert krippendorff_alpha([[0, 0, 0], [0, 0, 0]]) is None
    assert percent_agreement([[0, 0, 0], [0, 0, 0]]) == 1.0
    assert cohen_kappa([None, None], [1, 0]) is None


def test_krippendorff_alpha_by_hand_two_coders() -> None:
    # coincidences: o11 = 4, o00 = 4, o01 = o10 = 1; n = 10, n1 = n0 = 5
    # D_o = 2/10, D_e = 2 * 5 * 5 / (10 * 9) = 50/90; alpha = 1 - 0.2 / (5/9) = 0.64
    data = [[1, 0, 1, 1, 0], [1, 0, 0, 1, 0]]
    assert krippendorff_alpha(data) == pytest.approx(0.64)


def test_krippendorff_alpha_by_hand_three_coders_with_a_missing_value() -> None:
    # units (1,1,1) (0,0,-) (1,0,1) (0,0,0): o11 = 3 + 1, o00 = 2 + 3, o01 = o10 = 1, n = 11
    # n1 = 5, n0 = 6; D_o = 2/11, D_e = 2 * 5 * 6 / (11 * 10) = 6/11; alpha = 1 - 1/3
    data = [[1, 0, 1, 0], [1, 0, 0, 0], [1, None, 1, 0]]
    assert krippendorff_alpha(data) == pytest.approx(2 / 3)
    # agreeing pairs: 3 + 1 + 1 + 3 = 8 of 3 + 1 + 3 + 3 = 10 comparable pairs
    assert percent_agreement(data) == pytest.approx(0.8)
    figures = code_agreement("x", data, ["a", "b", "c"], reference="a")
    assert figures.kappa is None  # kappa is for two coders
    assert figures.units == 4 and figures.positives == {"a": 2, "b": 1, "c": 2}
    assert figures.scores["b"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3)}


# -- gold files only -------------------------------------------------------------------------------


def write_gold(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["note_id", "sentence", "codes"])
        writer.writerows(rows)
    return path


def test_two_gold_files_agree_without_a_project(tmp_path: Path) -> None:
    a = write_gold(
        tmp_path / "ana.csv",
        [
            ("n1", "One.", "x"),
            ("n1", "Two.", "x;y"),
            ("n1", "Three.", ""),
            ("n2", "One.", "y"),
            ("n2", "Same.", ""),
            ("n2", "Same.", "x"),
        ],
    )
    b = write_gold(
        tmp_path / "bo.csv",
        [
            ("n1", "One.", "x"),
            ("n1", "Two.", "y"),
            ("n1", "Three.", ""),
            ("n2", "Same.", ""),
            ("n2", "Same.", "x"),
            ("n3", "Extra.", "x"),
        ],
    )
    report = agreement([a, b], project=tmp_path / "none.db", reference="ana")
    assert report.coders == ("ana", "bo") and report.units == 6
    assert "gold file ana" in report.unit_source
    x = next(c for c in report.per_code if c.code == "x")
    # n2 "One." is missing in bo: 5 comparable units; x: ana 1,1,0,0,1  bo 1,0,0,0,1 (repeated
    # sentences are matched in order, the extra bo sentence is outside the frame)
    assert x.units == 5 and x.positives == {"ana": 3, "bo": 2}
    assert x.percent == pytest.approx(4 / 5)
    assert x.kappa == pytest.approx(cohen_kappa([1, 1, 0, 0, 1], [1, 0, 0, 0, 1]))
    assert x.scores["bo"]["precision"] == 1.0 and x.scores["bo"]["recall"] == pytest.approx(2 / 3)
    assert report.overall.units == 10
    assert [row["code"] for row in report.rows()] == ["x", "y", "overall"]


def test_inputs_are_checked(tmp_path: Path) -> None:
    gold = write_gold(tmp_path / "g.csv", [("n1", "One.", "x")])
    with pytest.raises(UsageError, match="at least two coders"):
        agreement([gold])
    with pytest.raises(UsageError, match="'nobody'"):
        agreement([gold, "nobody"])
    with pytest.raises(UsageError, match="reference 'zed' is not one of the coders"):
        agreement([gold, gold], reference="zed")
    report = agreement([gold, gold], reference=str(gold))
    assert report.coders == ("g", "g#2") and report.reference == "g"


# -- with a project --------------------------------------------------------------------------------

NOTE = note(*BEIJING, NEGATED, "Nothing happened after that.", id="BJ-01", city="Beijing")


@pytest.fixture
def project(project_from) -> Path:
    return project_from({"a.md": NOTE}, learned=False)  # these tests count the rules' segments


def review(
    project: Path, tmp_path: Path, edits: dict[str, dict[str, str]], others: dict[str, str] | None = None
) -> Path:
    """Export a sheet, apply ``edits`` (by code@segment start) and ``others`` to every other row, import it."""
    export_review(project=project, out=tmp_path / "sheet.csv")
    with (tmp_path / "sheet.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.update(edits.get(f"{row['code']}@{row['segment'][:12]}", others or {}))
    with (tmp_path / "sheet.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert import_review(tmp_path / "sheet.csv", project=project, reviewer="ana").problems == []
    return tmp_path / "sheet.csv"


@pytest.mark.slow
def test_auto_against_reviewed_on_stored_segments(project: Path, tmp_path: Path) -> None:
    review(
        project,
        tmp_path,
        {"class_size@The principa": {"decision": "reject", "correct_code": "unexplained_refusal"}},
        others={"decision": "accept"},
    )
    report = agreement(["auto", "reviewed"], project=project, reference="reviewed")
    # stored segments: the four sentences some rule fired on; the negated one was never on the sheet,
    # so nobody decided it: left out
    assert report.units == 3 and report.pending == 1 and report.unit_source == "stored segments"
    by_code = {c.code: c for c in report.per_code}
    assert by_code["paperwork"].percent == 1.0 and by_code["paperwork"].positives == {"auto": 2, "reviewed": 2}
    # class_size: auto 0,0,1 vs reviewed 0,0,0: p_o = 2/3, p_e = 1/3 * 0 + 2/3 * 1 = 2/3 -> kappa 0;
    # alpha: n = 6, n1 = 1, D_o = 2/6, D_e = 2 * 1 * 5 / (6 * 5) = 1/3 -> alpha 0
    assert by_code["class_size"].percent == pytest.approx(2 / 3) and by_code["class_size"].kappa == pytest.approx(0.0)
    assert by_code["class_size"].alpha == pytest.approx(0.0)
    assert by_code["class_size"].scores["auto"]["precision"] == 0.0
    assert by_code["unexplained_refusal"].scores["auto"]["recall"] == 0.0
    # overall: 3 units x 4 codes = 12 items, two disagreements
    assert report.overall.units == 12 and report.overall.percent == pytest.approx(10 / 12)
    assert [c.code for c in report.per_code] == [
        "paperwork",
        "office_runaround",
        "class_size",
        "unexplained_refusal",
    ], "codes in codebook order"


def test_units_nobody_reviewed_are_left_out_not_counted_as_agreement(project: Path, tmp_path: Path) -> None:
    sheet = review(project, tmp_path, {"class_size@The principa": {"decision": "reject"}})  # one row of the sheet
    report = agreement(["auto", "reviewed"], project=project, reference="reviewed", units_from=sheet)
    assert report.units == 1 and report.pending == 2, "two sheet sentences still wait for a decision"
    assert report.overall.percent == 0.0, "the one decided sentence is a disagreement; nothing inflates it"


def test_gold_sentences_are_the_units_and_reference_scores_match_evaluate(project: Path, tmp_path: Path) -> None:
    review(project, tmp_path, {"class_size@The principa": {"decision": "reject"}})
    gold = write_gold(
        tmp_path / "gold.csv",
        [
            ("BJ-01", WUZHENG, "paperwork;office_runaround"),
            ("BJ-01", LEASE, "paperwork"),
            ("BJ-01", FULL, "class_size"),
            ("BJ-01", "Nothing happened after that.", ""),
            ("BJ-01", "A sentence that is not in the note.", "deterred"),
            ("XX-01", "Nope.", ""),
        ],
    )
    reviewed = agreement(["reviewed", gold], project=project, reference="gold")
    assert reviewed.units == 1 and reviewed.pending == 3, "only the sentence a reviewer decided"
    report = agreement(["auto", gold], project=project, reference="gold")
    assert report.units == 4 and report.problems == (
        "row 6: sentence not found in BJ-01: 'A sentence that is not in the note.'",
        "row 7: no stored document 'XX-01'",
    )
    expected = evaluate(gold, project=project).metrics
    assert expected.code("class_size").tp == 1, (
        "evaluate measures the rules: a reviewer's rejection is not mixed in unless asked for"
    )
    assert evaluate(gold, project=project, with_decisions=True).metrics.code("class_size").tp == 0
    for code in ("paperwork", "class_size", "office_runaround"):
        ours = next(c for c in report.per_code if c.code == code).scores["auto"]
        theirs = expected.code(code)
        assert (ours["precision"], ours["recall"], ours["f1"]) == (theirs.precision, theirs.recall, theirs.f1)
        kappa = next(c for c in report.per_code if c.code == code).kappa
        # evaluate's convention scores an undefined kappa as 1.0; agree reports it as undefined
        assert kappa == pytest.approx(theirs.kappa) if kappa is not None else theirs.kappa == 1.0
    assert report.overall.scores["auto"]["precision"] == pytest.approx(expected.micro.precision)


def gold_of_project(tmp_path: Path) -> Path:
    """A gold file listing every sentence of NOTE (uncoded), so units are sentences."""
    sentences = [WUZHENG, LEASE, FULL, NEGATED, "Nothing happened after that."]
    return write_gold(tmp_path / "all.csv", [("BJ-01", sentence, "") for sentence in sentences])


def test_units_can_be_restricted_to_a_review_sheet_or_to_reviewed_segments(project: Path, tmp_path: Path) -> None:
    export_review(project=project, out=tmp_path / "sample.csv", sample=2, seed=5)
    with (tmp_path / "sample.csv").open(encoding="utf-8-sig") as handle:
        sampled = {(row["start"], row["end"]) for row in csv.DictReader(handle)}
    with pytest.raises(UsageError, match=r"none of the 2 units has a review decision yet"):
        agreement(["auto", "reviewed"], project=project, units_from=tmp_path / "sample.csv")
    report = agreement(["auto", gold_of_project(tmp_path)], project=project, units_from=tmp_path / "sample.csv")
    assert report.units == len(sampled) == 2 and "restricted to segments listed in sample.csv" in report.unit_source
    review(project, tmp_path, {"class_size@The principa": {"decision": "reject"}})
    reviewed = agreement(["auto", "reviewed"], project=project, units_from="reviewed")
    assert reviewed.units == 1
    assert next(c for c in reviewed.per_code if c.code == "class_size").percent == 0.0


def test_json_output_rounds_and_lists_problems(tmp_path: Path) -> None:
    a = write_gold(tmp_path / "a.csv", [("n", "One.", "x"), ("n", "Two.", "")])
    report = agreement([a, a])
    data = __import__("json").loads(report.to_json())
    assert data["coders"] == ["a", "a#2"] and data["codes"][0]["kappa"] == 1.0 and data["units"] == 2


def test_each_kind_of_coder_is_parsed_once(tmp_path) -> None:
    from phantomcode.agree import Coder, parse_coder

    gold = tmp_path / "gold.csv"
    gold.write_text("note_id,sentence,codes\n", encoding="utf-8")
    assert [parse_coder(item) for item in ("auto", "reviewed", "imported", "reviewed:ana", "ana", gold)] == [
        Coder("auto", "auto"),
        Coder("reviewed", "reviewed"),
        Coder("imported", "imported"),
        Coder("reviewed:ana", "reviewed", "ana"),
        Coder("ana", "reviewer", "ana"),
        Coder("gold", "gold", str(gold)),
    ]
    for bad in ("reviewed:", "missing.csv", "some/path"):
        with pytest.raises(UsageError, match="reviewed:NAME"):
            parse_coder(bad)


@pytest.mark.slow
def test_reviewed_name_and_a_bare_name_are_different_coders(tmp_path: Path, project_from) -> None:
    """reviewed:ana is the rules after ana's decisions, on the units she decided; ana is only her
    accepted and added codings, on every unit."""
    project = project_from({"a.md": "---\nid: A\n---\nThe school demanded five documents.\n\nThe school is full.\n"})
    review(project, tmp_path, {"paperwork@The school d": {"decision": "reject"}})
    rules = agreement(["auto", "reviewed:ana"], project=project)
    assert rules.units == 1 and rules.pending >= 1, "only the unit ana decided; the other is pending"
    own = agreement(["auto", "ana"], project=project)
    assert own.units == rules.units + rules.pending and own.pending == 0, "her own coding: every unit counts"
    assert own.overall.positives["ana"] == 0, "she rejected the one coding and added nothing"
    with pytest.raises(UsageError, match=r"reviewers: ana"):
        agreement(["auto", "reviewed:bo"], project=project)
