"""The ``models`` and ``scores`` tables: trained models and the probabilities they gave."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from .base import StoreBase, _now
from .records import ModelRecord, Span, Unit, UnitScore
from .schema import in_list, json_list


class ModelsTable(StoreBase):
    """Trained models, and the probabilities the latest one gave each unit."""

    def save_model(self, record: ModelRecord) -> None:
        """Keep a trained model; the same content hash again only becomes the latest."""
        with self.transaction() as db:
            db.execute("DELETE FROM models WHERE content_hash = ?", (record.content_hash,))
            db.execute(
                "INSERT INTO models (content_hash, kind, codebook_hash, labels, parameters, versions, metrics,"
                " data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.content_hash,
                    record.kind,
                    record.codebook_hash,
                    json.dumps(record.labels),
                    json.dumps(record.parameters),
                    json.dumps(record.versions),
                    json.dumps(record.metrics),
                    record.data,
                    record.created_at or _now(),
                ),
            )

    def latest_model(self, *, kind: str | None = None) -> ModelRecord | None:
        """The model trained last (of ``kind``, if given), or None."""
        where, params = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        row = self.connection.execute(f"SELECT * FROM models {where} ORDER BY model_id DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        return ModelRecord(
            row["content_hash"],
            row["kind"],
            row["codebook_hash"],
            json.loads(row["labels"]),
            json.loads(row["parameters"]),
            json.loads(row["versions"]),
            json.loads(row["metrics"]),
            row["data"],
            row["created_at"],
        )

    def doc_ids_by_model(self, *, not_coded_with: str | None) -> list[str]:
        """IDs of the documents whose codings came from another model than ``not_coded_with``."""
        return [
            row[0]
            for row in self.connection.execute(
                "SELECT doc_id FROM documents WHERE model_hash IS NOT ? ORDER BY doc_id", (not_coded_with,)
            )
        ]

    def count_scores(self) -> int:
        """How many sentences the latest coding scored (one row each in ``scores``)."""
        return int(self.connection.execute("SELECT count(*) FROM scores").fetchone()[0])

    def unit_scores(self) -> Iterator[UnitScore]:
        """(doc_id, start, end, {code: probability}) of every unit the learned layer scored.

        The probabilities are parsed as one JSON array: a project has tens of thousands of scored
        units, and one parser call per unit costs more than the parsing itself."""
        rows = self.connection.execute(
            "SELECT doc_id, start, end, probabilities FROM scores ORDER BY doc_id, start"
        ).fetchall()
        probabilities = json.loads(f"[{','.join(row[3] for row in rows)}]")
        for row, parsed in zip(rows, probabilities, strict=True):
            yield UnitScore(row[0], row[1], row[2], parsed)

    def unit_probabilities(self, units: Iterable[tuple[str, int, int]]) -> dict[Unit, dict[str, float]]:
        """{code: probability} of some units, as ``unit_scores`` gives them (which reads every unit)."""
        wanted = {Unit(*unit) for unit in units}
        rows = self.connection.execute(
            f"SELECT doc_id, start, end, probabilities FROM scores WHERE {in_list('doc_id')}",
            (json_list(sorted({unit.doc_id for unit in wanted})),),
        )
        return {unit: json.loads(row[3]) for row in rows if (unit := Unit(row[0], row[1], row[2])) in wanted}

    def model_spans(self) -> dict[str, list[Span]]:
        """doc_id -> [(start, end, code)] the learned model alone would code: stored probabilities
        at or above the threshold of the model that scored them."""
        thresholds: dict[str, dict[str, float]] = {}
        for row in self.connection.execute("SELECT content_hash, metrics FROM models"):
            thresholds[row[0]] = {fit["code"]: fit["threshold"] for fit in json.loads(row[1])}
        spans: dict[str, list[Span]] = {}
        for row in self.connection.execute("SELECT doc_id, start, end, probabilities, model_hash FROM scores"):
            limits = thresholds.get(row[4], {})
            for code, probability in json.loads(row[3]).items():
                if probability >= limits.get(code, 2.0):
                    spans.setdefault(row[0], []).append(Span(row[1], row[2], code))
        return spans
