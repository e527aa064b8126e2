"""target.person_account: students become person accounts; children needing a Contact land on
their PersonContactId (emulator with person accounts, real simple-salesforce)."""

from __future__ import annotations

from orgmodel import EVENTS, MEMBERS, STUDENTS, edu_emulator, org_project

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
