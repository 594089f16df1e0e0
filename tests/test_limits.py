"""Inputs that hung a run or exhausted memory: each now stops at a limit with a reason.

Inputs that would hang or eat memory on a regression run in a subprocess with a timeout and an
address-space limit, so a failure is a failed test, not a stuck or swapping machine.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest
from note_texts import NEUTRAL_BODY  # tests/ is on the path

from phantomcode import ingest
from phantomcode.errors import UsageError
from phantomcode.limits import LimitExceeded, check_yaml_shape, read_regular_file
from phantomcode.notes import load_sidecars

BODY = NEUTRAL_BODY  # codes nothing


def run_bounded(code: str, *, seconds: float = 90, memory_gb: float = 2.0) -> subprocess.CompletedProcess:
    """``python -c code`` with a wall-clock timeout and an address-space limit."""
    import resource

    def limit() -> None:
        size = int(memory_gb * 1e9)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    try:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds, preexec_fn=limit
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not finish within {seconds} s")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.slow  # a separate, memory-bounded process
def test_a_named_pipe_and_a_link_to_dev_zero_are_skipped_not_read(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "good.md").write_text(BODY)
    os.mkfifo(notes / "pipe.txt")
    (notes / "zero.txt").symlink_to("/dev/zero")
    result = run_bounded(
        "import sys\nfrom phantomcode import ingest\n"
        f"r = ingest({str(notes)!r}, project={str(tmp_path / 'p.db')!r}, jobs=1, follow_links=True)\n"
        "print(r.added, sorted((s.source, s.reason) for s in r.skipped))",
        seconds=60,
        memory_gb=3,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("1 [")
    assert "('pipe.txt', 'not a regular file (a named pipe); only files are read')" in result.stdout
    assert "('zero.txt', 'not a regular file (a character device); only files are read')" in result.stdout


def test_the_size_limit_holds_for_bytes_read_whatever_stat_says(tmp_path: Path, monkeypatch) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 5000)
    real_fstat = os.fstat

    def zero_size(descriptor: int) -> os.stat_result:  # what /proc files and growing files report
        stat = list(real_fstat(descriptor))
        stat[6] = 0
        return os.stat_result(stat)

    monkeypatch.setattr(os, "fstat", zero_size)
    with pytest.raises(LimitExceeded, match="over the 0.001 MB limit"):
        read_regular_file(big, 1000)
    assert read_regular_file(big, 5000).data == b"x" * 5000


@pytest.mark.slow
def test_links_leaving_the_folder_are_skipped_unless_asked(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "good.md").write_text(BODY)
    (notes / "passwd.txt").symlink_to(outside)
    (notes / "sub" / "inside.md").symlink_to(notes / "good.md")  # inside the folder: read as usual
    report = ingest(notes, project=tmp_path / "p.db", jobs=1)
    assert report.added == 2
    assert [(s.source, s.reason.split(",")[0]) for s in report.skipped] == [("passwd.txt", f"a link to {outside}")]
    followed = ingest(notes, project=tmp_path / "q.db", jobs=1, follow_links=True)
    assert followed.added == 3 and not followed.skipped


def docx_bytes(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.slow  # a separate, memory-bounded process
def test_a_docx_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ok.docx").write_bytes(docx_bytes(BODY))
    (notes / "bomb.docx").write_bytes(docx_bytes("a" + " " * 8_000_000 + "b"))  # 8 MB of XML in 10 KB
    assert (notes / "bomb.docx").stat().st_size < 100_000
    report = ingest(notes, project=tmp_path / "p.db", jobs=1)
    assert report.added == 1
    [skipped] = report.skipped
    assert skipped.source == "bomb.docx" and "word/document.xml expands" in skipped.reason


def far_cell_workbook(path: Path, header: list[str], row: list[str]) -> None:
    """A tiny workbook whose one far cell makes it declare A1:XFD1048576."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    sheet.append(row)
    sheet["XFD1048576"] = "far"
    book.save(path)


