"""Loading and linting codebooks: typed objects, every problem with its position, safe YAML."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from phantomcode.codebook import Codebook, Problem, default_codebook_path, lint_codebook, load_codebook
from phantomcode.errors import CodebookError

CODE_IDS = [
    "paperwork",
    "residency_duration",
    "points_system",
    "office_runaround",
    "class_size",
    "extra_fees",
    "unexplained_refusal",
    "service_shutdown",
    "reimbursement_gap",
    "return_home",
    "deterred",
    "self_blame",
]

MINIMAL = """\
name: minimal
version: "0.1"
codes:
  - id: fees
    label: Fees
    definition: Extra fees.
    terms: [jiedu fei]
    examples: {positive: [They paid jiedu fei.]}
groups:
  mechanisms: [fees]
"""

# Line numbers matter: the assertions below point into this text.
BROKEN = """\
name: broken
version: 1
unit: page
colour: blue
groups:
  mechanisms: [paperwork, ghost, paperwork]
codes:
  - id: paperwork
    label: Paperwork
    definition: Papers.
    terms: [lease, lease, "*", 户口*]
    regex: ['(unclosed', '\\d+ yuan', 'x*']
    patterns:
      - [{LOWER: ask}, {LEMMA: {IN: ask}}]
  - id: paperwork
    label: Again
    definition: Duplicate.
    terms: [lease]
  - id: empty
    definition: No label and no rules.
    labl: typo
  - id: Bad-Id
    label: Bad
    definition: Bad id.
    terms: [lease]
    near:
      - all_of: [[a]]
        within: zero
    flag_negation: maybe
    examples: {positive: [x]}
"""


def write(tmp_path: Path, text: str, name: str = "codebook.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def positions(problems: list[Problem]) -> set[tuple[int, int, str]]:
    return {(p.line, p.column, p.rule) for p in problems}


# -- the bundled codebook ------------------------------------------------------------------------
def test_default_codebook_is_bundled_and_clean() -> None:
    path = default_codebook_path()
    assert path.is_file() and path.parent.parent.name == "phantomcode"
    assert lint_codebook(path) == []


def test_default_codebook_has_the_twelve_codes_in_two_groups() -> None:
    book = load_codebook()
    assert book.code_ids() == CODE_IDS
    assert book.groups == {"mechanisms": CODE_IDS[:9], "consequences": CODE_IDS[9:]}
    assert book.group_of("deterred") == "consequences"
    assert book.unit == "sentence" and book.languages == ("en", "zh")
    assert set(book.sectors) == {"education", "healthcare", "hukou", "housing"}
    for code in book.codes:
        assert code.label and code.definition and code.rules
        assert code.examples.positive and code.examples.negative


def test_content_hash_is_the_sha256_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    book = load_codebook(path)
    assert book.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert book.path == path
    path.write_text(MINIMAL + "# a comment changes the version\n", encoding="utf-8")
    assert load_codebook(path).content_hash != book.content_hash


def test_codebook_objects_are_frozen(tmp_path: Path) -> None:
    book = load_codebook(write(tmp_path, MINIMAL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        book.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        book.codes[0].id = "other"  # type: ignore[misc]


def test_defaults_when_optional_sections_are_missing(tmp_path: Path) -> None:
    book = load_codebook(write(tmp_path, MINIMAL))
    assert isinstance(book, Codebook)
    assert (book.unit, book.description, book.version) == ("sentence", "", "0.1")
    assert "not" in book.negation.before and "如果" in book.negation.hypothetical_before
    assert book.codes[0].flag_negation is True


# -- lint ------------------------------------------------------------------------------------------
def test_lint_reports_every_problem_with_its_position(tmp_path: Path) -> None:
    problems = lint_codebook(write(tmp_path, BROKEN))
    assert positions(problems) >= {
        (3, 7, "CB012"),  # unit: page
        (4, 1, "CB002"),  # colour
        (6, 27, "CB008"),  # ghost
        (6, 34, "CB013"),  # paperwork listed twice
        (11, 20, "W002"),  # lease twice
        (25, 13, "W001"),  # lease in two codes
        (11, 27, "CB012"),  # "*" alone
        (11, 32, "CB012"),  # glob on hanzi
        (12, 13, "CB005"),  # (unclosed
        (12, 38, "W006"),  # x* matches empty text
        (14, 25, "CB006"),  # LEMMA: {IN: ask}
        (15, 9, "CB003"),  # duplicate id
        (19, 5, "CB004"),  # no label
        (19, 5, "CB007"),  # no rules
        (21, 5, "CB002"),  # labl
        (22, 9, "CB012"),  # Bad-Id
        (27, 17, "CB012"),  # near with one list
        (28, 17, "CB010"),  # within: zero
        (29, 20, "CB010"),  # flag_negation: maybe
    }
    assert problems == sorted(problems, key=lambda p: (p.line, p.column, p.rule))
    by_rule = {p.rule: p for p in problems}
    assert "did you mean 'label'" in [p for p in problems if p.line == 21][0].message
    assert "token 2 LEMMA" in by_rule["CB006"].message
    assert "missing )" in by_rule["CB005"].message


def test_problem_formats_as_file_line_column(tmp_path: Path) -> None:
    problem = Problem("book.yaml", 3, 7, "CB012", "error", "unit must be one of sentence, paragraph")
    assert str(problem) == "book.yaml:3:7: error CB012 unit must be one of sentence, paragraph"


def test_load_raises_with_all_errors_and_lint_does_not(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    with pytest.raises(CodebookError) as caught:
        load_codebook(path)
    errors = [p for p in caught.value.problems if p.severity == "error"]
    assert len(errors) >= 15 and str(path) in str(caught.value)
    assert all(isinstance(p, Problem) for p in lint_codebook(path))


def test_warnings_alone_do_not_stop_loading(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "groups:",
        """\
  - id: other
    label: Other
    definition: Shares a term.
    terms: [Jiedu  Fei]
