"""Making user text safe for each output it reaches: spreadsheets, Markdown, XML, terminals, plots.

Note text, attribute names and values, folder names and codebook labels are all user input; each
output format has its own way of running or breaking on them (a cell starting with ``=`` is a
formula, ``<script>`` in Markdown is live HTML, a form feed is not allowed in XML, ``[/x]`` is rich
markup, ESC drives the terminal, ``$x$`` is matplotlib math). Every writer passes user text through
the function for its format here, headers and labels as well as cells.
"""

from __future__ import annotations

import html
import re
from typing import Any

from rich.markup import escape as _escape_markup

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# XML 1.0 allows tab, newline, carriage return and everything from U+0020 except surrogates and
# U+FFFE/U+FFFF; openpyxl refuses the same characters in cells.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# C0 and C1 controls and DEL, bar tab and newline: ESC sequences recolour, move the cursor or
# retitle a terminal; OSC 8 makes hyperlinks.
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def neutralise_formula(value: Any) -> Any:
    """Prefix ``'`` to text that a spreadsheet would treat as a formula; other values pass through.

    Used for every cell a CSV or workbook gets from user text: headers (attribute names, code
    labels) as well as values.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def xml_text(value: str) -> str:
    """``value`` with characters XML 1.0 (and so .xlsx and .qdpx) cannot hold replaced by spaces.

    A space, not nothing: coding offsets into a document's text stay right.
    """
    return _NOT_XML.sub(" ", value) if _NOT_XML.search(value) else value


def spreadsheet_cell(value: Any) -> Any:
    """A cell value for a workbook: formula-guarded, and without characters XML cannot hold."""
    if isinstance(value, str):
        return neutralise_formula(xml_text(value))
    return value


def markdown_text(value: Any) -> str:
    """Text for a Markdown document: HTML escaped, since CommonMark passes raw HTML through."""
    return html.escape(str(value), quote=False)


def terminal_text(value: Any) -> str:
    """Text for a terminal: control characters (ESC above all) removed; tab and newline kept."""
    text = str(value)
    return _TERMINAL_CONTROL.sub("", text) if _TERMINAL_CONTROL.search(text) else text


def markup_text(value: Any) -> str:
    """User text to interpolate into a rich markup string: control characters removed, and
    ``[`` escaped so ``[/x]`` cannot crash the print nor ``[link=...]`` make a hyperlink."""
    return _escape_markup(terminal_text(value))


def plot_text(value: Any) -> str:
    """A label for matplotlib: ``$`` escaped so ``$...$`` is not parsed as math text (which fails
    on most non-math input), control characters removed."""
    return terminal_text(value).replace("$", r"\$")