def printed_within_limits(code: str) -> str:
    """What ``code`` prints, run in 90 s and 1.5 GB at most (the bombs filled memory in seconds)."""
    result = run_bounded(code, seconds=90, memory_gb=1.5)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


@pytest.mark.slow
def test_an_xlsx_dimension_bomb_reads_only_its_real_rows(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    far_cell_workbook(notes / "metadata.xlsx", ["file", "city"], ["a.md", "Beijing"])
    assert (notes / "metadata.xlsx").stat().st_size < 10_000
    assert (
        printed_within_limits(
            f"from phantomcode.notes import load_sidecars\n"
            f"sidecars, warnings = load_sidecars({str(notes)!r})\n"
            "print(sidecars[''].by_file, warnings)"
        )
        == "{'a.md': {'city': 'Beijing'}} []"
    )


@pytest.mark.slow
def test_a_review_sheet_dimension_bomb_is_read_within_limits(tmp_path: Path) -> None:
    sheet = tmp_path / "review.xlsx"
    far_cell_workbook(sheet, ["key", "code", "decision"], ["d:0-4:x", "x", "accept"])
    assert (
        printed_within_limits(
            f"from pathlib import Path\nfrom phantomcode.review import _xlsx_rows\n"
            f"rows = _xlsx_rows(Path({str(sheet)!r}))\n"
            "print(len(rows), rows[1][:3])"
        )
        == "2 ['d:0-4:x', 'x', 'accept']"
    )


def test_a_csv_field_over_131072_characters_is_read(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    long_value = "x" * 200_000
    (notes / "metadata.csv").write_text(f"file,summary\na.md,{long_value}\n")
    sidecars, warnings = load_sidecars(notes)
    assert warnings == [] and sidecars[""].by_file["a.md"]["summary"] == long_value


def test_yaml_shape_limits() -> None:
    check_yaml_shape("a: [1, [2, [3]]]\nb: &x [1, 2]\nc: *x\n")
    with pytest.raises(LimitExceeded, match="nested more than 64"):
        check_yaml_shape("a: " + "[" * 65 + "]" * 65)
    with pytest.raises(LimitExceeded, match="characters"):
        check_yaml_shape("a: b\n" * 20_000)
    with pytest.raises(LimitExceeded, match="alias"):
        check_yaml_shape(
            "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
            max_nodes=50_000,
        )


def test_a_lock_timeout_that_is_not_a_number_is_a_usage_error(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text(BODY)
    monkeypatch.setenv("PHANTOMCODE_LOCK_TIMEOUT", "abc")
    with pytest.raises(UsageError, match="PHANTOMCODE_LOCK_TIMEOUT='abc' is not a number"):
        ingest(tmp_path / "notes", project=tmp_path / "p.db", jobs=1)


def test_docx_limit_checks_zip_directory_sizes() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("word/document.xml", "<w/>" * 10)
    from phantomcode.limits import check_docx_package

    check_docx_package(buffer.getvalue())  # small and ordinary: passes
    check_docx_package(b"not a zip at all")  # python-docx reports that one in its own words


def test_review_and_gold_csvs_read_fields_over_131072_characters(tmp_path: Path) -> None:
    from phantomcode.evaluate import read_gold
    from phantomcode.review import read_review_sheet

    long_value = "y" * 200_000
    gold = tmp_path / "gold.csv"
    gold.write_text(f"note_id,sentence,codes\nA1,{long_value},fees\n")
    [unit] = read_gold(gold)
    assert unit.sentence == long_value and unit.codes == {"fees"}
    sheet = tmp_path / "review.csv"
    sheet.write_text(f"key,code,decision,note\nA1:0-4:fees,fees,accept,{long_value}\n")
    [(row, cells)] = read_review_sheet(sheet)
    assert row == 2 and cells["note"] == long_value
