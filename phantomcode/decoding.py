"""Decoding the bytes of notes and spreadsheets into text: BOMs, UTF-8, GB18030 and a detector for
the rest, with line breaks and Unicode normalised so offsets mean the same thing everywhere."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import NamedTuple

from .errors import NoteError, UsageError


class Decoded(NamedTuple):
    """Decoded text and the encoding it was read in (named in messages and the project)."""

    text: str
    encoding: str


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_bytes(data: bytes) -> Decoded:
    """Decode note bytes, returning ``(text, encoding)``.

    A BOM is trusted first, then strict UTF-8 (by far the most common), then charset-normalizer,
    which tells GB18030/GBK, Big5 and legacy Western encodings apart. NUL bytes outside UTF-16/32
    mean the file is binary, whatever a detector might guess.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding).lstrip("\ufeff"), encoding)
            except UnicodeDecodeError as exc:
                raise NoteError(
                    f"starts with a {encoding} byte-order mark but is not valid {encoding} "
                    f"(byte {exc.start}); re-save it as UTF-8"
                ) from None
    if b"\x00" in data:
        raise NoteError("binary file (contains NUL bytes), not a text note")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    return _detect_legacy_encoding(data)


def decode_table_bytes(data: bytes) -> Decoded:
    """Decode a CSV the way its author expects: BOM, strict UTF-8, then GB18030 when it decodes
    cleanly, only then a detector. Returns ``(text, encoding)``.

    Spreadsheets (review sheets, metadata sidecars, gold files) are saved by Excel on Chinese
    Windows as GBK (which GB18030 extends). Such a sheet holds mostly ASCII and a few hanzi (a
    reviewer's note, one added sentence), too little for a detector, which then guesses cp949 or
    euc_jis_2004 and turns the hanzi into mojibake. Notes keep the detector first: whole
    paragraphs of Big5 or cp1252 text may also decode as GB18030, which a sheet rarely holds.
    """
    if not data.startswith(tuple(bom for bom, _ in _BOMS)) and b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                return Decoded(data.decode("gb18030"), "gb18030")
            except UnicodeDecodeError:
                pass
    return decode_bytes(data)


def read_table_file(path: Path, what: str) -> Decoded:
    """A spreadsheet's text (decoded as ``decode_table_bytes`` does, line breaks normalised) and its
    encoding; ``UsageError`` naming ``what`` (``the gold file``) when it cannot be read."""
    try:
        text, encoding = decode_table_bytes(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except NoteError as exc:
        raise UsageError(f"{path}: cannot read {what}: {exc}") from None
    return Decoded(normalise_text(text), encoding)


def _detect_legacy_encoding(data: bytes) -> Decoded:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise NoteError(
            "cannot detect the text encoding (not UTF-8, UTF-16, GB18030, Big5 ...); re-save the note as UTF-8"
        )
    encoding = _prefer_superset(best.encoding)
    try:
        return Decoded(data.decode(encoding), encoding)
    except UnicodeDecodeError:
        return Decoded(str(best), best.encoding)


def _prefer_superset(encoding: str) -> str:
    """GB2312 and GBK are subsets of GB18030; decoding with the superset loses nothing."""
    return "gb18030" if encoding.lower() in {"gb2312", "gbk", "gb18030", "hz"} else encoding


def normalise_text(text: str) -> str:
    """Newlines to ``\\n`` and Unicode to NFC, so offsets mean the same thing on every platform."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
