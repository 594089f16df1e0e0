"""Report queries: counts per group and code, quotes, co-occurrence.

Every report query starts from the ``report_docs`` CTE: the documents the filters leave, each
with one group key per ``by`` attribute (its canonical value, else REPORT_MISSING). Groups thus
partition the documents: each is counted once and the groups' N add up to the filtered N.
Codings are reached document by document (``CROSS JOIN`` keeps that order, ``+c.code`` keeps
SQLite off the code index): a document's codings sit together on disk, so this reads them in
order instead of jumping across the table, about twice as fast on a 30,000-note project.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Collection, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from .base import StoreBase
from .records import Cooccurrence, SqlPart, ValueCount
from .schema import COUNTED, REPORT_MISSING, in_list, json_list, source_condition


class ReportQueries(StoreBase):
    """Counts, quotes and cells of reports and exports, over the documents that filters leave."""

    REPORT_MISSING = REPORT_MISSING

    def report_attribute_names(self) -> list[str]:
        """Attributes a report can group or filter by: every stored attribute, plus ``sector``."""
        return sorted(
            {*(row[0] for row in self.connection.execute("SELECT DISTINCT name FROM doc_attributes")), "sector"}
        )

    def report_attribute_values(self, name: str) -> list[ValueCount]:
        """One attribute's group keys, as reports see them, with their document counts."""
        cte, params = report_docs((name,), {})
        rows = self.connection.execute(f"{cte} SELECT g0, count(*) FROM report_docs GROUP BY g0", params)
        return [ValueCount(row[0], row[1]) for row in rows]

    def report_group_sizes(self, by: Sequence[str], *, where: Mapping[str, Sequence[str]]) -> list[tuple[Any, ...]]:
        """(group key..., documents) for every group that has documents after filtering: named
        tuples with fields ``g0``, ``g1``, ... and ``documents``."""
        cte, params = report_docs(by, where)
        keys = _report_keys(by)
        sql = (
            f"{cte} SELECT {keys}, count(*) FROM report_docs GROUP BY {keys}"
            if by
            else f"{cte} SELECT count(*) FROM report_docs"
        )
        row_type = group_row("GroupSize", len(by), ("documents",))
        return [row_type(*row) for row in self.connection.execute(sql, params)]

    def report_code_counts(
        self,
        by: Sequence[str],
        *,
        where: Mapping[str, Sequence[str]],
        codes: Sequence[str],
        accepted_only: bool = False,
        source: str | None = None,
        doc_ids: Collection[str] | None = None,
    ) -> list[tuple[Any, ...]]:
        """(group key..., code, documents, coded segments) over counted codings; absent pairs are zero.
        Named tuples with fields ``g0``, ``g1``, ..., ``code``, ``documents`` and ``segments``.
        ``doc_ids``: of those documents only (their share of the counts: each document is in one
        group, and its segments are its own)."""
        cte, params = report_docs(by, where, doc_ids=doc_ids)
        keys = "".join(f"r.g{index}, " for index in range(len(by)))
        rows = self.connection.execute(
            f"{cte} SELECT {keys}c.code, count(DISTINCT c.doc_id), count(DISTINCT c.segment_id)"
            f" {report_codings(accepted_only, source)} GROUP BY {keys}c.code",
            [*params, json_list(codes)],
        )
        row_type = group_row("CodeCounts", len(by), ("code", "documents", "segments"))
        return [row_type(*row) for row in rows]

    def report_quotes(
        self,
        by: Sequence[str],
        *,
        where: Mapping[str, Sequence[str]],
        codes: Sequence[str],
        per_cell: int,
        accepted_only: bool = False,
        source: str | None = None,
    ) -> list[dict[str, Any]]:
        """Up to ``per_cell`` exemplar segments per group and code, at most one per document.

        Best first: accepted in review; no negated or hypothetical hit of the code in the segment;
        20 to 300 characters long; more matched words; shorter; earlier. The preference is one
        sortable text key (``quality``), so each document's best segment is a plain ``min()``.
        """
        cte, params = report_docs(by, where)
        counted = counted_condition(accepted_only, source)
        keys = "".join(f"g{index}, " for index in range(len(by)))
        rows = self.connection.execute(
            f"{cte}, hits AS MATERIALIZED (SELECT {keys}c.code, c.doc_id, c.segment_id, s.start, s.end,"
            f"  printf('%d%d%d%05d%07d%010d', 1 - max(({counted}) AND c.status = 'accepted'),"
            "   max(c.negated OR c.hypothetical), (s.end - s.start) NOT BETWEEN 20 AND 300,"
            f"   99999 - min(sum(CASE WHEN {counted} THEN json_array_length(c.matched) ELSE 0 END), 99999),"
            "   min(s.end - s.start, 9999999), s.start) AS quality"
            "  FROM report_docs r CROSS JOIN codings c ON c.doc_id = r.doc_id"
            f"  JOIN segments s ON s.segment_id = c.segment_id WHERE +{in_list('c.code')}"
            f"  GROUP BY c.segment_id, c.code HAVING sum({counted}) > 0),"
            f" best_in_doc AS (SELECT {keys}code, doc_id, segment_id, start, end, min(quality) AS quality"
            "  FROM hits GROUP BY doc_id, code),"
            f" ranked AS (SELECT *, row_number() OVER (PARTITION BY {keys}code ORDER BY quality, doc_id) AS rank"
            "  FROM best_in_doc)"
            f" SELECT {''.join(f'q.g{i}, ' for i in range(len(by)))}q.code, q.rank, q.doc_id, q.start, q.end,"
            "  substr(d.text, q.start + 1, q.end - q.start) AS text,"
            "  (SELECT group_concat(words, ' | ') FROM (SELECT DISTINCT json_extract(m.value, '$.text') AS words"
            "    FROM codings c, json_each(c.matched) m WHERE c.doc_id = q.doc_id AND c.code = q.code"
            f"    AND c.segment_id = q.segment_id AND {counted})) AS matched,"
            "  CASE WHEN substr(q.quality, 1, 1) = '0' THEN 'accepted' ELSE 'auto' END AS status"
            " FROM ranked q JOIN documents d ON d.doc_id = q.doc_id WHERE q.rank <= ?",
            [*params, json_list(codes), per_cell],
        )
        return [dict(row) for row in rows]

    def report_cooccurrence(
        self,
        *,
        where: Mapping[str, Sequence[str]],
        codes: Sequence[str],
        accepted_only: bool = False,
        source: str | None = None,
    ) -> list[Cooccurrence]:
        """(code, other code, documents with both, segments with both) over counted codings.

        On the diagonal (a code with itself) are the code's own documents and segments.
        """
        cte, params = report_docs((), where)
        # One pass over the codings feeds both counts; each unordered pair is counted once
        # (b.code >= a.code) and mirrored, which halves the self-joins.
        rows = self.connection.execute(
            f"{cte}, hits AS MATERIALIZED (SELECT DISTINCT c.doc_id, c.segment_id, c.code"
            f" {report_codings(accepted_only, source)}),"
            " doc_hits AS MATERIALIZED (SELECT DISTINCT doc_id, code FROM hits)"
            " SELECT 'documents', a.code, b.code, count(*) FROM doc_hits a JOIN doc_hits b"
            "  ON b.doc_id = a.doc_id AND b.code >= a.code GROUP BY a.code, b.code"
            " UNION ALL SELECT 'segments', a.code, b.code, count(*) FROM hits a JOIN hits b"
            "  ON b.segment_id = a.segment_id AND b.code >= a.code GROUP BY a.code, b.code",
            [*params, json_list(codes)],
        ).fetchall()
        counts = {(kind, a, b): n for kind, a, b, n in rows}
        pairs = [
            Cooccurrence(a, b, n, counts.get(("segments", a, b), 0)) for kind, a, b, n in rows if kind == "documents"
        ]
        return pairs + [Cooccurrence(b, a, n, segments) for a, b, n, segments in pairs if a != b]

    def report_segment_cells(self) -> Iterator[tuple[Any, ...]]:
        """The rows of ``export segments --format csv``: one cell per ``export.SEGMENT_COLUMNS``, in
        document order, with the matched spans joined as ``words | words`` and the flags as
        ``TRUE``/``FALSE`` in SQL (read as logicals by R's ``read.csv``), so that the export streams
        them to the csv writer.

        Guarding cells against spreadsheet formulas is left to the caller: a Python check per cell
        costs less than the same test as a SQL expression.
        """

        def flag(column: str) -> str:
            return f"CASE WHEN {column} THEN 'TRUE' ELSE 'FALSE' END"

        yield from self.connection.execute(
            "SELECT c.doc_id, c.start, c.end, substr(d.text, c.start + 1, c.end - c.start), c.code, c.rule,"
            " (SELECT group_concat(json_extract(m.value, '$.text'), ' | ') FROM json_each(c.matched) m),"
            f" {flag('c.negated')}, {flag('c.hypothetical')}, c.cue, c.status, s.sector, s.sector_source,"
            " c.codebook_hash, c.source, c.probability, c.model_hash, c.explanation"
            " FROM codings c JOIN segments s USING (segment_id) JOIN documents d ON d.doc_id = c.doc_id"
            " ORDER BY c.doc_id, c.start, c.code"
        )

    def report_codebook_hashes(self) -> list[str]:
        """The codebook hashes the stored documents were coded with (one, unless a re-code is pending)."""
        return [
            row[0]
            for row in self.connection.execute(
                "SELECT DISTINCT coded_with FROM documents WHERE coded_with IS NOT NULL ORDER BY coded_with"
            )
        ]

    def report_coded_at(self) -> str | None:
        """When the project's codings were last made: the finish time of the last completed run."""
        row = self.connection.execute("SELECT max(finished_at) FROM runs WHERE status = 'completed'").fetchone()
        return row[0]


