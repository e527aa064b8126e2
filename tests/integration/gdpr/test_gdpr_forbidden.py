"""Forbidden data against the emulator: GDPR art. 9 and 10 by name, art. 87 / UAVG art. 46 by
value, and the declared student-number format (real student numbers are not BSNs)."""

from __future__ import annotations

from typing import Any

import pytest
from gdprfixtures import emulator, project_fixture
from syncfixtures import SyncProject, student
from typer.testing import CliRunner

from connector.cli import app
from connector.errors import ConnectorError
from connector.privacy.policy import FORBIDDEN_NUMBER

__all__ = ["emulator"]

project = project_fixture(SyncProject)

# Student numbers of 8 and 9 digits that pass the BSN 11-check, as one in eleven real ones do.
PASSING_NUMBERS = ["111222333", "123456782", "90817266"]


def _cli(project: SyncProject, *args: str) -> Any:
    result = CliRunner().invoke(
        app, ["--config", str(project.folder / "sync.yaml"), *args], env=project.env
    )
    if isinstance(result.exception, ConnectorError):
        result.exit_code = result.exception.exit_code
    return result


def _add_to_students(project: SyncProject, text: str, *, after: str = "fields:\n") -> int:
    """Insert ``text`` into the shipped students.yaml after ``after``; its 1-based line."""
    path = project.folder / "mappings" / "students.yaml"
    body = path.read_text(encoding="utf-8")
    at = body.index(after) + len(after)
    path.write_text(body[:at] + text + body[at:], encoding="utf-8")
    return body[:at].count("\n") + 1


@pytest.mark.parametrize(
    ("line", "key", "article"),
    [
        ("  Leerling_Dyslexie__c: {from: dyslexie, purposes: [enrolment]}\n",
         "fields.Leerling_Dyslexie__c", "GDPR art. 9"),
        ("  Description: {from: kerkgenootschap, purposes: [enrolment]}\n",
         "fields.Description.from", "GDPR art. 9"),
        ("  Zwanger__c: {from: opmerking, purposes: [enrolment]}\n",
         "fields.Zwanger__c", "GDPR art. 9"),
        ("  Title: {from: VOG_datum, purposes: [enrolment]}\n",
         "fields.Title.from", "GDPR art. 10"),
        ("  Department: {from: eckId, purposes: [enrolment]}\n",
         "fields.Department.from", "UAVG art. 46"),
        ("  Citizen_Id__c: {from: citizen_id, purposes: [enrolment]}\n",
         "fields.Citizen_Id__c", "UAVG art. 46"),
        # F11: accents, a Cyrillic о, identity documents, pupil care, migration background.
        ("  Description: {from: gelóóf, purposes: [enrolment]}\n",
         "fields.Description.from", "GDPR art. 9"),
        ("  Title: {from: gel\u043eof, purposes: [enrolment]}\n",
         "fields.Title.from", "GDPR art. 9"),
        ("  Paspoortnummer__c: {from: opmerking, purposes: [enrolment]}\n",
         "fields.Paspoortnummer__c", "UAVG art. 46"),
        ("  Department: {from: leerlingzorg, purposes: [enrolment]}\n",
         "fields.Department.from", "GDPR art. 9"),
        ("  Migration_Background__c: {from: opmerking, purposes: [enrolment]}\n",
         "fields.Migration_Background__c", "GDPR art. 9"),
    ],
)  # fmt: skip
def test_art9_art10_art87_a_forbidden_word_in_a_mapping_fails_validate_with_exit_2(
    project: SyncProject, line: str, key: str, article: str
) -> None:
    number = _add_to_students(project, line)
    calls = project.api_calls()

    result = _cli(project, "validate")

    assert result.exit_code == 2, result.output
    text = " ".join(str(result.output).split()) + " " + str(result.exception or "")
    assert f"students.yaml:{number}" in text, text
    assert key in text and article in text, text
    # Refused before anything is written: no state, no call to Salesforce.
    assert not (project.folder / "state").exists()
    assert project.api_calls() == calls


# F4: " / " (spaced), what Word writes (en dash), em dash, minus sign, figure dash, non-breaking
# hyphen, and two kinds of separator in one BSN ("111 222-333").
F4_WRITTEN = [
    "111 / 222 / 333",
    "111\u2013222\u2013333",
    "111\u2014222\u2014333",
    "111\u2212222\u2212333",
    "111\u2012222\u2012333",
    "111\u2011222\u2011333",
    "111 \u2013 222 \u2013 333",
    "111 222-333",
]


@pytest.mark.parametrize(
    "written",
    [sep.join(("111", "222", "333")) for sep in ["/", "_", ",", ".", "-", " "]] + F4_WRITTEN,
    ids=repr,
)
def test_art87_uavg46_a_bsn_with_separators_never_reaches_the_emulator(
    project: SyncProject, written: str
) -> None:
    project.write_students([student("150001", huisnummer=written, woonplaats=f"Utrecht {written}")])

    report = project.run()

    assert report.mappings["students"].withheld[FORBIDDEN_NUMBER] == 2, report.summary()
    [contact] = project.query("SELECT Id FROM Contact WHERE SIS_Student_Number__c = '150001'")
    record = project.emulator.client().Contact.get(contact["Id"])
    # Every group of the number (a timestamp's milliseconds may read "222" by chance).
    leaked = {
        k: v
        for k, v in record.items()
        if isinstance(v, str) and all(group in v for group in ("111", "222", "333"))
    }
    assert leaked == {}
    assert record["MailingStreet"] is None and record["MailingCity"] is None
    assert record["LastName"] == "de Vries"  # the rest of the record is sent


def test_uavg46_student_numbers_passing_the_11_check_are_sent_as_shipped(
    project: SyncProject,
) -> None:
    rows = [student(n) for n in PASSING_NUMBERS] + [student("123.456.782")]
    project.write_students(rows)

    shipped = project.run(job="students")

    # The shipped students.yaml declares the EduArte-style format: numbers that pass the
    # 11-check by chance are student numbers, not BSNs.
    contacts = project.query("SELECT SIS_Student_Number__c, Email FROM Contact")
    assert {r["SIS_Student_Number__c"] for r in contacts} == set(PASSING_NUMBERS), shipped.summary()
    # The e-mail addresses are made of the student numbers: sent too, the number is no BSN.
    assert {r["Email"] for r in contacts} == {f"s{n}@school.example" for n in PASSING_NUMBERS}
    # A value outside the format is still checked: written with dots, it is a BSN.
    assert shipped.mappings["students"].rejected == 1


def test_uavg46_without_the_format_the_11_check_rejects_them(project: SyncProject) -> None:
    path = project.folder / "mappings" / "students.yaml"
    text = path.read_text(encoding="utf-8")
    assert 'student_number_format: "[0-9]{6,9}"\n' in text
    path.write_text(text.replace('student_number_format: "[0-9]{6,9}"\n', ""), encoding="utf-8")
    project.write_students([student(n) for n in PASSING_NUMBERS])

    before = project.run(job="students")

    assert before.mappings["students"].rejected == len(PASSING_NUMBERS), before.summary()
    assert project.query("SELECT Id FROM Contact") == []
    # The reason names the setting that fixes it, never the value.
    rejects = before.mappings["students"].rejects
    assert rejects and all("set student_number_format" in r["reason"] for r in rejects)
    assert not [n for r in rejects for n in PASSING_NUMBERS if n in str(r)]
