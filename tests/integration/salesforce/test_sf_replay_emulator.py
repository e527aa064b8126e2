"""Replays that converge, against the emulator over real HTTPS: a record that exists already is
written again with its create-only fields (CampaignMember.CampaignId/ContactId), as after a lost
state or a SIGKILL, and the write succeeds; other refusals stay failures."""

from __future__ import annotations

from typing import Any

import pytest
from sffixtures import connect

from connector.records import WriteStatus
from connector.salesforce import Writer

KEY = "SIS_Sync_Key__c"


def writer_for(emu: Any, **kw: Any) -> Writer:
    client = connect(emu)
    return Writer(client, poll_initial=0.05, lock_backoff=0.01, **kw)


def members(writer: Writer, n: int, status: str) -> list[dict[str, Any]]:
    """``n`` CampaignMember rows of one campaign, each with its own (synthetic) Contact."""
    campaign = writer.upsert("Campaign", "Event_Id__c", [{"Event_Id__c": "EV-1", "Name": "Dag"}])
    people = writer.upsert(
        "Contact", KEY, [{KEY: f"P{i:04d}", "LastName": f"Test{i}"} for i in range(n)]
    )
    return [
        {
            KEY: f"M{i:04d}",
            "CampaignId": campaign[0].sf_id,
            "ContactId": person.sf_id,
            "Status": status,
        }
        for i, person in enumerate(people)
    ]


def statuses(writer: Writer) -> list[str]:
    return [r["Status"] for r in writer.query(f"SELECT Status, {KEY} FROM CampaignMember")]


@pytest.mark.parametrize("bulk", [False, True])
def test_replayed_members_with_create_only_fields_converge(emu, bulk):
    writer = writer_for(emu)
    rows = members(writer, 5, "Registered")
    first = writer.upsert("CampaignMember", KEY, rows, bulk=bulk)
    assert [r.status for r in first] == [WriteStatus.CREATED] * 5

    # The same payloads again (state lost): the records exist, CampaignId/ContactId are
    # create-only, and Registered → Attended must still land.
    attended = [{**row, "Status": "Attended"} for row in rows]
    before = writer.api_calls
    again = writer.upsert("CampaignMember", KEY, attended, bulk=bulk)
    calls = writer.api_calls - before

    assert [r.status for r in again] == [WriteStatus.UPDATED] * 5, again
    assert [r.sf_id for r in again] == [r.sf_id for r in first]
    assert statuses(writer) == ["Attended"] * 5
    assert emu.stats()["records"]["CampaignMember"] == 5
    if not bulk:
        # The refused call, one describe, the re-send of just those rows.
        assert calls == 3


def test_a_clean_write_makes_no_describe_call(emu):
    writer = writer_for(emu)
    rows = members(writer, 3, "Registered")
    before = emu.stats()["requests"]
    writer.upsert("CampaignMember", KEY, rows)
    after = emu.stats()["requests"]
    described = [k for k in after if "describe" in k]
    assert all(after[k] == before.get(k, 0) for k in described)


def test_only_rows_refused_for_create_only_fields_are_sent_again(emu):
    writer = writer_for(emu)
    rows = members(writer, 3, "Registered")
    writer.upsert("CampaignMember", KEY, rows[:2])
    # Row 0 exists (replay), row 1 exists but also names a field no one may write, row 2 is new.
    mixed = [
        {**rows[0], "Status": "Attended"},
        {**rows[1], "HasResponded": True},
        {**rows[2], "Status": "Attended"},
    ]
    got = writer.upsert("CampaignMember", KEY, mixed)

    assert got[0].status is WriteStatus.UPDATED
    assert got[1].status is WriteStatus.FAILED
    assert got[1].error_code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert got[2].status is WriteStatus.CREATED
    by_key = {
        r[KEY]: r["Status"] for r in writer.query(f"SELECT {KEY}, Status FROM CampaignMember")
    }
    assert by_key == {"M0000": "Attended", "M0001": "Registered", "M0002": "Attended"}


def test_read_only_field_on_a_new_record_is_not_retried(emu):
    # Name is neither createable nor updateable on Contact: a refusal, never a replay.
    writer = writer_for(emu)
    got = writer.upsert("Contact", KEY, [{KEY: "X1", "LastName": "T", "Name": "T"}])
    assert got[0].status is WriteStatus.FAILED
    assert got[0].fields == ("Name",)
    assert emu.stats()["records"].get("Contact", 0) == 0
