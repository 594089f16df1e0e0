"""Write the .docx demo notes in notes/docx/ and their sidecar metadata.csv.

The note texts live in NOTES below: one entry per file, one tuple per paragraph,
one string per sentence (sentences of a paragraph are joined with a single space).
The .docx files carry no front matter; their attributes go to notes/docx/metadata.csv.

The output is deterministic: core properties are fixed and every zip member gets the
same timestamp, so re-running this script reproduces the files byte for byte.

    /work/venv/bin/python sample_data/make_docx.py
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

from docx import Document

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "notes" / "docx"
METADATA_COLUMNS = ["file", "id", "city", "year", "sector", "respondent_type", "interviewer"]
FIXED_TIME = dt.datetime(2021, 6, 1, 9, 0, 0)
ZIP_TIME = (2021, 6, 1, 9, 0, 0)

NOTES: dict[str, dict] = {
    "bj_breakfast_vendor_pregnancy.docx": {
        "meta": {
            "id": "BJ-09",
            "city": "Beijing",
            "year": "2019",
            "sector": "healthcare",
            "respondent_type": "migrant_worker",
            "interviewer": "R4",
        },
        "paragraphs": [
            (
                "The respondent sells breakfast from a cart near a subway station in Tongzhou and was seven months "
                "pregnant at the time of the interview.",
                "She is from a county in Anhui and has lived in Beijing with her husband for five years.",
            ),
            (
                "To open a maternity file at the nearest hospital she was asked for her juzhuzheng, a marriage "
                "certificate and a birth permit from her home township.",
                "The birth permit could only be issued in Anhui, and the township told her the village committee had "
                "to sign it first.",
                "Her husband spent a week and two train tickets going back and forth for the stamps.",
                "The hospital then said its maternity beds for the coming months were already booked.",
                "A second hospital told her it could not open a file for her, and the nurse would not say why.",
            ),
            (
                "Her xinnonghe would reimburse almost nothing for a delivery in Beijing, so the couple decided she "
                "would give birth at the county hospital at home.",
                "Her sister-in-law, who is also pregnant, has not even tried to register in Beijing after hearing "
                "this story.",
                "She said she should have planned the pregnancy better.",
            ),
        ],
    },
    "cd_middle_school_homeroom.docx": {
        "meta": {
            "id": "CD-09",
            "city": "Chengdu",
            "year": "2018",
            "sector": "education",
            "respondent_type": "principal_teacher",
            "interviewer": "R1",
        },
        "paragraphs": [
            (
                "The respondent teaches mathematics and is a homeroom teacher at a public middle school in Longquanyi.",
                "About half of her Grade 9 students have a hukou outside Chengdu, mostly in other Sichuan counties.",
            ),
            (
                "To sit the Chengdu senior high school entrance exam, those students need a parent who has held a "
                "residence permit and paid local social insurance for a set number of years.",
                "Each spring she collects their parents' documents, and every year two or three families are missing "
                "the social insurance certificate.",
                "One boy's father had paid into the scheme in Deyang for two years before moving, and those years "
                "did not count.",
                "The school office told the family to ask the exam authority, which told them to ask the school "
                "office.",
                "Non-local students who stay for senior high school in Chengdu must also pay a jiedu fei 借读费 each "
                "term, which local students do not pay.",
            ),
            (
                "The boy went back to his grandparents' county to take the exam there.",
                "She said his mother cried in her office and kept saying it was her fault for letting the payments "
                "lapse.",
                "Everybody in the class pays the same 200 yuan for exam materials, she added, so money was not the "
                "issue.",
            ),
        ],
    },
    "sh_district_education_official.docx": {
        "meta": {
            "id": "SH-09",
            "city": "Shanghai",
            "year": "2017",
            "sector": "education",
            "respondent_type": "official",
            "interviewer": "R3",
        },
        "paragraphs": [
            (
                "The respondent is a deputy section head in the basic education section of a district education "
                "bureau in Shanghai.",
                "He met us in a meeting room with a colleague from the publicity office, who took notes throughout.",
            ),
            (
                "He described the enrolment procedure as a single online form, and he said no family is required to "
                "visit more than one office.",
                "The documents required are the parent's residence permit or registration, proof of social "
                "insurance, the child's hukou ben and a vaccination certificate.",
                "He confirmed that some schools in the district had reached the limit of 40 pupils per class and "
                "that non-local children were then assigned to schools further away.",
                "Asked why some applications were rejected without explanation, he said the system generates the "
                "result and the bureau is not obliged to give reasons.",
            ),
            (
                "He said the city does not charge any fee to non-local children in compulsory education.",
                "He added that private kindergartens were a different matter and outside his responsibility.",
                "The colleague from the publicity office asked us not to quote the figures he had mentioned.",
            ),
        ],
    },
    "gz_labour_ngo_hospital_escort.docx": {
        "meta": {
            "id": "GZ-09",
            "city": "Guangzhou",
            "year": "2020",
            "sector": "healthcare",
            "respondent_type": "ngo_staff",
            "interviewer": "R1",
        },
        "paragraphs": [
            (
                "The respondent works for a labour NGO in Guangzhou that accompanies injured and sick workers to "
                "hospitals and insurance offices.",
                "The office is a two-room flat, and during the interview two workers arrived with folders of receipts.",
            ),
            (
                "She said the usual story starts with a worker paying a large deposit in a Guangzhou hospital "
                "because his rural insurance cannot be used there.",
                "To claim anything afterwards, the hometown insurer wants original receipts, a full medical record "
                "stamped by the hospital and a certificate that the patient was working in Guangzhou.",
                "The hospital records office charges for copies and takes two weeks, and the employer often refuses "
                "to stamp the work certificate.",
                "Workers are then told by the hometown insurer that one stamp is in the wrong place and that they "
                "must go back and get it again.",
            ),
            (
                "Many give up and go home to be treated there, even for conditions that need a specialist.",
                "She said the first thing she has to do with most workers is persuade them that it is not their own "
                "fault.",
                "Last year the NGO itself had to move twice after landlords were pressured to end the lease.",
            ),
        ],
    },
    "hz_cleaner_asthma_son.docx": {
        "meta": {
            "id": "HZ-09",
            "city": "Hangzhou",
            "year": "2016",
            "sector": "healthcare",
            "respondent_type": "migrant_worker",
            "interviewer": "R2",
        },
        "paragraphs": [
            (
                "The respondent is a 30-year-old woman from Zhoukou in Henan who works as a cleaner in an office "
                "building in Hangzhou.",
                "Her four-year-old son has asthma and has been in hospital in Hangzhou three times.",
            ),
            (
                "The boy is insured under xinnonghe in Henan, and each stay cost the family between 5,000 and 8,000 "
                "yuan, of which the county paid back less than a fifth.",
                "Hangzhou's children's insurance would cover most of the costs, but it is only open to children "
                "whose parents hold a residence permit and have paid local social insurance for a year.",
                "Her employer, a cleaning company, pays her in cash and has never given her a contract.",
                "She had no stamped rental agreement in her own name.",
                "The community office told her to get the residence permit first, and the police station told her to "
                "bring a letter from the community office.",
                "The hospital's insurance desk told her that the boy's card could not be used and gave no reason.",
            ),
            (
                "After the third stay, she took the boy back to Zhoukou, where her mother looks after him and the "
                "county hospital is cheap.",
                "She cries on the phone every week, she said, and feels it is her own fault for being a bad planner.",
                "Her neighbour's child also has asthma, and that family never even tried the Hangzhou hospital, "
                "because they had heard about her bills.",
            ),
        ],
    },
    "dg_factory_clinic_doctor.docx": {
        "meta": {
            "id": "DG-09",
            "city": "Dongguan",
            "year": "2017",
            "sector": "healthcare",
            "respondent_type": "doctor_hospital",
            "interviewer": "R2",
        },
        "paragraphs": [
            (
                "The respondent is a doctor who runs the clinic inside a large electronics factory in Qingxi town.",
                "The clinic sees about 80 workers a day, mostly for colds, minor injuries and stomach problems.",
            ),
            (
                "Serious cases are sent to the town hospital, and workers who have not yet passed the probation "
                "period have no Dongguan insurance at all.",
                "Workers who are covered only by rural insurance at home get almost nothing back for treatment in "
                "Dongguan.",
                "He tries to manage chronic conditions in the clinic for as long as possible so that workers are not "
                "forced to pay hospital prices.",
            ),
            (
                "Each year a few workers with serious diagnoses resign and go home for treatment, and he helps them "
                "copy their records for the hometown hospital.",
                "Younger workers often refuse to see a specialist at all, because they have heard from colleagues "
                "about bills of several thousand yuan.",
                "He said he checks every worker's factory badge and insurance status at the door, as the company "
                "requires, and that nobody takes it as an insult.",
                "Some workers, he said, believe that they lost their insurance because they did not understand the "
                "forms, and they blame themselves for it.",
            ),
        ],
    },
}


def render_docx(paragraphs: list[tuple[str, ...]]) -> bytes:
    """Return the bytes of a .docx with one Word paragraph per paragraph of text."""
    doc = Document()
    props = doc.core_properties
    props.author = "phantomcode sample data"
    props.last_modified_by = "phantomcode sample data"
    props.title = ""
    props.comments = ""
    props.keywords = ""
    props.subject = ""
    props.category = ""
    props.revision = 1
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    props.last_printed = FIXED_TIME
    for sentences in paragraphs:
        doc.add_paragraph(" ".join(sentences))
    raw = io.BytesIO()
    doc.save(raw)
    return _normalise_zip(raw.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the zip container with fixed member timestamps and a stable order."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            dst.writestr(member, src.read(info.filename))
    return out.getvalue()


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rows = []
    for file_name, note in NOTES.items():
        (OUT_DIR / file_name).write_bytes(render_docx(note["paragraphs"]))
        rows.append({"file": file_name, **note["meta"]})
    with open(OUT_DIR / "metadata.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=METADATA_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} .docx files and metadata.csv to {OUT_DIR}")


if __name__ == "__main__":
    main()
