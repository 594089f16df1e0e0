"""Planning an ingest: which files are unchanged, which must be read and coded, and saving the rest.

``Planner.plan`` decides per file from one ``stat`` (and, when that changed, the file's hash)
whether it is unchanged; ``Planner.settle`` takes what the workers made of the others, in path
order, and hands it to ``Saver`` in batches, one transaction each.
"""

from __future__ import annotations

import itertools
import os
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..codebook import Codebook
from ..errors import NoteError
from ..notes import FolderScan, NoteFile, Sidecar, file_hash, meta_hash, path_attributes, sidecar_for
from ..store import CodedRows, DocumentRecord, Store, StoredState
from ..workers import NoteOutcome, NoteSkip, NoteTask
from .records import CodebookIdentity, IngestReport, Progress, Skipped
from .stopping import StopRequested


@dataclass
class Saver:
    """Writes kept notes, one transaction per batch, and counts them once committed."""

    store: Store
    book: Codebook | CodebookIdentity
    run_id: int
    report: IngestReport

    def __call__(self, batch: list[tuple[DocumentRecord, CodedRows, str]]) -> None:
        """Save the batch in one transaction; if one note's values cannot be written (a value SQLite
        refuses), save each on its own so that note alone is skipped (the per-note guard)."""
        try:
            self._save(batch)
        except (ValueError, OverflowError) as exc:
            if len(batch) == 1:
                record = batch[0][0]
                self.report.skipped.append(
                    Skipped(
                        record.source,
                        f"could not be stored ({exc.__class__.__name__}: {str(exc)[:200]})",
                        traceback.format_exc(),
                    )
                )
                return
            for item in batch:
                self([item])

    def _save(self, batch: list[tuple[DocumentRecord, CodedRows, str]]) -> None:
        self.store.save_documents(
            [(record, coded) for record, coded, _ in batch], codebook_hash=self.book.content_hash, run_id=self.run_id
        )
        for _, _, kind in batch:
            setattr(self.report, kind, getattr(self.report, kind) + 1)


@dataclass(frozen=True)
class Plan:
    """One file's fate as planned: unchanged (``unchanged`` set) or to read (``task`` set)."""

    note_file: NoteFile
    misfit: bool  # its path does not fit the --path-attrs template
    unchanged: StoredState | None = None
    task: NoteTask | None = None


