"""REFI-QDA projects shaped like those MAXQDA 24, NVivo 15, ATLAS.ti and QualCoder write, built in code.

What each producer does differently, as seen in public example files and QualCoder's import notes:
- MAXQDA: ``sources/`` in lower case, upper-case GUIDs, ``plainTextPath`` as ``internal://GUID.txt``,
  two sources may share a name, codings dated with ``Z``.
- NVivo: ``Cases`` whose ``SourceRef`` s carry the variable values (a case per respondent), nested
  codes (a codable parent with children), GUIDs in braces are accepted by the schema.
- ATLAS.ti: the ``.qde`` named after the project, ``Sets`` of codes, selections without a coding.
- QualCoder: a UTF-8 BOM at the start of every source text, a bare file name as ``plainTextPath``.
All: several ``Coding`` s (each with its ``CodeRef``) in one selection, by different users; PDF and
audio sources beside the text ones. Every project built here is valid against Project-mrt2019.xsd.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

NS = "urn:QDA-XML:project:1.0"

USERS = {"alice": "5B0F2B52-3F5E-4C2C-9E51-0D61A2B4C001", "bob": "5B0F2B52-3F5E-4C2C-9E51-0D61A2B4C002"}
CODES = {  # name -> GUID; "Barriers" is a codable parent of two codes, "Consequences" a folder
    "Barriers": "A1000000-0000-4000-8000-000000000001",
    "Paperwork": "A1000000-0000-4000-8000-000000000002",
    "Class size": "A1000000-0000-4000-8000-000000000003",
    "Consequences": "A1000000-0000-4000-8000-000000000004",
    "Return home": "A1000000-0000-4000-8000-000000000005",
}
VARIABLES = {"city": "B1000000-0000-4000-8000-000000000001", "sector": "B1000000-0000-4000-8000-000000000002"}

TEXT_ONE = (
    "The school asked for the wuzheng 五证 again.\r\nHe had no lease, so the permit was impossible.\r\n"
    "The principal said the school is full."
)
TEXT_TWO = "She went back to her hometown for the operation because it was cheaper."


@dataclass
class Source:
    guid: str
    name: str
    text: str
    values: dict[str, str] = field(default_factory=dict)
    selections: list[tuple[int, int, list[tuple[str, list[str], str]]]] = field(default_factory=list)
    # (start, end, [(user, code names, date)]); an empty list is a selection without a coding


def standard_sources() -> list[Source]:
    one = Source("C1000000-0000-4000-8000-00000000000A", "Interview BJ-01", TEXT_ONE, {"sector": "education"})
    paperwork = TEXT_ONE.index("The school asked")
    lease = TEXT_ONE.index("He had no lease")
    full = TEXT_ONE.index("The principal")
    one.selections = [
        (
            paperwork,
            paperwork + len("The school asked for the wuzheng 五证 again."),
            [("alice", ["Paperwork", "Barriers"], "2026-03-01T09:30:00Z")],
        ),  # two codings of one selection
        (
            lease,
            lease + len("He had no lease, so the permit was impossible."),
            [("alice", ["Paperwork"], "2026-03-01T09:31:00Z"), ("bob", ["Class size"], "2026-03-02T10:00:00+02:00")],
        ),
        (full, len(TEXT_ONE), []),  # a selection nobody coded (ATLAS.ti writes these)
    ]
    two = Source("c1000000-0000-4000-8000-00000000000b", "Interview SH-01", TEXT_TWO, {"sector": "healthcare"})
    two.selections = [(0, len(TEXT_TWO), [("bob", ["Return home"], "2026-03-02T11:00:00Z")])]
    return [one, two]


def project_xml(
    sources: list[Source],
    *,
    plain_text_path: str = "internal://{guid}.txt",
    cases: bool = True,
    sets: bool = True,
    other_sources: bool = True,
    inline: bool = False,
    origin: str = "MAXQDA 24",
    names: bool = False,
) -> str:
    """A ``project.qde`` for ``sources`` (upper-case GUIDs except where the source's own are lower).

    Positions count a CRLF as one character when ``origin`` is MAXQDA or ATLAS.ti, as two
    otherwise (NVivo, QualCoder); ``names`` gives each selection its text as its name.
    """
    one_per_crlf = any(tool in origin for tool in ("MAXQDA", "ATLAS"))
    users = "".join(f"<User guid={quoteattr(g)} name={quoteattr(n)}/>" for n, g in USERS.items())
    codes = (
        f"<Code guid='{CODES['Barriers']}' name='Barriers' isCodable='true' color='#FF0000'>"
        "<Description>Anything in the way.</Description>"
        f"<Code guid='{CODES['Paperwork']}' name='Paperwork' isCodable='true'/>"
        f"<Code guid='{CODES['Class size']}' name='Class size' isCodable='true'/></Code>"
        f"<Code guid='{CODES['Consequences']}' name='Consequences' isCodable='false'>"
        f"<Code guid='{CODES['Return home']}' name='Return home' isCodable='true'/></Code>"
    )
    variables = "".join(f"<Variable guid='{g}' name='{n}' typeOfVariable='Text'/>" for n, g in VARIABLES.items())
    parts = [
        f"<?xml version='1.0' encoding='utf-8'?><Project xmlns='{NS}' name='Fieldwork 2026' origin={quoteattr(origin)}"
        f" creatingUserGUID='{USERS['alice']}' creationDateTime='2026-02-01T08:00:00Z'>",
        f"<Users>{users}</Users><CodeBook><Codes>{codes}</Codes></CodeBook><Variables>{variables}</Variables>",
    ]
    if cases:  # NVivo: the city is a case value, applying to the sources the case references
        refs = "".join(f"<SourceRef targetGUID='{s.guid}'/>" for s in sources[:1])
        parts.append(
            f"<Cases><Case guid='D1000000-0000-4000-8000-000000000001' name='Respondent 1'>"
            f"{_value('city', 'Beijing')}{refs}</Case></Cases>"
        )
    parts.append("<Sources>")
    for source in sources:
        path = "" if inline else f" plainTextPath={quoteattr(plain_text_path.format(guid=source.guid))}"
        parts.append(
            f"<TextSource guid='{source.guid}' name={quoteattr(source.name)}{path} creatingUser='{USERS['alice']}'>"
        )
        if inline:
            parts.append(f"<PlainTextContent>{_escape(source.text)}</PlainTextContent>")
        for index, (start, end, codings) in enumerate(source.selections):
            name = f" name={quoteattr(source.text[start:end])}" if names else ""
            if one_per_crlf:
                start, end = (position - source.text.count("\r\n", 0, position) for position in (start, end))
            parts.append(
                f"<PlainTextSelection guid='E{index:07d}-0000-4000-8000-{source.guid[-12:]}'"
                f" startPosition='{start}' endPosition='{end}'{name} creatingUser='{USERS['alice']}'>"
            )
            number = 0
            for user, names, date in codings:
                for code in names:  # one Coding per code (the schema allows one CodeRef in a Coding)
                    number += 1
                    parts.append(
                        f"<Coding guid='F{index:03d}{number:04d}-0000-4000-8000-{source.guid[-12:]}'"
                        f" creatingUser='{USERS[user]}' creationDateTime='{date}'>"
                        f"<CodeRef targetGUID='{CODES[code]}'/></Coding>"
                    )
            parts.append("</PlainTextSelection>")
        parts.extend(_value(name, value) for name, value in source.values.items())
        parts.append("</TextSource>")
    if other_sources:
        parts.append(
            "<PDFSource guid='AB000000-0000-4000-8000-000000000001' name='Policy.pdf'"
            " path='internal://AB000000-0000-4000-8000-000000000001.pdf'/>"
            "<AudioSource guid='AB000000-0000-4000-8000-000000000002' name='Interview 3.m4a'"
            " path='internal://AB000000-0000-4000-8000-000000000002.m4a'/>"
        )
    parts.append("</Sources>")
    if sets:
        parts.append(
            "<Sets><Set guid='AC000000-0000-4000-8000-000000000001' name='Key codes'>"
            f"<MemberCode targetGUID='{CODES['Paperwork']}'/></Set></Sets>"
        )
    parts.append("</Project>")
    return "".join(parts)


def _value(name: str, value: str) -> str:
    return (
        f"<VariableValue><VariableRef targetGUID='{VARIABLES[name]}'/><TextValue>{_escape(value)}</TextValue>"
        "</VariableValue>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def write_qdpx(
    path: Path,
    sources: list[Source] | None = None,
    *,
    folder: str = "sources",
    bom: bool = False,
    qde_name: str = "project.qde",
    plain_text_path: str = "internal://{guid}.txt",
    **options: bool,
) -> Path:
    """A ``.qdpx``: the project file and one text file per source in ``folder``."""
    sources = standard_sources() if sources is None else sources
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(qde_name, project_xml(sources, plain_text_path=plain_text_path, **options))
        for source in sources:
            name = plain_text_path.format(guid=source.guid).removeprefix("internal://")
            archive.writestr(f"{folder}/{name}", ("\ufeff" if bom else "") + source.text)
    return path
