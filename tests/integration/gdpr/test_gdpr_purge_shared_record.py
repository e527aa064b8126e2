"""The retention purge on a Salesforce record two mappings write: a student who came to an open
day is one Contact, written by `students` (enrolment) and `registrants` (the registration).
When the enrolment's retention runs out first, the purge clears the enrolment's own fields but
keeps those the registration still justifies (GDPR art. 5(1)(c) both ways: nothing kept
without a purpose, nothing a live purpose needs taken away)."""

from __future__ import annotations

from gdprfixtures import emulator, project_fixture
from syncfixtures import SECRET, SyncProject, registration, student

from connector.gdpr.purge_job import run_purge
from connector.hashing import KeyHasher

__all__ = ["emulator"]

project = project_fixture(SyncProject)

MAIL = "s400010@school.example"
# Unenrolled on 20 November (enrolment keeps P1M after); the open day of 14 November keeps its
# registration P3M after the event: on 28 December only the enrolment has run out.
PURGE_ON = "2026-12-28T09:00:00+00:00"


def test_the_purge_keeps_the_fields_another_mapping_still_justifies(project: SyncProject) -> None:
    project.write_students(
        [
            student(
                "400010", email=MAIL, status="uitgeschreven", status_datum="20-11-2026",
                toestemming_nieuws="nee", toestemming_bellen="nee",
            )
        ]
    )  # fmt: skip
    project.write_registrations([registration("REG-000010", MAIL, voornaam="Sanne")])
    assert project.run().exit_code() == 0
    [before] = project.query(
        f"SELECT Id, Email, FirstName, Birthdate, MailingCity FROM Contact WHERE Email = '{MAIL}'"
    )
    assert before["Birthdate"] and before["MailingCity"]

    outcome = run_purge(
        project.settings(SIS_SYNC_NOW=PURGE_ON), apply=True, hasher=KeyHasher(SECRET)
    )

    assert outcome.exit_code == 0
    [after] = project.query(
        "SELECT Id, Email, FirstName, Birthdate, MailingCity FROM Contact "
        f"WHERE Id = '{before['Id']}'"
    )
    assert after["Birthdate"] is None and after["MailingCity"] is None  # the enrolment's own
    assert after["Email"] == MAIL and after["FirstName"] == before["FirstName"]  # the visit's
    [group] = [g for g in outcome.minimise.groups if g.mapping == "students"]
    assert "Email" not in group.fields and "FirstName" not in group.fields
    assert "Birthdate" in group.fields
