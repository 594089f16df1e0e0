"""Reading a folder of interview notes: discovery, front matter, sidecar metadata (bytes become
text in ``decoding``).

Everything here is pure reading: no store, no coding. A note that cannot be read raises
``NoteError`` with a reason a researcher can act on; ``ingest`` records it and carries on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import yaml

from .decoding import decode_bytes, decode_table_bytes, normalise_text
from .errors import EmptyFolderError, NoteError, OptionError, UsageError
from .limits import (
    LimitExceeded,
    check_docx_package,
    check_yaml_shape,
    leaves_folder,
    read_csv_rows,
    read_regular_file,
    read_xlsx_values,
)

NOTE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".docx"})
SIDECAR_NAMES = ("metadata.csv", "metadata.xlsx")
DEFAULT_MAX_BYTES = 20_000_000  # megabytes are 10^6 bytes everywhere in messages and options

_FRONT_MATTER_FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class NoteFile:
    """A candidate note found on disk; ``relpath`` uses forward slashes on every platform.

    Discovery gives ``path`` as a string: a Path object per file is a noticeable share of
    re-ingesting an unchanged folder of thousands of notes.
    """

    path: str | Path
    relpath: str


# ---------------------------------------------------------------------------------------------
# Discovery


def is_ignored_name(name: str) -> bool:
    """Hidden files, editor backups and Office lock files are never notes."""
    return name.startswith((".", "~$")) or name.endswith("~")


@dataclass
class FolderScan:
    """What discovery found: the note files, plus what it could not or would not look at.

    ``unreadable`` folders (relative paths) were not listed: notes stored from under them must not
    be taken for vanished. ``skipped`` holds (relpath, reason) for files refused by name or link.
    """

    files: list[NoteFile] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def covers(self, relpath: str) -> bool:
        """False when ``relpath`` lies under a folder that could not be listed."""
        return not any(relpath.startswith(f"{folder}/") or folder == "" for folder in self.unreadable)


def find_note_files(root: str | Path) -> list[NoteFile]:
    """Every note under ``root``, recursively, sorted by relative path so runs are repeatable."""
    return scan_note_folder(root).files


def scan_note_folder(root: str | Path, *, follow_links: bool = False) -> FolderScan:
    """Every note under ``root`` (sorted by relative path), unreadable folders and refused files.

    Sorting matters: when two files claim one document ID, the first in this order wins. A file
    name that is not valid UTF-8 (an archive unpacked with GBK names) is kept with its bytes
    escaped (``\\xb1``) in its relative path. Links that lead outside ``root`` are refused unless
    ``follow_links``: a link to ``/etc/passwd`` would otherwise be stored and exported.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder; give the folder that holds your notes")
    scan = FolderScan()
    root_text = os.fspath(root)

    def unreadable(error: OSError) -> None:
        folder = os.path.relpath(error.filename, root_text) if error.filename else "."
        scan.unreadable.append("" if folder == "." else _printable_path(folder.replace(os.sep, "/")))

    for dirpath, dirnames, filenames in os.walk(root_text, onerror=unreadable):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored_name(d))
        # String operations, not Path arithmetic, per file: re-ingesting an unchanged folder of
        # thousands of notes otherwise spends a noticeable share of its time here.
        prefix = os.path.relpath(dirpath, root_text).replace(os.sep, "/")
        prefix = "" if prefix == "." else f"{_printable_path(prefix)}/"
        for name in filenames:
            if is_ignored_name(name) or os.path.splitext(name)[1].lower() not in NOTE_SUFFIXES:
                continue
            path = os.path.join(dirpath, name)
            relpath = prefix + _printable_path(name)
            if not follow_links and os.path.islink(path) and leaves_folder(path, root_text):
                scan.skipped.append(
                    (
                        relpath,
                        f"a link to {_printable_path(os.path.realpath(path))}, outside the "
                        "notes folder; not read (--follow-links reads it)",
                    )
                )
                continue
            scan.files.append(NoteFile(path, relpath))
    scan.files.sort(key=lambda f: f.relpath)
    scan.unreadable.sort()
    return scan


