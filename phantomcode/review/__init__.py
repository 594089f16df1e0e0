"""Human review of the codings: a sheet out, decisions back in, and what they measure.

``export_review`` writes one row per coding (xlsx or csv) with its document's attributes, the
segment with some context either side, code, rule, matched words and a stable key
(``doc_id:start-end:code``), plus empty ``decision``, ``correct_code`` and ``note`` columns.
``import_review`` reads the sheet back and stores each decision with who made it and when:

- ``accept``: the code applies to the segment; ``reject``: it does not (``correct_code`` names the
  code that applies instead, which is then added); ``add``: a code the rules missed, on a copied
  row of the same segment (same key, another ``code``) or on a new row giving ``doc_id``, the
  ``segment`` text (or ``start`` and ``end``) and ``code``.
- Rows with an unusable decision are reported by their row number (the header is row 1); the
  good rows still apply. Cells a spreadsheet would read as formulas were exported with a leading
  apostrophe; it is removed again on import.

Decisions are kept by the store and applied to the codings (``review.relocation``): they survive
re-coding and re-ingest, and ones whose text changed are kept and reported, never dropped.
``review_stats`` turns them into per-code figures: measured precision (with a Wilson 95%
interval) and codings the rules missed.

The package: ``sheet`` (export and read the sheet), ``decisions`` (check and store decisions),
``stats`` (what they measure), ``relocation`` (how they apply to codings).
"""

from __future__ import annotations

from .decisions import (
    ReviewImport,
    apply_decisions,
    default_reviewer,
    import_review,
    reviewer_keys,
    store_decisions,
    withdraw_decisions,
)
from .sheet import (
    CONTEXT_CHARS,
    DECISION_COLUMNS,
    FIXED_COLUMNS,
    LEAD_COLUMNS,
    REVIEW_FORMATS,
    SUGGESTED,
    TAIL_COLUMNS,
    ReviewExport,
    _xlsx_rows,
    coding_key,
    export_review,
    parse_coding_key,
    read_review_sheet,
)
from .stats import (
    CodeReview,
    ReviewStats,
    StaleDecision,
    review_stats,
    stats_json,
    stats_records,
    summarise_review,
    wilson_interval,
)

__all__ = [
    "CONTEXT_CHARS",
    "DECISION_COLUMNS",
    "FIXED_COLUMNS",
    "LEAD_COLUMNS",
    "REVIEW_FORMATS",
    "SUGGESTED",
    "TAIL_COLUMNS",
    "CodeReview",
    "ReviewExport",
    "ReviewImport",
    "ReviewStats",
    "StaleDecision",
    "_xlsx_rows",
    "apply_decisions",
    "store_decisions",
    "coding_key",
    "default_reviewer",
    "export_review",
    "import_review",
    "parse_coding_key",
    "read_review_sheet",
    "review_stats",
    "stats_json",
    "stats_records",
    "summarise_review",
    "wilson_interval",
    "withdraw_decisions",
    "reviewer_keys",
]
