"""The learned layer: training from the project's labels, codings beside the rules, explanations,
review suggestions, report --source and projects from before the layer."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from phantomcode import code_project, ingest, suggest_for_review, train
from phantomcode.cli import app
from phantomcode.codebook import load_codebook
from phantomcode.coding import CodingEngine
from phantomcode.review import export_review, import_review
from phantomcode.store import SCHEMA_VERSION, Store
from phantomcode.training import labelled_sentences

pytestmark = pytest.mark.fresh_training  # these tests are about fitting: every fit really trains

# A small codebook whose examples teach the model what its rules miss: `fees` has one rule
# ("fee") and examples about money asked of outsiders in other words.
CODEBOOK = """\
name: learned layer test
version: "1"
codes:
  - id: fees
    label: Fees
    definition: Money only outsiders pay to enrol.
    terms: [fee]
    examples:
      positive:
        - The school wanted thirty thousand yuan before it would take the boy.
        - They were told to pay a sponsorship sum of twenty thousand yuan.
        - Outsiders had to hand over eight thousand yuan to enrol.
        - A charge of five thousand yuan was demanded from migrant parents.
        - The principal asked the family for ten thousand yuan in cash.
      negative:
        - The school was next to a park.
        - Her son liked his teacher very much.
        - The bus to the hospital took an hour.
        - The family rented a room near the market.
        - He works on building sites in the east of the city.
  - id: leases
    label: Leases
    definition: A rental contract in one's own name is demanded.
    terms: [lease]
    examples:
      positive:
        - They had no rental contract in their own name.
        - The landlord refused to register the tenancy agreement.
        - A stamped housing contract was required at the desk.
        - Without a registered rental agreement nothing could start.
      negative:
        - The hospital was crowded in the morning.
        - Her daughter is seven years old.
        - The clinic closed at six in the evening.
        - He sells vegetables at the market.
groups:
  mechanisms: [fees, leases]
"""
PARAPHRASE = "The principal wanted twenty thousand yuan before enrolling the girl."
NEGATED = "The school did not ask for a fee of twenty thousand yuan."
PLAIN = "The weather was cold that week."
NOTE = f"""---
id: N1
city: Beijing
---
{PARAPHRASE} {NEGATED} {PLAIN}

