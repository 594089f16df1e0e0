"""``phantomcode.outputs``: the one output writer and format chooser."""

from __future__ import annotations

import pytest

from phantomcode.errors import UsageError
from phantomcode.outputs import choose_format, write_output


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("previous\n", encoding="utf-8")

    def fail(handle) -> None:
        handle.write("half a file")
        raise OSError(28, "No space left on device")

    with pytest.raises(UsageError, match=r"r.csv: cannot write the output file \(No space left on device\)"):
        write_output(out, fail)
    assert out.read_text(encoding="utf-8") == "previous\n" and list(tmp_path.iterdir()) == [out]


def test_text_is_utf8_with_a_bom_only_when_asked(tmp_path) -> None:
    write_output(tmp_path / "a.csv", lambda handle: handle.write("城市\n"))
    write_output(tmp_path / "b.csv", lambda handle: handle.write("城市\n"), bom=True)
    assert (tmp_path / "a.csv").read_bytes() == "城市\n".encode()
    assert (tmp_path / "b.csv").read_bytes() == b"\xef\xbb\xbf" + "城市\n".encode()


def test_choose_format_from_option_suffix_or_default() -> None:
    formats = ("csv", "jsonl")
    assert choose_format("JSONL", "x.csv", formats=formats, default="csv") == "jsonl"
    assert choose_format(None, "x.jsonl", formats=formats, default="csv") == "jsonl"
    assert choose_format(None, None, formats=formats, default="csv") == "csv"
    assert choose_format(None, "noext", formats=formats, default="csv") == "csv"
    with pytest.raises(UsageError, match="unknown format 'xml'; choose one of csv, jsonl"):
        choose_format("xml", None, formats=formats, default="csv")
    with pytest.raises(UsageError, match=r"cannot tell the format from '.pdf'"):
        choose_format(None, "x.pdf", formats=formats, default="csv")
