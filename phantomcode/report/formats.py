"""Writing a report as csv, json, Markdown, HTML or an Excel workbook (png: ``report.png``).

Every writer takes an open file; ``write_report`` opens the path it is given (replacing the file
only once it is complete) or writes to the file object it is given, never to stdout by itself.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Callable
from os import PathLike
from typing import IO, Any

from ..errors import UsageError
from ..outputs import open_file
from ..sanitise import markdown_text, neutralise_formula, spreadsheet_cell
from .model import Report, TextTable
from .selection import COOCCURRENCE_COLUMNS, MEASURES, QUOTE_COLUMNS, TIDY_COLUMNS

FORMATS = ("table", "csv", "json", "xlsx", "md", "html", "png")  # table: rendered by the command line
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".json": "json",
    ".xlsx": "xlsx",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".png": "png",
    ".txt": "table",
}
BINARY_FORMATS = ("xlsx", "png")


def write_report(report: Report, *, fmt: str, out: str | PathLike[str] | IO[Any], wide: bool = False) -> list[str]:
    """Write ``report`` as csv, json, md, html (text) or xlsx, png (binary) to ``out``: a path, or
    an open file object of the right kind. Return warnings about the output to show (png: no font
    for its hanzi)."""
    from .png import write_png

    text_writers: dict[str, Callable[..., None]] = {
        "csv": _write_csv,
        "json": _write_json,
        "md": _write_md,
        "html": _write_html,
    }
    notes: list[str] = []
    write: Callable[[IO[Any]], object]
    if fmt in text_writers:

        def write(handle: IO[Any]) -> None:
            text_writers[fmt](report, handle, wide=wide)
    elif fmt == "xlsx":

        def write(handle: IO[Any]) -> None:
            write_xlsx(report, handle)
    elif fmt == "png":

        def write(handle: IO[Any]) -> None:
            notes.extend(write_png(report, handle))
    else:
        raise UsageError(f"format {fmt!r} is rendered by the command line, not written by write_report")
    if isinstance(out, (str, PathLike)):
        with open_file(out, binary=fmt in BINARY_FORMATS) as handle:
            write(handle)
    else:
        write(out)
    return notes


def _data(report: Report, wide: bool) -> tuple[list[str], list[list[Any]]]:
    """The header and rows csv and json write: the tidy records (share to 4 decimals), or the matrix."""
    if wide:
        labels, values = report.matrix()
        return ["code", *labels], [[code, *row] for code, row in zip(report.codes, values, strict=False)]
    columns = COOCCURRENCE_COLUMNS if report.kind == "cooccurrence" else [*report.by, *TIDY_COLUMNS]
    rows = [[record[c] for c in columns] for record in report.records]
    if "share" in columns:
        position = columns.index("share")
        for row in rows:
            row[position] = _round4(row[position])
    return columns, rows


def _round4(share: float) -> float:
    """``share`` to 4 decimals as pandas and numpy round (scale, round half to even, unscale), which
    earlier versions wrote: the published figures stay the same to the last digit."""
    return round(share * 10_000) / 10_000


def _write_csv(report: Report, handle: IO[str], *, wide: bool) -> None:
    columns, rows = _data(report, wide)
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([neutralise_formula(str(c)) for c in columns])
    writer.writerows([neutralise_formula(v) for v in row] for row in rows)


def _write_json(report: Report, handle: IO[str], *, wide: bool) -> None:
    columns, rows = _data(report, wide)
    json.dump([dict(zip(map(str, columns), row, strict=False)) for row in rows], handle, ensure_ascii=False, indent=1)
    handle.write("\n")


def _md_cell(value: Any) -> str:
    """One line of Markdown text: HTML escaped (CommonMark renders raw HTML), pipes escaped for tables."""
    return markdown_text(" ".join(str(value).split())).replace("\\", "\\\\").replace("|", "\\|")


def _write_md(report: Report, handle: IO[str], *, wide: bool = False) -> None:
    handle.write(f"# {_md_cell(report.title())}\n\n")
    handle.write(" ".join(_md_cell(line) for line in report.description()) + "\n")
    for warning in report.warnings():
        handle.write(f"\n**Warning:** {_md_cell(warning)}\n")
    for table in report.tables():
        handle.write(f"\n## {_md_cell(table.title)}\n\n")
        handle.write("| " + " | ".join(_md_cell(h) for h in table.header) + " |\n")
        handle.write(
            "|" + "|".join("---" if i < table.text_columns else "---:" for i in range(len(table.header))) + "|\n"
        )
        for row in table.rows:
            handle.write("| " + " | ".join(_md_cell(v) for v in row) + " |\n")
    if report.quote_records:
        handle.write("\n## Quotes\n")
        for code, quotes in report.quotes_by_code():
            handle.write(f"\n### {_md_cell(code)}: {_md_cell(report.label(code))}\n\n")
            for label, doc_id, text in quotes:
                handle.write(f"- {_md_cell(label)}, {_md_cell(doc_id)}: \u201c{_md_cell(text)}\u201d\n")


# -- html --------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2rem auto; max-width: 75rem; padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
p.meta { color: #444; margin: 0.2rem 0; }
p.warning { background: #fff4e5; border-left: 4px solid #d97706; padding: 0.3rem 0.8rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.55rem; }
th { background: #f3f5f7; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.n td { font-weight: 600; background: #f3f5f7; }
.groups { display: flex; flex-wrap: wrap; gap: 0 1.5rem; }
blockquote { margin: 0.4rem 0 0.8rem; padding: 0.3rem 0.8rem; border-left: 4px solid #6b8fbf; background: #f7f9fc; }
blockquote .src { color: #555; font-size: 0.85rem; display: block; margin-top: 0.2rem; }
dl dt { font-weight: 600; margin-top: 0.6rem; } dl dd { margin-left: 1.2rem; }
"""


