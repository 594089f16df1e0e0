"""Codebooks the loader once crashed on, or that passed lint and then crashed the engine.

Each must now be a ``CodebookError`` listing the problem with its position: lint compiles every
regex and adds every token pattern to a spaCy Matcher, as the engine will.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from phantomcode.codebook import lint_codebook, load_codebook
from phantomcode.errors import CodebookError

BASE = """\
name: hostile
version: "0.1"
negation:
  window: {window}
codes:
  - id: fees
    label: Fees
    definition: Extra fees.
    terms: [jiedu fei]
{rules}
    examples: {{positive: [They paid jiedu fei.]}}
groups:
  mechanisms: [fees]
"""


def codebook(tmp_path: Path, *, window: str = "6", rules: str = "") -> Path:
    path = tmp_path / "book.yaml"
    path.write_text(BASE.format(window=window, rules=rules), encoding="utf-8")
    return path


def test_the_base_is_valid(tmp_path: Path) -> None:
    assert load_codebook(codebook(tmp_path)).code_ids() == ["fees"]


@pytest.mark.parametrize("window", ["0x10", "1:30", "9" * 5000, "!!int abc", "!!int", "1e3", "-0"])
def test_a_window_that_is_not_plain_digits_is_cb010(tmp_path: Path, window: str) -> None:
    problems = lint_codebook(codebook(tmp_path, window=window))
    assert [(p.line, p.rule) for p in problems if p.severity == "error"] == [(4, "CB010")]
    with pytest.raises(CodebookError):
        load_codebook(codebook(tmp_path, window=window))


@pytest.mark.parametrize(
    ("rules", "rule", "message"),
    [
        ("    regex: ['a{9999999999}']", "CB005", "repetition number is too large"),
        ("    patterns:\n      - [{LENGTH: !!timestamp abc}]", "CB006", "cannot be read"),
        ('    patterns:\n      - [{TEXT: {REGEX: "("}}]', "CB006", "REGEX '('"),
        ('    patterns:\n      - [{LOWER: a, OP: "{2,1}"}]', "CB006", "minimum is larger"),
        ("    patterns:\n      - [{_: {x: 1}}]", "CB006", "custom attributes"),
        ('    patterns:\n      - [{LOWER: a, OP: "{99999999999}"}]', "CB006", "above 100"),
    ],
)
def test_rules_the_engine_would_choke_on_fail_lint(tmp_path: Path, rules: str, rule: str, message: str) -> None:
    problems = [p for p in lint_codebook(codebook(tmp_path, rules=rules)) if p.severity == "error"]
    assert [p.rule for p in problems] == [rule], problems
    assert message in problems[0].message
    with pytest.raises(CodebookError):
        load_codebook(codebook(tmp_path, rules=rules))


def test_a_complex_mapping_key_is_a_problem_not_a_type_error(tmp_path: Path) -> None:
    path = tmp_path / "book.yaml"
    path.write_text("[{? [a, b] : c}]\n", encoding="utf-8")
    assert [p.rule for p in lint_codebook(path) if p.severity == "error"]
    with pytest.raises(CodebookError):
        load_codebook(path)


def test_nested_quantifiers_are_a_lint_warning(tmp_path: Path) -> None:
    problems = lint_codebook(codebook(tmp_path, rules="    regex: ['(a+)+[bc]', '(\\\\w+\\\\s?)*x', 'a+b+']"))
    flagged = [p.message for p in problems if p.rule == "W008"]
    assert len(flagged) == 2 and "(a+)+[bc]" in flagged[0] and "s?)*x" in flagged[1], flagged


def test_a_pattern_alias_bomb_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    laughs = "x: &a [y, y, y, y, y, y, y, y, y]\n" + "".join(
        f"x{i}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs, encoding="utf-8")
    [problem] = lint_codebook(path)
    assert problem.rule == "CB001" and "alias" in problem.message
    path.write_text("codes: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    [problem] = lint_codebook(path)
    assert problem.rule == "CB001" and "nested" in problem.message
