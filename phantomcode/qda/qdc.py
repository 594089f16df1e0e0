"""REFI-QDA codebooks (``.qdc``) out and in, and the YAML codebook made from one; the GUIDs,
colours and names every REFI-QDA file of phantomcode shares (see the package doc)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

from .. import __version__
from ..codebook import CODE_ID, Codebook, load_codebook
from ..errors import UsageError
from ..outputs import write_output
from ..sanitise import terminal_text, xml_text

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
# Also read: a typo some tools wrote, and the 0.4 draft namespaces found in real files.
CODEBOOK_NS_READ = (CODEBOOK_NS, "urn:QDA-XML:codebook:1:0", "urn:QDA-XML:codebook:0:4")
PROJECT_NS = "urn:QDA-XML:project:1.0"
PROJECT_NS_READ = (PROJECT_NS, "urn:QDA-XML:project:1:0", "urn:QDA-XML:project:0:4")
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:phantomcode:refi-qda")
ID_LINE = re.compile(r"^phantomcode id:\s*(\S+)\s*$")
GROUP_LINE = re.compile(r"^phantomcode group:\s*(.+?)\s*$")
PALETTE = (
    "#1F77B4",
    "#FF7F0E",
    "#2CA02C",
    "#D62728",
    "#9467BD",
    "#8C564B",
    "#E377C2",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
    "#393B79",
    "#637939",
    "#8C6D31",
    "#843C39",
    "#7B4173",
    "#3182BD",
)
GROUP_COLOUR = "#A0A0A0"
PHANTOMCODE_USER = "phantomcode"
SOURCES_FOLDER = "sources"  # lower case, as MAXQDA, NVivo, QualCoder write it; ATLAS.ti rejects "Sources"


def stable_guid(kind: str, *parts: object) -> str:
    """A canonical lower-case GUID that is the same every time for the same thing."""
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join([kind, *map(str, parts)])))


def code_colour(code_id: str, position: int | None = None) -> str:
    """A ``#RRGGBB`` colour: the codebook position's palette entry (distinct for the first 16
    codes), else one picked by the code id."""
    if position is None:
        position = int(hashlib.sha256(code_id.encode("utf-8")).hexdigest(), 16)
    return PALETTE[position % len(PALETTE)]


# ---------------------------------------------------------------------------------------------
# Codebook out


def code_description(code: Any) -> str:
    parts = [code.definition]
    if code.include:
        parts.append(f"Include: {code.include}")
    if code.exclude:
        parts.append(f"Exclude: {code.exclude}")
    parts.append(f"phantomcode id: {code.id}")
    return "\n\n".join(parts)


def add_codes(parent: etree._Element, ns: str, book: Codebook, extra_codes: Iterable[str] = ()) -> None:
    """``<Codes>`` with a non-codable parent per group and the codes under it."""
    codes = etree.SubElement(parent, f"{{{ns}}}Codes")
    position = {code_id: index for index, code_id in enumerate(book.code_ids())}
    for group, code_ids in book.groups.items():
        if not code_ids:
            continue
        holder = codes
        if group != "ungrouped":
            description = f"Group of codes in the phantomcode codebook {book.name!r}.\n\nphantomcode group: {group}"
            holder = _code_element(codes, ns, ("group", group), group, description, GROUP_COLOUR, codable=False)
        for code_id in code_ids:
            code = book.code(code_id)
            colour = code_colour(code.id, position[code.id])
            _code_element(holder, ns, ("code", code.id), code.label or code.id, code_description(code), colour)
    for code_id in extra_codes:
        description = f"Code found in the project but not in the codebook.\n\nphantomcode id: {code_id}"
        _code_element(codes, ns, ("code", code_id), code_id, description, code_colour(code_id))


def _code_element(
    parent: etree._Element,
    ns: str,
    key: tuple[str, str],
    name: str,
    description: str,
    colour: str,
    *,
    codable: bool = True,
) -> etree._Element:
    """One ``<Code>`` with its ``<Description>``; names and descriptions come from the codebook or
    the project, so characters XML cannot hold are replaced (``xml_text``)."""
    element = etree.SubElement(
        parent,
        f"{{{ns}}}Code",
        guid=stable_guid(*key),
        name=xml_text(name),
        isCodable="true" if codable else "false",
        color=colour,
    )
    etree.SubElement(element, f"{{{ns}}}Description").text = xml_text(description)
    return element


def codebook_to_qdc(book: Codebook) -> bytes:
    """The codebook as REFI-QDA codebook XML (UTF-8 bytes)."""
    root = etree.Element(
        f"{{{CODEBOOK_NS}}}CodeBook",
        nsmap={None: CODEBOOK_NS},
        origin=f"phantomcode {__version__}: {book.name} {book.version}",
    )
    add_codes(root, CODEBOOK_NS, book)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def export_qdc(codebook: str | Path | Codebook | None = None, *, out: str | Path) -> int:
    """Write the codebook (default: the bundled one) as ``.qdc``; return how many codes."""
    book = codebook if isinstance(codebook, Codebook) else load_codebook(codebook)
    write_bytes(Path(out), codebook_to_qdc(book))
    return len(book.codes)


def write_bytes(path: Path, data: bytes) -> None:
    """Write a whole file through the one output writer (temporary file, then renamed into place)."""
    write_output(path, lambda handle: handle.write(data), binary=True)


# ---------------------------------------------------------------------------------------------
# Codebook in


@dataclass(frozen=True)
class QdcCode:
    id: str
    label: str
    group: str | None
    definition: str
    include: str = ""
    exclude: str = ""
    path: tuple[str, ...] = ()  # names of the enclosing codes in the file, outermost first


@dataclass
class QdcCodebook:
    name: str
    origin: str
    codes: list[QdcCode] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the import changed or left out
    guids: dict[str, str] = field(default_factory=dict)  # normalised GUID of a codable code -> its id


def read_qdc(path: str | Path) -> QdcCodebook:
    """Read a REFI-QDA codebook (ours or another tool's) into codes and groups: a ``.qdc``, or the
    codebook inside a ``.qdpx`` project or its ``.qde`` file.

    Top-level codes with children become groups (a codable one is also a code of its group);
    deeper levels join their top-level group, their path kept in ``QdcCode.path``. Sets give a
    group to codes that have none. Ids come from a ``phantomcode id:`` line, else from the name
    (lower-case letters, digits and ``_``; hanzi as pinyin), made unique. Raises ``UsageError`` with
    the line for a file that is not a REFI-QDA codebook or project.
    """
    path = Path(path)
    if path.suffix.lower() == ".qdpx" or _is_zip(path):
        from ..qdpx_read import read_project_xml

        return read_codebook_element(read_project_xml(path), path)
    return read_codebook_element(_parse_xml(path), path)


def read_codebook_element(root: etree._Element, path: Path) -> QdcCodebook:
    """The codebook of a parsed ``<CodeBook>`` (codebook file) or ``<Project>`` (project file)."""
    name = etree.QName(root).localname
    ns = etree.QName(root).namespace
    if name == "Project" and ns in PROJECT_NS_READ:
        holder, sets_holder = root.find(f"{{{ns}}}CodeBook"), root
        if holder is None:
            raise UsageError(f"{path}:{root.sourceline}: the project has no <CodeBook>")
    elif name == "CodeBook" and ns in CODEBOOK_NS_READ:
        holder = sets_holder = root
    elif name in ("CodeBook", "Project"):
        raise UsageError(
            f"{path}:{root.sourceline}: namespace {ns!r} is not {CODEBOOK_NS if name == 'CodeBook' else PROJECT_NS!r}"
        )
    else:
        raise UsageError(f"{path}:{root.sourceline}: the root element is <{name}>, not a REFI-QDA <CodeBook>")
    result = QdcCodebook(name=path.stem, origin=root.get("origin", ""))
    codes_element = holder.find(f"{{{ns}}}Codes")
    if codes_element is None:
        raise UsageError(f"{path}:{holder.sourceline}: <CodeBook> has no <Codes>")
    reader = _QdcReader(path, ns, result)
    for element in codes_element.findall(f"{{{ns}}}Code"):
        reader.top_level(element)
    reader.sets(sets_holder.find(f"{{{ns}}}Sets"))
    if not result.codes:
        raise UsageError(f"{path}: the codebook has no codable codes")
    result.guids = {normal_guid(guid): code_id for guid, code_id in reader.ids.items()}
    return result


def normal_guid(guid: str) -> str:
    """A GUID as compared: lower case, without braces (tools write either case, some with {})."""
    return guid.strip().strip("{}").lower()


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _parse_xml(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.parse(str(path), parser).getroot()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc})") from None
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else exc.lineno
        raise UsageError(f"{path}:{line}: not well-formed XML: {exc.msg}") from None


class _QdcReader:
    def __init__(self, path: Path, ns: str, result: QdcCodebook) -> None:
        self.path = path
        self.ns = ns
        self.result = result
        self.ids: dict[str, str] = {}  # guid -> id
        self.unique = UniqueIds()

    def top_level(self, element: etree._Element) -> None:
        children = element.findall(f"{{{self.ns}}}Code")
        if not children:
            self.code(element, group=None, path=())
            return
        description = self._description(element)
        group = element.get("name") or ""
        marker = next((m.group(1) for m in map(GROUP_LINE.match, description.splitlines()) if m), None)
        group = marker or group.strip() or f"group_{len(self.result.groups) + 1}"
        self.result.groups.setdefault(group, [])
        if self._codable(element) and marker is None:
            self.code(element, group=group, path=())
        for child in children:
            self.nested(child, group, (element.get("name", ""),))

    def nested(self, element: etree._Element, group: str, path: tuple[str, ...]) -> None:
        if self._codable(element):
            self.code(element, group=group, path=path)
        else:
            self.result.notes.append(
                f"line {element.sourceline}: {element.get('name')!r} is a folder, not a code; "
                f"its codes joined the group {group!r}"
            )
        for child in element.findall(f"{{{self.ns}}}Code"):
            self.nested(child, group, (*path, element.get("name", "")))

    def code(self, element: etree._Element, *, group: str | None, path: tuple[str, ...]) -> None:
        name = element.get("name")
        guid = element.get("guid")
        if not name or not guid:
            missing = "name" if not name else "guid"
            raise UsageError(f"{self.path}:{element.sourceline}: <Code> without the required {missing!r} attribute")
        if not self._codable(element) and group is None:
            self.result.notes.append(
                f"line {element.sourceline}: {name!r} is not codable and has no codes under it; left out"
            )
            return
        description = self._description(element)
        lines = description.splitlines()
        code_id = next((m.group(1) for m in map(ID_LINE.match, lines) if m), None)
        if code_id is not None:
            lines = [line for line in lines if not ID_LINE.match(line)]
        definition, include, exclude = _split_description("\n".join(lines).strip())
        code_id = self.unique(code_id if code_id and CODE_ID.match(code_id) else code_slug(name))
        self.ids[guid] = code_id
        self.result.codes.append(
            QdcCode(
                id=code_id,
                label=name,
                group=group,
                definition=definition or name,
                include=include,
                exclude=exclude,
                path=path,
            )
        )
        if group is not None:
            self.result.groups.setdefault(group, []).append(code_id)

    def sets(self, element: etree._Element | None) -> None:
        if element is None:
            return
        grouped = {code_id for members in self.result.groups.values() for code_id in members}
        for code_set in element.findall(f"{{{self.ns}}}Set"):
            name = code_set.get("name") or "set"
            for member in code_set.findall(f"{{{self.ns}}}MemberCode"):
                code_id = self.ids.get(member.get("guid") or member.get("targetGUID") or "")
                if code_id is None:
                    continue
                if code_id in grouped:
                    self.result.notes.append(f"set {name!r}: {code_id} already has a group; a code belongs to one")
                    continue
                grouped.add(code_id)
                self.result.groups.setdefault(name, []).append(code_id)
        self.result.codes = [QdcCode(**{**c.__dict__, "group": self._group_of(c.id)}) for c in self.result.codes]

    def _group_of(self, code_id: str) -> str | None:
        return next((g for g, members in self.result.groups.items() if code_id in members), None)

    def _description(self, element: etree._Element) -> str:
        description = element.find(f"{{{self.ns}}}Description")
        return (description.text or "").strip() if description is not None else ""

    @staticmethod
    def _codable(element: etree._Element) -> bool:
        return element.get("isCodable", "true").strip().lower() in ("true", "1")


class UniqueIds:
    """Hands out ``base``, then ``base_2``, ``base_3`` ... for repeated bases, in linear time:
    each base remembers the next number to try (a file of 20,000 codes of one name took 54 s
    when every call counted up from 2)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self._next: dict[str, int] = {}

    def __call__(self, base: str) -> str:
        candidate, number = base, self._next.get(base, 1)
        if number > 1:
            candidate = f"{base}_{number}"
        while candidate in self.taken:
            number += 1
            candidate = f"{base}_{number}"
        self._next[base] = number + 1
        self.taken.add(candidate)
        return candidate


def _split_description(text: str) -> tuple[str, str, str]:
    """(definition, include, exclude) from a description written by ``code_description``."""
    include = exclude = ""
    parts = re.split(r"\n\n(?=(?:Include|Exclude): )", text)
    definition_parts = []
    for part in parts:
        if part.startswith("Include: ") and not include:
            include = part[len("Include: ") :].strip()
        elif part.startswith("Exclude: ") and not exclude:
            exclude = part[len("Exclude: ") :].strip()
        else:
            definition_parts.append(part)
    return " ".join(" ".join(definition_parts).split()), include, exclude


def code_slug(name: str, *, fallback: str = "code") -> str:
    """A code ID made from a name (a QDA code, a dictionary category): romanised, lower case,
    underscores; ``fallback`` when nothing is left, ``c_`` before a leading digit."""
    slug = re.sub(r"[^a-z0-9]+", "_", _romanised(name).lower()).strip("_")
    if not slug:
        return fallback
    return slug if slug[0].isalpha() else f"c_{slug}"


def _romanised(name: str) -> str:
    """``name`` in Latin letters, so it can give an id: hanzi as pinyin without tones (户口 ->
    hukou, with pypinyin), accents dropped (Ünïcode -> Unicode)."""
    if any("\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" for char in name):
        from pypinyin import Style, slug

        name = slug(name, separator="", style=Style.NORMAL)
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


# ---------------------------------------------------------------------------------------------
# YAML out (shared with dictionary imports)


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when that reads back identically, else double-quoted."""
    if value and value == value.strip() and "\n" not in value and not value.startswith(("'", '"')):
        try:
            if yaml.safe_load(f"k: {value}") == {"k": value}:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def yaml_comment(value: str) -> str:
    """``value`` for the inside of a ``#`` comment line: on one line, without control characters,
    so a name holding newlines cannot end the comment and write YAML of its own."""
    return terminal_text(" ".join(str(value).split()))


def qdc_to_yaml(path: str | Path, *, name: str | None = None) -> str:
    """A phantomcode YAML codebook from a ``.qdc``: ids, labels, definitions, include/exclude and
    groups kept; each code's rules are a placeholder that matches nothing, commented for a human
    to replace, so ``phantomcode codebook lint`` accepts the file as it is."""
    book = read_qdc(path)
    lines = [
        f"# Imported by phantomcode from {yaml_comment(Path(path).name)} (REFI-QDA codebook) on "
        f"{datetime.now(UTC).date().isoformat()}.",
        "# Ids, labels, definitions and groups come from that file. A .qdc carries no rules: every code",
        "# below has a placeholder regex that matches nothing, so the codebook loads but codes nothing yet.",
        "# Replace each placeholder with terms, near, regex or patterns rules (see codebooks/README.md),",
        "# add positive and negative examples, then run:",
        "#   phantomcode codebook lint FILE && phantomcode codebook test FILE",
    ]
    lines += [f"#   note: {yaml_comment(note)}" for note in book.notes]
    description = f"Imported from {Path(path).name}" + (f" ({book.origin})" if book.origin else "")
    lines += [f"name: {yaml_scalar(name or book.name)}", 'version: "1"', f"description: {yaml_scalar(description)}", ""]
    groups = {group: members for group, members in book.groups.items() if members}
    if groups:
        lines.append("groups:")
        lines += [f"  {yaml_scalar(group)}: [{', '.join(members)}]" for group, members in groups.items()]
        lines.append("")
    lines.append("codes:")
    for code in book.codes:
        lines.append(f"  - id: {code.id}")
        if len(code.path) > 1:
            lines.append(f"    # in the file under: {yaml_comment(' > '.join(code.path))}")
        lines.append(f"    label: {yaml_scalar(code.label)}")
        lines.append(f"    definition: {yaml_scalar(code.definition)}")
        if code.include:
            lines.append(f"    include: {yaml_scalar(code.include)}")
        if code.exclude:
            lines.append(f"    exclude: {yaml_scalar(code.exclude)}")
        lines.append("    regex:  # TODO placeholder that never matches: replace with this code's rules")
        lines.append("      - '(?!)'")
    return "\n".join(lines) + "\n"
