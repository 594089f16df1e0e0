"""Reading notes: encodings, front matter, sidecars, path templates, IDs, discovery."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from phantomcode.errors import NoteError, UsageError
from phantomcode.notes import (
    NoteFile,
    compile_path_template,
    decode_bytes,
    document_id,
    find_note_files,
    load_sidecars,
    merge_attributes,
    path_attributes,
    read_note_file,
    sidecar_for,
    split_front_matter,
)

CHINESE = "外地户口的孩子要交借读费，学校说名额已满。" * 3


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "gb18030", "big5"])
def test_decode_bytes_recovers_chinese_text_in_common_encodings(encoding: str) -> None:
    text = (
        "家长说：学校要五证，我们没有租房合同。" * 4
        if encoding != "big5"
        else "家長說：學校要五證，我們沒有租房合同。" * 4
    )
    decoded, detected = decode_bytes(text.encode(encoding))
    assert decoded == text
    assert detected


def test_decode_bytes_detects_gb18030_mixed_with_english() -> None:
    text = (
        "The respondent said the school wanted the hukou ben 户口本 and a lease in her own name. "
        "她说没有暂住证就不能报名。\n"
    ) * 3
    decoded, encoding = decode_bytes(text.encode("gb18030"))
    assert decoded == text
    assert encoding == "gb18030"


def test_decode_bytes_refuses_binary() -> None:
    with pytest.raises(NoteError, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def test_front_matter_keeps_values_verbatim() -> None:
    attributes, body = split_front_matter("---\nid: BJ-01\nyear: 2019\nconsent: yes\ncode: 007\n---\nBody.\n")
    assert attributes == {"id": "BJ-01", "year": "2019", "consent": "yes", "code": "007"}
    assert body == "Body.\n"


def test_front_matter_error_names_the_file_line() -> None:
    with pytest.raises(NoteError, match="line 3"):
        split_front_matter("---\ncity: Beijing\nsector: [education\n---\nBody.\n")


def test_front_matter_python_tag_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"---\nx: !!python/object/apply:os.system ['touch {marker}']\n---\nBody.\n"
    with pytest.raises(NoteError, match="malformed front matter"):
        split_front_matter(text)
    assert not marker.exists()


def test_text_without_front_matter_is_all_body() -> None:
    assert split_front_matter("--- not front matter\nBody") == ({}, "--- not front matter\nBody")


def test_read_note_normalises_newlines_and_nfc(tmp_path: Path) -> None:
    path = tmp_path / "n.txt"
    path.write_bytes("---\r\ncity: Beijing\r\n---\r\nCafe\u0301 line one.\r\nLine two.\r".encode("utf-8"))
    content = read_note_file(NoteFile(path, "n.txt"))
    assert content.front_matter == {"city": "Beijing"}
    assert content.text == "Caf\u00e9 line one.\nLine two.\n"
    assert content.encoding == "utf-8"
    assert content.first_line == 4


@pytest.mark.parametrize(
    "content, reason", [(b"", "empty"), (b"   \n\n", "empty"), (b"---\ncity: X\n---\n\n", "no text")]
)
def test_read_note_refuses_empty_notes(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "n.md"
    path.write_bytes(content)
    with pytest.raises(NoteError, match=reason):
        read_note_file(NoteFile(path, "n.md"))


def test_read_note_refuses_oversized_files(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000)
    with pytest.raises(NoteError, match="limit"):
        read_note_file(NoteFile(path, "big.txt"), max_bytes=1000)


def test_read_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("First paragraph.")
    document.add_paragraph("")
    document.add_paragraph("第二段。")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "city", "Dongguan"
    document.save(tmp_path / "n.docx")
    content = read_note_file(NoteFile(tmp_path / "n.docx", "n.docx"))
    assert content.text == "First paragraph.\n\n第二段。\n\ncity | Dongguan"
    assert (content.front_matter, content.encoding) == ({}, "docx")


def test_corrupt_docx_is_a_note_error(tmp_path: Path) -> None:
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 this is not really a zip file")
    with pytest.raises(NoteError, match="docx"):
        read_note_file(NoteFile(tmp_path / "bad.docx", "bad.docx"))


def test_find_note_files_ignores_hidden_backups_locks_and_other_files(tmp_path: Path) -> None:
    for name in [
        "a.txt",
        "b.md",
        "c.markdown",
        "d.docx",
        "sub/e.TXT",
        ".hidden.txt",
        "f.txt~",
        "~$d.docx",
        "notes.pdf",
        "metadata.csv",
        ".git/config.txt",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [f.relpath for f in find_note_files(tmp_path)] == ["a.txt", "b.md", "c.markdown", "d.docx", "sub/e.TXT"]


def test_find_note_files_needs_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such folder"):
        find_note_files(tmp_path / "missing")


def test_sidecar_rows_keyed_by_file_or_id_relative_to_their_folder(tmp_path: Path) -> None:
    (tmp_path / "docx").mkdir()
    (tmp_path / "docx" / "metadata.csv").write_text(
        "file,id,city\nn1.docx,DX-1,Dongguan\n,DX-2,Hangzhou\n", encoding="utf-8-sig"
    )
    sidecars, warnings = load_sidecars(tmp_path)
    assert warnings == []
    sidecar = sidecar_for("docx/n1.docx", sidecars)
    assert sidecar is not None
    assert sidecar.lookup("docx/n1.docx", None) == {"id": "DX-1", "city": "Dongguan"}
    assert sidecar.lookup("docx/n2.docx", "DX-2") == {"id": "DX-2", "city": "Hangzhou"}
    assert sidecar_for("other/n.txt", sidecars) is None


def test_sidecar_without_key_column_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "metadata.csv").write_text("name,city\nx,Beijing\n")
    sidecars, warnings = load_sidecars(tmp_path)
    assert sidecars == {}
    assert "needs a 'file' or an 'id' column" in warnings[0]


def test_xlsx_sidecar(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.append(["file", "city", "year"])
    workbook.active.append(["a.txt", "Chengdu", 2020])
    workbook.save(tmp_path / "metadata.xlsx")
    sidecars, _ = load_sidecars(tmp_path)
    assert sidecars[""].lookup("a.txt", None) == {"city": "Chengdu", "year": "2020"}


def test_path_template_reads_leading_folders() -> None:
    template = compile_path_template("{city}/{respondent_type}")
    assert path_attributes("Beijing/migrant_worker/n1.txt", template) == {
        "city": "Beijing",
        "respondent_type": "migrant_worker",
    }
    assert path_attributes("n1.txt", template) is None
    assert path_attributes("n1.txt", None) == {}


def test_path_template_without_placeholder_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="placeholder"):
        compile_path_template("city/type")


def test_metadata_precedence_front_matter_then_sidecar_then_path() -> None:
    merged = merge_attributes(
        {"city": "Beijing", "year": " "},
        {"city": "Shanghai", "year": "2019", "sector": "health"},
        {"city": "Chengdu", "sector": "x", "respondent_type": "official"},
    )
    assert merged == {"city": "Beijing", "year": "2019", "sector": "health", "respondent_type": "official"}


def test_document_id_is_id_attribute_else_path_without_suffix() -> None:
    assert document_id("beijing/n1.md", {"id": "BJ-01"}) == "BJ-01"
    assert document_id("beijing/n1.md", {}) == "beijing/n1"
    assert document_id("beijing.v2/notes", {}) == "beijing.v2/notes"


# -- tables saved by spreadsheet programs ----------------------------------------------------------

GBK_SIDECAR = (
    "file,city,sector,respondent_type\n"
    + "".join(f"n{n}.md,Beijing,education,migrant worker\n" for n in range(8))
    + "z.md,北京,education,teacher\n"
)


def test_a_gbk_sidecar_with_few_hanzi_is_read_as_gb18030_and_named(tmp_path: Path) -> None:
    (tmp_path / "metadata.csv").write_bytes(GBK_SIDECAR.encode("gbk"))
    sidecars, warnings = load_sidecars(tmp_path)
    assert sidecars[""].lookup("z.md", None)["city"] == "北京"
    assert warnings == ["metadata.csv: read as gb18030 (not UTF-8); check its values, or save it as CSV UTF-8"]


def test_a_gbk_gold_file_keeps_its_hanzi(tmp_path: Path) -> None:
    from phantomcode.evaluate import read_gold

    rows = "note_id,sentence,codes\n" + "".join(f"A,Sentence number {n} of the note.,\n" for n in range(6))
    (tmp_path / "gold.csv").write_bytes((rows + "B,名额已满。,class_size\n").encode("gbk"))
    assert read_gold(tmp_path / "gold.csv")[-1].sentence == "名额已满。"


def test_a_front_matter_error_names_one_line_the_one_to_fix() -> None:
    text = "---\nid: X\ncity: Beijing\nsector: education\nyear: 2019\nbad: [unclosed\n---\nText.\n"
    with pytest.raises(NoteError) as caught:
        split_front_matter(text)
    assert str(caught.value).startswith("malformed front matter at line 6: expected ',' or ']'")
    assert str(caught.value).count("line") == 2 and "(while parsing a flow sequence that starts on this line)" in str(
        caught.value
    )
