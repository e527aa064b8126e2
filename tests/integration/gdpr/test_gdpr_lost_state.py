"""Erasure and export with a lost local state, against the emulator (GDPR art. 17, 19, 15):
the identifiers on the records found in Salesforce are tombstoned (a later registration by the
e-mail address or a SIS row by the student number does not bring the person back), the export
credits a found record to every mapping that matched it with the union of their purposes, and
an --email that is not an address at all is a usage error that records no request."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from gdprfixtures import EMAIL, NUMBER, emulator, invoke, project_fixture, seed
from syncfixtures import SECRET, SyncProject, registration, student

from connector.hashing import KeyHasher
from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)
HASHER = KeyHasher(SECRET)


def _store(project: SyncProject):
    return open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}")


def _contacts(project: SyncProject) -> list[str]:
    return [r["Id"] for r in project.query("SELECT Id FROM Contact")]


def _only_a_student(project: SyncProject) -> None:
    """The repro: a student synced from the SIS (never a visitor), then the state is lost."""
    project.write_students([student(NUMBER, email=EMAIL)])
    assert project.run().exit_code() == 0
    assert len(_contacts(project)) == 1
    shutil.rmtree(project.folder / "state")


def test_art17_erase_by_student_number_with_a_lost_state_tombstones_the_email(
    project: SyncProject,
) -> None:
    _only_a_student(project)

    result = invoke(project, "erase", "--student-number", NUMBER, "--apply")

    assert result.exit_code == 0, result.output
    assert _contacts(project) == []
    email_hash = HASHER.key("email", EMAIL)
    # The registrants mapping is keyed by the address: its key hash is tombstoned as well, so a
    # registration (CampaignMember) referring to her is suppressed, not rejected.
    with _store(project) as store:
        assert store.suppressed([email_hash]) == {email_hash}
    assert "email 1" in result.output
    assert EMAIL not in result.output and EMAIL.split("@")[0] not in result.output

    # She registers for an open day with the same address: nobody is created again.
    project.write_registrations([registration("R-000001", EMAIL.upper())])
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    assert _contacts(project) == []
    assert project.query("SELECT Id FROM CampaignMember") == []
    assert report.mappings["registrants"].suppressed == 1
    assert report.mappings["registrations"].suppressed == 1


def test_art17_erase_by_email_with_a_lost_state_tombstones_the_student_number(
    project: SyncProject,
) -> None:
    _only_a_student(project)

    result = invoke(project, "erase", "--email", EMAIL, "--apply")

    assert result.exit_code == 0, result.output
    with _store(project) as store:
        student_hash = HASHER.key("student", NUMBER)
        assert store.suppressed([student_hash]) == {student_hash}
    # The SIS still holds her, now with another address: the student number keeps her out.
    project.write_students([student(NUMBER, email="nieuw.adres@privemail.example")])
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    assert _contacts(project) == []
    assert report.mappings["students"].suppressed == 1


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_art15_export_with_a_lost_state_credits_the_mappings_that_matched(
    project: SyncProject,
) -> None:
    seed(project)  # a student who was a visitor with the same address first
    [contact] = [
        r["Id"]
        for r in project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{NUMBER}'")
    ]
    shutil.rmtree(project.folder / "state")

    data = json.loads(invoke(project, "export", "--student-number", NUMBER).stdout)

    credited = {r["mapping"] for r in data["salesforce"] if r["sf_id"] == contact}
    # students and oneroster_users both write the number to this field from their identity
    # column; registrants: its generated external id is the key hash of the address the
    # Contact holds. Before: only oneroster_users (the first mapping with that external id).
    assert credited == {"students", "oneroster_users", "registrants"}
    rows = _csv(invoke(project, "export", "--student-number", NUMBER, "--format", "csv").stdout)
    purposes = {r["field_api_name"]: r["purposes"] for r in rows if r["record_id"] == contact}
    assert purposes["Birthdate"] == "enrolment"
    assert purposes["MailingStreet"] == "enrolment"
    assert purposes["Study_Programme__c"] == "enrolment"
    assert purposes["Consent_News__c"] == "recruitment_news"
    assert purposes["LeadSource"] == "event_registration"
    assert set(purposes["LastName"].split(", ")) == {"enrolment", "event_registration"}


@pytest.mark.parametrize(("command", "value"), [("export", "%"), ("export", "*"), ("erase", "*")])
def test_an_email_that_is_no_address_is_exit_2_and_no_request(
    project: SyncProject, command: str, value: str
) -> None:
    seed(project, others=False)
    extra = ["--apply"] if command == "erase" else []

    result = invoke(project, command, "--email", value, *extra)

    assert result.exit_code == 2, result.output
    assert "not an e-mail address" in str(result.exception)
    with _store(project) as store:
        assert store.list_requests() == []
