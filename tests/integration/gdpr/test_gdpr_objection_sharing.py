"""`sis-sync object` when persons share an e-mail address (GDPR art. 21, 7(3)), and which
purposes can be objected to at all. Against the emulator with the real simple-salesforce client.

A family address is common at a school: siblings, a parent's address given for two children.
An objection by one of them must never reach the other.
"""

from __future__ import annotations

from gdprfixtures import emulator, project_fixture
from gdprfixtures import invoke as run_command
from syncfixtures import SyncProject, registration, student

from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)

NOA, SEM = "1207041", "9999002"
SHARED = "noa2002@gmail.example"


def invoke(project: SyncProject, *args: str):
    """``sis-sync object ARGS`` in-process (the gdpr fixtures' app)."""
    return run_command(project, "object", *args)


def _contact(project: SyncProject, number: str) -> dict:
    rows = project.query(
        "SELECT Id, HasOptedOutOfEmail, Consent_News__c, Email "
        f"FROM Contact WHERE SIS_Student_Number__c = '{number}'"
    )
    assert len(rows) == 1
    return rows[0]


def _siblings(project: SyncProject) -> None:
    """Noa (news "ja") and Sem (news "nee") share Noa's address; both synced."""
    project.write_students([
        student(NOA, roepnaam="Noa", email=SHARED),
        student(SEM, roepnaam="Sem", email=SHARED, toestemming_nieuws="nee"),
    ])  # fmt: skip
    report = project.run()
    assert report.exit_code() == 0, report.summary()
    assert _contact(project, NOA)["Consent_News__c"] is True


def _store(project: SyncProject):
    return open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}")


def test_art21_objection_by_student_number_never_reaches_a_sibling_sharing_the_address(
    project: SyncProject,
) -> None:
    _siblings(project)
    result = invoke(project, "--student-number", SEM, "--purposes", "recruitment_news", "--apply")
    assert result.exit_code == 0, result.output
    assert "covers 1 person" in result.output

    for town in ("Utrecht", "Zeist"):  # the objection holds; Noa's row changes (mapped again)
        project.write_students([
            student(NOA, roepnaam="Noa", email=SHARED, woonplaats=town),
            student(SEM, roepnaam="Sem", email=SHARED, toestemming_nieuws="nee"),
        ])  # fmt: skip
        report = project.run()
        assert report.exit_code() == 0, report.summary()
        noa, sem = _contact(project, NOA), _contact(project, SEM)
        assert noa["HasOptedOutOfEmail"] is not True and noa["Consent_News__c"] is True
        assert sem["HasOptedOutOfEmail"] is True and sem["Consent_News__c"] is not True


def test_art21_objection_of_a_student_covers_their_own_registration_rows(
    project: SyncProject,
) -> None:
    """Sem's own address: a later open-day registration with it ("ja") joins Sem's Contact
    and is objected to too; a sibling who later comes with the same address is not."""
    mail = "sem@family.example"
    project.write_students([student(SEM, roepnaam="Sem", email=mail)])
    project.write_registrations([registration("R-000001", mail, toestemming_nieuws="ja")])
    assert project.run().exit_code() == 0
    assert invoke(project, "--student-number", SEM, "--apply").exit_code == 0

    project.write_registrations([
        registration("R-000001", mail, toestemming_nieuws="ja"),
        registration("R-000002", mail, toestemming_nieuws="ja",
                     evenement_id="OD-2026-12-05-UTR", evenement_datum="2026-12-05"),
    ])  # fmt: skip
    assert project.run().exit_code() == 0
    sem = _contact(project, SEM)
    assert sem["HasOptedOutOfEmail"] is True and sem["Consent_News__c"] is not True

    # A sibling enrolled later under the same address keeps their own "ja".
    project.write_students([
        student(SEM, roepnaam="Sem", email=mail),
        student(NOA, roepnaam="Noa", email=mail),
    ])  # fmt: skip
    project.run()  # exit 1: the registrations' shared address is now ambiguous (review)
    noa = _contact(project, NOA)
    assert noa["HasOptedOutOfEmail"] is not True and noa["Consent_News__c"] is True


def test_art21_objection_by_a_shared_email_is_refused_with_exit_2(project: SyncProject) -> None:
    _siblings(project)
    for extra in ((), ("--apply",)):
        result = invoke(project, "--email", SHARED, *extra)
        assert result.exit_code == 2
        assert "2 persons" in str(result.exception)
        assert "--student-number" in str(result.exception)
    with _store(project) as store:
        assert not store.has_objections()


def test_art21_dry_run_says_how_many_persons_it_covers(project: SyncProject) -> None:
    _siblings(project)
    result = invoke(project, "--student-number", NOA)
    assert result.exit_code == 0, result.output
    assert "would record" in result.output and "covers 1 person in local state" in result.output
    result = invoke(project, "--email", "nobody@nowhere.example")
    assert "covers nobody: nobody with these identifiers" in result.output


def test_art21_contract_and_legal_obligation_purposes_are_refused(project: SyncProject) -> None:
    _siblings(project)
    for purpose in ("enrolment", "event_registration"):  # legal_obligation, contract
        result = invoke(project, "--student-number", NOA, "--purposes", purpose, "--apply")
        assert result.exit_code == 2, result.output
        message = str(result.exception)
        assert purpose in message and "art. 21" in message
    with _store(project) as store:
        assert not store.has_objections()
    # An empty item is ignored; a public-task purpose may be named (art. 21(1)(e)).
    result = invoke(project, "--student-number", NOA, "--purposes", "recruitment_news,")
    assert result.exit_code == 0, result.output
    result = invoke(project, "--student-number", NOA, "--purposes", "event_administration")
    assert result.exit_code == 0, result.output
