"""Education Cloud objects and delete semantics (SetNull / Restrict / Cascade per lookup),
through the real simple-salesforce client."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.emulator.testing import running_emulator

EDU = (
    "LearningProgram",
    "LearningProgramPlan",
    "LearnerProgram",
    "AcademicTerm",
    "AcademicTermEnrollment",
    "IndividualApplication",
    "ContactProfile",
)


@pytest.fixture(scope="module")
def emu():
    with running_emulator(person_accounts=True) as e:
        yield e


@pytest.fixture
def sf(emu):
    emu.reset()
    return emu.client()


def _code(exc_info) -> str:
    return exc_info.value.content[0]["errorCode"]


def _person(sf, key="S1") -> tuple[str, str]:
    rt = sf.query("SELECT Id FROM RecordType WHERE DeveloperName = 'PersonAccount'")["records"]
    aid = sf.Account.create(
        {"RecordTypeId": rt[0]["Id"], "LastName": "Jansen", "SIS_Sync_Key__pc": key}
    )["id"]
    return aid, sf.Account.get(aid)["PersonContactId"]


def _live_and_all(sf, obj: str) -> tuple[int, list]:
    live = sf.query(f"SELECT Id FROM {obj}")["totalSize"]
    rows = sf.query_all(f"SELECT Id, IsDeleted FROM {obj}", include_deleted=True)["records"]
    return live, rows


def test_education_objects_and_their_documented_fields(sf):
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert set(EDU) <= names
    lp = {f["name"]: f for f in sf.LearnerProgram.describe()["fields"]}
    assert (
        lp["LearnerAccountId"]["referenceTo"] == ["Account"]
        and not lp["LearnerAccountId"]["nillable"]
    )
    assert lp["LearnerContactId"]["referenceTo"] == ["Contact"]
    assert lp["LearningProgramPlanId"]["referenceTo"] == ["LearningProgramPlan"]
    assert lp["SIS_Sync_Key__c"]["externalId"] and lp["SIS_Sync_Key__c"]["unique"]
    prog = {f["name"]: f for f in sf.LearningProgram.describe()["fields"]}
    assert prog["Crebo__c"]["externalId"] and not prog["AcademicLevel"]["createable"]
    cp = {f["name"]: f for f in sf.ContactProfile.describe()["fields"]}
    assert cp["ContactId"]["createable"] and not cp["ContactId"]["updateable"]
    app = {f["name"]: f for f in sf.IndividualApplication.describe()["fields"]}
    assert not app["ApplicantEmail"]["createable"] and not app["Category"]["nillable"]


def test_learner_chain_by_ids(sf):
    aid, cid = _person(sf)
    prog = sf.LearningProgram.create({"Name": "Software developer", "Crebo__c": "25604"})["id"]
    plan = sf.LearningProgramPlan.create({"Name": "SD 2026", "LearningProgramId": prog})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.LearnerProgram.create({"Name": "x", "LearnerContactId": cid})
    assert _code(exc) == "REQUIRED_FIELD_MISSING"
    sf.LearnerProgram.create(
        {
            "Name": "Eva - SD",
            "LearnerAccountId": aid,
            "LearnerContactId": cid,
            "LearningProgramPlanId": plan,
            "Status": "Active",
            "SIS_Sync_Key__c": "S1-25604",
        }
    )
    row = sf.query(
        "SELECT LearningProgramPlan.LearningProgram.Crebo__c, LearnerAccount.IsPersonAccount "
        "FROM LearnerProgram"
    )["records"][0]
    assert row["LearningProgramPlan"]["LearningProgram"]["Crebo__c"] == "25604"
    assert row["LearnerAccount"]["IsPersonAccount"] is True
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.IndividualApplication.create({"AccountId": aid})
    assert _code(exc) == "REQUIRED_FIELD_MISSING"  # Category
    app = sf.IndividualApplication.create({"AccountId": aid, "Category": "Education"})["id"]
    assert sf.IndividualApplication.get(app)["Status"] == "In Progress"


def test_set_null_leaves_the_child_with_an_empty_lookup(sf):
    aid, cid = _person(sf)
    term = sf.AcademicTerm.create({"Name": "2026-1"})["id"]
    ate = sf.AcademicTermEnrollment.create(
        {"Name": "x", "LearnerAccountId": aid, "LearnerContactId": cid, "AcademicTermId": term}
    )["id"]
    sf.AcademicTerm.delete(term)
    kept = sf.AcademicTermEnrollment.get(ate)
    assert kept["AcademicTermId"] is None and kept["LearnerAccountId"] == aid
    # Deleting the person leaves the enrolment behind, its person lookups cleared: what a real
    # org leaves after deleting a person without its children first.
    sf.Account.delete(aid)
    orphan = sf.AcademicTermEnrollment.get(ate)
    assert (orphan["LearnerAccountId"], orphan["LearnerContactId"]) == (None, None)


def test_restrict_refuses_the_delete_and_changes_nothing(sf):
    aid, cid = _person(sf)
    sf.LearnerProgram.create({"Name": "x", "LearnerAccountId": aid})
    sf.ContactProfile.create({"ContactId": cid, "BirthPlace": "Utrecht"})
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.delete(aid)
    assert _code(exc) == "DELETE_FAILED"
    assert "Jansen" not in exc.value.content[0]["message"]  # no personal data in the message
    assert sf.Account.get(aid)["IsDeleted"] is False
    assert sf.Contact.get(cid)["IsDeleted"] is False
    # Restrict on a grandchild of the cascade (ContactProfile → the person contact) also
    # refuses the account's delete.
    sf.LearnerProgram.delete(sf.query("SELECT Id FROM LearnerProgram")["records"][0]["Id"])
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.delete(aid)
    assert _code(exc) == "DELETE_FAILED"
    sf.ContactProfile.delete(sf.query("SELECT Id FROM ContactProfile")["records"][0]["Id"])
    sf.Account.delete(aid)
    assert _live_and_all(sf, "Contact")[0] == 0


def test_cascade_from_campaign_and_account_goes_to_the_recycle_bin(sf):
    camp = sf.Campaign.create({"Name": "Open dag"})["id"]
    biz = sf.Account.create({"Name": "Stage BV"})["id"]
    cid = sf.Contact.create({"LastName": "Bakker", "AccountId": biz})["id"]
    sf.CampaignMember.create({"CampaignId": camp, "ContactId": cid})
    sf.Task.create({"WhatId": camp, "Subject": "Draaiboek"})
    sf.Campaign.delete(camp)
    for obj in ("CampaignMember", "Task"):
        live, rows = _live_and_all(sf, obj)
        assert live == 0 and [r["IsDeleted"] for r in rows] == [True]
    sf.Account.delete(biz)
    live, rows = _live_and_all(sf, "Contact")
    assert live == 0 and rows[0]["Id"] == cid and rows[0]["IsDeleted"] is True


def test_collections_delete_with_restrict_fails_that_record_only(sf):
    aid, _cid = _person(sf)
    sf.LearnerProgram.create({"Name": "x", "LearnerAccountId": aid})
    term = sf.AcademicTerm.create({"Name": "T"})["id"]
    res = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{aid},{term}"})
    assert [r["success"] for r in res] == [False, True]
    assert res[0]["errors"][0]["statusCode"] == "DELETE_FAILED"


def test_bulk_hard_delete_purges_the_cascade(sf):
    camp = sf.Campaign.create({"Name": "Open dag"})["id"]
    cid = sf.Contact.create({"LastName": "Bakker"})["id"]
    sf.CampaignMember.create({"CampaignId": camp, "ContactId": cid})
    sf.bulk2.Contact.hard_delete(records=[{"Id": cid}], wait=0.1)
    assert _live_and_all(sf, "CampaignMember") == (0, [])
    assert _live_and_all(sf, "Contact") == (0, [])


def test_describe_child_relationships_show_the_delete_constraint(sf):
    rels = {(r["childSObject"], r["field"]): r for r in sf.Account.describe()["childRelationships"]}
    assert rels[("Contact", "AccountId")]["cascadeDelete"] is True
    assert rels[("LearnerProgram", "LearnerAccountId")]["restrictedDelete"] is True
    plain = rels[("AcademicTermEnrollment", "LearnerAccountId")]
    assert (plain["cascadeDelete"], plain["restrictedDelete"]) == (False, False)
