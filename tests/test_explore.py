"""Looking into a coded project (phantomcode.explore): keyword in context and codebook stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantomcode import load_codebook
from phantomcode.errors import UsageError
from phantomcode.explore import codebook_stats, kwic


@pytest.fixture
def project(two_interviews: Path) -> Path:
    return two_interviews


def test_kwic_of_a_code_lists_each_matched_word_with_rule_and_flags(project: Path) -> None:
    lines = [(line.keyword, line.rule, line.flags) for line in kwic(project=project, code="paperwork")]
    assert lines == [
        ("wuzheng", "paperwork/terms", ""),
        ("五证", "paperwork/terms", ""),
        ("had no", "paperwork/near[1]", ""),
        ("lease", "paperwork/near[1]", ""),
        ("ask for", "paperwork/near[0]", "negated"),
        ("documents", "paperwork/near[0]", "negated"),
    ]


def test_kwic_context_is_cut_to_the_width_on_one_line(project: Path) -> None:
    [line] = kwic(project=project, term="五证", width=10)
    assert (line.doc_id, line.start, line.end, line.code) == ("BJ-01", 41, 43, None)
    assert (line.left, line.keyword, line.right) == ("e wuzheng ", "五证", " to the st")
    hanzi = list(kwic(project=project, code="paperwork"))[1]  # default width 60; line breaks become spaces
    assert hanzi.right == " to the street office before anything else.  He had no lease"


def test_kwic_terms_are_whole_words_with_star_as_wildcard(project: Path) -> None:
    assert [line.start for line in kwic(project=project, term="schoo*")] == [4, 174, 206]
    assert list(kwic(project=project, term="schoo")) == []  # a whole word, not a prefix
    assert [line.keyword for line in kwic(project=project, term="HOMETOWN")] == ["hometown"]
    assert len(list(kwic(project=project, term="schoo*", limit=2))) == 2


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({}, "nothing to look for"),
        ({"code": "paperwork", "term": "lease"}, "not both"),
        ({"term": "学*"}, "Latin words only"),
        ({"code": "no_such_code"}, "no_such_code"),
    ],
)
def test_kwic_refuses_what_it_cannot_look_for(project: Path, arguments: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        list(kwic(project=project, **arguments))


def test_codebook_stats_count_counted_codings_per_code_and_term(project: Path) -> None:
    stats = {stat.code: stat for stat in codebook_stats(load_codebook(), project=project)}
    assert list(stats) == load_codebook().code_ids()
    paperwork = stats["paperwork"]
    assert (paperwork.segments, paperwork.documents) == (2, 1)  # the negated sentence does not count
    fired = {term.term: (term.segments, term.documents) for term in paperwork.terms if term.segments}
    assert fired == {"wuzheng": (1, 1), "五证": (1, 1), "lease": (1, 1), "have no": (1, 1)}
    assert len(paperwork.terms) > len(fired)  # terms that never fire are listed with zero counts
    assert (stats["residency_duration"].segments, stats["residency_duration"].documents) == (0, 0)
    assert (stats["return_home"].segments, stats["return_home"].learned_segments) == (1, 0)
