"""Reports: codes by group (city, sector, respondent type...), exemplar quotes, co-occurrence.

Counting, everywhere:

- A coding counts unless it is negated, hypothetical or rejected in review; with
  ``status="accepted"`` only codings a human accepted count.
- ``documents`` in a cell is the number of documents (respondents) in the group with at least one
  counted coding of the code; ``segments`` the number of coded segments (sentences or paragraphs).
  ``group_documents`` is the group's N, ``share`` = documents / group_documents: always the share
  of respondents, whichever measure a matrix shows.
- Groups are the values of the ``by`` attributes (canonical, from the codebook vocabulary), or
  their combinations for a cross-tab; each document is in exactly one group, so the groups' N add
  up to the filtered N. A document without the attribute is in the ``(missing)`` group.
- ``sector`` is the document's sector: the one its metadata declares, else the one inferred from the
  codebook's sector cues, else ``(missing)``; a document is never counted under two sectors.

The frames come from SQL aggregates in the store (``Store.report_*``). The package, by concern:
``selection`` checks what is asked for, ``frames`` orders the counts (codebook order, zeros
included) as records and DataFrames, ``model`` builds the ``Report`` every format shows,
``formats`` writes csv, json, md, html and xlsx, ``png`` draws the heat map.
"""

from .formats import BINARY_FORMATS, FORMATS, SUFFIX_FORMATS, heat_colour, write_report, write_xlsx
from .frames import (
    cooccurrence_frame,
    cooccurrence_records,
    group_label,
    matrix_frame,
    quote_records,
    quotes_frame,
    tidy_records,
)
from .model import Report, TextTable, build_cooccurrence, build_report, percent
from .png import write_png
from .selection import (
    COOCCURRENCE_COLUMNS,
    MEASURES,
    MISSING,
    QUOTE_COLUMNS,
    STATUSES,
    TIDY_COLUMNS,
    Selection,
    Where,
    check_codes,
    select,
)

__all__ = [
    "BINARY_FORMATS",
    "COOCCURRENCE_COLUMNS",
    "FORMATS",
    "MEASURES",
    "MISSING",
    "QUOTE_COLUMNS",
    "STATUSES",
    "SUFFIX_FORMATS",
    "TIDY_COLUMNS",
    "Report",
    "Selection",
    "TextTable",
    "Where",
    "build_cooccurrence",
    "build_report",
    "check_codes",
    "cooccurrence_frame",
    "cooccurrence_records",
    "group_label",
    "heat_colour",
    "matrix_frame",
    "percent",
    "quote_records",
    "quotes_frame",
    "select",
    "tidy_records",
    "write_png",
    "write_report",
    "write_xlsx",
]
