"""Child-to-parent paths reach every field of the parent (issue #10), through the real
simple-salesforce client on a person-account org started without a schema file.

"You can reference any field of the parent in a child-to-parent relationship query" — the
relationship name, a dot, then the parent's field: ``SELECT Contact.IsPersonAccount FROM
CampaignMember`` (SOQL Relationship Queries,
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships.htm).
The fields person accounts add to Contact (``IsPersonAccount``) were missing from the paths'
field index while ``SELECT IsPersonAccount FROM Contact`` found them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.emulator.testing import EmulatorHandle, running_emulator


@pytest.fixture(scope="module")
def emu(tmp_path_factory) -> Iterator[EmulatorHandle]:
    # No schema file: one that names Contact would rebuild its index and hide the bug.
    with running_emulator(tmp_path_factory.mktemp("org"), person_accounts=True) as e:
        yield e


@pytest.fixture
def sf(emu: EmulatorHandle) -> Salesforce:
    emu.reset()
    return emu.client()


def _records(sf: Salesforce, soql: str) -> list[dict[str, Any]]:
    return sf.query_all(soql)["records"]


def _graph(sf: Salesforce) -> dict[str, str]:
    """A person account and a business contact, each a member of one campaign."""
    [rt] = _records(
        sf, "SELECT Id FROM RecordType WHERE DeveloperName = 'PersonAccount' AND "
        "SobjectType = 'Account'",
    )  # fmt: skip
    person = sf.Account.create({"RecordTypeId": rt["Id"], "LastName": "Person"})["id"]
    [acc] = _records(sf, f"SELECT PersonContactId FROM Account WHERE Id = '{person}'")
    business = sf.Account.create({"Name": "Bedrijf"})["id"]
    contact = sf.Contact.create({"LastName": "Contact", "AccountId": business})["id"]
    campaign = sf.Campaign.create({"Name": "Open dag"})["id"]
    for who in (acc["PersonContactId"], contact):
        sf.CampaignMember.create({"CampaignId": campaign, "ContactId": who})
    return {"person": person, "person_contact": acc["PersonContactId"], "contact": contact}


def test_campaign_member_reads_is_person_account_of_its_contact(sf: Salesforce) -> None:
    ids = _graph(sf)
    assert _records(sf, "SELECT Id, IsPersonAccount FROM Contact")  # worked before the fix
    rows = _records(sf, "SELECT ContactId, Contact.IsPersonAccount FROM CampaignMember")
    got = {r["ContactId"]: r["Contact"]["IsPersonAccount"] for r in rows}
    assert got == {ids["person_contact"]: True, ids["contact"]: False}
    # Nested as Salesforce nests a parent: attributes, then the field.
    assert rows[0]["Contact"]["attributes"]["type"] == "Contact"
    # The path filters too.
    only = _records(sf, "SELECT ContactId FROM CampaignMember WHERE Contact.IsPersonAccount = true")
    assert [r["ContactId"] for r in only] == [ids["person_contact"]]


def test_learner_program_reads_it_through_its_contact_lookup(sf: Salesforce) -> None:
    ids = _graph(sf)
    sf.LearnerProgram.create(
        {
            "Name": "Kok",
            "LearnerAccountId": ids["person"],
            "LearnerContactId": ids["person_contact"],
        }
    )
    rows = _records(sf, "SELECT LearnerContact.IsPersonAccount, LearnerAccount.IsPersonAccount "
                        "FROM LearnerProgram")  # fmt: skip
    assert rows[0]["LearnerContact"]["IsPersonAccount"] is True
    assert rows[0]["LearnerAccount"]["IsPersonAccount"] is True


def test_an_unknown_field_of_the_parent_is_still_invalid(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Contact.NoSuchField__c FROM CampaignMember")
    assert exc.value.content[0]["errorCode"] == "INVALID_FIELD"
