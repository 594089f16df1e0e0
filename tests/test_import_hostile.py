"""``codebook import`` of hostile files: names cannot write YAML of their own, nesting and
aliases are capped, and repeated names get their IDs in linear time."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from phantomcode.codebook import lint_codebook
from phantomcode.dictionaries import import_codebook
from phantomcode.errors import CodebookError
from phantomcode.qda import UniqueIds

INJECTED = "Parent&#10;    regex: ['(a+)+b']&#10;    unit: paragraph"
QDC = f"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="test">
  <Codes>
    <Code guid="10000000-0000-0000-0000-000000000001" name="{INJECTED}" isCodable="false">
      <Code guid="10000000-0000-0000-0000-000000000002" name="child" isCodable="true"/>
    </Code>
  </Codes>
</CodeBook>
"""


def test_a_qdc_name_with_newlines_cannot_inject_rules(tmp_path: Path) -> None:
    path = tmp_path / "book.qdc"
    path.write_text(QDC, encoding="utf-8")
    result = import_codebook(path)
    data = yaml.safe_load(result.text)
    [code] = data["codes"]
    assert code["regex"] == ["(?!)"] and "unit" not in code
    assert not [p for p in lint_codebook(tmp_path / "out.yaml", source=result.text.encode()) if p.rule == "W008"]


def test_a_quanteda_file_name_with_newlines_cannot_inject_settings(tmp_path: Path) -> None:
    path = tmp_path / "dict\nunit: paragraph\n.yml"
    path.write_text("migration:\n  - hukou\n  - school\n", encoding="utf-8")
    data = yaml.safe_load(import_codebook(path).text)
    assert "unit" not in data and data["codes"][0]["terms"] == ["=hukou", "=school"]


def test_quanteda_deep_nesting_and_alias_bombs_are_codebook_errors(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yml"
    deep.write_text("".join(f"{'  ' * i}k{i}:\n" for i in range(2000)) + "  " * 2000 + "- x\n", encoding="utf-8")
    with pytest.raises(CodebookError) as raised:
        import_codebook(deep)
    assert "nested more than" in " ".join(map(str, raised.value.problems))
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)),
        encoding="utf-8",
    )
    with pytest.raises(CodebookError) as raised:
        import_codebook(bomb)
    assert "alias" in " ".join(map(str, raised.value.problems))


def test_unique_ids_count_on_from_the_last_number() -> None:
    unique = UniqueIds()
    assert [unique("a") for _ in range(4)] == ["a", "a_2", "a_3", "a_4"]
    assert unique("a_2") == "a_2_2" and unique("a") == "a_5"
    many = UniqueIds()
    ids = [many("same") for _ in range(20_000)]
    assert len(set(ids)) == 20_000 and ids[-1] == "same_20000"
