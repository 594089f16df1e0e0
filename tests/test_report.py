"""Reports through the library: counts checked against independent paths, formats, golden files.

Golden files live in ``tests/golden/``. They depend on the bundled codebook; after changing it,
regenerate them with ``PHANTOMCODE_UPDATE_GOLDEN=1 pytest tests/test_report.py`` and review the diff.
"""

from __future__ import annotations

import csv
import difflib
import html
import io
import json
import os
import re
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from phantomcode import Project, ingest
from phantomcode.cli._parsing import parse_where
from phantomcode.codebook import Codebook
from phantomcode.errors import UsageError
from phantomcode.export import export_segments
from phantomcode.report import (
    COOCCURRENCE_COLUMNS,
    TIDY_COLUMNS,
    Report,
    build_cooccurrence,
    build_report,
    write_report,
)
from phantomcode.store import Store

SAMPLE_NOTES = Path(__file__).resolve().parents[1] / "sample_data" / "notes"
GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("PHANTOMCODE_UPDATE_GOLDEN") == "1"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

PAPERWORK = "The school asked for the five documents, the wuzheng 五证, before it would look at the application."
FEES = "They also had to pay the jiedu fei 借读费 that only outsiders pay."


def sample_project_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample notes ingested once per test session (tests/cli/test_report_cli.py reuses the file)."""
    path = tmp_path_factory.getbasetemp() / "sample-project" / "sample.db"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        report = ingest(SAMPLE_NOTES, project=path)
        assert not report.skipped, report.skipped
    return path


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project(sample_project_path(tmp_path_factory))


@pytest.fixture
def small(tmp_path: Path, notes_dir: Path, write_note) -> Path:
    """Five notes whose sectors, review statuses and flags the tests set directly in the store."""
    write_note("a.md", f"{PAPERWORK} {FEES}\n", city="Beijing", sector="education", respondent_type="migrant")
    write_note("b.md", f"{PAPERWORK}\n", city="Beijing", respondent_type="doctor")
    write_note("c.md", "We talked about the weather and the new metro line.\n", city="Shanghai")
    write_note("d.md", f"{PAPERWORK}\n", city="shanghai", sector="education")
    write_note("e.md", f"=2+3 said the form, and t{PAPERWORK[1:]}\n", city='"=1+2"', sector="hukou")
    path = tmp_path / "small.db"
    assert not ingest(notes_dir, project=path).skipped
    # The document sector as ingest records it: declared, inferred, or unknown.
    set_sectors(
        path,
        {
            "a": ("education", "declared"),
            "b": ("healthcare", "inferred"),
            "c": (None, None),
            "d": ("education", "declared"),
            "e": ("hukou", "declared"),
        },
    )
    return path


def set_sectors(path: Path, sectors: dict[str, tuple[str | None, str | None]]) -> None:
    with sqlite3.connect(path) as db:
        db.executemany(
            "UPDATE documents SET sector = ?, sector_source = ? WHERE doc_id = ?",
            [(sector, source, doc_id) for doc_id, (sector, source) in sectors.items()],
        )


def update_codings(path: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute(f"UPDATE codings SET {sql}", params).rowcount > 0


def opened(project: Project) -> tuple[Path, Codebook]:
    """What ``build_report`` takes: the project's path and codebook."""
    return Path(project.path), project.codebook()


def rendered(report, fmt: str, tmp_path: Path, **options) -> str:
    out = tmp_path / f"report.{fmt}"
    write_report(report, fmt=fmt, out=out, **options)
    return out.read_text(encoding="utf-8")


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        return
    if not path.exists():
        pytest.fail(
            f"golden file {path} is missing: create it with PHANTOMCODE_UPDATE_GOLDEN=1 pytest tests/test_report.py"
        )
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "now", n=1))
        pytest.fail(f"{name} differs from the golden file (PHANTOMCODE_UPDATE_GOLDEN=1 to accept):\n{diff[:4000]}")


def counted_export_rows(project: Project, tmp_path: Path) -> list[dict[str, str]]:
    """``export segments`` rows that count: not negated, not hypothetical, not rejected."""
    out = tmp_path / "segments.csv"
    export_segments(project=project.path, fmt="csv", out=out)
    with out.open(encoding="utf-8", newline="") as handle:
        return [
            row
            for row in csv.DictReader(handle)
            if row["negated"] == "FALSE" and row["hypothetical"] == "FALSE" and row["status"] != "rejected"
        ]


# -- golden files -------------------------------------------------------------------------------


