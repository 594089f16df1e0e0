"""REFI-QDA projects (``.qdpx``) out: notes, attributes, codebook and codings (see the package doc)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from lxml import etree

from .. import __version__
from ..codebook import Codebook
from ..outputs import write_output
from ..sanitise import xml_text
from ..store import Store
from .qdc import PHANTOMCODE_USER, PROJECT_NS, SOURCES_FOLDER, add_codes, stable_guid

_ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # every member dated alike: the same project gives the same bytes


@dataclass(frozen=True)
class QdpxExport:
    out: str
    sources: int
    codings: int
    selections: int
    codes: int
    variables: int
    users: int


def export_qdpx(
    *,
    project: str | Path | None = None,
    out: str | Path,
    include_unreviewed: bool = False,
    codebook: str | Path | Codebook | None = None,
    name: str | None = None,
    cases: bool = False,
) -> QdpxExport:
    """Write the project as a REFI-QDA ``.qdpx`` (see the module doc for what goes in); ``cases``
    adds one ``Case`` per document holding its variable values too."""
    from ..codebook_choice import choose_codebook

    with Store.open(project, readonly=True) as store:
        book = choose_codebook(codebook, store)
        documents = list(store.iter_documents())
        attributes = store.canonical_attribute_table()
        variable_names = store.attribute_names()
        codings = store.exchange_codings(include_unreviewed=include_unreviewed)
        created = store.report_coded_at() or datetime.now(UTC).isoformat(timespec="seconds")
        project_name = name or store.path.stem
    builder = _ProjectBuilder(book, project_name, created, cases=cases)
    root = builder.build(documents, attributes, variable_names, codings)
    out = Path(out)

    def write(handle: IO[bytes]) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            _write_member(
                archive, "project.qde", etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
            )
            for doc in documents:
                guid = stable_guid("source", doc["doc_id"])
                _write_member(archive, f"{SOURCES_FOLDER}/{guid}.txt", doc["text"].encode("utf-8"))

    write_output(out, write, binary=True)
    return QdpxExport(
        out=str(out),
        sources=len(documents),
        codings=len(codings),
        selections=builder.selections,
        codes=len(book.codes) + len(builder.extra_codes),
        variables=len(variable_names),
        users=len(builder.users),
    )


def refi_time(iso: str) -> str:
    """An ISO time as REFI-QDA producers write it, in UTC with ``Z`` (``2026-03-01T09:30:00Z``):
    QualCoder turns that into its own ``2026-03-01 09:30:00`` and would keep a ``+00:00``."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        element = etree.SubElement(
            parent, f"{{{PROJECT_NS}}}{tag}", **{name: xml_text(value) for name, value in attributes.items()}
        )
        if text is not None:
            element.text = xml_text(text)
        return element

    def _user(self, name: str | None) -> str:
        name = name or PHANTOMCODE_USER
        return self.users.setdefault(name, stable_guid("user", name))

    def build(
        self,
        documents: list[dict[str, Any]],
        attributes: dict[str, dict[str, str]],
        variable_names: list[str],
        codings: list[dict[str, Any]],
    ) -> etree._Element:
        known = set(self.book.code_ids())
        self.extra_codes = sorted({c["code"] for c in codings} - known)
        for coding in codings:
            if coding["reviewer"]:
                self._user(coding["reviewer"])
        root = etree.Element(
            f"{{{PROJECT_NS}}}Project",
            nsmap={None: PROJECT_NS},
            name=self.name,
            origin=f"phantomcode {__version__}",
            creatingUserGUID=self.users[PHANTOMCODE_USER],
            creationDateTime=self.created,
        )
        users = self._e(root, "Users")
        for user, guid in self.users.items():
            self._e(users, "User", guid=guid, name=user)
        add_codes(self._e(root, "CodeBook"), PROJECT_NS, self.book, self.extra_codes)
        if variable_names:
            variables = self._e(root, "Variables")
            for variable in variable_names:
                self._e(
                    variables, "Variable", guid=stable_guid("variable", variable), name=variable, typeOfVariable="Text"
                )
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
                self._source(
                    sources,
                    doc,
                    by_doc.get(doc["doc_id"], []),
                    attributes.get(doc["doc_id"], {}),
                    variable_names,
                    notes,
                )
        if notes:
            notes_element = self._e(root, "Notes")
            for guid, text, coding in notes:
                where = f"{coding['doc_id']} {coding['start']}-{coding['end']} {coding['code']}"
                when = refi_time(coding["decided_at"]) if coding["decided_at"] else self.created
                note = self._e(
                    notes_element,
                    "Note",
                    guid=guid,
                    name=f"review note: {where}",
                    creatingUser=self.users.get(coding["reviewer"] or "", self.users[PHANTOMCODE_USER]),
                    creationDateTime=when,
                    modifiedDateTime=when,
                )
                self._e(note, "PlainTextContent", text)
        return root

    def _made_by(self, codings: list[dict[str, Any]]) -> dict[str, str]:
        """``creatingUser`` and ``creationDateTime``: the first reviewer who accepted one of the
        codings and when, else phantomcode at the time the project was coded."""
        decided = next((c for c in codings if c["status"] == "accepted" and c["reviewer"]), None)
        if decided is None:
            return {"creatingUser": self.users[PHANTOMCODE_USER], "creationDateTime": self.created}
        return {
            "creatingUser": self._user(decided["reviewer"]),
            "creationDateTime": refi_time(decided["decided_at"]) if decided["decided_at"] else self.created,
        }

    def _values(self, parent: etree._Element, values: dict[str, str], names: list[str]) -> None:
        for variable in names:
            value = values.get(variable)
            if value is None or str(value) == "":
                continue
            element = self._e(parent, "VariableValue")
            self._e(element, "VariableRef", targetGUID=stable_guid("variable", variable))
            self._e(element, "TextValue", str(value))

    def _source(
        self,
        sources: etree._Element,
        doc: dict[str, Any],
        codings: list[dict[str, Any]],
        values: dict[str, str],
        names: list[str],
        notes: list[tuple[str, str, dict[str, Any]]],
    ) -> None:
        doc_id = doc["doc_id"]
        guid = stable_guid("source", doc_id)
        source = self._e(
            sources,
            "TextSource",
            guid=guid,
            name=doc_id,
            plainTextPath=f"internal://{guid}.txt",
            creatingUser=self.users[PHANTOMCODE_USER],
        )
        self._e(source, "Description", f"{doc['source']} (phantomcode document {doc_id})")
        spans: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for coding in codings:
            spans.setdefault((coding["start"], coding["end"]), []).append(coding)
        text = doc["text"]
        for (start, end), group in sorted(spans.items()):
            self.selections += 1
            selection = self._e(
                source,
                "PlainTextSelection",
                guid=stable_guid("selection", doc_id, start, end),
                name=text[start:end],
                startPosition=str(start),
                endPosition=str(end),
                **self._made_by(group),
            )
            self._e(selection, "Description", "\n".join(_describe(c) for c in group))
            for coding in group:
                element = self._e(
                    selection,
                    "Coding",
                    guid=stable_guid("coding", doc_id, start, end, coding["code"]),
                    **self._made_by([coding]),
                )
                self._e(element, "CodeRef", targetGUID=stable_guid("code", coding["code"]))
                if coding["note"]:
                    note_guid = stable_guid("note", doc_id, start, end, coding["code"])
                    self._e(element, "NoteRef", targetGUID=note_guid)
                    notes.append((note_guid, coding["note"], coding))
        self._values(source, values, names)
