"""target.person_account: students become person accounts; children needing a Contact land on
their PersonContactId (emulator with person accounts, real simple-salesforce)."""

from __future__ import annotations

from orgmodel import EVENTS, MEMBERS, SECRET, STUDENTS, edu_emulator, org_project

from connector.gdpr.erasure import subject_of
from connector.gdpr.erasure_job import erase_person
from connector.gdpr.export_job import export_person
from connector.hashing import KeyHasher

__all__ = ["edu_emulator"]


def _project(edu_emulator, tmp_path):
    p = org_project(edu_emulator, tmp_path / "p", students=STUDENTS, events=EVENTS, members=MEMBERS)
    p.data(
        "students", ["nr", "last", "first"], [["1001", "Jansen", "Eva"], ["1002", "Bakker", "Noor"]]
    )
    p.data("members", ["event", "nr"], [["OD-1", "1001"], ["OD-1", "1002"]])
    return p


def test_students_become_person_accounts_and_a_rerun_writes_nothing(edu_emulator, tmp_path):
    p = _project(edu_emulator, tmp_path)
    report = p.run()
    assert report.mappings["students"].created == 2, report.summary()
    accounts = p.query(
        "SELECT Id, IsPersonAccount, PersonContactId, RecordType.DeveloperName, LastName "
        "FROM Account ORDER BY LastName"
    )
    assert [a["LastName"] for a in accounts] == ["Bakker", "Jansen"]
    assert all(a["IsPersonAccount"] for a in accounts)
    assert {a["RecordType"]["DeveloperName"] for a in accounts} == {"PersonAccount"}
    members = p.query("SELECT ContactId FROM CampaignMember")
    assert sorted(m["ContactId"] for m in members) == sorted(a["PersonContactId"] for a in accounts)
    again = p.run()
    written = sum(m.written for m in again.mappings.values())
    assert written == 0, again.summary()


def test_erase_removes_the_person_account_its_person_contact_and_members(edu_emulator, tmp_path):

    p = _project(edu_emulator, tmp_path)
    p.run()
    hasher = KeyHasher(SECRET)
    outcome = erase_person(
        p.settings(),
        subject_of(hasher, student_number="1001"),
        apply=True,
        hasher=hasher,
        student_number="1001",
    )
    assert outcome is not None
    accounts = p.query("SELECT LastName, PersonContactId FROM Account")
    assert [a["LastName"] for a in accounts] == ["Bakker"]
    contacts = p.query("SELECT Id FROM Contact")
    assert [c["Id"] for c in contacts] == [accounts[0]["PersonContactId"]]
    members = p.query("SELECT ContactId FROM CampaignMember")
    assert [m["ContactId"] for m in members] == [accounts[0]["PersonContactId"]]
    again = p.run()
    assert sum(m.written for m in again.mappings.values()) == 0, again.summary()
    assert again.mappings["students"].suppressed == 1


def test_export_holds_the_person_account(edu_emulator, tmp_path):

    p = _project(edu_emulator, tmp_path)
    p.run()
    hasher = KeyHasher(SECRET)
    export = export_person(p.settings(), subject_of(hasher, student_number="1001"), hasher=hasher)
    assert export is not None
    objects = {r.object for r in export.salesforce}
    assert "Account" in objects, objects
    [account] = [r for r in export.salesforce if r.object == "Account"]
    assert account.fields.get("LastName") == "Jansen"
    # Its CampaignMembers hang on the PersonContactId, found through state.
    assert len(export.campaign_memberships) == 1