def _printable_path(name: str) -> str:
    """A path as text: bytes that are not UTF-8 (surrogate-escaped by the OS layer) as ``\\xNN``."""
    if not _SURROGATE.search(name):
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_has_notes(root: str | Path, files: Sequence[NoteFile]) -> None:
    """Raise ``EmptyFolderError`` when ``root`` holds no note, naming the file types it does hold
    (a folder of PDFs is not "0 notes, all fine")."""
    if files:
        return
    seen: Counter[str] = Counter()
    for _, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not is_ignored_name(d)]
        seen.update(
            os.path.splitext(name)[1].lower() or "(no suffix)" for name in filenames if not is_ignored_name(name)
        )
    found = ", ".join(f"{count} {suffix}" for suffix, count in seen.most_common()) or "no files at all"
    raise EmptyFolderError(
        f"{root}: no note files to ingest ({found}; ignored). phantomcode reads "
        f"{', '.join(sorted(NOTE_SUFFIXES))}: convert the notes (e.g. PDF to .docx or .txt) "
        "or give the folder that holds them"
    )


# ---------------------------------------------------------------------------------------------
# Front matter


class _VerbatimLoader(yaml.SafeLoader):
    """SafeLoader that reads every scalar as a string: ``yes`` stays ``yes``, ``007`` stays ``007``.

    Attribute values are kept verbatim; YAML 1.1's implicit booleans, numbers and dates would
    otherwise remap them silently. Explicit tags (``!!int abc``, ``!!timestamp 2020-13-45``) are
    read as strings too: their constructors raise ValueError, KeyError and more on bad values.
    Being a SafeLoader, ``!!python/...`` and unknown tags are refused.
    """


def _verbatim(loader_class: type[yaml.SafeLoader]) -> None:
    """Make ``loader_class`` resolve nothing implicitly and construct every standard scalar tag as text."""
    loader_class.yaml_implicit_resolvers = {}
    constructors = dict(loader_class.yaml_constructors)
    for tag in ("bool", "int", "float", "null", "timestamp", "binary", "str", "value", "merge"):
        constructors[f"tag:yaml.org,2002:{tag}"] = _scalar_text
    for tag in ("set", "omap", "pairs"):
        constructors.pop(f"tag:yaml.org,2002:{tag}", None)
    loader_class.yaml_constructors = constructors


def _scalar_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        kind = getattr(node, "id", "this")  # PyYAML's node classes name themselves: sequence, mapping
        raise yaml.constructor.ConstructorError(None, None, f"expected a plain value, not {kind}", node.start_mark)
    return str(node.value)


_verbatim(_VerbatimLoader)


class _FastVerbatimLoader(getattr(yaml, "CSafeLoader", _VerbatimLoader)):  # type: ignore[misc]
    """``_VerbatimLoader`` on libyaml's C parser when PyYAML has it: several times faster, which
    counts when every note has front matter. Only for well-formed YAML: errors are described
    by re-reading with the pure-Python loader, whose messages and line numbers are the reference."""


_verbatim(_FastVerbatimLoader)


