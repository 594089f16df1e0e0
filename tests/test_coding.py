"""The coding engine: rule kinds, negation, offsets, sentence splitting, sectors, workers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from phantomcode.codebook import load_codebook
from phantomcode.coding import (
    MAX_BLOCK_CHARS,
    CodeMatcher,
    CodingEngine,
    Segment,
    blank_pipeline,
    check_examples,
    detect_language,
    set_lemmas,
    split_paragraphs,
)
from phantomcode.errors import UsageError

TEST_CODEBOOK = """\
name: engine test
version: "1"
unit: sentence
negation:
  window: {en: 5, zh: 6}
  before: [not, "n't", no, without, 不需要, 没有要求]
  after: [not needed, 不需要]
  hypothetical_before: [if, 如果]
  terminators: [but, 但是]
  ignore: [not only]
attributes:
  sector:
    education: [schooling, 教育]
    healthcare: [health]
sectors:
  education: [school, 学校]
  healthcare: [hospital, 医院]
groups:
  mechanisms: [paperwork, fees, class_size, points]
  consequences: [gone]
codes:
  - id: paperwork
    label: Paperwork
    definition: Documents demanded or missing.
    terms: [require document, hukou book, 户口本, 暂住证, wuzheng]
    near:
      - all_of: [[ask for, demand], [lease, contract, 合同]]
        within: 4
      - all_of: [[have no, without, 没有], [lease, hukou book, 户口本]]
        within: 2
    examples:
      positive: [They required documents.]
      negative: [They did not ask for a lease.]
  - id: fees
    label: Fees
    definition: Extra fees.
    terms: ["reimburs* rate*", jiedu fei, 借读费]
    regex: ['\\b\\d[\\d,]*\\s*yuan\\b']
  - id: class_size
    label: Class size
    definition: Full classes.
    regex: ['\\b(4\\d|5\\d)\\s+pupils\\b', '每班\\d+人']
    veto:
      terms: [small class]
  - id: points
    label: Points
    definition: Points.
    terms: ["=points", 积分]
    flag_negation: false
  - id: gone
    label: Gone home
    definition: Went home.
    patterns:
      - [{LEMMA: {IN: [go, send]}}, {LOWER: back}, {LOWER: to}, {IS_TITLE: true}]
