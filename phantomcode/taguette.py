"""The codebook as Taguette's CSV codebook: a ``tag`` and a ``description`` column, the header
Taguette's codebook import looks for (it also accepts ``name`` or ``path`` for the tag)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .codebook import Codebook, load_codebook
from .qda import code_description, write_bytes
from .sanitise import neutralise_formula

__all__ = ["codebook_to_taguette", "export_taguette"]


def codebook_to_taguette(book: Codebook) -> str:
    """One row per code: its label as the tag (its id too when two codes share a label) and the
    description the ``.qdc`` export writes (definition, include, exclude, ``phantomcode id``)."""
    labels = [code.label or code.id for code in book.codes]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["tag", "description"])
    for code, label in zip(book.codes, labels, strict=True):
        tag = label if labels.count(label) == 1 else f"{label} ({code.id})"
        writer.writerow([neutralise_formula(tag), neutralise_formula(code_description(code))])
    return buffer.getvalue()


def export_taguette(codebook: str | Path | Codebook | None = None, *, out: str | Path) -> int:
    """Write the codebook (default: the bundled one) as Taguette's CSV codebook; return how many codes."""
    book = codebook if isinstance(codebook, Codebook) else load_codebook(codebook)
    write_bytes(Path(out), codebook_to_taguette(book).encode("utf-8"))
    return len(book.codes)
