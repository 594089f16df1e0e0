"""Ingest a notes folder into a project and code it; re-code a project after a codebook change.

Both jobs stream documents through the coding engine and write them in batches, one transaction
per batch, so a run killed at any moment leaves whole documents only and re-running the same
command completes it. Unchanged files (same bytes, same sidecar metadata, same codebook) are
recognised by their hashes and cost one read each.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .codebook import Codebook, load_codebook
from .coding import CodingEngine
from .errors import Interrupted, NoteError
from .notes import (DEFAULT_MAX_BYTES, NoteFile, Sidecar, compile_path_template, document_id, file_hash,
                    find_note_files, load_sidecars, merge_attributes, path_attributes, read_note_file, sidecar_for)
from .pii import check_mode, redact, redact_attributes, scan_note
from .store import DocumentRecord, StoredState, Store

Progress = Callable[[int, int], None]
DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class Skipped:
    """A note file that was not stored this run, and why."""

    source: str
    reason: str


@dataclass
class IngestReport:
    """What an ingest did; ``exit_code`` is 0 when every note was stored, 1 when some were skipped."""

    root: str
    project: str
    codebook: str
    files: int = 0
    added: int = 0
    updated: int = 0
    recoded: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    pruned: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.added + self.updated + self.recoded

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0

    def as_stats(self) -> dict[str, Any]:
        return {"files": self.files, "added": self.added, "updated": self.updated, "recoded": self.recoded,
                "unchanged": self.unchanged, "skipped": len(self.skipped), "vanished": len(self.vanished),
                "pruned": self.pruned}


@dataclass
class CodeReport:
    """What a re-code did."""

    project: str
    codebook: str
    documents: int = 0
    recoded: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Work:
    """One document on its way to the engine: ``kind`` is 'added', 'updated' or 'recoded'."""

    record: DocumentRecord
    kind: str


# ---------------------------------------------------------------------------------------------
# Choosing the codebook


def choose_codebook(codebook: str | Path | Codebook | None, *, remembered: str | None = None,
                    check_patterns: bool = True) -> Codebook:
    """The codebook given, else the project's last one (``remembered``, if still on disk), else the default.

    Remembering the project's codebook lets a researcher edit their YAML and simply run
    ``phantomcode code`` without repeating ``--codebook`` every time.
    """
    if isinstance(codebook, Codebook):
        return codebook
    if codebook is None and remembered is not None and Path(remembered).is_file():
        codebook = remembered
    return load_codebook(codebook, check_patterns=check_patterns)


def resolve_codebook(project: str | Path | None, codebook: str | Path | Codebook | None) -> Codebook:
    """``choose_codebook`` for commands that read codings but never match text (no pattern checks)."""
    with Store.open(project, readonly=True) as store:
        return choose_codebook(codebook, remembered=store.last_codebook_path(), check_patterns=False)


# ---------------------------------------------------------------------------------------------
# Ctrl-C


class _StopRequested:
    """Turns the first Ctrl-C into a request honoured between files and batches.

    A KeyboardInterrupt raised at an arbitrary instruction can land inside a finaliser, where
    Python prints and swallows it, and the run would go on. So the first Ctrl-C only sets a flag
    that the loops check (a batch takes well under a second); a second Ctrl-C interrupts at once.
    Outside the main thread (no signal handlers there) Python's usual behaviour is kept.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopRequested:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _request(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------
# Ingest