def heat_colour(heat: float) -> tuple[str, str]:
    """(background, text colour) for a 0..1 value: white to deep blue, white text on dark cells."""
    heat = min(max(heat, 0.0), 1.0)
    low, high = (255, 255, 255), (8, 69, 148)
    rgb = tuple(round(a + (b - a) * heat) for a, b in zip(low, high, strict=False))
    return f"#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}", "#ffffff" if heat > 0.55 else "#1b1b1b"


def _html_table(table: TextTable, *, caption: bool = True) -> str:
    e = html.escape
    parts = [
        f"<table>{f'<caption><strong>{e(table.title)}</strong></caption>' if caption else ''}<thead><tr>",
        "".join(f"<th>{e(str(h))}</th>" for h in table.header),
        "</tr></thead><tbody>",
    ]
    for index, row in enumerate(table.rows):
        heat = table.heat[index] if index < len(table.heat) else [None] * len(row)
        is_n = table.kind == "matrix" and row[0] == "N" and index == len(table.rows) - 1
        parts.append('<tr class="n">' if is_n else "<tr>")
        for position, (value, level) in enumerate(zip(row, heat, strict=False)):
            style = ""
            if level is not None:
                background, colour = heat_colour(level)
                style = f' style="background:{background};color:{colour}"'
            css = ' class="num"' if position >= table.text_columns else ""
            parts.append(f"<td{css}{style}>{e(str(value))}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _write_html(report: Report, handle: IO[str], *, wide: bool = False) -> None:
    e = html.escape
    book = report.codebook
    tables = report.tables()
    body = [
        f"<h1>{e(report.title())}</h1>",
        f'<p class="meta">Project <strong>{e(report.project)}</strong>: N = {report.project_documents} documents'
        + (f", {report.documents} after filters" if report.where else "")
        + "</p>",
        f'<p class="meta">Codebook <strong>{e(book.name)}</strong>, version {e(str(book.version))} '
        f"(sha256 {e(book.content_hash[:12])})</p>",
        f'<p class="meta">Coded {e(report.coded_at or "(no completed run)")}; report made {e(report.generated_at)}</p>',
        *(f"<p>{e(line)}</p>" for line in report.description()),
        *(f'<p class="warning"><strong>Warning:</strong> {e(line)}</p>' for line in report.warnings()),
    ]
    groups = [t for t in tables if t.kind == "group"]
    for table in (t for t in tables if t.kind != "group"):
        body.append(f"<h2>{e(table.title)}</h2>{_html_table(table, caption=False)}")
    if groups:
        body.append('<h2>Each group</h2><div class="groups">')
        body.extend(_html_table(t) for t in groups)
        body.append("</div>")
    if report.quote_records:
        body.append("<h2>Quotes</h2>")
        for code, quotes in report.quotes_by_code():
            body.append(f"<h3>{e(code)}: {e(report.label(code))}</h3>")
            body.extend(
                f'<blockquote>{e(text)}<span class="src">{e(label)} \u00b7 {e(doc_id)}</span></blockquote>'
                for label, doc_id, text in quotes
            )
    body.append("<h2>Codebook definitions</h2><dl>")
    for code in report.codes:
        entry = book.code(code)
        body.append(
            f"<dt>{e(code)}: {e(entry.label)} <small>({e(entry.group)})</small></dt><dd>{e(entry.definition)}</dd>"
        )
    body.append("</dl>")
    handle.write(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(report.title())}: {e(report.project)}</title><style>{_CSS}</style></head>"
        f"<body>\n{chr(10).join(body)}\n</body></html>\n"
    )


