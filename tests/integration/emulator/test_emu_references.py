"""Parent references by external id in writes (``{"LearningProgram": {"Crebo__c": "25604"}}``,
``LearningProgram.Crebo__c`` CSV columns), through the real simple-salesforce client, on an
Education Cloud org whose programmes were made beforehand (not by the connector)."""

from __future__ import annotations

import csv
import io
import time

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.emulator.testing import running_emulator


@pytest.fixture(scope="module")
def emu():
    with running_emulator(person_accounts=True) as e:
        yield e


@pytest.fixture
def sf(emu):
    emu.reset()
    client = emu.client()
    rt = client.query("SELECT Id FROM RecordType WHERE DeveloperName = 'PersonAccount'")
    client.Account.create(
        {"RecordTypeId": rt["records"][0]["Id"], "LastName": "Jansen", "SIS_Sync_Key__pc": "S1"}
    )
    prog = client.LearningProgram.create({"Name": "Software developer", "Crebo__c": "25604"})
    client.LearningProgramPlan.create(
        {"Name": "SD 2026", "LearningProgramId": prog["id"], "SIS_Sync_Key__c": "25604-2026"}
    )
    return client


def _one(sf, soql: str) -> dict:
    rows = sf.query(soql)["records"]
    assert len(rows) == 1
    return rows[0]


def test_rest_create_with_parent_references(sf):
    sf.IndividualApplication.create(
        {
            "Account": {"SIS_Sync_Key__pc": "S1"},
            "LearningProgram": {"Crebo__c": "25604"},
            "Category": "Education",
        }
    )
    row = _one(sf, "SELECT Account.LastName, LearningProgram.Crebo__c FROM IndividualApplication")
    assert row["Account"]["LastName"] == "Jansen"
    assert row["LearningProgram"]["Crebo__c"] == "25604"


def test_collections_upsert_with_references_and_a_missing_parent(sf):
    def rec(key, plan):
        return {
            "attributes": {"type": "LearnerProgram"},
            "SIS_Sync_Key__c": key,
            "Name": key,
            "LearnerAccount": {"SIS_Sync_Key__pc": "S1"},
            "LearningProgramPlan": {"SIS_Sync_Key__c": plan},
        }

    res = sf.restful(
        "composite/sobjects/LearnerProgram/SIS_Sync_Key__c",
        method="PATCH",
        json={"allOrNone": False, "records": [rec("LP1", "25604-2026"), rec("LP2", "99999-2026")]},
    )
    assert res[0]["success"] is True
    err = res[1]["errors"][0]
    assert (err["statusCode"], err["fields"]) == ("INVALID_FIELD", ["LearningProgramPlanId"])
    assert "99999" not in err["message"]  # no value in the message
    row = _one(
        sf, "SELECT LearnerAccount.SIS_Sync_Key__pc, LearningProgramPlan.Name FROM LearnerProgram"
    )
    assert row["LearnerAccount"]["SIS_Sync_Key__pc"] == "S1"
    assert row["LearningProgramPlan"]["Name"] == "SD 2026"


def test_person_contact_reached_by_its_external_id_as_campaign_member(sf):
    camp = sf.Campaign.create({"Name": "Open dag"})["id"]
    sf.CampaignMember.create({"CampaignId": camp, "Contact": {"SIS_Sync_Key__c": "S1"}})
    sf.Task.create(
        {"Who": {"attributes": {"type": "Contact"}, "SIS_Sync_Key__c": "S1"}, "Subject": "x"}
    )
    cid = _one(sf, "SELECT PersonContactId FROM Account")["PersonContactId"]
    assert _one(sf, "SELECT ContactId FROM CampaignMember")["ContactId"] == cid
    assert _one(sf, "SELECT WhoId FROM Task")["WhoId"] == cid
    with pytest.raises(SalesforceMalformedRequest) as exc:  # polymorphic: type needed
        sf.Task.create({"Who": {"SIS_Sync_Key__c": "S1"}, "Subject": "x"})
    assert exc.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_reference_by_a_field_that_is_no_external_id_is_refused(sf):
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.LearningProgramPlan.create(
            {"Name": "x", "LearningProgram": {"Name": "Software developer"}}
        )
    assert exc.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_bulk_relationship_columns(sf):
    rows = [
        {
            "SIS_Sync_Key__c": "B1",
            "Name": "B1",
            "LearnerAccount.SIS_Sync_Key__pc": "S1",
            "LearningProgramPlan.SIS_Sync_Key__c": "25604-2026",
        },
        {
            "SIS_Sync_Key__c": "B2",
            "Name": "B2",
            "LearnerAccount.SIS_Sync_Key__pc": "NOPE",
            "LearningProgramPlan.SIS_Sync_Key__c": "25604-2026",
        },
    ]
    res = sf.bulk2.LearnerProgram.upsert(
        records=rows, external_id_field="SIS_Sync_Key__c", wait=0.1
    )
    assert (res[0]["numberRecordsProcessed"], res[0]["numberRecordsFailed"]) == (2, 1)
    failed = list(
        csv.DictReader(io.StringIO(sf.bulk2.LearnerProgram.get_failed_records(res[0]["job_id"])))
    )
    assert failed[0]["sf__Error"].startswith("INVALID_FIELD:Foreign key external ID")
    row = _one(sf, "SELECT Name, LearningProgramPlan.LearningProgram.Crebo__c FROM LearnerProgram")
    assert row["LearningProgramPlan"]["LearningProgram"]["Crebo__c"] == "25604"
    bad = sf.restful(
        "jobs/ingest", method="POST", json={"object": "LearnerProgram", "operation": "insert"}
    )
    sf.session.put(
        f"{sf.base_url}jobs/ingest/{bad['id']}/batches",
        data=b"Name,Nope.SIS_Sync_Key__c\nx,y\n",
        headers={"Content-Type": "text/csv", **sf.headers},
    )
    sf.restful(f"jobs/ingest/{bad['id']}", method="PATCH", json={"state": "UploadComplete"})
    for _ in range(100):  # processing runs in the background
        info = sf.restful(f"jobs/ingest/{bad['id']}")
        if info["state"] in ("Failed", "JobComplete"):
            break
        time.sleep(0.05)
    assert info["state"] == "Failed" and "Nope.SIS_Sync_Key__c" in info["errorMessage"]
