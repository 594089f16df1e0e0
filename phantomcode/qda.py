"""REFI-QDA exchange: codebooks as ``.qdc`` and projects as ``.qdpx`` (NVivo, ATLAS.ti, MAXQDA,
QualCoder and Taguette read them).

Written to the REFI-QDA 1.0 schemas (``Codebook-mrt2019.xsd``, ``Project-mrt2019.xsd``, release
of 18 March 2019): elements in schema order, required attributes present, GUIDs in the canonical
8-4-4-4-12 form, colours as ``#RRGGBB`` and times in UTC with ``Z``. GUIDs are stable: UUID5 of what they stand for (a code's id, a
document's id, a coding's key), so exporting twice gives the same GUIDs and other tools can match
re-imports.

- **Codebook** (``<CodeBook xmlns="urn:QDA-XML:codebook:1.0">``): every codebook group is a parent
  ``Code`` with ``isCodable="false"``; each code is a codable child named by its label, with a
  ``Description`` holding the definition, the include/exclude advice and a last line
  ``phantomcode id: ID``, which lets ``read_qdc`` restore ids exactly.
- **Project** (``project.qde`` in a zip with ``sources/GUID.txt``, the folder in lower case as
  MAXQDA, NVivo and QualCoder write it): users (phantomcode and each reviewer), the codebook, one
  ``Variable`` per attribute (type Text, values verbatim as the canonical values), one
  ``TextSource`` per document (``plainTextPath="internal://GUID.txt"``, the stored text as UTF-8
  without BOM, its ``VariableValue`` s), one ``PlainTextSelection`` per coded segment with a
  ``Coding`` + ``CodeRef`` per code, and review notes as ``Note`` s (dated; their text also in the
  selection's ``Description``, as QualCoder drops notes referenced from a coding). Selections and
  codings carry the reviewer who accepted them and when (phantomcode and the coding time for
  unreviewed ones). ``Case`` s (one per document, with its values and a ``SourceRef``) only on
  request: QualCoder takes every value in a case for a case attribute and then shows none on the
  documents. ``startPosition`` and ``endPosition`` are character offsets (Unicode code points)
  into the stored text; the end is exclusive, as QualCoder writes it. Only accepted codings are
  exported unless ``include_unreviewed`` adds every coding that counts and is not rejected.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import yaml
from lxml import etree

from . import __version__
from .codebook import CODE_ID, Codebook, load_codebook
from .errors import UsageError
from .outputs import write_output
from .sanitise import terminal_text, xml_text
from .store import Store

__all__ = ["QdcCode", "QdcCodebook", "QdpxExport", "codebook_to_qdc", "export_qdc", "export_qdpx", "read_qdc",
           "qdc_to_yaml", "stable_guid"]

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
# Also read: a typo some tools wrote, and the 0.4 draft namespaces found in real files.
CODEBOOK_NS_READ = (CODEBOOK_NS, "urn:QDA-XML:codebook:1:0", "urn:QDA-XML:codebook:0:4")
PROJECT_NS = "urn:QDA-XML:project:1.0"
PROJECT_NS_READ = (PROJECT_NS, "urn:QDA-XML:project:1:0", "urn:QDA-XML:project:0:4")
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:phantomcode:refi-qda")
ID_LINE = re.compile(r"^phantomcode id:\s*(\S+)\s*$")
GROUP_LINE = re.compile(r"^phantomcode group:\s*(.+?)\s*$")
PALETTE = ("#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F",
           "#BCBD22", "#17BECF", "#393B79", "#637939", "#8C6D31", "#843C39", "#7B4173", "#3182BD")
GROUP_COLOUR = "#A0A0A0"
PHANTOMCODE_USER = "phantomcode"
SOURCES_FOLDER = "sources"  # lower case, as MAXQDA, NVivo, QualCoder write it; ATLAS.ti rejects "Sources"
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


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


def _add_codes(parent: etree._Element, ns: str, book: Codebook, extra_codes: Iterable[str] = ()) -> None:
    """``<Codes>`` with a non-codable parent per group and the codes under it."""
    codes = etree.SubElement(parent, f"{{{ns}}}Codes")
    position = {code_id: index for index, code_id in enumerate(book.code_ids())}
    for group, code_ids in book.groups.items():
        if not code_ids:
            continue
        holder = codes
        if group != "ungrouped":
            holder = etree.SubElement(codes, f"{{{ns}}}Code", guid=stable_guid("group", group), name=group,
                                      isCodable="false", color=GROUP_COLOUR)
            etree.SubElement(holder, f"{{{ns}}}Description").text = xml_text(
                f"Group of codes in the phantomcode codebook {book.name!r}.\n\nphantomcode group: {group}")
        for code_id in code_ids:
            code = book.code(code_id)
            element = etree.SubElement(holder, f"{{{ns}}}Code", guid=stable_guid("code", code.id),
                                       name=xml_text(code.label or code.id), isCodable="true",
                                       color=code_colour(code.id, position[code.id]))
            etree.SubElement(element, f"{{{ns}}}Description").text = xml_text(code_description(code))
    for code_id in extra_codes:
        element = etree.SubElement(codes, f"{{{ns}}}Code", guid=stable_guid("code", code_id), name=code_id,
                                   isCodable="true", color=code_colour(code_id))
        etree.SubElement(element, f"{{{ns}}}Description").text = (
            f"Code found in the project but not in the codebook.\n\nphantomcode id: {code_id}")


def codebook_to_qdc(book: Codebook) -> bytes:
    """The codebook as REFI-QDA codebook XML (UTF-8 bytes)."""
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS},
                         origin=f"phantomcode {__version__}: {book.name} {book.version}")
    _add_codes(root, CODEBOOK_NS, book)
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
        from .qdpx_read import read_project_xml

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
        raise UsageError(f"{path}:{root.sourceline}: namespace {ns!r} is not "
                         f"{CODEBOOK_NS if name == 'CodeBook' else PROJECT_NS!r}")
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
            self.result.notes.append(f"line {element.sourceline}: {element.get('name')!r} is a folder, not a code; "
                                     f"its codes joined the group {group!r}")
        for child in element.findall(f"{{{self.ns}}}Code"):
            self.nested(child, group, (*path, element.get("name", "")))

    def code(self, element: etree._Element, *, group: str | None, path: tuple[str, ...]) -> None:
        name = element.get("name")
        guid = element.get("guid")
        if not name or not guid:
            missing = "name" if not name else "guid"
            raise UsageError(f"{self.path}:{element.sourceline}: <Code> without the required {missing!r} attribute")
        if not self._codable(element) and group is None:
            self.result.notes.append(f"line {element.sourceline}: {name!r} is not codable and has no codes under "
                                     "it; left out")
            return
        description = self._description(element)
        lines = description.splitlines()
        code_id = next((m.group(1) for m in map(ID_LINE.match, lines) if m), None)
        if code_id is not None:
            lines = [line for line in lines if not ID_LINE.match(line)]
        definition, include, exclude = _split_description("\n".join(lines).strip())
        code_id = self.unique(code_id if code_id and CODE_ID.match(code_id) else code_slug(name))
        self.ids[guid] = code_id
        self.result.codes.append(QdcCode(id=code_id, label=name, group=group, definition=definition or name,
                                         include=include, exclude=exclude, path=path))
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
            include = part[len("Include: "):].strip()
        elif part.startswith("Exclude: ") and not exclude:
            exclude = part[len("Exclude: "):].strip()
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
        f"{datetime.now(timezone.utc).date().isoformat()}.",
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


# ---------------------------------------------------------------------------------------------
# Project out


@dataclass(frozen=True)
class QdpxExport:
    out: str
    sources: int
    codings: int
    selections: int
    codes: int
    variables: int
    users: int


def export_qdpx(*, project: str | Path | None = None, out: str | Path, include_unreviewed: bool = False,
                codebook: str | Path | Codebook | None = None, name: str | None = None,
                cases: bool = False) -> QdpxExport:
    """Write the project as a REFI-QDA ``.qdpx`` (see the module doc for what goes in); ``cases``
    adds one ``Case`` per document holding its variable values too."""
    from .codebook_choice import choose_codebook

    with Store.open(project, readonly=True) as store:
        book = choose_codebook(codebook, store)
        documents = list(store.iter_documents())
        attributes = store.canonical_attribute_table()
        variable_names = store.attribute_names()
        codings = store.exchange_codings(include_unreviewed=include_unreviewed)
        created = store.report_coded_at() or datetime.now(timezone.utc).isoformat(timespec="seconds")
        project_name = name or store.path.stem
    builder = _ProjectBuilder(book, project_name, created, cases=cases)
    root = builder.build(documents, attributes, variable_names, codings)
    out = Path(out)

    def write(handle: IO[bytes]) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            _write_member(archive, "project.qde",
                          etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True))
            for doc in documents:
                guid = stable_guid("source", doc["doc_id"])
                _write_member(archive, f"{SOURCES_FOLDER}/{guid}.txt", doc["text"].encode("utf-8"))

    write_output(out, write, binary=True)
    return QdpxExport(out=str(out), sources=len(documents), codings=len(codings), selections=builder.selections,
                      codes=len(book.codes) + len(builder.extra_codes), variables=len(variable_names),
                      users=len(builder.users))


def refi_time(iso: str) -> str:
    """An ISO time as REFI-QDA producers write it, in UTC with ``Z`` (``2026-03-01T09:30:00Z``):
    QualCoder turns that into its own ``2026-03-01 09:30:00`` and would keep a ``+00:00``."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _describe(coding: dict[str, Any]) -> str:
    """One line of a selection's description: code, rule, matched words and who accepted it."""
    words = " | ".join(m["text"] for m in coding["matched"])
    line = f"{coding['code']}: {coding['rule']}" + (f" ({words})" if words else "")
    if coding.get("source") == "learned":
        line += f", coded by the learned model (probability {coding['probability']:.2f})"
    if coding["status"] == "accepted" and coding["reviewer"]:
        line += f", accepted by {coding['reviewer']}"
    if coding["note"]:
        line += f"; note: {coding['note']}"  # clients that drop notes referenced from a coding keep this
    return line


