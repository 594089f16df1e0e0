"""Anonymisation guard: find likely direct identifiers that should not be in anonymised notes.

Looks for mainland mobile numbers, 18-digit resident ID numbers (check digit and birth date
verified, so a long reference number does not trigger), e-mail addresses and names after titles
(Mr./Ms./Mrs./Dr., and a surname before 老师/先生/女士). Findings carry a masked form for
messages: the identifier itself is never printed in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import NamedTuple

from .errors import OptionError
from .guard import NoteSkip, guarded
from .notes import NoteFile, read_note_file, scan_note_folder

PII_MODES = ("warn", "block", "redact", "off")
PLACEHOLDERS = {"phone": "[PHONE]", "id": "[ID]", "email": "[EMAIL]", "name": "[NAME]"}

# Common surnames. Omitted on purpose: 向 and 于 are also prepositions ("向老师反映" = "told the
# teacher"), 方 ends 对方 ("the other side").
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵钱严"
    "覃武戴莫孔汤"
)
# Chinese has no spaces, so a surname counts only at the start of a clause or after a word that
# typically precedes a person (了, 的, 和, 找, 问 ...): "班主任老师" (homeroom teacher) stays clean.
_BEFORE_NAME = "了的和跟与找问给对是位说叫请见被让把由在称"
# One pass over the text for every kind. Each alternative has one named group, the identifier;
# the order settles ties at one position: an 18-digit ID before the phone-like digits inside it,
# an e-mail address before a phone number used as its user name.
_IDENTIFIER = re.compile(
    "|".join(
        (
            r"(?<![\dA-Za-z])(?P<id>\d{17}[\dXx])(?![\dA-Za-z])",
            r"(?<![\w.+-])(?P<email>[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?![\w-])",
            r"(?<!\d)(?<!\d\.)(?P<phone>(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{4}){2})(?!\d|\.\d)",
            r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?[ \t]+(?P<name>[A-Z][a-z]+(?:[- ][A-Z][a-z]+)?)",
            rf"(?:(?<![\u4e00-\u9fff])|(?<=[{_BEFORE_NAME}]))(?P<zh_name>[{_SURNAMES}][\u4e00-\u9fff]?)(?:老师|先生|女士)",
        )
    )
)
# Something every _IDENTIFIER match contains. Most notes hold none of these, and testing for them
# costs a fraction of the one-pass regex, which tries five alternatives at every position.
_MARKERS = ("@", "Mr", "Ms", "Miss", "Dr", "Prof", "老师", "先生", "女士")  # "Mrs" contains "Mr"
_PHONE_DIGITS = re.compile(r"1[3-9]\d[-\s]?\d{4}")
_ID_DIGITS = re.compile(r"\d{17}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class Finding:
    """One likely identifier: ``start``/``end`` index the scanned text, ``line`` counts from 1."""

    kind: str
    start: int
    end: int
    line: int
    masked: str

    def describe(self) -> str:
        return f"line {self.line}: possible {_KIND_NAMES[self.kind]} {self.masked}"


_KIND_NAMES = {
    "phone": "mobile number",
    "id": "resident ID number",
    "email": "e-mail address",
    "name": "name after a title",
}


def check_mode(mode: str) -> str:
    if mode not in PII_MODES:
        raise OptionError(f"{{option}} {mode!r}: choose one of {', '.join(PII_MODES)}", option="pii")
    return mode


def scan_identifiers(text: str, *, first_line: int = 1) -> list[Finding]:
    """Every likely identifier in ``text``, in order; ``first_line`` is the file line the text starts on."""
    if not _may_hold_identifier(text):
        return []
    findings = []
    line, counted_to = first_line, 0
    for match in _IDENTIFIER.finditer(text):
        group = match.lastgroup or ""
        value = match.group(group)
        if group == "id" and not is_valid_resident_id(value):
            continue
        kind = "name" if group == "zh_name" else group
        start, end = match.span(group)
        line += text.count("\n", counted_to, start)
        counted_to = start
        findings.append(Finding(kind, start, end, line, mask(kind, value)))
    return findings


def _may_hold_identifier(text: str) -> bool:
    """False only when ``_IDENTIFIER`` cannot match: then ``scan_identifiers`` need not run it."""
    return (
        any(marker in text for marker in _MARKERS)
        or _PHONE_DIGITS.search(text) is not None
        or _ID_DIGITS.search(text) is not None
    )


def redact(text: str, findings: list[Finding]) -> str:
    """``text`` with each finding replaced by its placeholder ([PHONE], [ID], [EMAIL], [NAME])."""
    pieces, position = [], 0
    for finding in sorted(findings, key=lambda f: f.start):
        pieces += [text[position : finding.start], PLACEHOLDERS[finding.kind]]
        position = finding.end
    return "".join(pieces) + text[position:]


def is_valid_resident_id(number: str) -> bool:
    """GB 11643 check: ISO 7064 MOD 11-2 check digit and a real birth date in positions 7-14."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=False))
    if _ID_CHECK[total % 11] != number[17].upper():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def mask(kind: str, value: str) -> str:
    """Enough to find the identifier in the note, never the whole of it."""
    if kind == "email":
        user, _, domain = value.partition("@")
        return f"{user[:1]}***@{domain}"
    if kind == "name":
        return f"{value[:1]}***"
    if kind == "id":
        return f"{value[:3]}{'*' * 14}{value[-1]}"
    digits = re.sub(r"\D", "", value)[-11:]
    return f"{digits[:3]}****{digits[-4:]}"


@dataclass(frozen=True)
class NoteFindings:
    """What the guard found in one note: body findings and front-matter attributes with identifiers."""

    relpath: str
    findings: tuple[Finding, ...]
    attributes: tuple[str, ...]

    def describe(self) -> list[str]:
        lines = [f"{self.relpath}:{f.describe()}" for f in self.findings]
        return lines + [f"{self.relpath}: front matter '{name}' holds a likely identifier" for name in self.attributes]


def scan_note(relpath: str, text: str, attributes: dict[str, str], *, first_line: int = 1) -> NoteFindings:
    return NoteFindings(
        relpath,
        tuple(scan_identifiers(text, first_line=first_line)),
        tuple(name for name, value in attributes.items() if scan_identifiers(value)),
    )


def redact_attributes(attributes: dict[str, str]) -> dict[str, str]:
    return {name: redact(value, scan_identifiers(value)) for name, value in attributes.items()}


class PiiScan(NamedTuple):
    """What ``scan_folder`` found: the notes with findings, and every note or folder it could not
    read, each with its reason (sorted by path)."""

    found: list[NoteFindings]
    unreadable: list[tuple[str, str]]


def scan_folder(root: str) -> PiiScan:
    """Scan every note under ``root``: (notes with findings, unreadable notes with their reason)."""
    found: list[NoteFindings] = []
    scan = scan_note_folder(root)
    unreadable = [*scan.skipped, *((f"{folder or '.'}/", "cannot list this folder") for folder in scan.unreadable)]
    for note_file in scan.files:
        result = guarded(partial(_scan_file, note_file), doing="read")
        if isinstance(result, NoteSkip):
            unreadable.append((note_file.relpath, result.reason))
        elif result.findings or result.attributes:
            found.append(result)
    return PiiScan(found, sorted(unreadable))


def _scan_file(note_file: NoteFile) -> NoteFindings:
    content = read_note_file(note_file)
    return scan_note(note_file.relpath, content.text, content.front_matter, first_line=content.first_line)