def test_tidy_csv_matches_golden(sample: Project, tmp_path: Path) -> None:
    assert_golden("report_city.csv", rendered(build_report(*opened(sample)), "csv", tmp_path))


def test_markdown_matches_golden(sample: Project, tmp_path: Path) -> None:
    assert_golden("report_city.md", rendered(build_report(*opened(sample)), "md", tmp_path))


# -- counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("attribute", ["city", "respondent_type", "year"])
def test_group_n_is_the_number_of_documents_with_that_value(sample: Project, attribute: str) -> None:
    codebook = sample.codebook()  # verbatim values, mapped as ingest does
    expected = Counter(
        "(missing)" if pd.isna(value) else codebook.normalize_attributes({attribute: value})[0][attribute]
        for value in sample.documents(canonical=False)[attribute]
    )
    tidy = sample.matrix(by=attribute, tidy=True)
    assert dict(zip(tidy[attribute], tidy["group_documents"], strict=True)) == dict(expected)
    assert tidy.drop_duplicates(attribute)["group_documents"].sum() == len(sample.documents())


@pytest.mark.parametrize("attribute", ["city", "respondent_type"])
def test_documents_per_cell_are_the_distinct_doc_ids_in_export_segments(
    sample: Project, tmp_path: Path, attribute: str
) -> None:
    documents, segments = defaultdict(set), defaultdict(set)
    for row in counted_export_rows(sample, tmp_path):
        documents[row[attribute], row["code"]].add(row["doc_id"])
        segments[row[attribute], row["code"]].add((row["doc_id"], row["start"], row["end"]))
    tidy = sample.matrix(by=attribute, tidy=True)
    assert sum(tidy["documents"]) > 0
    for row in tidy.itertuples(index=False):
        value, code = getattr(row, attribute), row.code
        assert row.documents == len(documents[value, code]), (value, code)
        assert row.segments == len(segments[value, code]), (value, code)
        assert row.share == pytest.approx(row.documents / row.group_documents)


def test_every_code_and_group_is_present_in_codebook_order_with_zeros(sample: Project) -> None:
    codes = sample.codebook().code_ids()
    tidy = sample.matrix(tidy=True)
    assert list(tidy.columns) == ["city", *TIDY_COLUMNS]
    cities = list(dict.fromkeys(tidy["city"]))
    assert cities == ["Beijing", "Chengdu", "Shanghai", "Guangzhou", "Hangzhou", "Dongguan"]  # vocabulary order
    assert list(tidy["code"]) == codes * len(cities)
    wide = sample.matrix()
    assert list(wide.index) == codes and list(wide.columns) == cities
    assert (wide.to_numpy() == tidy["documents"].to_numpy().reshape(len(cities), len(codes)).T).all()
    segments = sample.matrix(measure="segments")
    assert (segments.to_numpy() == tidy["segments"].to_numpy().reshape(len(cities), len(codes)).T).all()
    assert (segments.to_numpy() >= wide.to_numpy()).all()


def test_cross_tab_partitions_each_city_by_sector(sample: Project) -> None:
    by_city = sample.matrix(by="city", tidy=True)
    cross = sample.matrix(by=["city", "sector"], tidy=True)
    assert list(cross.columns) == ["city", "sector", *TIDY_COLUMNS]
    summed = cross.groupby(["city", "code"])[["documents", "segments"]].sum()
    for row in by_city.itertuples(index=False):
        assert summed.loc[(row.city, row.code)].tolist() == [row.documents, row.segments]
    n = cross.drop_duplicates(["city", "sector"]).groupby("city")["group_documents"].sum()
    assert n.to_dict() == dict(zip(by_city["city"], by_city["group_documents"], strict=True))
    wide = sample.matrix(by=["city", "sector"])
    assert wide.columns.names == ["city", "sector"] and int(wide.to_numpy().sum()) == int(cross["documents"].sum())