They paid the fee in the end. The landlord would not sign a rental agreement with them.
"""


@pytest.fixture
def codebook(tmp_path: Path) -> Path:
    path = tmp_path / "book.yaml"
    path.write_text(CODEBOOK, encoding="utf-8")
    return path


@pytest.fixture
def coded(tmp_path: Path, codebook: Path) -> Path:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n1.md").write_text(NOTE, encoding="utf-8")
    project = tmp_path / "project.db"
    ingest(notes, project=project, codebook=codebook, jobs=1)
    return project


def codings(project: Path) -> list[dict]:
    with Store.open(project, readonly=True) as store:
        return list(store.coding_rows())


@pytest.mark.slow
def test_training_is_deterministic_same_labels_same_hash(coded: Path) -> None:
    first, second = train(coded), train(coded)
    assert first.model_hash == second.model_hash and len(first.model_hash) == 64
    assert {figures.code for figures in first.codes} == {"fees", "leases"}
    assert first.sources == {"example": 18}
    assert train(coded, seed=1).model_hash != first.model_hash  # the seed is part of what the model is


def test_the_model_codes_what_the_rules_miss_with_probability_hash_and_explanation(coded: Path) -> None:
    found = {(row["text"], row["code"]): row for row in codings(coded)}
    learned = found[(PARAPHRASE, "fees")]
    assert learned["source"] == "learned" and learned["rule"] == "learned"
    assert 0.5 <= learned["probability"] <= 1 and len(learned["model_hash"]) == 64
    rules = found[("They paid the fee in the end.", "fees")]
    assert rules["source"] == "rules" and rules["probability"] is None and rules["model_hash"] is None
    assert (PLAIN, "fees") not in found


def test_an_explanation_names_real_labelled_sentences_and_the_words_that_weighed(coded: Path, codebook: Path) -> None:
    learned = next(row for row in codings(coded) if row["source"] == "learned" and row["text"] == PARAPHRASE)
    explanation = json.loads(learned["explanation"])
    labelled = {s.text: s for s in labelled_sentences(load_codebook(codebook))}
    assert explanation["neighbours"], explanation
    for neighbour in explanation["neighbours"]:
        assert neighbour["text"] in labelled
        assert neighbour["codes"] == sorted(labelled[neighbour["text"]].positives)
    assert "fees" in explanation["neighbours"][0]["codes"]
    assert {item["ngram"] for item in explanation["ngrams"]} & {"yuan", "thousand", "twenty", "wanted"}


def test_a_rule_hit_flagged_as_negated_vetoes_the_model(coded: Path, codebook: Path) -> None:
    from phantomcode.training import learned_model_for

    with Store.open(coded) as store:
        model = learned_model_for(store, load_codebook(codebook))
    fees = model.codes.index("fees")
    # the model alone would code the negated sentence: it speaks of a fee at a school
    assert model.score_texts([NEGATED])[0, fees] >= model.thresholds[fees]
    found = [row for row in codings(coded) if row["text"] == NEGATED]
    assert [(row["code"], row["source"], row["negated"]) for row in found] == [("fees", "rules", 1)]
    # and the engine on its own keeps the same rule
    segment = next(iter(CodingEngine(load_codebook(codebook), learned=model).code_document(NEGATED)))
    assert [(c.code, c.source, c.negated) for c in segment.codings] == [("fees", "rules", True)]


@pytest.mark.slow
def test_a_review_decision_changes_the_next_model(coded: Path, tmp_path: Path) -> None:
    before = train(coded)
    sheet = tmp_path / "review.csv"
    export_review(project=coded, out=sheet, codes=["fees"])
    with sheet.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["decision"] = "reject" if row["segment"] == PARAPHRASE else "accept"
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert import_review(sheet, project=coded).exit_code == 0
    after = train(coded)
    assert after.model_hash != before.model_hash
    assert after.sources["review"] >= 2
    with Store.open(coded) as store:
        from phantomcode.coding.learned import LearnedModel

        model = LearnedModel.from_bytes(store.latest_model().data)
    rejected = next(s for s in model.training if s.text == PARAPHRASE)
    assert rejected.source == "review" and "fees" in rejected.negatives and not rejected.positives


def test_suggestions_include_a_sentence_no_rule_fired_on_and_are_repeatable(coded: Path) -> None:
    suggestions = suggest_for_review(coded, n=5, seed=3)
    assert suggestions == suggest_for_review(coded, n=5, seed=3)
    assert any(all(c.rule_decision == "none" for c in s.candidates) for s in suggestions)
    for suggestion in suggestions:
        assert suggestion.candidates and suggestion.text
        probabilities = [c.probability for c in suggestion.candidates if c.probability is not None]
        assert probabilities == sorted(probabilities, reverse=True)[: len(probabilities)]


@pytest.mark.slow
def test_review_export_suggest_writes_the_suggestions_and_an_accepted_suggestion_becomes_a_coding(
    coded: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "suggest.csv"
    result = export_review(project=coded, out=sheet, suggest=3, seed=0)
    with sheet.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected = suggest_for_review(coded, n=3, seed=0)
    assert result.segments == len(expected) and len(rows) == sum(len(s.candidates) for s in expected)
    header = [name.lstrip("\ufeff") for name in rows[0]]
    # issue 11's layout (what a reviewer reads and fills first, offsets and key last) with the
    # learned layer's source and probability after status
    assert header[:15] == [
        "doc_id",
        "code",
        "label",
        "segment",
        "decision",
        "correct_code",
        "note",
        "before",
        "after",
        "matched",
        "rule",
        "flags",
        "status",
        "source",
        "probability",
    ]
    assert header[-3:] == ["start", "end", "key"]
    uncoded = [row for row in rows if row["status"] == "suggested"]
    assert uncoded, rows
    for row in rows:
        row["decision"] = "accept" if row is uncoded[0] else ""
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert import_review(sheet, project=coded).exit_code == 0
    row = uncoded[0]
    found = [
        c
        for c in codings(coded)
        if (c["start"], c["end"], c["code"]) == (int(row["start"]), int(row["end"]), row["code"])
    ]
    assert found and found[0]["status"] == "accepted"


def test_report_source_counts_rules_learned_or_all(coded: Path, codebook: Path, runner) -> None:
    def fees_segments(*options: str) -> int:
        result = runner.invoke(
            app, ["report", "-p", str(coded), "-c", str(codebook), "--format", "csv", "--measure", "segments", *options]
        )
        assert result.exit_code == 0, result.output
        return next(int(r["segments"]) for r in csv.DictReader(result.stdout.splitlines()) if r["code"] == "fees")

    rules, learned, both = fees_segments("--source", "rules"), fees_segments("--source", "learned"), fees_segments()
    assert rules >= 1 and learned >= 1 and both == rules + learned
    bad = runner.invoke(app, ["report", "-p", str(coded), "--source", "model"])
    assert bad.exit_code == 2 and "rules, learned or all" in bad.output


def test_rules_only_ingest_leaves_the_model_out(tmp_path: Path, codebook: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n1.md").write_text(NOTE, encoding="utf-8")
    project = tmp_path / "rules.db"
    ingest(notes, project=project, codebook=codebook, jobs=1, learned=False)
    assert {row["source"] for row in codings(project)} == {"rules"}
    assert code_project(project=project, codebook=codebook, jobs=1).recoded == 1  # now with the model
    assert "learned" in {row["source"] for row in codings(project)}


def test_a_project_from_before_the_learned_layer_opens_upgrades_and_codes(
    coded: Path, codebook: Path, undo_learned_layer_migration
) -> None:
    with sqlite3.connect(coded) as connection:
        undo_learned_layer_migration(connection)
    with Store.open(coded, readonly=True) as store:  # a reading command upgrades it
        assert store.latest_model() is None
    with Store.open(coded, readonly=True) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert {row["source"] for row in store.coding_rows()} == {"rules"}
    report = code_project(project=coded, codebook=codebook, jobs=1)
    assert report.recoded == 1  # coded with no model before: the model's codings are added
    assert "learned" in {row["source"] for row in codings(coded)}


def test_exports_kwic_and_codebook_stats_show_which_codings_came_from_the_model(
    coded: Path, codebook: Path, runner
) -> None:
    from phantomcode import export_segments
    from phantomcode.explore import codebook_stats, kwic

    out = coded.parent / "segments.csv"
    export_segments(project=coded, out=out)
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    learned = [row for row in rows if row["source"] == "learned"]
    assert learned and all(float(row["probability"]) > 0 and row["model_hash"] for row in learned)
    assert json.loads(learned[0]["explanation"])["neighbours"]
    assert {row["source"] for row in rows} == {"rules", "learned"}
    lines = list(kwic(project=coded, code="fees"))
    assert any(line.keyword == PARAPHRASE and line.rule.startswith("learned p=") for line in lines)
    fees = next(stat for stat in codebook_stats(load_codebook(codebook), project=coded) if stat.code == "fees")
    assert 1 <= fees.learned_segments < fees.segments


@pytest.mark.slow
def test_the_learned_layer_works_beside_an_installed_pipeline(codebook: Path, tmp_path: Path) -> None:
    import spacy

    from phantomcode.coding.learned import fit

    book = load_codebook(codebook)
    model = fit(labelled_sentences(book), book.code_ids())
    spacy.blank("en").to_disk(tmp_path / "pipeline")  # its own vocabulary, not the blank pipeline's
    engine = CodingEngine(book, model=str(tmp_path / "pipeline"), learned=model)
    segment = next(iter(engine.code_document(f"Fresh words here. {PARAPHRASE}")))
    assert [(c.code, c.source) for c in segment.codings] == [("fees", "learned")]


def test_train_cli_prints_the_cross_validated_table_and_evaluate_shows_rules_model_combined(
    coded: Path, codebook: Path, tmp_path: Path, runner
) -> None:
    result = runner.invoke(app, ["train", "-p", str(coded), "-c", str(codebook)])
    assert result.exit_code == 0, result.output
    assert "cross-validated figures of model" in result.stdout
    rows = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    }
    assert set(rows) - {""} == {"fees", "leases"} and rows["fees"][:2] == ["5", "5"]
    assert "trained on 18 labelled sentences (18 example)" in result.stderr
    gold = tmp_path / "gold.csv"
    gold.write_text(f"note_id,sentence,codes\nN1,{PARAPHRASE},fees\nN1,{PLAIN},\n", encoding="utf-8")
    shown = runner.invoke(app, ["evaluate", "--gold", str(gold), "-p", str(coded)])
    assert shown.exit_code == 0, shown.output
    assert "rules alone, learned model alone, combined" in shown.stdout
    side = next(line for line in shown.stdout.splitlines() if line.startswith("│ fees"))
    cells = [c.strip() for c in side.split("│")[2:-1]]
    # support 1; rules miss the paraphrase (recall 0), the model and the combination find it
    assert cells[0] == "1" and cells[2] == "0.000" and cells[5] == "1.000" and cells[8] == "1.000"


def test_the_learned_layer_migration_comes_after_reviewer_decisions() -> None:
    """Migrations are append-only: main's 7 (reviewer_decisions) keeps its number, the learned
    layer's models and scores are 8, the workspace's memos 9 and their passages 10, so a project
    made at schema 7 upgrades by three steps."""
    from phantomcode.store import MIGRATIONS

    names = [name for name, _ in MIGRATIONS]
    assert len(names) == SCHEMA_VERSION == 10
    assert "reviewer" in names[6] and names[7].startswith("learned layer") and "memos" in names[8]
    assert "memo" in names[9]


def test_the_bundled_codebooks_default_model_learns_from_the_shipped_dev_and_training_sets() -> None:
    """The bundled labelled sets ship inside the package (an installed package has no
    sample_data/), byte for byte the files under sample_data/, and every one of them is learned from."""
    import phantomcode
    from phantomcode.training import bundled_gold_paths

    package = Path(phantomcode.__file__).resolve().parent
    samples = Path(__file__).resolve().parents[1] / "sample_data"
    shipped = bundled_gold_paths()
    assert [path.parent for path in shipped] == [package / "data"] * 4
    originals = [
        samples / "gold.csv",
        samples / "train" / "fresh" / "gold.csv",
        samples / "train" / "public" / "gold.csv",
        samples / "train" / "fresh2" / "gold.csv",
    ]
    for copy, original in zip(shipped, originals, strict=True):
        assert copy.read_bytes() == original.read_bytes(), f"{copy.name} is out of date: copy {original} over it"
    texts = {sentence.text for sentence in labelled_sentences(load_codebook()) if sentence.source == "bundled"}
    for original in originals:
        with original.open(encoding="utf-8") as handle:
            first = next(csv.DictReader(handle))["sentence"].strip()
        assert first in texts, original


@pytest.mark.slow
def test_a_writer_is_not_held_up_while_train_fits(coded: Path, monkeypatch) -> None:
    """Review decisions (the workspace retrains in the background) must not wait for a fit: only
    saving the model takes the project's writer lock."""
    import threading

    from phantomcode.coding import learned

    fitting, release = threading.Event(), threading.Event()
    real_fit = learned.fit

    def held_fit(*args, **kwargs):
        fitting.set()
        assert release.wait(30)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(learned, "fit", held_fit)
    run = threading.Thread(target=train, args=(coded,))
    run.start()
    try:
        assert fitting.wait(30)
        with Store.open(coded) as store, store.writer(timeout=0.5):
            pass  # ProjectBusyError here if train held the lock while fitting
    finally:
        release.set()
        run.join(60)
    with Store.open(coded, readonly=True) as store:
        assert store.latest_model(kind="trained") is not None
