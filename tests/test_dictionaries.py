"""quanteda YAML and LIWC .dic dictionaries become YAML codebooks that lint accepts and that code
text as the dictionary would; malformed dictionaries are reported with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantomcode import CodingEngine, load_codebook
from phantomcode.codebook import lint_codebook
from phantomcode.dictionaries import import_codebook
from phantomcode.errors import CodebookError, UsageError

FIXTURES = Path(__file__).parent / "fixtures" / "dictionaries"


def converted(tmp_path: Path, source: Path, **options) -> tuple[Path, object]:
    result = import_codebook(source, **options)
    out = tmp_path / "codebook.yaml"
    out.write_text(result.text, encoding="utf-8")
    assert [p for p in lint_codebook(out) if p.severity == "error"] == []
    return out, result


def codes_of(engine: CodingEngine, text: str) -> set[str]:
    return {
        c.code
        for segment in engine.code_document(text)
        for c in segment.codings
        if not c.negated and not c.hypothetical
    }


def test_quanteda_categories_become_codes_and_nested_ones_groups(tmp_path: Path) -> None:
    out, result = converted(tmp_path, FIXTURES / "deflection_quanteda.yml")
    book = load_codebook(out)
    assert result.fmt == "quanteda" and result.codes == 6
    assert book.groups == {
        "barriers": ["paperwork", "fees", "waiting_list", "waiting_time"],
        "deflection_quanteda": ["consequences", "hukou"],
    }
    assert book.code("waiting_list").label == "waiting > list"
    assert book.code("paperwork").rules.terms == ("=five documents", "=wuzheng", "暂住证", "notar*", "=lease")
    assert book.code("fees").rules.terms == ("sponsorship fee*", "=jiedu fei")
    assert book.code("hukou").rules.terms == ("=hukou",)
    assert result.warnings == (
        "deflection_quanteda.yml:19: 'consecutive year?' in 'waiting > time' left out: "
        "'?' (one character) is not supported; list the word forms",
    )
    engine = CodingEngine(book)
    assert codes_of(engine, "They asked for the five documents and a notarised lease.") == {"paperwork"}
    assert codes_of(engine, "He signed two leases.") == set()  # an entry without * is that exact form
    assert codes_of(engine, "She paid the sponsorship fees and then returned home.") == {"fees", "consequences"}
    assert codes_of(engine, "我们没有暂住证。") == {"paperwork"}


def test_any_form_lets_entries_match_other_forms(tmp_path: Path) -> None:
    out, _ = converted(tmp_path, FIXTURES / "deflection_quanteda.yml", exact_forms=False, name="Deflection words")
    book = load_codebook(out)
    assert book.name == "Deflection words" and book.code("paperwork").rules.terms[0] == "five documents"
    assert codes_of(CodingEngine(book), "He signed two leases.") == {"paperwork"}


def test_liwc_categories_and_entries(tmp_path: Path) -> None:
    out, result = converted(tmp_path, FIXTURES / "small_liwc.dic")
    book = load_codebook(out)
    assert book.groups == {"small_liwc": ["funct", "pronoun", "posemo", "negemo"]}
    assert book.code("funct").rules.terms == ("=a", "=she", "=kind of", "=a lot")
    assert book.code("pronoun").rules.terms == ("=she", "=like")  # category 02 is category 2
    assert book.code("posemo").rules.terms == ("=good", "happy*", "=a lot")
    assert result.terms == 10
    assert result.warnings == (
        "small_liwc.dic:13: 'like': conditional category rules (134/125[464]//126) are not supported; "
        "only its plain category numbers are used",
        "small_liwc.dic:6: category 'empty' has no usable entries; left out",
    )
    assert codes_of(CodingEngine(book), "She felt abandoned, then happy.") == {"funct", "pronoun", "negemo", "posemo"}
    assert codes_of(CodingEngine(book), "It was happier.") == set()  # like LIWC, happy* needs the prefix happy


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, **options) -> list[str]:
    with pytest.raises(CodebookError) as caught:
        import_codebook(path, **options)
    return [str(problem) for problem in caught.value.problems]


def test_malformed_liwc_dictionaries_list_every_problem_with_its_line(tmp_path: Path) -> None:
    text = "%\n1\tfunct\nfunct 2\n1\tagain\n%\na\t1\nbad\t9\nlonely\n"
    problems = problems_of(write(tmp_path, "bad.dic", text))
    assert [p.split(": ", 1)[0].rsplit(":", 1)[1] for p in problems] == ["3", "4", "7", "8"]
    assert "a category line is a number and a name" in problems[0]
    assert "category number 1 is defined twice (first as 'funct' on line 2)" in problems[1]
    assert "'bad': category 9 is not in the table" in problems[2]
    assert "'lonely' has no category numbers" in problems[3]
    assert "starts with a line holding only '%'" in problems_of(write(tmp_path, "a.dic", "\n\nword\t1\n"))[0]
    assert ":1: the category table opened here is never closed" in problems_of(write(tmp_path, "b.dic", "%\n1\tx\n"))[0]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("barriers:\n  - a\n  - [b, c\n", 4, "YAML syntax"),
        ("- a\n- b\n", 1, "must be a mapping of category names"),
        ("cat:\n  - a\n  - [b, c]\n  - {d: e}\n", 3, "each entry must be a word or phrase"),
        ("cat:\n  - a\ncat:\n  - b\n", 3, "category 'cat' appears twice"),
        ("cat: !!python/object:os.system\n  - a\n", 1, "unsupported YAML tag"),
        ("cat:\n  - !!python/name:os.system x\n", 2, "unsupported YAML tag"),
    ],
)
def test_malformed_quanteda_dictionaries_give_line_numbers(tmp_path: Path, text: str, line: int, words: str) -> None:
    problems = problems_of(write(tmp_path, "bad.yml", text))
    assert any(f"bad.yml:{line}: " in p and words in p for p in problems), problems


def test_entries_phantomcode_cannot_express_are_left_out_with_a_note(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.yml", "odd:\n  - 户口*\n  - '*'\n  - don't*\n  - fine*\nempty:\n  - wom?n\n")
    out, result = converted(tmp_path, path)
    assert load_codebook(out).code("odd").rules.terms == ("fine*",)
    notes = "\n".join(result.warnings)
    for words in (
        "'户口*' in 'odd' left out: '*' works on Latin words only",
        "'*' in 'odd' left out",
        "\"don't*\" in 'odd' left out",
        "category 'empty' has no usable entries",
    ):
        assert words in notes, notes
    with pytest.raises(CodebookError, match="no category with usable entries"):
        import_codebook(write(tmp_path, "none.yml", "x:\n  - wom?n\n"))


def test_format_is_taken_from_the_suffix_or_must_be_given(tmp_path: Path) -> None:
    path = write(tmp_path, "words.txt", "x:\n  - a\n")
    with pytest.raises(UsageError, match="say which format it is with format "):
        import_codebook(path)
    assert import_codebook(path, fmt="quanteda").codes == 1
    with pytest.raises(UsageError, match="no such file"):
        import_codebook(tmp_path / "missing.yml")