def test_where_filters_documents_and_accepts_aliases(sample: Project) -> None:
    full = sample.matrix(by="respondent_type", tidy=True)
    beijing = sample.matrix(by="city", where={"city": "beijing"}, tidy=True)  # case forgiven
    assert set(beijing["city"]) == {"Beijing"}
    assert beijing.equals(sample.matrix(by="city", where={"city": "北京"}, tidy=True))  # codebook alias
    both = sample.matrix(by="city", where={"city": ["Beijing", "Chengdu"]}, tidy=True)  # OR within one
    assert set(both["city"]) == {"Beijing", "Chengdu"}
    workers = sample.matrix(by="city", where={"city": "Beijing", "respondent_type": "migrant_worker"}, tidy=True)
    assert set(workers["group_documents"]) == {
        len(sample.documents().query("respondent_type == 'migrant_worker' and city in ('Beijing', '北京')"))
    }
    assert (workers["documents"] <= beijing["documents"]).all() and workers["documents"].sum() > 0
    assert (
        full["documents"].sum()
        >= sample.matrix(by="respondent_type", where={"city": "Beijing"}, tidy=True)["documents"].sum()
    )
    assert parse_where(["city=Beijing", "city = Chengdu", "sector=education"]) == {
        "city": ["Beijing", "Chengdu"],
        "sector": ["education"],
    }


@pytest.mark.parametrize(
    ("call", "message", "valid"),
    [
        (lambda p: p.matrix(by="province"), "unknown attribute 'province'", "city, id, interviewer"),
        (lambda p: p.matrix(codes=["paperwork", "papers"]), "unknown code 'papers'", "paperwork, residency_duration"),
        (lambda p: p.matrix(group="mechanism"), "unknown code group 'mechanism'", "mechanisms, consequences"),
        (lambda p: p.matrix(where={"city": "Wuhan"}), "where city=Wuhan: no document has this value", "Beijing (9)"),
        (lambda p: p.matrix(measure="words"), "unknown measure 'words'", "documents, segments"),
        (lambda p: p.quotes("papers"), "unknown code 'papers'", "self_blame"),
        (lambda p: p.cooccurrence(where={"sectr": "x"}), "unknown attribute 'sectr'", "sector"),
    ],
)
def test_unknown_names_raise_usage_errors_listing_the_valid_ones(sample: Project, call, message, valid) -> None:
    with pytest.raises(UsageError) as caught:
        call(sample)
    assert message in str(caught.value) and valid in str(caught.value)
    assert caught.value.exit_code == 2
    with pytest.raises(UsageError, match="ATTR=VALUE"):
        parse_where(["city"])


def test_codes_and_groups_select_codes_in_codebook_order(sample: Project) -> None:
    codebook = sample.codebook()
    assert list(sample.matrix(codes=["deterred", "paperwork"]).index) == ["paperwork", "deterred"]
    assert list(sample.matrix(codes="deterred").index) == ["deterred"], "one code ID (the CLI splits commas)"
    assert list(sample.matrix(group="consequences").index) == codebook.groups["consequences"]


# -- the small project: sectors, statuses, flags --------------------------------------------------


@pytest.mark.slow
def test_sector_counts_each_document_once_under_its_document_sector(small: Path) -> None:
    tidy = Project(small).matrix(by="sector", codes="paperwork", tidy=True)
    rows = {row.sector: (row.documents, row.group_documents) for row in tidy.itertuples()}
    # b declares no sector but its inferred one counts; c has neither and is shown as (missing).
    assert rows == {"education": (2, 2), "healthcare": (1, 1), "hukou": (1, 1), "(missing)": (0, 1)}
    assert list(rows) == ["education", "healthcare", "hukou", "(missing)"]  # vocabulary order, missing last
    assert sum(n for _, n in rows.values()) == 5
    filtered = Project(small).matrix(by="city", where={"sector": "(missing)"}, tidy=True)
    assert set(filtered["group_documents"]) == {1} and set(filtered["city"]) == {"Shanghai"}


def test_sector_groups_follow_the_sector_ingest_recorded_for_each_document(sample: Project) -> None:
    with Store.open(sample.path, readonly=True) as store:
        recorded = dict(Counter(sector.sector or "(missing)" for sector in store.document_sectors().values()))
    tidy = sample.matrix(by="sector", tidy=True)
    assert dict(zip(tidy["sector"], tidy["group_documents"], strict=True)) == recorded
    assert sum(recorded.values()) == len(sample.documents())


@pytest.mark.slow
def test_missing_attribute_values_form_their_own_group(small: Path) -> None:
    tidy = Project(small).matrix(by="respondent_type", codes="paperwork", tidy=True)
    assert dict(zip(tidy["respondent_type"], tidy["group_documents"], strict=True)) == {
        "migrant_worker": 1,
        "doctor_hospital": 1,
        "(missing)": 3,
    }


