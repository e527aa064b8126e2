"""lookup: a field to an org record by its external id, in Salesforce's relationship syntax —
collections and Bulk 2.0; a missing parent is a refusal naming file, line and field."""

from __future__ import annotations

import pytest
from orgmodel import STUDENTS, edu_emulator, org_project

__all__ = ["edu_emulator"]

APPLICATIONS = """\
name: applications
source: {kind: csv, path: data/applications.csv, key: id}
target: {object: IndividualApplication, external_id: SIS_Sync_Key__c}
fields:
  AccountId: {ref: {mapping: students, from: nr}, required: true, purposes: [enrolment]}
  Category: {value: Education, purposes: [enrolment]}
  LearningProgramId:
    from: crebo
    lookup: {object: LearningProgram, external_id: Crebo__c}
    purposes: [enrolment]
"""


def _project(edu_emulator, tmp_path):
    p = org_project(edu_emulator, tmp_path / "p", students=STUDENTS, applications=APPLICATIONS)
    p.data(
        "students", ["nr", "last", "first"], [["1001", "Jansen", "Eva"], ["1002", "Bakker", "Noor"]]
    )
    p.data(
        "applications", ["id", "nr", "crebo"], [["A1", "1001", "25604"], ["A2", "1002", "99999"]]
    )
    return p


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk2"])
def test_lookup_lands_on_the_org_record_and_a_missing_parent_is_refused(
    edu_emulator, tmp_path, bulk
):
    p = _project(edu_emulator, tmp_path)
    programme = p.create("LearningProgram", {"Name": "Verpleegkunde", "Crebo__c": "25604"})
    env = {"SIS_SYNC_SALESFORCE__BULK_THRESHOLD": "0"} if bulk else {}
    report = p.run(**env)
    apps = report.mappings["applications"]
    assert apps.strategy == ("bulk2" if bulk else "collections"), report.summary()
    assert apps.created == 1 and apps.failed == 1, report.summary()
    [refused] = apps.refusals
    assert (refused["file"], refused["line"]) == ("data/applications.csv", 3)
    assert "LearningProgramId" in refused["fields"]
    assert "INVALID_FIELD" in refused["reason"] and "99999" not in refused["reason"]
    rows = p.query("SELECT LearningProgramId, Account.LastName FROM IndividualApplication")
    assert [(r["LearningProgramId"], r["Account"]["LastName"]) for r in rows] == [
        (programme, "Jansen")
    ]
    again = p.run(**env)
    assert again.mappings["applications"].created == 0
    assert again.mappings["applications"].updated == 0
    assert again.mappings["applications"].failed == 1  # still no such programme


def test_a_lookup_is_sent_by_relationship_not_as_an_id(edu_emulator, tmp_path):
    """The planner renames the field: LearningProgramId never carries the crebo itself."""
    p = _project(edu_emulator, tmp_path)
    p.create("LearningProgram", {"Name": "Verpleegkunde", "Crebo__c": "25604"})
    p.data("applications", ["id", "nr", "crebo"], [["A1", "1001", "25604"], ["A3", "1002", ""]])
    report = p.run()
    assert report.mappings["applications"].created == 2, report.summary()
    rows = p.query("SELECT LearningProgramId FROM IndividualApplication ORDER BY CreatedDate")
    assert rows[0]["LearningProgramId"] and rows[0]["LearningProgramId"].startswith("0tL")
    assert rows[1]["LearningProgramId"] is None  # an empty lookup stays empty


def test_a_rebuild_matches_a_lookup_and_the_next_run_writes_nothing(edu_emulator, tmp_path):
    """A rebuild reads the lookup back as SOQL nests it (``LearningProgram.Crebo__c``): every
    LearnerProgram and hed__Affiliation of the 20,000-student demo was listed as differing,
    and written again by the next run."""
    import shutil

    from connector.sync.rebuild import rebuild_state

    p = _project(edu_emulator, tmp_path)
    p.create("LearningProgram", {"Name": "Verpleegkunde", "Crebo__c": "25604"})
    p.data("applications", ["id", "nr", "crebo"], [["A1", "1001", "25604"], ["A3", "1002", ""]])
    assert p.run().mappings["applications"].created == 2
    shutil.rmtree(p.folder / "state")
    rebuilt = rebuild_state(p.settings(), job="nightly")
    assert rebuilt.exit_code() == 0, rebuilt.summary()
    assert rebuilt.unmatched == []
    again = p.run()
    assert again.exit_code() == 0, again.summary()
    assert again.totals()["created"] + again.totals()["updated"] == 0, again.summary()