def ingest(notes_dir: str | Path, *, project: str | Path | None = None, codebook: str | Path | Codebook | None = None,
           path_attrs: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES, prune: bool = False,
           jobs: int = 1, model: str | None = None, pii: str = "warn", batch_size: int = DEFAULT_BATCH_SIZE,
           progress: Progress | None = None) -> IngestReport:
    """Read every note under ``notes_dir`` into the project and code it; return what happened.

    ``pii``: what to do with notes holding likely direct identifiers: ``warn`` (store, list them
    masked), ``block`` (skip the note), ``redact`` (store with [PHONE], [ID], [EMAIL], [NAME]
    placeholders; the source file is untouched) or ``off``.

    Raises ``UsageError`` for a missing folder or bad template, ``ProjectError`` when the store
    cannot be opened or written, ``Interrupted`` on Ctrl-C (committed batches stay).
    """
    root = Path(notes_dir)
    files = find_note_files(root)
    template = compile_path_template(path_attrs) if path_attrs else None
    check_mode(pii)
    with Store.open(project) as store, store.writer():
        book = choose_codebook(codebook, remembered=store.last_codebook_path())
        report = IngestReport(root=str(root), project=str(store.path), codebook=f"{book.name} {book.version}",
                              files=len(files))
        sidecars, sidecar_warnings = load_sidecars(root)
        report.warnings.extend(sidecar_warnings)
        planner = _Planner(root.resolve(), store.stored_states(), sidecars, template, book, max_bytes, pii, report)
        run_id = store.begin_run("ingest", codebook_name=book.name, codebook_version=book.version,
                                 codebook_hash=book.content_hash, codebook_path=str(book.path))
        try:
            with _StopRequested() as stop:
                work = planner.plan(files, progress, stop)
                _code_and_save(store, book, model, work, run_id=run_id, jobs=jobs, batch_size=batch_size,
                               on_saved=lambda item: _count(report, item.kind), stop=stop)
        except KeyboardInterrupt:
            store.finish_run(run_id, status="interrupted", stats=report.as_stats())
            raise Interrupted(f"interrupted: {report.stored} notes were saved in {store.path}; "
                              "run the same command again to finish") from None
        vanished = planner.vanished(files)
        report.vanished = [state.source for state in vanished]
        if prune and vanished:
            report.pruned = store.remove_documents(state.doc_id for state in vanished)
        report.warnings.extend(sorted(planner.attribute_warnings))
        store.finish_run(run_id, status="completed", stats=report.as_stats())
    return report


def _count(report: IngestReport, kind: str) -> None:
    setattr(report, kind, getattr(report, kind) + 1)


