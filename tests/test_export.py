"""Exports for R, Stata, pandas and spreadsheets: documents, segments and the document x code
matrix, as CSV (golden files) and JSON lines, with the spreadsheet-formula guard and Excel's BOM."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from golden_files import assert_golden  # tests/ is on the path
from note_texts import NEGATED

from phantomcode.errors import UsageError
from phantomcode.export import SEGMENT_COLUMNS, export_documents, export_format, export_matrix, export_segments


@pytest.fixture
def project(two_interviews: Path) -> Path:
    return two_interviews


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_documents_csv_keeps_text_and_attributes_verbatim(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "documents.csv"
    assert export_documents(project=project, out=out) == 2
    assert_golden("export_documents.csv", read(out))  # 北京 as written; '=cmd guarded


def test_segments_csv_has_one_row_per_coding_with_rule_flags_and_attributes(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "segments.csv"
    assert export_segments(project=project, out=out) == 7
    rows = list(csv.DictReader(io.StringIO(read(out))))
    assert list(rows[0]) == [*SEGMENT_COLUMNS, "city", "id", "respondent_type", "sector"]
    assert {row["codebook_hash"] for row in rows} != {""}
    for row in rows:
        row["codebook_hash"] = "(the bundled codebook's)"  # changes with every edit of the codebook
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    assert_golden("export_segments.csv", text.getvalue())


def test_matrix_csv_is_one_row_per_document_with_a_0_1_column_per_code(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "matrix.csv"
    assert export_matrix(project=project, out=out) == 2
    assert_golden("export_matrix.csv", read(out))  # canonical city: Beijing


def test_jsonl_rows_keep_matched_spans_as_objects(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "segments.jsonl"
    assert export_segments(project=project, out=out) == 7  # the suffix chooses JSON lines
    rows = [json.loads(line) for line in read(out).splitlines()]
    negated = next(row for row in rows if row["negated"])
    assert negated["text"] == NEGATED and negated["cue"] == "not"  # no formula guard outside CSV
    assert [span["text"] for span in negated["matched"]] == ["ask for", "documents"]
    assert all(set(span) >= {"start", "end", "text"} for row in rows for span in row["matched"])


def test_matrix_counts_only_accepted_codings_when_asked(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "accepted.csv"
    export_matrix(project=project, out=out, status="accepted")
    rows = list(csv.DictReader(io.StringIO(read(out))))
    assert {row[code] for row in rows for code in ("paperwork", "class_size", "return_home")} == {"0"}
    with pytest.raises(UsageError, match="accepted"):
        export_matrix(project=project, out=out, status="rejected")


def test_bom_is_written_only_when_asked(project: Path, tmp_path: Path) -> None:
    export_documents(project=project, out=tmp_path / "plain.csv")
    export_documents(project=project, out=tmp_path / "excel.csv", bom=True)
    plain, excel = (tmp_path / "plain.csv").read_bytes(), (tmp_path / "excel.csv").read_bytes()
    assert not plain.startswith(b"\xef\xbb\xbf") and excel == b"\xef\xbb\xbf" + plain


@pytest.mark.parametrize(
    "fmt, out, expected",
    [
        (None, None, "csv"),
        (None, "x.jsonl", "jsonl"),
        (None, "x.ndjson", "jsonl"),
        (None, "x.CSV", "csv"),
        ("jsonl", "x.csv", "jsonl"),
    ],
)
def test_format_comes_from_the_option_else_the_suffix_else_csv(fmt: str | None, out: str | None, expected: str) -> None:
    assert export_format(fmt, out) == expected


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(UsageError):
        export_format("xlsx", None)
