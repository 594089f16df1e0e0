"""Read a REFI-QDA project (``.qdpx``, or a ``.qde`` with its sources folder) as NVivo, MAXQDA,
ATLAS.ti, QualCoder and phantomcode write it, into plain records; ``qda_import`` stores them.

What real producers differ in, and all of it is accepted: the sources folder is ``sources/``
(MAXQDA, NVivo, QualCoder) or ``Sources/``; the project file is ``project.qde`` or named after the
project; ``plainTextPath`` is ``internal://GUID.txt`` or a bare file name; GUIDs are upper or
lower case, with or without braces; a text file may start with a UTF-8 BOM (QualCoder writes
one: it is dropped, and offsets count from the first character after it) and may use CRLF (kept
as it is: offsets are code points into the file's text); the namespace may be the ``0:4`` draft.
A case's variable values apply to the sources it references (a source's own value wins).

Sources this cannot use (PDF, picture, audio, video, a text source whose text is missing) are
listed in ``QdpxProject.skipped`` with the reason; nothing is dropped without a line there.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from lxml import etree

from .errors import UsageError
from .qda import PROJECT_NS_READ, QdcCodebook, normal_guid, read_codebook_element

__all__ = ["QdpxCoding", "QdpxProject", "QdpxSource", "read_project_xml", "read_qdpx"]

MAX_PROJECT_XML_BYTES = 200_000_000
MAX_SOURCE_BYTES = 20_000_000
MAX_MEMBERS = 100_000
OTHER_SOURCES = {"PDFSource": "PDF", "PictureSource": "picture", "AudioSource": "audio", "VideoSource": "video"}
VALUE_TAGS = ("TextValue", "BooleanValue", "IntegerValue", "FloatValue", "DateValue", "DateTimeValue")


@dataclass(frozen=True)
class QdpxCoding:
    """One code applied to one text selection, by a user at a time (both as the file says)."""

    start: int
    end: int
    code_guid: str
    user: str
    date: str | None
    note: str | None  # the text of the Notes it references
    memo: str | None = None  # its selection's Description, where QualCoder and MAXQDA keep a coding memo


@dataclass
class QdpxSource:
    guid: str
    name: str
    text: str
    values: dict[str, str] = field(default_factory=dict)
    codings: list[QdpxCoding] = field(default_factory=list)


@dataclass
class QdpxProject:
    path: str
    name: str
    origin: str
    created: str | None
    codebook: QdcCodebook | None
    sources: list[QdpxSource] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # sources left out, with why
    problems: list[str] = field(default_factory=list)  # codings or values left out, with why
    uncoded_selections: int = 0


class _Archive:
    """The project's files, whether zipped (``.qdpx``) or in a folder beside a ``.qde``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self.names: dict[str, str] = {}  # lower-case member path -> its real name
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        if path.suffix.lower() == ".qde" and not zipfile.is_zipfile(path):
            self.folder = path.parent
            return
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise UsageError(f"{path}: not a .qdpx project (a zip archive): {exc}") from None
        infos = self.zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise UsageError(f"{path}: {len(infos)} files in the archive, more than {MAX_MEMBERS}")
        self.infos = {info.filename: info for info in infos}
        self.names = {name.lower(): name for name in self.infos}

    def project_xml(self) -> tuple[str, bytes]:
        """(name, bytes) of ``project.qde``, or of the one ``.qde`` at the top of the archive."""
        if self.zip is None:
            return self.path.name, self._read_file(self.path, MAX_PROJECT_XML_BYTES)
        candidates = [n for n in self.infos if "/" not in n.strip("/") and n.lower().endswith(".qde")]
        chosen = next((n for n in candidates if n.lower() == "project.qde"), None)
        if chosen is None and len(candidates) == 1:
            chosen = candidates[0]
        if chosen is None:
            found = ", ".join(candidates) or "none"
            raise UsageError(
                f"{self.path}: a zip archive with no project.qde at its top (.qde files found: {found}); "
                "a REFI-QDA project (.qdpx) holds one"
            )
        return chosen, self._read_member(chosen, MAX_PROJECT_XML_BYTES)

    def source_text(self, reference: str) -> bytes | None:
        """The bytes of ``internal://NAME``, ``relative://NAME`` or a bare ``NAME`` in the sources
        folder (``sources/`` or ``Sources/``, names compared without case); None when absent."""
        name = reference
        for prefix in ("internal://", "relative://"):
            if name.lower().startswith(prefix):
                name = name[len(prefix) :]
        name = name.lstrip("/")
        if not name or ".." in PurePosixPath(name).parts:
            return None
        if self.zip is None:
            for folder in ("sources", "Sources"):
                candidate = self.folder / folder / name
                if candidate.is_file():
                    return self._read_file(candidate, MAX_SOURCE_BYTES)
            return None
        for member in (f"sources/{name}", name):
            real = self.names.get(member.lower())
            if real is not None:
                return self._read_member(real, MAX_SOURCE_BYTES)
        return None

    def _read_member(self, name: str, limit: int) -> bytes:
        assert self.zip is not None
        if self.infos[name].file_size > limit:
            raise UsageError(
                f"{self.path}: {name} is {self.infos[name].file_size:,} bytes, over the limit of {limit:,}"
            )
        try:
            return self.zip.read(name)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise UsageError(f"{self.path}: cannot read {name} from the archive ({exc})") from None

    def _read_file(self, path: Path, limit: int) -> bytes:
        try:
            if path.stat().st_size > limit:
                raise UsageError(f"{path}: {path.stat().st_size:,} bytes, over the limit of {limit:,}")
            return path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def read_project_xml(path: str | Path) -> etree._Element:
    """The parsed ``<Project>`` of a ``.qdpx`` or ``.qde``; ``UsageError`` naming the file and line."""
    path = Path(path)
    archive = _Archive(path)
    name, data = archive.project_xml()
    return _parse(data, path if archive.zip is None else Path(f"{path}!{name}"))