"""


@pytest.fixture(scope="module")
def codebook_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("codebook") / "test.yaml"
    path.write_text(TEST_CODEBOOK, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def engine(codebook_path: Path) -> CodingEngine:
    return CodingEngine(load_codebook(codebook_path))


def codings(engine: CodingEngine, text: str, **attributes: str) -> dict[str, object]:
    """code -> its Coding, over all segments (the tests use one code per text)."""
    return {c.code: c for s in engine.code_document(text, attributes) for c in s.codings}


def assert_offsets(text: str, segments: list[Segment]) -> None:
    for segment in segments:
        assert text[segment.start : segment.end] == text[segment.start : segment.end].strip() != ""
        for coding in segment.codings:
            assert (coding.start, coding.end) == (segment.start, segment.end)
            for span in coding.matched:
                assert text[span.start : span.end] == span.text
                assert segment.start <= span.start < span.end <= segment.end


# -- terms ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["The school Required Documents.", "It requires documents.", "They require document copies", "REQUIRING DOCUMENTS"],
)
def test_terms_match_on_lemmas_case_insensitively(engine: CodingEngine, text: str) -> None:
    coding = codings(engine, text)["paperwork"]
    assert coding.rule == "paperwork/terms"
    assert coding.matched[0].term == "require document"
    assert not coding.negated


def test_terms_do_not_match_other_words(engine: CodingEngine) -> None:
    assert "paperwork" not in codings(engine, "The requirement is a documentary.")


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("The reimbursement rate was low.", "reimbursement rate"),
        ("Reimbursed rates differ.", "Reimbursed rates"),
        ("reimbursing rates", "reimbursing rates"),
    ],
)
def test_glob_terms_match_any_ending(engine: CodingEngine, text: str, matched: str) -> None:
    coding = codings(engine, text)["fees"]
    assert [m.text for m in coding.matched] == [matched]
    assert coding.matched[0].term == "reimburs* rate*"


def test_glob_needs_the_rest_of_the_phrase(engine: CodingEngine) -> None:
    assert "fees" not in codings(engine, "The reimbursement was low.")


def test_exact_form_term_does_not_match_other_forms(engine: CodingEngine) -> None:
    assert "points" in codings(engine, "She has enough points.")
    assert "points" not in codings(engine, "At one point she pointed at the door.")


def test_hanzi_and_pinyin_match_in_english_and_chinese_paragraphs(engine: CodingEngine) -> None:
    english = "He had the hukou book and the 户口本, and the wuzheng 五证."
    found = codings(engine, english)["paperwork"]
    assert {m.text for m in found.matched} >= {"hukou book", "户口本", "wuzheng"}
    chinese = "学校要求wuzheng和户口本。"
    assert {m.text for m in codings(engine, chinese)["paperwork"].matched} == {"wuzheng", "户口本"}


# -- regex, near, patterns, veto -----------------------------------------------------------------
def test_regex_hits_are_mapped_to_the_exact_characters(engine: CodingEngine) -> None:
    text = "The school asked for 3,000 yuan up front."
    coding = codings(engine, text)["fees"]
    assert coding.rule == "fees/regex[0]"
    assert [(m.text, text[m.start : m.end]) for m in coding.matched] == [("3,000 yuan", "3,000 yuan")]


def test_regex_on_chinese_text(engine: CodingEngine) -> None:
    assert codings(engine, "现在每班45人。")["class_size"].matched[0].text == "每班45人"


def test_near_fires_within_the_window_only(engine: CodingEngine) -> None:
    near = codings(engine, "They asked for a signed lease.")["paperwork"]
    assert near.rule == "paperwork/near[0]"
    assert [m.text for m in near.matched] == ["asked for", "lease"]
    far = "They asked for many other things and then also a lease."
    assert "paperwork" not in codings(engine, far)


def test_near_needs_every_set_in_the_same_sentence(engine: CodingEngine) -> None:
    assert "paperwork" not in codings(engine, "They asked for it. The lease was fine.")


def test_token_patterns(engine: CodingEngine) -> None:
    coding = codings(engine, "In the end they went back to Henan.")["gone"]
    assert coding.rule == "gone/patterns[0]"
    assert coding.matched[0].text == "went back to Henan"
    assert "gone" not in codings(engine, "They went back to the office.")


def test_veto_cancels_the_code_in_its_unit_only(engine: CodingEngine) -> None:
    text = "She loves her small class of 45 pupils. Now there are 48 pupils in each room."
    segments = engine.code_document(text)
    assert [text[s.start : s.end] for s in segments] == ["Now there are 48 pupils in each room."]
    vetoed = [c for c in engine.explain(text) if c.vetoed_by]
    assert vetoed[0].vetoed_by == "class_size/veto/terms: small class"


# -- negation and hypotheticals ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("The school did not ask for a lease.", "not"),
        ("The school didn't ask for a lease.", "n't"),
        ("A hukou book was not needed.", "not needed"),
        ("学校不需要户口本。", "不需要"),
        ("户口本不需要。", "不需要"),
        ("学校没有要求户口本。", "没有要求"),
    ],
)
def test_negated_hits_are_flagged_not_dropped(engine: CodingEngine, text: str, cue: str) -> None:
    coding = codings(engine, text)["paperwork"]
    assert coding.negated and coding.cue == cue


@pytest.mark.parametrize(
    "text",
    [
        "The school did not pay, but it asked for a lease.",  # terminator
        "It was not the school that, after many long weeks, asked for a lease.",  # outside the window
        "Not only the school asked for a lease.",  # ignored trigger
        "She had no lease.",  # the trigger is part of the rule's own words
        "我们没有户口本。",
        "学校不收钱，但是要求户口本。",
    ],
)
def test_hits_outside_a_negation_scope_are_clean(engine: CodingEngine, text: str) -> None:
    coding = codings(engine, text)["paperwork"]
    assert not coding.negated and not coding.hypothetical


def test_negation_does_not_cross_sentences(engine: CodingEngine) -> None:
    assert not codings(engine, "No. They asked for a lease.")["paperwork"].negated


@pytest.mark.parametrize("text", ["If they ask for a lease we are stuck.", "如果学校要户口本怎么办？"])
def test_hypotheticals_are_flagged(engine: CodingEngine, text: str) -> None:
    coding = codings(engine, text)["paperwork"]
    assert coding.hypothetical and not coding.negated


def test_codes_can_switch_negation_off(engine: CodingEngine) -> None:
    coding = codings(engine, "He gets no points at all.")["points"]
    assert not coding.negated


def test_a_clean_hit_wins_over_a_negated_one(engine: CodingEngine) -> None:
    coding = codings(engine, "They did not ask for a lease, but they asked for a contract.")["paperwork"]
    assert not coding.negated
    assert [m.text for m in coding.matched] == ["asked for", "contract"]
    only_negated = codings(engine, "They did not ask for a lease.")["paperwork"]
    assert only_negated.negated


def test_one_coding_per_code_per_segment(engine: CodingEngine) -> None:
    text = "They required documents, the hukou book and the 户口本."
    [segment] = engine.code_document(text)
    assert [c.code for c in segment.codings] == ["paperwork"]
    assert [m.text for m in segment.codings[0].matched] == ["required documents", "hukou book", "户口本"]


# -- segmentation and offsets --------------------------------------------------------------------
def test_chinese_sentences_end_at_chinese_punctuation(engine: CodingEngine) -> None:
    text = "学校要户口本。我们有暂住证！真的吗？借读费很贵"
    segments = engine.code_document(text)
    assert [text[s.start : s.end] for s in segments] == ["学校要户口本。", "我们有暂住证！", "借读费很贵"]


def test_line_breaks_and_blank_lines_end_segments(engine: CodingEngine) -> None:
    text = "Interview notes\nThey asked for a lease\n\nThe hukou book was there"
    segments = engine.code_document(text)
    assert [text[s.start : s.end] for s in segments] == ["They asked for a lease", "The hukou book was there"]


def test_hard_wrapped_paragraphs_keep_sentences_across_lines(engine: CodingEngine) -> None:
    line = "They talked about the new rules for a long time in the office and then they"
    text = f"{line}\nasked for a lease, which was a real problem for everyone in the room there\nin the end."
    [segment] = engine.code_document(text)
    assert (segment.start, segment.end) == (0, len(text))


def test_offsets_slice_back_in_awkward_texts(engine: CodingEngine) -> None:
    text = (
        "  \tThe school  asked for\ta lease.\r\n\r\n\n  学校要求户口本。  \n\u3000他们没有暂住证！\n\n"
        "Hukou  book   and 户口本 ,  wuzheng\u00a0五证.   \n\n  If  they ask for 3,000 yuan...  "
    )
    segments = engine.code_document(text)
    assert len(segments) == 5
    assert_offsets(text, segments)


def test_offsets_slice_back_on_generated_texts(engine: CodingEngine) -> None:
    pieces = [
        "They asked for a lease.",
        "学校要求户口本。",
        "没有暂住证！",
        "hukou book",
        "\n",
        "\n\n",
        "  ",
        "\t",
        "did not",
        "3,000 yuan",
        "If",
        "wuzheng",
        "，",
        "reimbursed rates",
        "  \n \n",
    ]
    rng = random.Random(7)
    for _ in range(40):
        text = "".join(rng.choice(pieces) + rng.choice(["", " "]) for _ in range(rng.randint(1, 25)))
        assert_offsets(text, engine.code_document(text))


def test_split_paragraphs_strips_and_keeps_positions() -> None:
    text = "\n  first para\nsame para  \n\n\n second\r\n \r\nthird"
    assert [text[s:e] for s, e in split_paragraphs(text)] == ["first para\nsame para", "second", "third"]


def test_detect_language() -> None:
    assert detect_language("The five documents (wuzheng 五证) were demanded.") == "en"
    assert detect_language("他说hukou ben很难办。") == "zh"


def test_paragraph_unit(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(TEST_CODEBOOK.replace("unit: sentence", "unit: paragraph"), encoding="utf-8")
    engine = CodingEngine(load_codebook(path))
    text = "One. They asked for a lease.\nMore.\n\nNothing here."
    [segment] = engine.code_document(text)
    assert (segment.unit, text[segment.start : segment.end]) == ("paragraph", "One. They asked for a lease.\nMore.")


# -- sectors ---------------------------------------------------------------------------------------
def test_declared_sector_wins_and_is_normalised(engine: CodingEngine) -> None:
    [segment] = engine.code_document("The hospital asked for a lease.", {"sector": "Schooling"})
    assert (segment.sector, segment.sector_source) == ("education", "declared")


def test_sector_inferred_from_segment_then_document(engine: CodingEngine) -> None:
    text = "The hospital asked for a lease. They asked for a contract too. The school was nice. 学校好。"
    first, second = engine.code_document(text)
    assert (first.sector, first.sector_source) == ("healthcare", "inferred")
    assert (second.sector, second.sector_source) == ("education", "inferred")  # 2 school cues vs 1
    [alone] = engine.code_document("They asked for a lease.")
    assert (alone.sector, alone.sector_source) == (None, None)


# -- many documents, workers, models -------------------------------------------------------------
def test_code_documents_keeps_order_and_codes_each_as_alone(engine: CodingEngine) -> None:
    items = [(f"They asked for a lease number {i}." if i % 3 else "Nothing.", {}) for i in range(30)]
    serial = list(engine.code_documents(items))
    assert [bool(s) for s in serial] == [bool(i % 3) for i in range(30)]
    assert [list(engine.code_document(text)) for text, _ in items] == [list(s) for s in serial]


def test_missing_model_is_a_usage_error(engine: CodingEngine) -> None:
    with pytest.raises(UsageError, match="not installed"):
        CodingEngine(engine.codebook, model="xx_no_such_pipeline_sm")


def test_installed_pipeline_can_replace_the_blank_one(engine: CodingEngine, tmp_path: Path) -> None:
    import spacy

    spacy.blank("en").to_disk(tmp_path / "pipeline")
    custom = CodingEngine(engine.codebook, model=str(tmp_path / "pipeline"))
    coding = codings(custom, "The school did not ask for a lease. 学校要户口本。")
    assert coding["paperwork"].rule == "paperwork/terms"  # the Chinese sentence, clean


def test_check_examples_reports_rule_and_reason(engine: CodingEngine) -> None:
    results = {r.kind: r for r in check_examples(engine.codebook, engine)}
    assert results["positive"].passed and results["positive"].detail.startswith("paperwork/terms fired")
    assert results["negative"].passed


# -- the bundled codebook on hard cases ------------------------------------------------------------
@pytest.fixture(scope="module")
def default_engine(bundled_engine: CodingEngine) -> CodingEngine:
    return bundled_engine


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("She had no stamped rental agreement, so the street office would not sign.", "paperwork"),
        ("学校要求提供五证，我们没有暂住证。", "paperwork"),
        ("He needs seven consecutive years of social insurance.", "residency_duration"),
        ("The district enforces 45 pupils per class and the school is full.", "class_size"),
        ("The xinnonghe would not reimburse anything in the city.", "reimbursement_gap"),
        ("The migrant school was demolished last summer.", "service_shutdown"),
        ("They sent the boy back to Henan to live with his grandparents.", "return_home"),
        ("只能怪自己没文化。", "self_blame"),
    ],
)
def test_default_codebook_finds_the_mechanisms(default_engine: CodingEngine, text: str, code: str) -> None:
    coding = codings(default_engine, text)[code]
    assert not coding.negated and not coding.hypothetical


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The teacher praised her small class of 30 pupils.", "class_size"),
        ("The doctor checked his insurance card as usual.", "reimbursement_gap"),
        ("She collects supermarket points for cooking oil.", "points_system"),
        ("The school was closed for the Spring Festival holiday.", "service_shutdown"),
        ("They went back home for the Spring Festival.", "return_home"),
    ],
)
def test_default_codebook_ignores_harmless_senses(default_engine: CodingEngine, text: str, code: str) -> None:
    assert code not in codings(default_engine, text)


def test_default_codebook_flags_negated_demands(default_engine: CodingEngine) -> None:
    assert codings(default_engine, "The school did not ask for any documents.")["paperwork"].negated


def test_paragraphs_analysed_together_keep_their_own_sentences(default_engine: CodingEngine) -> None:
    note = (
        "Paperwork\n\nThe school asked for the five documents\n\n学校要求户口本。\n\n"
        "It was a hard\nwinter. The office never asked for a lease"
    )
    segments = default_engine.code_document(note)
    texts = [note[s.start : s.end] for s in segments]
    assert texts == [
        "The school asked for the five documents",
        "学校要求户口本。",
        "The office never asked for a lease",
    ]
    assert [c.negated for s in segments for c in s.codings if c.code == "paperwork"] == [False, False, True]


def test_code_matcher_is_shaped_like_spacy_matchers(engine: CodingEngine) -> None:
    nlp = blank_pipeline()
    matcher = CodeMatcher(nlp)
    matcher.add("a/terms", terms=["hukou book", "fee*"])
    matcher.add("a/patterns[0]", patterns=[[{"LOWER": "was"}, {"LOWER": "closed"}]])
    matcher.add("a/regex[0]", regex=[r"\d+ yuan"])
    assert len(matcher) == 3 and "a/terms" in matcher and "b/terms" not in matcher
    assert not matcher.needs_lemmas  # every test is on lower-case word forms
    doc = nlp("The Hukou Books and fees: 30 yuan; it was closed.")
    hits = matcher(doc)
    assert [(h.key, doc.text[h.start_char : h.end_char], h.term) for h in hits] == [
        ("a/terms", "Hukou Books", "hukou book"),
        ("a/terms", "fees", "fee*"),
        ("a/regex[0]", "30 yuan", r"\d+ yuan"),
        ("a/patterns[0]", "was closed", None),
    ]


@pytest.mark.slow  # scale: 1.2 million characters
def test_a_paragraph_over_spacys_length_limit_is_cut_at_sentence_ends(engine: CodingEngine) -> None:
    sentence = "They asked for a lease and the five documents. "
    text = sentence * 25_000  # 1.2 million characters in one paragraph, over spaCy's 1,000,000 limit
    spans = split_paragraphs(text)
    assert len(spans) > 1 and all(end - start <= MAX_BLOCK_CHARS for start, end in spans)
    assert all(text[start:end].endswith(".") for start, end in spans)
    segments = engine.code_document(text)
    assert len(segments) == 25_000
    assert all(text[s.start : s.end] == sentence.strip() for s in segments)


# -- how terms and patterns match word forms ---------------------------------------------------------
def _hits(matcher_setup: dict, text: str) -> list[tuple[str, str, str | None]]:
    """(key, matched text, term) of every hit of a fresh matcher built with ``matcher_setup``."""
    nlp = blank_pipeline()
    matcher = CodeMatcher(nlp)
    for key, rules in matcher_setup.items():
        matcher.add(key, **rules)
    doc = nlp(text)
    return [(h.key, text[h.start_char : h.end_char], h.term) for h in matcher(doc)]


def test_terms_match_every_form_of_their_lemma_and_curly_apostrophes() -> None:
    setup = {"a": {"terms": ["stamp", "residents' committee"]}}
    assert _hits(setup, "He Stamped it; the residents’ committee agreed.") == [
        ("a", "Stamped", "stamp"),
        ("a", "residents’ committee", "residents' committee"),
    ]


def test_the_term_spelled_as_the_text_is_the_one_reported() -> None:
    setup = {"a": {"terms": ["refuse", "refused", "did not even try", "didn't even try"]}}
    assert _hits(setup, "They refused. She did not even try.") == [
        ("a", "refused", "refused"),
        ("a", "did not even try", "did not even try"),
    ]


def test_a_term_with_too_many_spellings_becomes_a_token_pattern() -> None:
    term = "go send take bring move"  # 5 verbs of 4-5 forms each: over MAX_PHRASE_SPELLINGS phrases
    assert _hits({"a": {"terms": [term]}}, "They went sent took brought moved.") == [
        ("a", "went sent took brought moved", term)
    ]
    many, few = CodeMatcher(blank_pipeline()), CodeMatcher(blank_pipeline())
    many.add("a", terms=[term])
    few.add("a", terms=["go send"])
    assert (many.pattern_count, few.pattern_count) == (1, 0), "the spellings went to a token pattern"


def test_pattern_lemma_tests_are_rewritten_or_fall_back_to_lemmas() -> None:
    rewritten = {
        "a": {"patterns": [[{"LEMMA": "blame"}, {"LOWER": {"IN": ["himself", "herself"]}}]]},
        "b": {"patterns": [[{"LEMMA": {"NOT_IN": ["be", "have"]}}, {"LOWER": "closed"}]]},
    }
    assert _hits(rewritten, "He blamed himself. It was closed. They closed.") == [
        ("a", "blamed himself", None),
        ("b", "They closed", None),
    ]
    nlp = blank_pipeline()
    matcher = CodeMatcher(nlp)
    matcher.add("c", patterns=[[{"LEMMA": {"REGEX": "^blam"}}, {"LOWER": "himself"}]])
    assert matcher.needs_lemmas  # a REGEX on lemmas has no LOWER equivalent
    doc = nlp("He blamed himself.")
    set_lemmas(doc)
    assert [doc.text[h.start_char : h.end_char] for h in matcher(doc)] == ["blamed himself"]


def test_the_matcher_refuses_a_doc_without_the_lemmas_its_patterns_test() -> None:
    """As spaCy's Matcher does for LEMMA without a lemmatizer: matched anyway, the pattern would
    silently find nothing."""
    nlp = blank_pipeline()
    matcher = CodeMatcher(nlp)
    matcher.add("c", patterns=[[{"LEMMA": {"REGEX": "^blam"}}, {"LOWER": "himself"}]])
    with pytest.raises(UsageError, match=r"set_lemmas\(doc\)"):
        matcher(nlp("He blamed himself."))
    assert matcher(nlp("")) == []  # no token, so no lemma is missing