class Planner:
    """Decides which files are unchanged and which to read; then settles what the workers read.

    Planning runs before the workers start, so an unchanged folder never builds the engine. An
    unchanged file costs one ``stat``: same size and modification time as when it was stored
    (a file rewritten with the same size within the file system's timestamp resolution looks
    unchanged: the documented limitation). When the stat differs, the bytes are hashed; equal
    bytes only refresh the stored stat. Settling runs in path order, so when two files claim one
    ID the first in path order keeps it whatever the number of workers.
    """

    def __init__(
        self,
        root: Path,
        states: dict[str, StoredState],
        sidecars: dict[str, Sidecar],
        template: Any,
        codebook: Codebook | CodebookIdentity,
        max_bytes: int,
        pii: str,
        report: IngestReport,
        split: Callable[[dict[str | None, list[str]]], tuple[list[str], list[str], list[str]]],
    ) -> None:
        self.root_key = str(root)
        self.states = states
        self.by_source = {s.source: s for s in states.values() if s.root == self.root_key}
        self.sidecars = sidecars
        self.template = template
        self.codebook = codebook
        self.max_bytes = max_bytes
        self.pii = pii
        self.report = report
        self.claimed: dict[str, str] = {}
        self.attribute_warnings: set[str] = set()
        self.refreshed: list[tuple[str, int, int]] = []  # (doc_id, size, mtime_ns) of files touched, not changed
        self._meta_hashes: dict[tuple, str] = {}
        self.split = split  # _split_by_change for this run's store and codebook
        self.kept: list[str] = []  # IDs of unchanged notes whose codings a codebook change cannot touch

    def plan(self, files: Sequence[NoteFile], stop: StopRequested) -> list[Plan]:
        plans: list[Plan] = []
        stale: dict[str, tuple[int, NoteTask]] = {}
        for note_file in files:
            stop.check()
            sidecar = sidecar_for(note_file.relpath, self.sidecars)
            from_path = path_attributes(note_file.relpath, self.template)
            stored = self.by_source.get(note_file.relpath)
            task = NoteTask(note_file, sidecar, from_path or {})
            if stored is not None and self._is_unchanged(note_file, stored, sidecar, from_path or {}):
                if stored.coded_with != self.codebook.content_hash:
                    stale[stored.doc_id] = (len(plans), task)
                plans.append(Plan(note_file, from_path is None, unchanged=stored))
            else:
                plans.append(Plan(note_file, from_path is None, task=task))
        if stale:
            self._recode_what_the_change_affects(plans, stale)
        return plans

    def _recode_what_the_change_affects(self, plans: list[Plan], stale: dict[str, tuple[int, NoteTask]]) -> None:
        """Unchanged files coded with an earlier codebook: read and code again those the codebook
        change can affect; the others keep their codings (``kept``)."""
        grouped: dict[str | None, list[str]] = {}
        for doc_id in stale:
            grouped.setdefault(self.states[doc_id].coded_with, []).append(doc_id)
        to_code, self.kept, changes = self.split(grouped)
        if self.kept:
            self.report.changes = changes
        for doc_id in to_code:
            index, task = stale[doc_id]
            plans[index] = Plan(task.note_file, plans[index].misfit, task=task)

    def _is_unchanged(
        self, note_file: NoteFile, stored: StoredState, sidecar: Sidecar | None, from_path: dict[str, str]
    ) -> bool:
        """Same bytes, same sidecar row and path attributes (whatever codebook coded it)."""
        side = sidecar.lookup(note_file.relpath, stored.doc_id) if sidecar else {}
        if self._meta_hash(side, from_path) != stored.meta_hash:
            return False
        try:
            stat = os.stat(note_file.path)
            if (stat.st_size, stat.st_mtime_ns) == (stored.size, stored.mtime_ns):
                return True
            if stat.st_size > self.max_bytes or file_hash(Path(note_file.path)) != stored.source_hash:
                return False
        except OSError:
            return False  # a worker reads it and reports why it cannot
        self.refreshed.append((stored.doc_id, stat.st_size, stat.st_mtime_ns))
        return True

    def _meta_hash(self, side: dict[str, str], from_path: dict[str, str]) -> str:
        """``meta_hash``, computed once per distinct metadata: most notes share none or little."""
        key = (tuple(sorted(side.items())), tuple(sorted(from_path.items())))
        known = self._meta_hashes.get(key)
        if known is None:
            known = self._meta_hashes[key] = meta_hash(side, from_path, self.pii)
        return known

    def settle(
        self,
        plans: Sequence[Plan],
        outcomes: Iterator[NoteOutcome],
        save: Saver,
        batch_size: int,
        progress: Progress | None,
        stop: StopRequested,
    ) -> None:
        """Walk the plans in path order, taking each read note from the workers; save in batches."""
        batch: list[tuple[DocumentRecord, CodedRows, str]] = []
        for done, plan in enumerate(plans, start=1):
            stop.check()
            if plan.misfit:
                self.report.warnings.append(
                    f"{plan.note_file.relpath}: does not fit the --path-attrs template; "
                    "no attributes taken from its path"
                )
            if plan.unchanged is not None:
                self.claimed[plan.unchanged.doc_id] = plan.note_file.relpath
                self.report.unchanged += 1
            else:
                kept = self._keep(plan.note_file, next(outcomes))
                if kept is not None:
                    batch.append(kept)
                if len(batch) >= batch_size:
                    save(batch)
                    batch = []
            if progress is not None:
                progress(done, len(plans))
        if batch:
            save(batch)

    def _keep(self, note_file: NoteFile, outcome: NoteOutcome) -> tuple[DocumentRecord, CodedRows, str] | None:
        """The note to store and its kind ('added', 'updated', 'recoded'), or None when it is skipped."""
        if isinstance(outcome, NoteSkip):
            self.report.skipped.append(Skipped(note_file.relpath, outcome.reason, outcome.detail))
            return None
        record, coded, pii_warnings, attribute_warnings = outcome
        self.report.warnings.extend(pii_warnings)
        try:
            self._refuse_duplicate(record.doc_id, note_file)
        except NoteError as exc:
            self.report.skipped.append(Skipped(note_file.relpath, str(exc)))
            return None
        self.claimed[record.doc_id] = note_file.relpath
        self.attribute_warnings.update(attribute_warnings)
        previous = self.states.get(record.doc_id)
        kind = (
            "added"
            if previous is None
            else (
                "recoded"
                if (previous.source_hash, previous.meta_hash) == (record.source_hash, record.meta_hash)
                else "updated"
            )
        )
        renamed = self._renamed_from(note_file, record.doc_id)
        if renamed is not None:
            self.report.warnings.append(
                f"{note_file.relpath}: its id changed from {renamed!r} to {record.doc_id!r}; "
                "the document was replaced and its review decisions moved"
            )
            return record._replace(replaces=renamed), coded, "updated"
        return record, coded, kind

    def _renamed_from(self, note_file: NoteFile, doc_id: str) -> str | None:
        """The ID this file's document was stored under when its front matter now gives another one.

        A source file maps to one document: the old one is replaced, not kept beside the new one
        (which would count that respondent twice). Not when another file of this run took the
        old ID meanwhile.
        """
        stored = self.by_source.get(note_file.relpath)
        if stored is None or stored.doc_id == doc_id or stored.doc_id in self.claimed:
            return None
        return stored.doc_id

    def _refuse_duplicate(self, doc_id: str, note_file: NoteFile) -> None:
        """The first file to claim an ID keeps it; a later one is skipped, never merged."""
        if doc_id in self.claimed:
            raise NoteError(
                f"duplicate id {doc_id!r}: {self.claimed[doc_id]} already has it; "
                "this file was skipped, give one of them another id"
            )
        stored = self.states.get(doc_id)
        if stored is None or (stored.root, stored.source) == (self.root_key, note_file.relpath):
            return
        if os.path.exists(os.path.join(stored.root, stored.source)):
            raise NoteError(
                f"duplicate id {doc_id!r}: already stored from {Path(stored.root) / stored.source}; "
                "this file was skipped, give one of them another id"
            )

    def vanished(self, scan: FolderScan) -> list[StoredState]:
        """Documents stored from this folder whose files are gone, in path order.

        A document whose file lies under a folder the walk could not list, or that was refused
        (a link leaving the folder), has not vanished: its file may well be there.
        """
        present = {f.relpath for f in scan.files} | {relpath for relpath, _ in scan.skipped}
        return sorted(
            (s for s in self.by_source.values() if s.source not in present and scan.covers(s.source)),
            key=lambda s: s.source,
        )


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
