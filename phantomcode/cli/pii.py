"""``phantomcode pii-scan``: the anonymisation guard on its own, before anything is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..pii import scan_folder
from ..sanitise import markup_text as escape
from ._console import err, out


def pii_scan_command(
    notes_dir: Annotated[Path, typer.Argument(help="Folder of notes to scan, recursively.", show_default=False)],
) -> None:
    """List likely direct identifiers (masked) by file and line; exit 1 when any are found."""
    found, unreadable = scan_folder(str(notes_dir))
    for note in found:
        for line in note.describe():
            out.print(escape(line))
    for relpath, reason in unreadable:
        err.print(f"[yellow]not scanned:[/] {escape(relpath)}: {escape(reason)}")
    total = sum(len(n.findings) + len(n.attributes) for n in found)
    err.print(f"{total} likely identifier(s) in {len(found)} note(s)")
    raise typer.Exit(1 if found else 0)