@pytest.mark.slow
def test_negated_hypothetical_and_rejected_codings_never_count(small: Path) -> None:
    project = Project(small)

    def paperwork_documents(**options) -> int:
        return int(project.matrix(by=None, codes="paperwork", **options).iloc[0, 0])

    assert paperwork_documents() == 4
    update_codings(small, "negated = 1 WHERE doc_id = 'a' AND code = 'paperwork'")
    update_codings(small, "hypothetical = 1 WHERE doc_id = 'b' AND code = 'paperwork'")
    update_codings(small, "status = 'rejected' WHERE doc_id = 'd' AND code = 'paperwork'")
    assert paperwork_documents() == 1
    assert paperwork_documents(status="accepted") == 0
    update_codings(small, "status = 'accepted' WHERE doc_id IN ('e', 'a')")
    assert paperwork_documents(status="accepted") == 1  # a's accepted coding is still negated
    fees = project.matrix(by=None, codes="extra_fees", status="accepted").iloc[0, 0]
    assert fees == 1


@pytest.mark.slow
def test_quotes_prefer_accepted_then_clear_segments_one_per_document(small: Path) -> None:
    project = Project(small)
    quotes = project.quotes("paperwork", by=None, n=5)
    assert list(quotes.columns) == ["code", "rank", "doc_id", "start", "end", "text", "matched", "status"]
    assert sorted(quotes["doc_id"]) == ["a", "b", "d", "e"] and list(quotes["rank"]) == [1, 2, 3, 4]
    texts = {doc["doc_id"]: doc["text"] for doc in project.documents().to_dict("records")}
    for quote in quotes.to_dict("records"):
        assert quote["text"] == texts[quote["doc_id"]][quote["start"] : quote["end"]]
        assert "five documents" in quote["matched"]
    update_codings(small, "status = 'accepted' WHERE doc_id = 'd' AND code = 'paperwork'")
    update_codings(small, "negated = 1 WHERE doc_id = 'a' AND code = 'paperwork'")
    quotes = project.quotes("paperwork", by=None, n=2)
    assert list(quotes["doc_id"]) == ["d", "b"]  # accepted first; then b's segment, shorter than e's
    assert list(quotes["status"]) == ["accepted", "auto"]
    with sqlite3.connect(small) as db:  # a negated hit of the code in b's segment makes it less clear
        db.execute(
            "INSERT INTO codings (segment_id, doc_id, code, rule, start, end, matched, negated, status,"
            " codebook_hash) SELECT segment_id, doc_id, code, rule, start + 1, end, matched, 1, 'auto',"
            " codebook_hash FROM codings WHERE doc_id = 'b' AND code = 'paperwork' LIMIT 1"
        )
    assert list(project.quotes("paperwork", by=None, n=2)["doc_id"]) == ["d", "e"]
    by_city = project.quotes(["extra_fees", "paperwork"], by="city", n=1)
    assert list(zip(by_city["code"], by_city["city"], by_city["doc_id"], strict=True)) == [
        ("paperwork", "Beijing", "b"),
        ("paperwork", "Shanghai", "d"),
        ("paperwork", "=1+2", "e"),
        ("extra_fees", "Beijing", "a"),
    ]
    assert project.quotes("paperwork", n=0).empty


def test_cooccurrence_is_symmetric_with_code_totals_on_the_diagonal(sample: Project) -> None:
    documents = sample.cooccurrence()
    segments = sample.cooccurrence(measure="segments")
    totals = sample.matrix(by=None, tidy=True).set_index("code")
    assert (documents.to_numpy() == documents.to_numpy().T).all()
    assert (segments.to_numpy() == segments.to_numpy().T).all()
    for code in documents.index:
        assert documents.at[code, code] == totals.at[code, "documents"]
        assert segments.at[code, code] == totals.at[code, "segments"]
        assert (documents.loc[code] <= documents.at[code, code]).all()
    tidy = sample.cooccurrence(tidy=True)
    assert list(tidy.columns) == COOCCURRENCE_COLUMNS and len(tidy) == len(documents) ** 2
    beijing = sample.cooccurrence(where={"city": "Beijing"})
    assert (beijing.to_numpy() <= documents.to_numpy()).all()