def report_codings(accepted_only: bool, source: str | None = None) -> str:
    """FROM and WHERE joining the filtered documents to their counted codings of the codes in ``?``."""
    return (
        " FROM report_docs r CROSS JOIN codings c ON c.doc_id = r.doc_id"
        f" WHERE {counted_condition(accepted_only, source)} AND +{in_list('c.code')}"
    )


def counted_condition(accepted_only: bool, source: str | None = None) -> str:
    """The counted codings; only accepted ones, only those of one ``source`` ('rules', 'learned')."""
    counted = f"{COUNTED} AND c.status = 'accepted'" if accepted_only else COUNTED
    return counted + source_condition(source)


def _report_keys(by: Sequence[str]) -> str:
    return ", ".join(f"g{index}" for index in range(len(by)))


def report_docs(
    by: Sequence[str], where: Mapping[str, Sequence[str]], *, doc_ids: Collection[str] | None = None
) -> SqlPart:
    """``WITH report_docs(doc_id, g0, g1, ...)``: the filtered documents with a group key per ``by``.

    A key is the attribute's canonical value; an empty or absent value is REPORT_MISSING.
    ``sector`` is the document's own sector (declared, else inferred), falling back to a declared
    ``sector`` attribute in projects coded before sectors were recorded. Filters AND across
    attributes and OR within one attribute; they compare keys, so ``(missing)`` can be chosen.
    ``doc_ids``: only those documents.
    """
    names = list(dict.fromkeys([*by, *where]))
    joins, params, key_of = [], [], {}
    for index, name in enumerate(names):
        joins.append(f" LEFT JOIN doc_attributes a{index} ON a{index}.doc_id = d.doc_id AND a{index}.name = ?")
        params.append(name)
        value = f"nullif(a{index}.value, '')"
        if name == "sector":
            value = f"nullif(d.sector, ''), {value}"
        key_of[name] = f"coalesce({value}, '{REPORT_MISSING}')"
    columns = "".join(f", {key_of[name]} AS g{index}" for index, name in enumerate(by))
    conditions = []
    for name, values in where.items():
        conditions.append(in_list(key_of[name]))
        params.append(json_list(values))
    if doc_ids is not None:
        conditions.append(in_list("d.doc_id"))
        params.append(json_list(doc_ids))
    condition = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return SqlPart(
        f"WITH report_docs AS MATERIALIZED (SELECT d.doc_id{columns} FROM documents d{''.join(joins)}{condition})",
        params,
    )


@cache
def group_row(name: str, groups: int, fields: tuple[str, ...]) -> type[tuple[Any, ...]]:
    """A NamedTuple type for report rows that start with ``groups`` group keys (``g0``, ``g1``, ...):
    one type per shape, so rows stay tuples (callers slice off the keys) and have names."""
    return namedtuple(name, [*(f"g{index}" for index in range(groups)), *fields])