class _Planner:
    """Decides, file by file, whether a note is new, changed, needs re-coding, unchanged or skipped."""

    def __init__(self, root: Path, states: dict[str, StoredState], sidecars: dict[str, Sidecar],
                 template: Any, codebook: Codebook, max_bytes: int, pii: str, report: IngestReport) -> None:
        self.root = root
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

    def plan(self, files: Sequence[NoteFile], progress: Progress | None, stop: _StopRequested) -> Iterator[_Work]:
        for done, note_file in enumerate(files, start=1):
            stop.check()
            try:
                work = self._plan_one(note_file)
            except NoteError as exc:
                self.report.skipped.append(Skipped(note_file.relpath, str(exc)))
                work = None
            if progress is not None:
                progress(done, len(files))
            if work is not None:
                yield work

    def _plan_one(self, note_file: NoteFile) -> _Work | None:
        sidecar = sidecar_for(note_file.relpath, self.sidecars)
        from_path = path_attributes(note_file.relpath, self.template)
        if from_path is None:
            self.report.warnings.append(f"{note_file.relpath}: does not fit the --path-attrs template; "
                                        "no attributes taken from its path")
            from_path = {}
        stored = self.by_source.get(note_file.relpath)
        if stored is not None and self._is_unchanged(note_file, stored, sidecar, from_path):
            self.claimed[stored.doc_id] = note_file.relpath
            self.report.unchanged += 1
            return None
        content = read_note_file(note_file, max_bytes=self.max_bytes)
        text, front, encoding, source_hash = content.text, content.front_matter, content.encoding, content.source_hash
        candidate_id = front.get("id") or document_id(note_file.relpath, {})
        side = sidecar.lookup(note_file.relpath, candidate_id) if sidecar else {}
        attributes = merge_attributes(front, side, from_path)
        text, attributes = self._guard_identifiers(note_file.relpath, text, attributes, content.first_line)
        doc_id = document_id(note_file.relpath, attributes)
        self._refuse_duplicate(doc_id, note_file)
        self.claimed[doc_id] = note_file.relpath
        canonical, warnings = self.codebook.normalize_attributes(attributes)
        self.attribute_warnings.update(warnings)
        record = DocumentRecord(doc_id=doc_id, root=self.root_key, source=note_file.relpath,
                                source_hash=source_hash, meta_hash=self._meta_hash(side, from_path),
                                encoding=encoding, text=text, attributes=attributes,
                                canonical_attributes=canonical)
        previous = self.states.get(doc_id)
        kind = "added" if previous is None else (
            "recoded" if previous.source_hash == source_hash and previous.meta_hash == record.meta_hash else "updated")
        return _Work(record, kind)

    def _is_unchanged(self, note_file: NoteFile, stored: StoredState, sidecar: Sidecar | None,
                      from_path: dict[str, str]) -> bool:
        """Same bytes, same sidecar row and path attributes, coded with this codebook."""
        if stored.coded_with != self.codebook.content_hash:
            return False
        try:
            size = note_file.path.stat().st_size
        except OSError:
            return False
        if size > self.max_bytes:
            return False
        if file_hash(note_file.path) != stored.source_hash:
            return False
        side = sidecar.lookup(note_file.relpath, stored.doc_id) if sidecar else {}
        return self._meta_hash(side, from_path) == stored.meta_hash

    def _meta_hash(self, sidecar_row: dict[str, str], from_path: dict[str, str]) -> str:
        """Everything besides the file's bytes that shapes the stored document, the --pii mode included."""
        payload = json.dumps([sidecar_row, from_path, self.pii], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _guard_identifiers(self, relpath: str, text: str, attributes: dict[str, str],
                           first_line: int) -> tuple[str, dict[str, str]]:
        """Apply the --pii mode: warn about, refuse, or redact likely direct identifiers."""
        if self.pii == "off":
            return text, attributes
        found = scan_note(relpath, text, attributes, first_line=first_line)
        if not (found.findings or found.attributes):
            return text, attributes
        messages = found.describe()
        if self.pii == "block":
            details = "; ".join(m.split(":", 1)[1] for m in messages)
            raise NoteError(f"likely identifiers ({details}); remove them, or ingest with --pii redact")
        if self.pii == "redact":
            self.report.warnings.extend(f"{m} (redacted in the project)" for m in messages)
            return redact(text, list(found.findings)), redact_attributes(attributes)
        self.report.warnings.extend(f"{m} (stored as is; --pii redact replaces it)" for m in messages)
        return text, attributes

    def _refuse_duplicate(self, doc_id: str, note_file: NoteFile) -> None:
        """The first file to claim an ID keeps it; a later one is skipped, never merged."""
        if doc_id in self.claimed:
            raise NoteError(f"duplicate id {doc_id!r}: {self.claimed[doc_id]} already has it; "
                            "this file was skipped, give one of them another id")
        stored = self.states.get(doc_id)
        if stored is None or (stored.root, stored.source) == (self.root_key, note_file.relpath):
            return
        if os.path.exists(os.path.join(stored.root, stored.source)):
            raise NoteError(f"duplicate id {doc_id!r}: already stored from {Path(stored.root) / stored.source}; "
                            "this file was skipped, give one of them another id")

    def vanished(self, files: Sequence[NoteFile]) -> list[StoredState]:
        """Documents stored from this folder whose files are gone, in path order."""
        present = {f.relpath for f in files}
        return sorted((s for s in self.by_source.values() if s.source not in present), key=lambda s: s.source)


# ---------------------------------------------------------------------------------------------
# Coding and saving in batches


def _code_and_save(store: Store, book: Codebook, model: str | None, work: Iterable[_Work], *, run_id: int,
                   jobs: int, batch_size: int, on_saved: Callable[[_Work], None], stop: _StopRequested) -> None:
    """Stream work through the engine and save it, one transaction per batch."""
    text_of = lambda item: (item.record.text, item.record.canonical_attributes)  # noqa: E731
    for batch in _coded_batches(book, model, work, text_of=text_of, jobs=jobs, batch_size=batch_size):
        store.save_documents([(item.record, coded) for item, coded in batch],
                             codebook_hash=book.content_hash, run_id=run_id)
        for item, _ in batch:
            on_saved(item)
        stop.check()


def _coded_batches(book: Codebook, model: str | None, items: Iterable[Any], *,
                   text_of: Callable[[Any], tuple[str, Any]], jobs: int,
                   batch_size: int) -> Iterator[list[tuple[Any, Any]]]:
    """``(item, coded document)`` pairs in batches, streamed through one engine call for the whole run.

    The engine is built only when there is something to code (building it takes seconds, which
    would dominate re-running an unchanged folder). One call means one worker pool for the run,
    and the engine may read ahead of the batches being saved.
    """
    pending = iter(items)
    first = next(pending, _NOTHING)
    if first is _NOTHING:
        return
    engine = CodingEngine(book, model=model)
    to_engine, to_store = itertools.tee(itertools.chain([first], pending))
    coded = engine.code_documents((text_of(item) for item in to_engine), jobs=jobs)
    yield from _batched(zip(to_store, coded), batch_size)


_NOTHING = object()


def _batched(pairs: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(pairs)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


# ---------------------------------------------------------------------------------------------
# Re-coding stored documents


def code_project(*, project: str | Path | None = None, codebook: str | Path | Codebook | None = None,
                 jobs: int = 1, model: str | None = None, force: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None) -> CodeReport:
    """Re-code stored documents with the codebook; only those coded with another version unless ``force``."""
    with Store.open(project, must_exist=True) as store, store.writer():
        book = choose_codebook(codebook, remembered=store.last_codebook_path())
        report = CodeReport(project=str(store.path), codebook=f"{book.name} {book.version}",
                            documents=store.count_documents())
        stale = None if force else book.content_hash
        total = report.documents if force else store.count_documents(not_coded_with=stale)
        run_id = store.begin_run("code", codebook_name=book.name, codebook_version=book.version,
                                 codebook_hash=book.content_hash, codebook_path=str(book.path))
        warnings: set[str] = set()
        try:
            documents = _with_canonical(store, book, stale, warnings)
            text_of = lambda pair: (pair[0]["text"], pair[1])  # noqa: E731
            with _StopRequested() as stop:
                for batch in _coded_batches(book, model, documents, text_of=text_of, jobs=jobs,
                                            batch_size=batch_size):
                    store.save_codings([(doc["doc_id"], doc["attributes"], canonical, result)
                                        for (doc, canonical), result in batch],
                                       codebook_hash=book.content_hash, run_id=run_id)
                    report.recoded += len(batch)
                    if progress is not None:
                        progress(report.recoded, total)
                    stop.check()
        except KeyboardInterrupt:
            store.finish_run(run_id, status="interrupted", stats={"recoded": report.recoded})
            raise Interrupted(f"interrupted: {report.recoded} notes were re-coded; "
                              "run the same command again to finish") from None
        report.warnings = sorted(warnings)
        store.finish_run(run_id, status="completed", stats={"recoded": report.recoded})
    return report


def _with_canonical(store: Store, book: Codebook, stale: str | None,
                    warnings: set[str]) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """Stored documents still to code, each with attributes mapped through this codebook's vocabulary."""
    documents = store.iter_documents(where_not_coded_with=stale) if stale else store.iter_documents()
    for doc in documents:
        canonical, found = book.normalize_attributes(doc["attributes"])
        warnings.update(found)
        yield doc, canonical
