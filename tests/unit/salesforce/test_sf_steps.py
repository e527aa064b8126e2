"""The writer seam: batch_size, Bulk jobs sized by bytes, the create-only replay rule, settings."""

from __future__ import annotations

import itertools
import json

import pytest
from pydantic import ValidationError
from test_sf_bulk import FakeBulk

from connector import errors
from connector.records import WriteStatus
from connector.salesforce.bulk import MAX_JOB_BYTES, columns_of, csv_chunks
from connector.salesforce.steps import CollectionsStep
from connector.salesforce.writer import Writer

NOT_WRITABLE = {
    "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
    "message": "Unable to update fields: CampaignId. Please check the security settings.",
    "fields": ["CampaignId"],
}
DESCRIBE = {
    "name": "CampaignMember",
    "fields": [
        {"name": "CampaignId", "createable": True, "updateable": False},
        {"name": "ContactId", "createable": True, "updateable": False},
        {"name": "Status", "createable": True, "updateable": True},
        {"name": "Key__c", "createable": True, "updateable": True, "externalId": True},
        {"name": "HasResponded", "createable": False, "updateable": False},
    ],
}


def _ok(request):
    return 200, [
        {"id": f"00v{i:015d}", "success": True, "errors": [], "created": True}
        for i, _ in enumerate(json.loads(request.body)["records"])
    ]


def test_batch_size_sets_records_per_collections_call(client, org):
    org.route("PATCH", "composite/sobjects/Contact/Ext__c", _ok)
    writer = Writer(client, batch_size=120, sleep=lambda s: None)
    results = writer.upsert("Contact", "Ext__c", [{"Ext__c": f"E{i}"} for i in range(250)])
    calls = org.calls_to("/composite/sobjects/Contact/Ext__c", "PATCH")
    assert [len(json.loads(c.body)["records"]) for c in calls] == [120, 120, 10]
    assert len(results) == 250


@pytest.mark.parametrize("size", [0, 201])
def test_collections_step_refuses_batch_sizes_outside_1_to_200(client, size):
    with pytest.raises(ValueError, match="batch_size"):
        CollectionsStep(client, batch_size=size)


@pytest.mark.parametrize("size", [0, 201, -5])
def test_batch_size_setting_is_validated_and_named(make_settings, size):
    with pytest.raises(ValidationError) as info:
        make_settings(batch_size=size)
    assert info.value.errors()[0]["loc"] == ("batch_size",)


def test_batch_size_defaults_to_200(make_settings):
    assert make_settings().batch_size == 200
    assert make_settings(batch_size=1).batch_size == 1


def test_job_size_is_the_documented_upload_limit():
    # 100 MB of CSV per job upload (B2-upload), less a 1 MB margin.
    assert 98_000_000 <= MAX_JOB_BYTES < 100_000_000


def test_csv_chunks_split_by_bytes_with_the_header_in_each():
    rows = [{"Ext__c": f"E{i:03d}", "LastName": "x" * (i % 7)} for i in range(100)]
    columns = columns_of(rows)
    chunks = list(csv_chunks(rows, columns, limit=200))
    assert len(chunks) > 3
    assert chunks[0][0] == 0 and chunks[-1][1] == 100
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
    for _, _, data in chunks:
        assert len(data) <= 200
        assert data.startswith(b"Ext__c,LastName\n")
    # One chunk when it fits: the row count alone never splits a job.
    assert len(list(csv_chunks(rows * 100, columns))) == 1


def test_a_big_bulk_write_becomes_several_jobs_in_input_order(client, org):
    bulk = FakeBulk(org, polls_in_progress=0)
    writer = Writer(client, sleep=lambda s: None, poll_initial=0.0)
    writer.bulk.max_job_bytes = 64
    rows = [{"Ext__c": f"E{i}", "LastName": "x"} for i in range(20)]
    results = writer.upsert("Contact", "Ext__c", rows, bulk=True)
    assert len(bulk.jobs) > 1
    assert all(len(u.encode()) <= 64 for u in bulk.uploads)
    assert [r.sf_id for r in results] == [f"003SE{i}" for i in range(20)]


class OneJobOnly(FakeBulk):
    """Refuses to create a second job."""

    def create(self, request):
        if self.jobs:
            return 400, [{"errorCode": "INVALIDJOB", "message": "no more jobs"}]
        return super().create(request)


def test_a_job_that_cannot_start_keeps_the_results_of_earlier_jobs(client, org):
    OneJobOnly(org, polls_in_progress=0)
    writer = Writer(client, sleep=lambda s: None, poll_initial=0.0)
    writer.bulk.max_job_bytes = 64
    rows = [{"Ext__c": f"E{i}", "LastName": "x"} for i in range(20)]
    with pytest.raises(errors.SalesforceError) as info:
        writer.upsert("Contact", "Ext__c", rows, bulk=True)
    statuses = [r.status for r in info.value.results]  # type: ignore[attr-defined]
    sent = statuses.count(WriteStatus.CREATED)
    assert 0 < sent < 20
    assert statuses == [WriteStatus.CREATED] * sent + [WriteStatus.NOT_SENT] * (20 - sent)


def _members(n: int) -> list[dict]:
    return [
        {"Key__c": f"M{i}", "CampaignId": "701A", "ContactId": f"003{i}", "Status": "Attended"}
        for i in range(n)
    ]


def test_rows_refused_for_create_only_fields_are_sent_again_without_them(client, org):
    sent: list[list[dict]] = []

    def answer(request):
        records = json.loads(request.body)["records"]
        sent.append(records)
        out = []
        for r in records:
            if "CampaignId" in r:  # an existing member: Salesforce refuses the update
                out.append({"success": False, "errors": [NOT_WRITABLE]})
            else:
                out.append({"id": "00v" + r["Key__c"], "success": True, "errors": []})
        return 200, out

    org.route("PATCH", "composite/sobjects/CampaignMember/Key__c", answer)
    org.route("GET", "sobjects/CampaignMember/describe", lambda r: (200, DESCRIBE))
    writer = Writer(client, sleep=lambda s: None)
    results = writer.upsert("CampaignMember", "Key__c", _members(3))

    assert [r.status for r in results] == [WriteStatus.UPDATED] * 3
    # Every create-only field goes (ContactId too, though only CampaignId was named).
    assert [sorted(k for k in r if k != "attributes") for r in sent[1]] == [
        ["Key__c", "Status"]
    ] * 3
    assert writer.api_calls == 3  # refused call, describe, re-send


def test_a_refusal_naming_a_field_that_is_not_create_only_is_final(client, org):
    refused = {**NOT_WRITABLE, "fields": ["HasResponded"]}
    org.route(
        "PATCH",
        "composite/sobjects/CampaignMember/Key__c",
        lambda r: (200, [{"success": False, "errors": [refused]}]),
    )
    org.route("GET", "sobjects/CampaignMember/describe", lambda r: (200, DESCRIBE))
    writer = Writer(client, sleep=lambda s: None)
    results = writer.upsert("CampaignMember", "Key__c", [{**_members(1)[0], "HasResponded": True}])
    assert results[0].status is WriteStatus.FAILED
    assert len(org.calls_to("/composite/sobjects/CampaignMember/Key__c")) == 1


def test_deletes_are_never_replayed(client, org):
    org.route(
        "DELETE",
        "composite/sobjects",
        lambda r: (200, [{"success": False, "errors": [NOT_WRITABLE]}]),
    )
    writer = Writer(client, sleep=lambda s: None)
    assert writer.delete("CampaignMember", ["00vA"])[0].status is WriteStatus.FAILED
    assert not org.calls_to("describe")
