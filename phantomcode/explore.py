"""Looking into a coded project: which terms fire (codebook stats) and keyword in context (kwic).

These are the reviewer's map of the codebook: terms that never fire are candidates for removal or
rewording; a kwic listing shows whether a term's hits are the intended sense.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .codebook import Code, Codebook
from .codebook_choice import choose_codebook
from .errors import OptionError, UsageError
from .globs import can_scan_words, glob_phrase_spans
from .store import Store

CONTEXT_CHARS = 60


@dataclass(frozen=True)
class TermStat:
    code: str
    term: str
    segments: int
    documents: int


@dataclass(frozen=True)
class CodeStat:
    code: str
    label: str
    segments: int
    documents: int
    terms: tuple[TermStat, ...]  # every term the code lists, zero counts included
    learned_segments: int = 0  # of ``segments``, those the learned model coded (the rules did not)
    learned_documents: int = 0


@dataclass(frozen=True)
class KwicLine:
    doc_id: str
    start: int
    end: int
    left: str
    keyword: str
    right: str
    code: str | None
    rule: str | None
    flags: str  # "", "negated", "hypothetical"


def codebook_stats(codebook: Codebook, *, project: str | Path | None = None) -> list[CodeStat]:
    """Per code and per term: segments and documents it fires on (counted codings only)."""
    with Store.open(project, readonly=True) as store:
        per_code = store.code_counts()
        learned = store.code_counts(source="learned")
        per_term: dict[tuple[str, str | None], tuple[int, int]] = {
            (code, term): (segments, documents) for code, term, segments, documents in store.term_counts()
        }
    stats = []
    for code in codebook.codes:
        terms = tuple(TermStat(code.id, term, *per_term.get((code.id, term), (0, 0))) for term in _terms_of(code))
        stats.append(
            CodeStat(code.id, code.label, *per_code.get(code.id, (0, 0)), terms, *learned.get(code.id, (0, 0)))
        )
    return stats


def _terms_of(code: Code) -> list[str]:
    """Every term a code lists in its rules (terms and near sets), in codebook order, once each."""
    seen: dict[str, None] = {}
    for term in code.rules.terms:
        seen.setdefault(term, None)
    for near in code.rules.near:
        for term_set in near.sets:
            for term in term_set:
                seen.setdefault(term, None)
    return list(seen)


def kwic(
    *,
    project: str | Path | None = None,
    code: str | None = None,
    term: str | None = None,
    width: int = CONTEXT_CHARS,
    limit: int | None = None,
    codebook: str | Path | Codebook | None = None,
) -> Iterator[KwicLine]:
    """Keyword-in-context lines: the matched words of a code's codings, or every occurrence of a term.

    A term is matched case-insensitively as a whole word; ``*`` is a wildcard (``reimburs*``).
    A code must be one of the codebook's (the project's own unless ``codebook`` names one) or one
    the project holds codings of; ``UsageError`` lists them otherwise.
    """
    if code is None and term is None:
        raise OptionError(
            "nothing to look for: give a TERM (a word or phrase, * as wildcard) or {option} ID "
            "(the matched words of a code), e.g. kwic {option} paperwork",
            option="code",
        )
    if code is not None and term is not None:
        raise OptionError("give either {option} ID or a TERM, not both", option="code")
    with Store.open(project, readonly=True) as store:
        if code is not None:
            _check_code(code, choose_codebook(codebook, store, check_patterns=False), store)
        lines = _code_lines(store, code, width) if code is not None else _term_lines(store, term or "", width)
        for count, line in enumerate(lines, start=1):
            yield line
            if limit is not None and count >= limit:
                return


def _check_code(code: str, book: Codebook, store: Store) -> None:
    from .report import check_codes

    check_codes(book, [code], extra=store.code_counts())


def _code_lines(store: Store, code: str, width: int) -> Iterator[KwicLine]:
    current, text = None, ""
    for row in store.coding_rows(code=code):  # in document order: fetch each text once
        if row["doc_id"] != current:
            current, text = row["doc_id"], store.document_texts([row["doc_id"]])[row["doc_id"]]
        flags = "negated" if row["negated"] else ("hypothetical" if row["hypothetical"] else "")
        if row["source"] == "learned":  # no matched words: the whole unit, with the model's probability
            yield _line(
                row["doc_id"], text, row["start"], row["end"], width, code, f"learned p={row['probability']:.2f}", flags
            )
            continue
        for span in row["matched"]:
            yield _line(row["doc_id"], text, span["start"], span["end"], width, code, row["rule"], flags)


def _term_lines(store: Store, term: str, width: int) -> Iterator[KwicLine]:
    spans = _term_spans(term)
    for doc in store.iter_documents():
        for start, end in spans(doc["text"]):
            yield _line(doc["doc_id"], doc["text"], start, end, width, None, None, "")


def _term_spans(term: str) -> Callable[[str], Iterator[tuple[int, int]]]:
    """Where ``term`` occurs in a text. Latin words with ``*`` are matched word by word in linear
    time (``phantomcode.globs``): as a regex, ``a*a*a*a*a*a*b`` backtracked without end on a long word."""
    if "*" in term and re.search(r"[\u3400-\u9fff]", term):
        raise UsageError(f"{term!r}: '*' works on Latin words only (as in codebooks); give the Chinese words in full")
    if "*" in term and can_scan_words(term):
        return lambda text: glob_phrase_spans(text, term)
    pattern = _term_regex(term)
    return lambda text: (match.span() for match in pattern.finditer(text))


def _term_regex(term: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive; hanzi match anywhere (Chinese has no spaces between words)."""
    body = r"\w*".join(re.escape(part) for part in term.strip().split("*"))
    if re.search(r"[\u3400-\u9fff]", term):
        return re.compile(body, re.IGNORECASE)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def _line(
    doc_id: str, text: str, start: int, end: int, width: int, code: str | None, rule: str | None, flags: str
) -> KwicLine:
    left = text[max(0, start - width) : start].replace("\n", " ")
    right = text[end : end + width].replace("\n", " ")
    return KwicLine(doc_id, start, end, left, text[start:end], right, code, rule, flags)
