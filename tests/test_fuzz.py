"""Fuzzing the two readers of user files: only phantomcode's own errors may escape.

Bounded in examples and time (no deadline per example, a fixed seed through hypothesis'
derandomize) so the suite stays fast and repeatable; an audit ran 180k note reads and 26k
codebooks the same way.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phantomcode.codebook import load_codebook
from phantomcode.errors import PhantomcodeError
from phantomcode.notes import NoteFile, read_note_file

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# YAML's own punctuation, tags and escapes, so the fuzzer reaches the loaders' corners quickly.
YAML_BITS = st.sampled_from(
    [
        "---\n",
        "\n",
        ": ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "&a ",
        "*a",
        "? ",
        "!!int ",
        "!!float ",
        "!!timestamp ",
        "!!bool ",
        "!!binary ",
        "!!set ",
        "!!python/object ",
        "!x ",
        '"\\ud800"',
        '"\\x01"',
        "'",
        '"',
        "|\n  ",
        ">\n  ",
        "#",
        "%YAML 1.1\n",
        "id: ",
        "city: ",
        "0x10",
        "1:30",
        "2020-13-45",
        "\t",
        "\ufeff",
        "\x00",
        "\x1b[31m",
        "北京",
        "=HYPERLINK()",
        "<script>",
        "[/x]",
    ]
)
NOTE_TEXT = st.lists(st.one_of(YAML_BITS, st.text(max_size=8)), max_size=40).map("".join)


@FUZZ
@given(front=NOTE_TEXT, body=st.text(max_size=200), encoding=st.sampled_from(["utf-8", "utf-16", "gb18030"]))
def test_reading_a_note_raises_only_note_errors(tmp_path: Path, front: str, body: str, encoding: str) -> None:
    path = tmp_path / "note.md"
    try:
        data = f"---\n{front}\n---\n{body}".encode(encoding)
    except UnicodeEncodeError:
        data = f"---\n{front}\n---\n{body}".encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    try:
        content = read_note_file(NoteFile(str(path), "note.md"), max_bytes=1_000_000)
    except PhantomcodeError:
        return
    for key, value in content.front_matter.items():  # everything read must be storable text
        (key + value).encode("utf-8")


CODEBOOK_HEAD = 'name: fuzz\nversion: "1"\ncodes:\n  - id: a\n    label: A\n    definition: A.\n'
RULE_BITS = st.sampled_from(
    [
        "    terms: ",
        "    regex: ",
        "    patterns: ",
        "    near: ",
        "    window: ",
        "negation:\n  window: ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "'(a+)+'",
        "'a{9999999999}'",
        '"("',
        "LOWER: ",
        "OP: ",
        '"{2,1}"',
        '"{99999999999}"',
        "REGEX: ",
        "_: ",
        "LENGTH: ",
        "!!timestamp abc",
        "!!int abc",
        "0x10",
        "1:30",
        "&a ",
        "*a",
        "? ",
        "\n",
        "all_of: ",
        "within: ",
        "a*a*b",
        "x",
        "1",
    ]
)


@FUZZ
@given(rules=st.lists(st.one_of(RULE_BITS, st.text(max_size=6)), max_size=30).map("".join))
def test_loading_a_codebook_raises_only_codebook_errors(tmp_path: Path, rules: str) -> None:
    path = tmp_path / "book.yaml"
    path.write_text(CODEBOOK_HEAD + rules + "\n", encoding="utf-8", errors="surrogatepass")
    try:
        load_codebook(path)
    except PhantomcodeError:
        pass