class FrontMatter(NamedTuple):
    """A note split at its front matter: the attributes it declares, the body after it, and the
    file line the body starts on (so messages about the body can name the file's own lines)."""

    attributes: dict[str, str]
    body: str
    first_line: int


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split ``---`` YAML front matter from the body; return ``(attributes, body)``.

    Raises ``NoteError`` naming the line (counted in the file) when the YAML is malformed.
    """
    attributes, body, _ = _split_front_matter(text)
    return attributes, body


def _split_front_matter(text: str) -> FrontMatter:
    if not text.startswith("---"):
        return FrontMatter({}, text, 1)
    first_line_end = text.find("\n")
    if first_line_end == -1 or text[:first_line_end].strip() != "---":
        return FrontMatter({}, text, 1)
    closing = _FRONT_MATTER_FENCE.search(text, first_line_end + 1)
    if closing is None:
        raise NoteError("front matter starts with '---' on line 1 but has no closing '---' line")
    block = text[first_line_end + 1 : closing.start()]
    body_start = closing.end() + 1 if text.startswith("\n", closing.end()) else closing.end()
    return FrontMatter(_parse_front_matter(block), text[body_start:], text.count("\n", 0, body_start) + 1)


def _parse_front_matter(block: str) -> dict[str, str]:
    """The attributes in a front matter block, every value as text.

    Size, nesting depth and alias expansion are checked first (``limits.check_yaml_shape``);
    a lone surrogate (``"\\ud800"`` is valid YAML) becomes U+FFFD, which the store can write.
    """
    try:
        check_yaml_shape(block)
    except LimitExceeded as exc:
        raise NoteError(f"front matter refused: {exc}") from None
    try:
        data = yaml.load(block, Loader=_FastVerbatimLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        try:
            data = yaml.load(block, Loader=_VerbatimLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise NoteError(f"malformed front matter {_describe_yaml_error(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NoteError("front matter must be 'key: value' lines, not a list or a single value")
    return {_valid_text(str(key).strip()): _valid_text(_attribute_text(value)) for key, value in data.items()}


def _valid_text(value: str) -> str:
    """``value`` with lone surrogates (which UTF-8 cannot encode) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    """Where and what, with lines counted in the file (the front matter starts on line 2).

    One line number: where the unfinished construct starts (an unclosed ``[``, say) when YAML
    names one, else where the problem was found; YAML's own pair of numbers ("at line 6 ...
    at line 5") leaves the reader to guess which line to fix.
    """
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in problem:
        tag = problem.rpartition("tag ")[2].replace("tag:yaml.org,2002:", "!!")
        problem = f"the tag {tag} is not allowed; front matter holds plain values only, nothing is run"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
        mark = context_mark
        problem += f" ({context} that starts on this line)"
    where = f"at line {mark.line + 2}" if mark is not None else ""
    return f"{where}: {problem}"