def test_segments_frame_is_export_segments_and_counted_only_drops_uncounted(sample: Project, tmp_path: Path) -> None:
    frame = sample.segments()
    out = tmp_path / "segments.csv"
    export_segments(project=sample.path, fmt="csv", out=out)
    with out.open(encoding="utf-8", newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert len(frame) == len(exported)
    assert list(frame.columns) == list(exported[0])
    assert len(sample.segments(counted_only=True)) == len(counted_export_rows(sample, tmp_path))


# -- formats -----------------------------------------------------------------------------------


def test_json_is_tidy_records_and_wide_is_the_matrix(sample: Project, tmp_path: Path) -> None:
    report = build_report(*opened(sample), by=["city", "sector"], codes=["paperwork", "class_size"])
    records = json.loads(rendered(report, "json", tmp_path))
    assert list(records[0]) == ["city", "sector", *TIDY_COLUMNS]
    assert len(records) == 2 * len(report.groups())
    wide = json.loads(rendered(report, "json", tmp_path, wide=True))
    assert [row["code"] for row in wide] == ["paperwork", "class_size"]
    assert wide[0]["Beijing / education"] == next(
        r["documents"]
        for r in records
        if r["city"] == "Beijing" and r["sector"] == "education" and r["code"] == "paperwork"
    )
    segments = build_report(*opened(sample), measure="segments")
    lines = list(csv.reader(io.StringIO(rendered(segments, "csv", tmp_path, wide=True))))
    assert lines[0] == ["code", "Beijing", "Chengdu", "Shanghai", "Guangzhou", "Hangzhou", "Dongguan"]
    assert lines[1][1:] == [str(v) for v in sample.matrix(measure="segments").loc[lines[1][0]]]


@pytest.mark.slow
def test_csv_and_xlsx_neutralise_formulas(small: Path, tmp_path: Path) -> None:
    report = build_report(*opened(Project(small)), quotes=3)
    cells = [cell for line in csv.reader(io.StringIO(rendered(report, "csv", tmp_path))) for cell in line]
    cells += [cell for line in csv.reader(io.StringIO(rendered(report, "csv", tmp_path, wide=True))) for cell in line]
    assert "'=1+2" in cells
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]
    out = tmp_path / "report.xlsx"
    write_report(report, fmt="xlsx", out=out)
    workbook = openpyxl.load_workbook(out)
    values = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [cell.coordinate for cell in values if cell.data_type == "f"]
    texts = [cell.value for cell in values if isinstance(cell.value, str)]
    assert "'=1+2" in texts and not [text for text in texts if text.startswith(FORMULA_START)]
    assert workbook["quotes"]["G1"].value == "text"
    assert any(str(cell.value).startswith("'=2+3 said the form") for cell in workbook["quotes"]["G"])


def test_xlsx_has_a_sheet_per_matrix_quotes_bold_headers_and_frozen_panes(sample: Project, tmp_path: Path) -> None:
    out = tmp_path / "report.xlsx"
    write_report(build_report(*opened(sample), quotes=2), fmt="xlsx", out=out)
    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == ["documents", "share", "segments", "data", "quotes", "about"]
    documents = workbook["documents"]
    assert [c.value for c in documents[1]] == [
        "code",
        "label",
        "Beijing",
        "Chengdu",
        "Shanghai",
        "Guangzhou",
        "Hangzhou",
        "Dongguan",
    ]
    assert all(cell.font.bold for cell in documents[1]) and documents.freeze_panes == "C2"
    assert documents.column_dimensions["B"].width > 10
    matrix = sample.matrix()
    assert [c.value for c in documents[2]][2:] == matrix.iloc[0].tolist()
    assert [c.value for c in documents[documents.max_row]][:1] == ["N"]
    assert workbook["share"]["C2"].number_format == "0%"
    quotes = workbook["quotes"]
    assert [c.value for c in quotes[1]] == [
        "city",
        "code",
        "rank",
        "doc_id",
        "start",
        "end",
        "text",
        "matched",
        "status",
    ]
    assert quotes.max_row > 12 and quotes.freeze_panes == "A2"
    assert workbook["data"].max_row == len(sample.matrix(tidy=True)) + 1
    cooccurrence = tmp_path / "cooccurrence.xlsx"
    write_report(build_cooccurrence(*opened(sample)), fmt="xlsx", out=cooccurrence)
    assert openpyxl.load_workbook(cooccurrence).sheetnames == ["documents", "segments", "data", "quotes", "about"]