# -- xlsx --------------------------------------------------------------------------------------


def write_xlsx(report: Report, handle: IO[bytes]) -> None:
    """Matrix sheets (documents, share, segments; or the co-occurrences), the tidy data, quotes, about."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    if report.kind == "matrix":
        for measure in ("documents", "share", "segments"):
            _matrix_sheet(workbook, report, measure)
    else:
        for measure in MEASURES:
            _matrix_sheet(workbook, report, measure)
    columns = COOCCURRENCE_COLUMNS if report.kind == "cooccurrence" else [*report.by, *TIDY_COLUMNS]
    _records_sheet(workbook, "data", columns, report.records, freeze="A2")
    columns = [*report.by, *QUOTE_COLUMNS]
    quotes = _records_sheet(workbook, "quotes", columns, report.quote_records, freeze="A2")
    column = quotes.cell(row=1, column=columns.index("text") + 1).column_letter
    quotes.column_dimensions[column].width = 80
    for cell in quotes[column][1:]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    about = workbook.create_sheet("about")
    for line in [
        ("report", report.title()),
        ("project", report.project),
        ("documents in project", report.project_documents),
        ("documents after filters", report.documents),
        ("codebook", report.codebook.name),
        ("codebook version", str(report.codebook.version)),
        ("codebook sha256", report.codebook.content_hash),
        ("coded", report.coded_at or ""),
        ("report made", report.generated_at),
        *(("note", line) for line in report.description()),
        *(("warning", line) for line in report.warnings()),
    ]:
        about.append([spreadsheet_cell(v) for v in line])
    for cell in about["A"]:
        cell.font = Font(bold=True)
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 100
    workbook.save(handle)


def _matrix_sheet(workbook: Any, report: Report, measure: str) -> None:
    from openpyxl.styles import Font

    labels, values = report.matrix(measure)
    sheet = workbook.create_sheet(measure)
    header = ["code", "label", *(str(c) for c in labels)]
    sheet.append([spreadsheet_cell(h) for h in header])
    for code, row in zip(report.codes, values, strict=False):
        sheet.append([spreadsheet_cell(code), spreadsheet_cell(report.label(code)), *row])
    if report.kind == "matrix":
        sheet.append(["N", "documents in the group", *(n for _, n in report.groups())])
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    if measure == "share":
        for row in sheet.iter_rows(min_row=2, max_row=len(report.codes) + 1, min_col=3):
            for cell in row:
                cell.number_format = "0%"
    _finish_sheet(sheet, freeze="C2")


def _records_sheet(workbook: Any, name: str, columns: list[str], records: list[dict[str, Any]], *, freeze: str) -> Any:
    sheet = workbook.create_sheet(name)
    sheet.append([spreadsheet_cell(str(c)) for c in columns])
    for record in records:
        sheet.append([spreadsheet_cell(record[c]) for c in columns])
    _finish_sheet(sheet, freeze=freeze)
    return sheet


def _finish_sheet(sheet: Any, *, freeze: str) -> None:
    from openpyxl.styles import Font

    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = freeze
    for column in sheet.columns:
        longest = max((len(str(cell.value)) for cell in column if cell.value is not None), default=4)
        sheet.column_dimensions[column[0].column_letter].width = min(max(longest + 2, 8), 60)
