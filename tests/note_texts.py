"""Note texts shared by several test files (tests/ is on the path: ``from note_texts import ...``).

One Beijing interview, a Shanghai one and a neutral body, as sentences: a test that names a
sentence (a gold row, a review sheet, an offset) uses the same constant as the note that holds it,
so changing a sentence here changes the note and the expectation together.
"""

from __future__ import annotations

WUZHENG = "The school told him to bring the wuzheng 五证 to the street office before anything else."
LEASE = "He had no lease in his own name, so the permit was impossible."
FULL = "The principal said the school is full this year."
NEGATED = "- The school did not ask for any documents."  # a list item the default codebook flags as negated
BEIJING = (WUZHENG, "", LEASE, FULL)  # two paragraphs: paperwork, office_runaround, class_size

HOMETOWN = "She went back to her hometown for the operation because it was cheaper."
INSURANCE = "Her rural insurance reimbursed nothing in the city hospital."

# codes nothing with the bundled codebook: for tests of reading, limits and skipping
NEUTRAL_BODY = "The respondent moved from Henan in 2015.\n\nHer son attends a private migrant school.\n"


def note(*lines: str, **front: str) -> str:
    """A note file's text: YAML front matter from ``front`` (values written as given, so
    ``year='"2016"'`` stays a quoted string), then each of ``lines`` on its own line."""
    header = "".join(f"{key}: {value}\n" for key, value in front.items())
    return f"---\n{header}---\n" + "".join(f"{line}\n" for line in lines)


# Two interviews as a notes folder (``project_from(TWO_INTERVIEWS)``): Beijing written in hanzi (a
# canonical value differs from the verbatim one), a formula-like attribute for the CSV guard.
TWO_INTERVIEWS = {
    "a.md": note(*BEIJING, NEGATED, id="BJ-01", city="北京", sector="education"),
    "b.md": note(HOMETOWN, INSURANCE, id="SH-01", city="Shanghai", sector="healthcare", respondent_type='"=cmd"'),
}

# A codebook whose regex backtracks for hours on 'aaaa...a c', beside a plain term: the per-note
# time budget must skip the note and keep the others (test_runaway, test_distributed_limits, test_batch).
REDOS_BOOK = """\
name: redos
version: "1"
codes:
  - id: slow
    label: Slow
    definition: A regex that backtracks catastrophically.
    regex: ['(a+)+[bc]']
  - id: school
    label: School
    definition: School.
    terms: [school]
"""
SCHOOL = "Her son could not enrol at the school.\n"