def test_html_is_one_self_contained_file(sample: Project, tmp_path: Path) -> None:
    report = build_report(*opened(sample), quotes=2)
    page = rendered(report, "html", tmp_path)
    assert list(tmp_path.iterdir()) == [tmp_path / "report.html"]
    lowered = page.lower()
    for reference in ("src=", "<link", "<script", "@import", "url(", "href="):
        assert reference not in lowered, reference
    assert not re.search(r"""=\s*["']?\s*(https?:)?//""", lowered)
    book = sample.codebook()
    assert f"N = {len(sample.documents())} documents" in page
    assert f"version {book.version}" in page and "Coded 20" in page and "report made 20" in page
    assert "background:#" in page  # heatmap cells
    assert "<blockquote>" in page and "<h2>Codebook definitions</h2>" in page
    assert html.escape(book.code("paperwork").definition) in page


@pytest.mark.slow
def test_markdown_escapes_pipes(small: Path, tmp_path: Path) -> None:
    with sqlite3.connect(small) as db:
        db.execute("UPDATE doc_attributes SET value = 'Bei|jing' WHERE value = 'Beijing'")
    text = rendered(build_report(*opened(Project(small)), quotes=1), "md", tmp_path)
    assert "Bei\\|jing" in text and "| Bei|jing" not in text
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| code |") and "Bei\\|jing" in line)
    rule = lines[lines.index(header) + 1]
    assert (
        len(re.split(r"(?<!\\)\|", header))
        == len(rule.split("|"))
        == 2 + len(["code", "Shanghai", "=1+2", "Bei|jing", "total"])
    )


@pytest.mark.slow
def test_png_is_a_valid_image(sample: Project, tmp_path: Path) -> None:
    import matplotlib.image

    for report, name in [
        (build_report(*opened(sample)), "matrix.png"),
        (build_cooccurrence(*opened(sample)), "cooccurrence.png"),
    ]:
        out = tmp_path / name
        write_report(report, fmt="png", out=out)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = matplotlib.image.imread(out)
        assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 600


def test_options_a_format_cannot_show_are_refused(sample: Project) -> None:
    from phantomcode.cli.report import check_options, format_for

    assert format_for(None, "out/report.XLSX") == "xlsx" and format_for(None, None) == "table"
    with pytest.raises(UsageError, match="unknown format"):
        format_for("pdf", None)
    with pytest.raises(UsageError, match="--wide"):
        check_options("md", wide=True)
    with pytest.raises(UsageError, match="no place for quotes"):
        check_options("csv", quotes=2)


def test_documents_are_grouped_as_reports_group_them(sample: Project) -> None:
    verbatim = sample.documents(canonical=False)
    assert "北京" in set(verbatim["city"]) and "Beijing" in set(verbatim["city"]), "the sample spells Beijing both ways"
    by_city = sample.documents().groupby("city").size()
    assert "北京" not in by_city.index
    tidy = sample.matrix(by="city", tidy=True).drop_duplicates("city")
    assert by_city.to_dict() == {
        city: n for city, n in zip(tidy["city"], tidy["group_documents"], strict=True) if city != "(missing)"
    }


def _hanzi_report(project_from) -> Report:
    notes = {
        f"n{i}.md": f"---\nid: N{i}\n城市: {city}\n---\nThe school demanded five documents.\n"
        for i, city in enumerate(["武汉", "武汉", "成都市", "西安"])
    }
    return build_report(*opened(Project(project_from(notes))), by=["城市"])


@pytest.mark.slow
def test_png_draws_hanzi_labels_and_title_with_an_installed_cjk_font(project_from, tmp_path: Path) -> None:
    import warnings

    from phantomcode.report.png import _cjk_font

    if _cjk_font(["漢"])[1]:
        pytest.skip("no CJK font installed here")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        notes = write_report(_hanzi_report(project_from), fmt="png", out=tmp_path / "a.png")
    assert notes == [] and not [w for w in caught if "Glyph" in str(w.message)], "title and labels drawn in CJK"


def test_png_without_a_cjk_font_warns_once(project_from, tmp_path: Path, monkeypatch) -> None:
    import warnings

    from phantomcode.report import png as report_module

    monkeypatch.setattr(report_module, "_CJK_FONTS", ("No Such Font SC",))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        notes = write_report(_hanzi_report(project_from), fmt="png", out=tmp_path / "a.png")
    assert len(notes) == 1 and "no CJK font is installed" in notes[0] and "fonts-noto-cjk" in notes[0]
    assert not [w for w in caught if "Glyph" in str(w.message)], "one warning, not one per missing glyph"


def test_png_shades_a_small_group_paler_than_a_large_one_at_the_same_share() -> None:
    from phantomcode.report.png import _share_floor

    assert _share_floor(1, 1) < 0.25 < 0.65 < _share_floor(9, 9) < 1.0
    assert _share_floor(0, 5) == 0.0