groups:""",
    )
    path = write(tmp_path, text)
    problems = lint_codebook(path)
    assert {(p.rule, p.severity) for p in problems} == {("W001", "warning"), ("W003", "warning"), ("W005", "warning")}
    assert "'fees' and 'other'" in [p for p in problems if p.rule == "W001"][0].message
    assert load_codebook(path).group_of("other") == "ungrouped"


def test_yaml_syntax_error_has_a_position(tmp_path: Path) -> None:
    [problem] = lint_codebook(write(tmp_path, "name: x\ncodes:\n  - id: [unclosed\n"))
    assert (problem.rule, problem.line) == ("CB001", 4)


def test_duplicate_mapping_keys_are_reported(tmp_path: Path) -> None:
    problems = lint_codebook(write(tmp_path, MINIMAL.replace("label: Fees", "label: Fees\n    label: Again")))
    assert (6, 5, "CB011") in positions(problems)


def test_not_utf8_and_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert [p.rule for p in lint_codebook(path)] == ["CB001"]
    assert [p.rule for p in lint_codebook(write(tmp_path, "# only a comment\n", "empty.yaml"))] == ["CB004"]


def test_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(CodebookError, match="cannot read"):
        lint_codebook(tmp_path / "missing.yaml")


def test_unsafe_yaml_tags_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = MINIMAL.replace('version: "0.1"', f'version: !!python/object/apply:os.system ["touch {marker}"]')
    text += "extra: !!python/name:os.system\n"
    problems = lint_codebook(write(tmp_path, text))
    assert (2, 10, "CB009") in positions(problems)
    assert not marker.exists()
    with pytest.raises(CodebookError):
        load_codebook(tmp_path / "codebook.yaml")
    assert not marker.exists()


def test_yaml_words_like_no_stay_words(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "terms: [jiedu fei]", "terms: [no, yes, 'on']\n    patterns: [[{LOWER: no}, {IS_PUNCT: true}]]"
    )
    text += "negation:\n  before: [no, off]\n"
    book = load_codebook(write(tmp_path, text))
    assert book.codes[0].rules.terms == ("no", "yes", "on")
    assert book.codes[0].rules.patterns == (({"LOWER": "no"}, {"IS_PUNCT": True}),)
    assert book.negation.before == ("no", "off")


def test_negation_window_per_language(tmp_path: Path) -> None:
    one = load_codebook(write(tmp_path, MINIMAL + "negation:\n  window: 4\n", "one.yaml")).negation
    both = load_codebook(write(tmp_path, MINIMAL + "negation:\n  window: {en: 3, zh: 9}\n", "two.yaml")).negation
    assert (one.window, one.window_zh, both.window, both.window_zh) == (4, 4, 3, 9)


def test_exact_form_and_glob_cannot_be_combined(tmp_path: Path) -> None:
    problems = lint_codebook(write(tmp_path, MINIMAL.replace("[jiedu fei]", "['=fee*', '=']")))
    assert [p.rule for p in problems if p.rule != "CB007"] == ["CB012", "CB012"]


def test_rule_sets_read_into_typed_objects(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "terms: [jiedu fei]",
        """terms: [jiedu fei]
    near:
      - all_of: [[ask for], [lease, 合同]]
        within: 6
    veto:
      terms: [small class]
    flag_hypothetical: no""",
    )
    code = load_codebook(write(tmp_path, text)).codes[0]
    assert code.rules.near[0].sets == (("ask for",), ("lease", "合同"))
    assert code.rules.near[0].within == 6
    assert code.veto.terms == ("small class",) and code.flag_hypothetical is False
    assert code.rules.counts() == {"terms": 1, "patterns": 0, "regex": 0, "near": 1}


# -- attribute vocabularies ------------------------------------------------------------------------
def test_normalize_attributes_maps_aliases_and_keeps_unknown_values() -> None:
    book = load_codebook()
    values, warnings = book.normalize_attributes(
        {"city": "Peking", "sector": "SCHOOLING", "respondent_type": "Principal", "interviewer": "R2"}
    )
    assert values == {
        "city": "Beijing",
        "sector": "education",
        "respondent_type": "principal_teacher",
        "interviewer": "R2",
    }
    assert warnings == []
    assert book.normalize_attributes({"city": "北京"})[0] == {"city": "Beijing"}
    assert book.normalize_attributes({"city": " beijing "})[0] == {"city": "Beijing"}
    values, warnings = book.normalize_attributes({"city": "Wuhan"})
    assert values == {"city": "Wuhan"}
    assert warnings == ["city: unknown value 'Wuhan' kept as is; add it to the codebook's vocabulary"]


def test_one_alias_for_two_values_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL + "attributes:\n  city:\n    Beijing: [BJ]\n    Bengbu: [bj]\n"
    assert (14, 14, "CB014") in positions(lint_codebook(write(tmp_path, text)))


def test_globs_work_on_single_words_only(tmp_path: Path) -> None:
    problems = lint_codebook(write(tmp_path, MINIMAL.replace("[jiedu fei]", "[re-imburs*, reimburs* rate*]")))
    assert [(p.rule, "'re-imburs*'" in p.message) for p in problems] == [("CB012", True)]