def _attribute_text(value: object) -> str:
    """Attribute values are text; a list (``tags: [a, b]``) is joined with '; ' rather than dropped."""
    if isinstance(value, list):
        return "; ".join(_attribute_text(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_attribute_text(v)}" for k, v in value.items())
    return "" if value is None else str(value).strip()


# ---------------------------------------------------------------------------------------------
# Reading one file


def read_docx_text(data: bytes) -> str:
    """Paragraph texts joined by blank lines, then table cells row by row."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        check_docx_package(data)
    except LimitExceeded as exc:
        raise NoteError(f".docx refused: {exc}") from None
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise NoteError(
            f"not a readable .docx file ({exc.__class__.__name__}); open it in Word and save it again"
        ) from None
    except Exception as exc:  # lxml and python-docx raise a zoo of errors on damaged XML
        raise NoteError(
            f"damaged .docx file ({exc.__class__.__name__}: {exc}); open it in Word and save it again"
        ) from None
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        blocks.extend(" | ".join(cell.text for cell in row.cells) for row in table.rows)
    return "\n\n".join(b for b in blocks if b.strip())


@dataclass(frozen=True)
class NoteContent:
    """What one note file holds: ``first_line`` is the file line the body starts on (for messages);
    ``size`` and ``mtime_ns`` are the file's stat taken before reading it."""

    text: str
    front_matter: dict[str, str]
    encoding: str
    source_hash: str
    first_line: int = 1
    size: int = 0
    mtime_ns: int = 0


def read_note_file(note_file: NoteFile, *, max_bytes: int = DEFAULT_MAX_BYTES) -> NoteContent:
    """Read one note file: its body, front matter, encoding and the hash of its raw bytes.

    ``source_hash`` covers the raw bytes, so an unchanged file is recognised before any decoding.
    """
    path = Path(note_file.path)
    data, stat = _read_bytes(path, max_bytes)
    source_hash = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise NoteError("empty file")
    front: dict[str, str]
    if path.suffix.lower() == ".docx":
        text, encoding, front, first_line = read_docx_text(data), "docx", {}, 1
    else:
        text, encoding = decode_bytes(data)
        front, text, first_line = _split_front_matter(normalise_text(text))
    text = normalise_text(text)
    if not text.strip():
        raise NoteError("no text after the front matter")
    return NoteContent(text, front, encoding, source_hash, first_line, stat.st_size, stat.st_mtime_ns)


def _read_bytes(path: Path, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """The file's bytes and its stat taken before reading: a file changed meanwhile then shows a
    newer stat on the next run and is read again, never the other way round. Regular files only,
    and the size limit holds for the bytes read (``limits.read_regular_file``)."""
    try:
        read = read_regular_file(path, max_bytes)
    except LimitExceeded as exc:
        raise NoteError(str(exc)) from None
    except PermissionError:
        raise NoteError("permission denied; make the file readable") from None
    except OSError as exc:
        raise NoteError(f"cannot read the file ({exc.strerror})") from None
    return read.data, read.stat


def meta_hash(sidecar_row: Mapping[str, str], from_path: Mapping[str, str], pii: str) -> str:
    """Everything besides the file's bytes that shapes the stored document, the --pii mode included."""
    payload = json.dumps([sidecar_row, from_path, pii], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks (sidecars and large notes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Sidecar metadata and path templates


@dataclass
class Sidecar:
    """Rows of a ``metadata.csv``/``.xlsx`` keyed by file path (relative to the notes root) or id."""

    path: Path
    by_file: dict[str, dict[str, str]] = field(default_factory=dict)
    by_id: dict[str, dict[str, str]] = field(default_factory=dict)
    encoding: str = "utf-8"  # how a CSV sidecar was decoded (see ``decode_table_bytes``)

    def lookup(self, relpath: str, doc_id: str | None) -> dict[str, str]:
        return (
            self.by_file.get(relpath)
            or self.by_file.get(_strip_suffix(relpath))
            or (self.by_id.get(doc_id, {}) if doc_id else {})
        )


class Sidecars(NamedTuple):
    """Every metadata sidecar of a notes folder keyed by its folder ('' for the root), and the
    warnings met reading them (a sidecar that cannot be read is left out, with its reason)."""

    by_folder: dict[str, Sidecar]
    warnings: list[str]


def load_sidecars(root: str | Path) -> Sidecars:
    """Every sidecar under ``root`` keyed by its folder (relative, '' for the root), plus warnings.

    A sidecar's ``file`` column is relative to its own folder; keys are rewritten relative to the
    notes root so a note finds its row wherever the sidecar sits.
    """
    root = Path(root)
    sidecars: dict[str, Sidecar] = {}
    warnings: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not is_ignored_name(d)]
        for name in SIDECAR_NAMES:
            if name in filenames:
                path = Path(dirpath) / name
                folder = Path(dirpath).relative_to(root).as_posix()
                folder = "" if folder == "." else folder
                try:
                    sidecars[folder] = _parse_sidecar(path, folder)
                except NoteError as exc:
                    warnings.append(f"{path.relative_to(root).as_posix()}: {exc}; its metadata was not used")
                    break
                if sidecars[folder].encoding not in ("utf-8", "utf-8-sig"):
                    warnings.append(
                        f"{path.relative_to(root).as_posix()}: read as {sidecars[folder].encoding} "
                        "(not UTF-8); check its values, or save it as CSV UTF-8"
                    )
                break
    return Sidecars(sidecars, warnings)


def _parse_sidecar(path: Path, folder: str) -> Sidecar:
    encoding = "utf-8"
    if path.suffix.lower() == ".xlsx":
        rows = _read_xlsx_rows(path)
    else:
        rows, encoding = _read_csv_rows(path)
    if not rows:
        raise NoteError("empty metadata table")
    header = [h.strip() for h in rows[0]]
    if "file" not in header and "id" not in header:
        raise NoteError("metadata table needs a 'file' or an 'id' column")
    sidecar = Sidecar(path, encoding=encoding)
    prefix = f"{folder}/" if folder else ""
    for values in rows[1:]:
        row = {h: (v or "").strip() for h, v in zip(header, values, strict=False) if h}
        if not any(row.values()):
            continue
        attributes = {k: v for k, v in row.items() if k != "file" and v != ""}
        if row.get("file"):
            sidecar.by_file[prefix + row["file"].replace("\\", "/").lstrip("./")] = attributes
        elif row.get("id"):
            sidecar.by_id[row["id"]] = attributes
    return sidecar


def _read_csv_rows(path: Path) -> tuple[list[list[str]], str]:
    try:
        text, encoding = decode_table_bytes(read_regular_file(path, DEFAULT_MAX_BYTES).data)
    except LimitExceeded as exc:
        raise NoteError(str(exc)) from None
    except OSError as exc:
        raise NoteError(f"cannot read ({exc.strerror})") from None
    dialect: type[csv.Dialect] = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        pass
    try:
        return read_csv_rows(normalise_text(text), dialect), encoding
    except LimitExceeded as exc:
        raise NoteError(str(exc)) from None


def _read_xlsx_rows(path: Path) -> list[list[str]]:
    try:
        return [["" if value is None else str(value) for value in row] for row in read_xlsx_values(path)]
    except LimitExceeded as exc:
        raise NoteError(str(exc)) from None
    except Exception as exc:  # openpyxl raises many types for damaged workbooks
        raise NoteError(f"cannot open the workbook ({exc.__class__.__name__})") from None


def sidecar_for(relpath: str, sidecars: Mapping[str, Sidecar]) -> Sidecar | None:
    """The sidecar in the note's own folder, else the nearest one above it."""
    folder = relpath.rpartition("/")[0]
    while True:
        if folder in sidecars:
            return sidecars[folder]
        if not folder:
            return None
        folder = folder.rpartition("/")[0]


def compile_path_template(template: str) -> re.Pattern[str]:
    """Turn ``"{city}/{respondent_type}"`` into a regex over the relative path (without suffix).

    Each ``{name}`` matches one path component (or part of one); the template must match from the
    start of the path, and may stop at any folder boundary.
    """
    if not re.search(r"\{[A-Za-z_][A-Za-z0-9_]*\}", template):
        raise OptionError(
            f"{{option}} {template!r} has no {{attribute}} placeholder; write e.g. '{{city}}/{{respondent_type}}'",
            option="path-attrs",
        )
    parts = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", template.strip("/"))
    pattern = "".join(f"(?P<{p[1:-1]}>[^/]+?)" if p.startswith("{") else re.escape(p) for p in parts)
    try:
        return re.compile(f"^{pattern}(?:/|$)")
    except re.error as exc:
        raise OptionError(
            f"{{option}} {template!r}: {exc} (each attribute may appear once)", option="path-attrs"
        ) from None


def path_attributes(relpath: str, template: re.Pattern[str] | None) -> dict[str, str] | None:
    """Attributes from the path, ``{}`` without a template, ``None`` when the template does not fit."""
    if template is None:
        return {}
    match = template.match(_strip_suffix(relpath))
    return {k: v.strip() for k, v in match.groupdict().items()} if match else None


def _strip_suffix(relpath: str) -> str:
    stem, dot, suffix = relpath.rpartition(".")
    return stem if dot and "/" not in suffix else relpath


def document_id(relpath: str, attributes: Mapping[str, str]) -> str:
    """The ``id`` attribute when given, else the relative path without its suffix."""
    return attributes.get("id") or _strip_suffix(relpath)


def merge_attributes(
    front: Mapping[str, str], sidecar: Mapping[str, str], from_path: Mapping[str, str]
) -> dict[str, str]:
    """Front matter beats the sidecar, which beats the path template; empty values never win."""
    merged: dict[str, str] = {}
    for source in (from_path, sidecar, front):
        merged.update({k: v.strip() for k, v in source.items() if v is not None and str(v).strip() != ""})
    return merged