def _write_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


class _ProjectBuilder:
    def __init__(self, book: Codebook, name: str, created: str, *, cases: bool = False) -> None:
        self.book = book
        self.name = name
        self.created = refi_time(created)
        self.cases = cases
        self.users: dict[str, str] = {PHANTOMCODE_USER: stable_guid("user", PHANTOMCODE_USER)}
        self.extra_codes: list[str] = []
        self.selections = 0

    def _e(self, parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
        """A child element; its text and attribute values (user text: names, notes, attribute
        values) without the control characters XML cannot hold."""
        element = etree.SubElement(parent, f"{{{PROJECT_NS}}}{tag}",
                                   **{name: xml_text(value) for name, value in attributes.items()})
        if text is not None:
            element.text = xml_text(text)
        return element

    def _user(self, name: str | None) -> str:
        name = name or PHANTOMCODE_USER
        return self.users.setdefault(name, stable_guid("user", name))

    def build(self, documents: list[dict[str, Any]], attributes: dict[str, dict[str, str]],
              variable_names: list[str], codings: list[dict[str, Any]]) -> etree._Element:
        known = set(self.book.code_ids())
        self.extra_codes = sorted({c["code"] for c in codings} - known)
        for coding in codings:
            if coding["reviewer"]:
                self._user(coding["reviewer"])
        root = etree.Element(f"{{{PROJECT_NS}}}Project", nsmap={None: PROJECT_NS}, name=self.name,
                             origin=f"phantomcode {__version__}", creatingUserGUID=self.users[PHANTOMCODE_USER],
                             creationDateTime=self.created)
        users = self._e(root, "Users")
        for user, guid in self.users.items():
            self._e(users, "User", guid=guid, name=user)
        _add_codes(self._e(root, "CodeBook"), PROJECT_NS, self.book, self.extra_codes)
        if variable_names:
            variables = self._e(root, "Variables")
            for variable in variable_names:
                self._e(variables, "Variable", guid=stable_guid("variable", variable), name=variable,
                        typeOfVariable="Text")
        if documents and self.cases:
            cases = self._e(root, "Cases")
            for doc in documents:
                case = self._e(cases, "Case", guid=stable_guid("case", doc["doc_id"]), name=doc["doc_id"])
                self._values(case, attributes.get(doc["doc_id"], {}), variable_names)
                self._e(case, "SourceRef", targetGUID=stable_guid("source", doc["doc_id"]))
        by_doc: dict[str, list[dict[str, Any]]] = {}
        for coding in codings:
            by_doc.setdefault(coding["doc_id"], []).append(coding)
        notes: list[tuple[str, str, dict[str, Any]]] = []
        if documents:
            sources = self._e(root, "Sources")
            for doc in documents:
                self._source(sources, doc, by_doc.get(doc["doc_id"], []), attributes.get(doc["doc_id"], {}),
                             variable_names, notes)
        if notes:
            notes_element = self._e(root, "Notes")
            for guid, text, coding in notes:
                where = f"{coding['doc_id']} {coding['start']}-{coding['end']} {coding['code']}"
                when = refi_time(coding["decided_at"]) if coding["decided_at"] else self.created
                note = self._e(notes_element, "Note", guid=guid, name=f"review note: {where}",
                               creatingUser=self.users.get(coding["reviewer"] or "", self.users[PHANTOMCODE_USER]),
                               creationDateTime=when, modifiedDateTime=when)
                self._e(note, "PlainTextContent", text)
        return root

    def _made_by(self, codings: list[dict[str, Any]]) -> dict[str, str]:
        """``creatingUser`` and ``creationDateTime``: the first reviewer who accepted one of the
        codings and when, else phantomcode at the time the project was coded."""
        decided = next((c for c in codings if c["status"] == "accepted" and c["reviewer"]), None)
        if decided is None:
            return {"creatingUser": self.users[PHANTOMCODE_USER], "creationDateTime": self.created}
        return {"creatingUser": self._user(decided["reviewer"]),
                "creationDateTime": refi_time(decided["decided_at"]) if decided["decided_at"] else self.created}

    def _values(self, parent: etree._Element, values: dict[str, str], names: list[str]) -> None:
        for variable in names:
            value = values.get(variable)
            if value is None or str(value) == "":
                continue
            element = self._e(parent, "VariableValue")
            self._e(element, "VariableRef", targetGUID=stable_guid("variable", variable))
            self._e(element, "TextValue", str(value))

    def _source(self, sources: etree._Element, doc: dict[str, Any], codings: list[dict[str, Any]],
                values: dict[str, str], names: list[str], notes: list[tuple[str, str, dict[str, Any]]]) -> None:
        doc_id = doc["doc_id"]
        guid = stable_guid("source", doc_id)
        source = self._e(sources, "TextSource", guid=guid, name=doc_id, plainTextPath=f"internal://{guid}.txt",
                         creatingUser=self.users[PHANTOMCODE_USER])
        self._e(source, "Description", f"{doc['source']} (phantomcode document {doc_id})")
        spans: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for coding in codings:
            spans.setdefault((coding["start"], coding["end"]), []).append(coding)
        text = doc["text"]
        for (start, end), group in sorted(spans.items()):
            self.selections += 1
            selection = self._e(source, "PlainTextSelection", guid=stable_guid("selection", doc_id, start, end),
                                name=text[start:end], startPosition=str(start), endPosition=str(end),
                                **self._made_by(group))
            self._e(selection, "Description", "\n".join(_describe(c) for c in group))
            for coding in group:
                element = self._e(selection, "Coding", guid=stable_guid("coding", doc_id, start, end, coding["code"]),
                                  **self._made_by([coding]))
                self._e(element, "CodeRef", targetGUID=stable_guid("code", coding["code"]))
                if coding["note"]:
                    note_guid = stable_guid("note", doc_id, start, end, coding["code"])
                    self._e(element, "NoteRef", targetGUID=note_guid)
                    notes.append((note_guid, coding["note"], coding))
        self._values(source, values, names)
