"""``Project``, the notebook-facing view of a store: info, documents, segments, matrix, quotes,
co-occurrence, each the same numbers the CLI shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from note_texts import HOMETOWN, INSURANCE, NEGATED  # tests/ is on the path

from phantomcode import Project
from phantomcode.errors import ProjectError, UsageError


@pytest.fixture
def project(two_interviews: Path) -> Project:
    return Project(two_interviews)


def test_info_counts_documents_codings_and_attribute_values(project: Project) -> None:
    info = project.info()
    assert (info.documents, info.codings, info.counted_codings) == (2, 7, 6)  # one coding is negated
    assert info.attributes["city"] == [("Beijing", 1), ("Shanghai", 1)]
    assert info.last_run is not None and info.codebook is not None


def test_documents_are_canonical_unless_asked_for_verbatim_values(project: Project) -> None:
    assert project.documents().set_index("doc_id")["city"].to_dict() == {"BJ-01": "Beijing", "SH-01": "Shanghai"}
    verbatim = project.documents(canonical=False).set_index("doc_id")
    assert verbatim.loc["BJ-01", "city"] == "北京" and verbatim.loc["BJ-01", "source"] == "a.md"
    assert verbatim.loc["SH-01", "text"] == f"{HOMETOWN}\n{INSURANCE}\n"


def test_segments_drop_negated_codings_when_counted_only(project: Project) -> None:
    every, counted = project.segments(), project.segments(counted_only=True)
    assert (len(every), len(counted)) == (7, 6)
    assert every.loc[every["negated"], "text"].tolist() == [NEGATED]
    assert not counted["negated"].any()


def test_matrix_counts_documents_per_code_and_city(project: Project) -> None:
    matrix = project.matrix(by="city")
    assert list(matrix.columns) == ["Beijing", "Shanghai"]
    assert matrix.loc["paperwork"].tolist() == [1, 0]  # two coded sentences, one respondent
    assert matrix.loc["reimbursement_gap"].tolist() == [0, 1]
    assert matrix.loc["residency_duration"].tolist() == [0, 0]  # zeros included
    segments = project.matrix(by="city", measure="segments")
    assert segments.loc["paperwork", "Beijing"] == 2
    tidy = project.matrix(by="city", tidy=True).set_index(["city", "code"])
    assert tidy.loc[("Beijing", "paperwork"), ["documents", "segments", "group_documents", "share"]].tolist() == [
        1,
        2,
        1,
        1.0,
    ]


def test_matrix_filters_and_refuses_unknown_names(project: Project) -> None:
    only_health = project.matrix(by="city", where={"sector": "healthcare"})
    assert list(only_health.columns) == ["Shanghai"]
    with pytest.raises(UsageError, match="religion"):
        project.matrix(by="religion")


def test_quotes_and_cooccurrence(project: Project) -> None:
    quotes = project.quotes("paperwork", by="city", n=2)
    assert set(quotes["doc_id"]) == {"BJ-01"} and len(quotes) == 1  # one quote per document at most
    both = project.cooccurrence()
    assert both.loc["paperwork", "office_runaround"] == 1 and both.loc["paperwork", "return_home"] == 0
    assert both.loc["return_home", "return_home"] == 1  # the diagonal: the code's own documents


def test_a_file_that_is_not_a_project_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database", encoding="utf-8")
    with pytest.raises(ProjectError):
        Project(path)
