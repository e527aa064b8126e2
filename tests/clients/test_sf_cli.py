"""The Salesforce CLI (``sf`` 2.146, pinned) against the emulator, as a new user would use it."""

from __future__ import annotations

import pytest
from conftest import BIN, run_json

from connector.emulator.userinfo import USERNAME


@pytest.fixture(scope="module")
def sf_org(emu, client_env):
    """``sf org login access-token`` against the emulator; the alias ``emu`` afterwards."""
    env = {**client_env, "SF_ACCESS_TOKEN": emu.token()["access_token"]}
    cmd = [str(BIN / "sf"), "org", "login", "access-token", "--instance-url", emu.url]
    out = run_json([*cmd, "--no-prompt", "--alias", "emu", "--json"], env)
    assert out["result"]["username"] == USERNAME
    return client_env


def test_sf_data_query_with_relationships(emu, sf_org):
    sf = emu.client()
    acc = sf.Account.create({"Name": "School"})["id"]
    sf.Contact.create({"LastName": "Jansen", "AccountId": acc})
    q = "SELECT LastName, Account.Name FROM Contact WHERE LastName = 'Jansen'"
    out = run_json([str(BIN / "sf"), "data", "query", "-o", "emu", "-q", q, "--json"], sf_org)
    assert out["result"]["records"][0]["Account"]["Name"] == "School"
    table = run_json(
        [str(BIN / "sf"), "data", "query", "-o", "emu", "-q", q, "-r", "csv", "--json"], sf_org
    )
    assert table["result"]["totalSize"] == 1


def test_sf_data_upsert_bulk(emu, sf_org, tmp_path):
    data = tmp_path / "contacts.csv"
    data.write_text("LastName,SIS_Student_Number__c\nBakker,900001\nSmit,900002\n")
    cmd = [str(BIN / "sf"), "data", "upsert", "bulk", "-o", "emu", "-s", "Contact"]
    cmd += ["-i", "SIS_Student_Number__c", "-f", str(data), "--wait", "2", "--json"]
    out = run_json(cmd, sf_org)
    assert out["result"]["jobInfo"]["state"] == "JobComplete"
    assert out["result"]["jobInfo"]["numberRecordsProcessed"] == 2
    assert emu.client().Contact.get_by_custom_id("SIS_Student_Number__c", "900002")["LastName"] == (
        "Smit"
    )


def test_sf_sobject_describe(sf_org):
    cmd = [str(BIN / "sf"), "sobject", "describe", "-o", "emu", "-s", "Campaign", "--json"]
    out = run_json(cmd, sf_org)
    assert out["result"]["name"] == "Campaign"
    children = {c["relationshipName"] for c in out["result"]["childRelationships"]}
    assert "CampaignMembers" in children
