"""The anonymisation guard: planted identifiers are found and masked; look-alikes are not."""

from __future__ import annotations

import pytest

from phantomcode.pii import is_valid_resident_id, redact, scan_identifiers


def resident_id(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


VALID_ID = resident_id("11010519850312123")


@pytest.mark.parametrize(
    "text, kind, found, masked",
    [
        ("Her number is 13812345678.", "phone", "13812345678", "138****5678"),
        ("Call 138-1234-5678 after work.", "phone", "138-1234-5678", "138****5678"),
        ("Call +86 139 8765 4321.", "phone", "+86 139 8765 4321", "139****4321"),
        (f"His card reads {VALID_ID}.", "id", VALID_ID, "110**************4"),
        ("Write to zhang.wei@example.com today.", "email", "zhang.wei@example.com", "z***@example.com"),
        ("We met Mr. Wang at the gate.", "name", "Wang", "W***"),
        ("Ms Li-Na runs the clinic.", "name", "Li-Na", "L***"),
        ("我们找了王老师。", "name", "王", "王***"),
        ("李明先生说不行。", "name", "李明", "李***"),
        ("张女士没有暂住证。", "name", "张", "张***"),
    ],
)
def test_planted_identifiers_are_found(text: str, kind: str, found: str, masked: str) -> None:
    """The mask is checked exactly for every case: a one-character surname cannot be hidden by
    leaving its first character, so a "not in the mask" check would be empty for those."""
    [finding] = scan_identifiers(text)
    assert (finding.kind, text[finding.start : finding.end]) == (kind, found)
    assert finding.masked == masked


@pytest.mark.parametrize(
    "text",
    [
        "In 2019 the fee was 13,500 yuan and she had 120 points.",
        "The hotline 12345 and the year 2018 are not phone numbers.",
        "A price of 13800000000.50 yuan is a decimal, not a phone.",
        f"An invalid check digit: {VALID_ID[:-1]}{'0' if VALID_ID[-1] != '0' else '1'}.",
        "An impossible birth date: " + resident_id("11010519851332123") + ".",
        "向老师反映了情况。班主任老师说名额满了。对方老师不同意。",
        "The teacher (laoshi 老师) said no.",
        "The points total was 85; 60 points are needed; tel. not given.",
    ],
)
def test_look_alikes_do_not_trigger(text: str) -> None:
    assert [(f.kind, text[f.start : f.end]) for f in scan_identifiers(text)] == []


def test_findings_report_file_lines_and_masks() -> None:
    text = "First line.\nCall 13812345678.\n"
    [finding] = scan_identifiers(text, first_line=5)
    assert finding.line == 6
    assert finding.masked == "138****5678"
    assert "13812345678" not in finding.describe()


def test_redact_replaces_identifiers_with_placeholders() -> None:
    text = f"Mr. Wang (13812345678, {VALID_ID}) wrote from a@b.cn to 王老师。"
    assert redact(text, scan_identifiers(text)) == "Mr. [NAME] ([PHONE], [ID]) wrote from [EMAIL] to [NAME]老师。"


def test_resident_id_check_digit_and_date() -> None:
    assert is_valid_resident_id(VALID_ID)
    assert not is_valid_resident_id(VALID_ID[:-1] + ("0" if VALID_ID[-1] != "0" else "1"))
    assert not is_valid_resident_id("123456789012345678")


def test_overlapping_kinds_are_reported_once_with_their_lines() -> None:
    number = VALID_ID
    text = f"Mail 13812345678@qq.com.\nHis card {number}.\nCall 13912345678 and 王老师。"
    found = [(f.kind, text[f.start : f.end], f.line) for f in scan_identifiers(text, first_line=3)]
    assert found == [
        ("email", "13812345678@qq.com", 3),
        ("id", number, 4),
        ("phone", "13912345678", 5),
        ("name", "王", 5),
    ]


@pytest.mark.parametrize("title", ["Mr", "Mrs", "Ms", "Miss", "Dr", "Prof"])
def test_every_title_passes_the_quick_pre_check(title: str) -> None:
    """scan_identifiers() skips its full regex when a cheap pre-check finds no marker; no title may slip past it."""
    assert [f.kind for f in scan_identifiers(f"The form was signed by {title}. Chen yesterday.")] == ["name"]