def _parse(data: bytes, where: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else exc.lineno
        raise UsageError(f"{where}:{line}: not well-formed XML: {exc.msg}") from None


def read_qdpx(path: str | Path) -> QdpxProject:
    """Read a REFI-QDA project's text sources, variables, codebook and codings (see the module doc)."""
    path = Path(path)
    archive = _Archive(path)
    name, data = archive.project_xml()
    root = _parse(data, path if archive.zip is None else Path(f"{path}!{name}"))
    ns = etree.QName(root).namespace
    if etree.QName(root).localname != "Project" or ns not in PROJECT_NS_READ:
        raise UsageError(f"{path}: {name} holds <{etree.QName(root).localname}> in {ns!r}, not a REFI-QDA <Project>")
    has_codes = root.find(f"{{{ns}}}CodeBook/{{{ns}}}Codes/{{{ns}}}Code") is not None
    project = QdpxProject(
        path=str(path),
        name=root.get("name") or path.stem,
        origin=root.get("origin", ""),
        created=root.get("creationDateTime"),
        codebook=read_codebook_element(root, path) if has_codes else None,
    )
    _ProjectReader(root, ns, archive, project).read()
    return project


class _ProjectReader:
    def __init__(self, root: etree._Element, ns: str, archive: _Archive, project: QdpxProject) -> None:
        self.root = root
        self.ns = ns
        self.archive = archive
        self.project = project
        self.users = {normal_guid(u.get("guid", "")): u.get("name") or "unknown" for u in self._all("Users/User")}
        self.variables = {normal_guid(v.get("guid", "")): v.get("name", "") for v in self._all("Variables/Variable")}
        self.notes = {
            normal_guid(n.get("guid", "")): (n.findtext(self._q("PlainTextContent")) or "").strip()
            for n in self._all("Notes/Note")
        }

    def _q(self, tag: str) -> str:
        return f"{{{self.ns}}}{tag}"

    def _all(self, path: str) -> list[etree._Element]:
        return self.root.findall("/".join(self._q(part) for part in path.split("/")))

    def read(self) -> None:
        case_values = self._case_values()
        sources = self.root.find(self._q("Sources"))
        for element in sources if sources is not None else ():
            if not isinstance(element.tag, str):
                continue
            kind = etree.QName(element).localname
            label = element.get("name") or element.get("guid") or f"line {element.sourceline}"
            if kind in OTHER_SOURCES:
                self.project.skipped.append(f"{label}: a {OTHER_SOURCES[kind]} source (only text sources are read)")
            elif kind == "TextSource":
                self._text_source(element, case_values)

    def _case_values(self) -> dict[str, dict[str, str]]:
        """Source GUID -> variable values of the cases that reference it."""
        values: dict[str, dict[str, str]] = {}
        for case in self._all("Cases/Case"):
            own = self._values(case)
            for ref in case.findall(self._q("SourceRef")):
                target = values.setdefault(normal_guid(ref.get("targetGUID", "")), {})
                for name, value in own.items():
                    if target.get(name, value) != value:
                        self.project.problems.append(
                            f"case {case.get('name')!r}: {name}={value!r} differs from "
                            f"another case's {target[name]!r}; the first is kept"
                        )
                    target.setdefault(name, value)
        return values

    def _values(self, holder: etree._Element) -> dict[str, str]:
        values = {}
        for element in holder.findall(self._q("VariableValue")):
            ref = element.find(self._q("VariableRef"))
            name = self.variables.get(normal_guid(ref.get("targetGUID", ""))) if ref is not None else None
            value = next(
                (element.findtext(self._q(tag)) for tag in VALUE_TAGS if element.find(self._q(tag)) is not None), None
            )
            if name and value is not None and value.strip():
                values[name] = value.strip()
        return values

    def _text_source(self, element: etree._Element, case_values: dict[str, dict[str, str]]) -> None:
        guid = normal_guid(element.get("guid", ""))
        name = element.get("name") or guid
        text = self._text(element)
        if text is None:
            path = element.get("plainTextPath") or element.get("richTextPath") or "no plainTextPath"
            self.project.skipped.append(f"{name}: its plain text ({path}) is not in the project file")
            return
        values = {**case_values.get(guid, {}), **self._values(element)}
        source = QdpxSource(guid=guid, name=name, text=text, values=values)
        selections = element.findall(self._q("PlainTextSelection"))
        position = _positions(
            text,
            selections,
            lf_counted="ATLAS" in self.project.origin.upper() or "MAXQDA" in self.project.origin.upper(),
        )
        for selection in selections:
            self._selection(selection, source, position)
        self.project.sources.append(source)

    def _text(self, element: etree._Element) -> str | None:
        inline = element.find(self._q("PlainTextContent"))
        if inline is not None:
            return (inline.text or "").removeprefix("\ufeff")
        reference = element.get("plainTextPath")
        data = self.archive.source_text(reference) if reference else None
        if data is None:
            return None
        try:
            return data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            self.project.problems.append(
                f"{element.get('name')}: {reference} is not UTF-8 ({exc.reason} at byte {exc.start})"
            )
            return None

    def _selection(self, selection: etree._Element, source: QdpxSource, position: Callable[[int], int]) -> None:
        where = f"{source.name}: selection {selection.get('startPosition')}-{selection.get('endPosition')}"
        try:
            start, end = map(position, _span(selection))
        except (ValueError, IndexError):
            self.project.problems.append(f"{where}: positions are not whole numbers within the text; left out")
            return
        if not 0 <= start < end <= len(source.text):
            self.project.problems.append(f"{where}: outside the text of {len(source.text)} characters; left out")
            return
        codings = selection.findall(self._q("Coding"))
        if not codings:
            self.project.uncoded_selections += 1
            return
        note = self._note(selection)
        memo = (selection.findtext(self._q("Description")) or "").strip() or None
        for coding in codings:
            user_guid = coding.get("creatingUser") or selection.get("creatingUser") or ""
            date = next(
                (
                    when
                    for holder in (coding, selection)
                    for when in (holder.get("creationDateTime"), holder.get("modifiedDateTime"))
                    if when
                ),
                self.project.created,
            )
            coding_note = self._note(coding) or note
            for ref in coding.findall(self._q("CodeRef")):
                source.codings.append(
                    QdpxCoding(
                        start=start,
                        end=end,
                        code_guid=normal_guid(ref.get("targetGUID", "")),
                        user=self.users.get(normal_guid(user_guid), "unknown"),
                        date=_iso(date),
                        note=coding_note,
                        memo=memo,
                    )
                )

    def _note(self, holder: etree._Element) -> str | None:
        texts = [self.notes.get(normal_guid(ref.get("targetGUID", ""))) for ref in holder.findall(self._q("NoteRef"))]
        return "\n".join(t for t in texts if t) or None


def _span(selection: etree._Element) -> tuple[int, int]:
    return int(selection.get("startPosition", "")), int(selection.get("endPosition", ""))


def _positions(text: str, selections: list[etree._Element], *, lf_counted: bool) -> Callable[[int], int]:
    """How a file's positions map to offsets into ``text``, which is kept with its CRLFs.

    Producers count a CRLF differently: as two characters (NVivo, QualCoder, the standard's
    code points), or as one (ATLAS.ti, and MAXQDA, whose files QualCoder writes with CRLFs but
    unchanged positions). Selections that carry their text in ``name`` decide; without them the
    producer (``lf_counted``) does.
    """
    if "\r\n" not in text:
        return int
    raw = list(range(len(text) + 1))
    # a CRLF is one character whose position is its CR's: positions after it move one further
    lf = [i for i, char in enumerate(text) if not (char == "\n" and text[i - 1 : i] == "\r")] + [len(text)]

    def agreeing(table: list[int]) -> int:
        found = 0
        for selection in selections:
            try:
                start, end = _span(selection)
                found += text[table[start] : table[end]] == selection.get("name")
            except (ValueError, IndexError):
                continue
        return found

    named = [s for s in selections if s.get("name")]
    if named and agreeing(lf) != agreeing(raw):
        lf_counted = agreeing(lf) > agreeing(raw)
    table = lf if lf_counted else raw
    return table.__getitem__


def _iso(value: str | None) -> str | None:
    """An ISO 8601 UTC time from the file's ``xsd:dateTime`` (``Z`` or an offset), or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")
