"""sObject Collections and Bulk API 2.0 through the real simple-salesforce client."""

from __future__ import annotations

import csv
import io

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceOperationError

from connector.emulator.testing import running_emulator

UPSERT = "composite/sobjects/Contact/SIS_Sync_Key__c"


@pytest.fixture(scope="module")
def emu():
    with running_emulator() as e:
        yield e


@pytest.fixture
def sf(emu):
    emu.reset()
    return emu.client()


def _rec(**fields):
    return {"attributes": {"type": "Contact"}, **fields}


def test_collections_create_update_upsert_delete_in_order(sf):
    res = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                _rec(LastName="A"),
                _rec(FirstName="no last name"),
                _rec(LastName="C", Email="bad"),
                {"attributes": {"type": "Lead"}, "LastName": "L", "Company": "ROC"},
            ],
        },
    )
    assert [r["success"] for r in res] == [True, False, False, True]
    assert res[1]["errors"] == [
        {
            "statusCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [LastName]",
            "fields": ["LastName"],
        }
    ]
    assert res[2]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert res[3]["id"].startswith("00Q")
    a = res[0]["id"]
    upd = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [_rec(id=a, FirstName="Anna"), _rec(id="003000000000000AAA", FirstName="x")]
        },
    )
    assert upd[0] == {"id": a, "success": True, "errors": []}
    assert upd[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    ups = sf.restful(
        UPSERT,
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                _rec(SIS_Sync_Key__c="k1", LastName="One"),
                _rec(SIS_Sync_Key__c="k2", LastName="Two"),
                _rec(SIS_Sync_Key__c="k3"),
                _rec(SIS_Sync_Key__c="k4", LastName="x", Dup="y"),
            ],
        },
    )
    assert [(r["success"], r["created"]) for r in ups] == [
        (True, True),
        (True, True),
        (False, False),
        (False, False),
    ]
    assert ups[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert ups[3]["errors"][0]["statusCode"] == "INVALID_FIELD"
    again = sf.restful(
        UPSERT,
        method="PATCH",
        json={
            "records": [
                _rec(SIS_Sync_Key__c="K1", LastName="Uno"),
                _rec(SIS_Sync_Key__c="k9", LastName="N"),
                _rec(SIS_Sync_Key__c="k8", LastName="d"),
                _rec(SIS_Sync_Key__c="k8", LastName="e"),
            ]
        },
    )
    assert [r["created"] for r in again[:2]] == [False, True]
    assert again[0]["id"] == ups[0]["id"]
    assert [e["errors"][0]["statusCode"] for e in again[2:]] == ["DUPLICATE_EXTERNAL_ID"] * 2
    dele = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": f"{a},{a},003abc", "allOrNone": "false"},
    )
    assert dele[0] == {"id": a, "success": True, "errors": []}
    assert dele[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert dele[2]["errors"][0]["statusCode"] == "MALFORMED_ID"


def test_collections_all_or_none_rolls_back(sf, emu):
    existing = sf.Contact.create({"LastName": "Keep", "SIS_Sync_Key__c": "keep"})["id"]
    res = sf.restful(
        UPSERT,
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                _rec(SIS_Sync_Key__c="keep", LastName="Changed"),
                _rec(SIS_Sync_Key__c="n1", LastName="N"),
                _rec(SIS_Sync_Key__c="n2", LastName="x" * 81),
            ],
        },
    )
    assert [r["success"] for r in res] == [False, False, False]
    assert res[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert res[1]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert res[2]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert sf.Contact.get(existing)["LastName"] == "Keep"
    assert emu.stats()["records"]["Contact"] == 1
    ok = sf.restful(
        UPSERT,
        method="PATCH",
        json={"allOrNone": True, "records": [_rec(SIS_Sync_Key__c="n1", LastName="N")]},
    )
    assert ok[0]["success"] and ok[0]["created"]


def test_collections_request_errors(sf):
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful(
            "composite/sobjects",
            method="POST",
            json={"records": [_rec(LastName=str(i)) for i in range(201)]},
        )
    assert exc.value.status == 400
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="POST", json={"records": [{"LastName": "A"}]})
    assert exc.value.status == 400


def _csv(rows):
    return list(csv.DictReader(io.StringIO(rows)))


def test_bulk_upsert_10000_rows_with_failures(sf, emu):
    emu.faults(seed=7)
    sf.Contact.create({"LastName": "Old", "SIS_Sync_Key__c": "b00010", "Phone": "0612345678"})
    records = [
        {
            "LastName": f"Bulk{i}",
            "SIS_Sync_Key__c": f"b{i:05d}",
            "Email": "broken" if i % 1000 == 999 else f"p{i}@example.org",
        }
        for i in range(10_000)
    ]
    res = sf.bulk2.Contact.upsert(records=records, external_id_field="SIS_Sync_Key__c", wait=0.1)
    assert res[0]["numberRecordsProcessed"] == 10_000 and res[0]["numberRecordsFailed"] == 10
    job_id = res[0]["job_id"]
    # The job info times the processing, as Salesforce does (B2 job info): clients pace their
    # polls by it.
    info = sf.restful(f"jobs/ingest/{job_id}")
    assert info["totalProcessingTime"] > 0
    assert info["apiActiveProcessingTime"] == info["totalProcessingTime"]
    ok = _csv(sf.bulk2.Contact.get_successful_records(job_id))
    failed = _csv(sf.bulk2.Contact.get_failed_records(job_id))
    assert len(ok) == 9_990 and len(failed) == 10
    assert {r["sf__Created"] for r in ok} == {"true", "false"}
    updated = [r for r in ok if r["sf__Created"] == "false"]
    assert [r["SIS_Sync_Key__c"] for r in updated] == ["b00010"]
    assert all(r["sf__Id"].startswith("003") for r in ok)
    assert failed[0]["sf__Id"] == ""
    assert failed[0]["sf__Error"] == "INVALID_EMAIL_ADDRESS:Email: invalid email address:Email --"
    assert failed[0]["SIS_Sync_Key__c"] == "b00999"
    unprocessed = sf.bulk2.Contact.get_unprocessed_records(job_id).strip().splitlines()
    assert len(unprocessed) == 1 and "SIS_Sync_Key__c" in unprocessed[0]  # header only
    assert emu.stats()["records"]["Contact"] == 9_990
    kept = sf.Contact.get_by_custom_id("SIS_Sync_Key__c", "b00010")
    assert kept["LastName"] == "Bulk10" and kept["Phone"] == "0612345678"  # empty cell leaves alone
    # #N/A clears a field; update by Id.
    res = sf.bulk2.Contact.update(records=[{"Id": kept["Id"], "Phone": "#N/A"}], wait=0.1)
    assert res[0]["numberRecordsFailed"] == 0
    assert sf.Contact.get(kept["Id"])["Phone"] is None


def test_bulk_delete_hard_delete_and_insert(sf, emu):
    res = sf.bulk2.Contact.insert(records=[{"LastName": f"D{i}"} for i in range(5)], wait=0.1)
    ids = [r["sf__Id"] for r in _csv(sf.bulk2.Contact.get_successful_records(res[0]["job_id"]))]
    assert len(ids) == 5
    sf.bulk2.Contact.delete(records=[{"Id": i} for i in ids[:2]], wait=0.1)
    sf.bulk2.Contact.hard_delete(records=[{"Id": i} for i in ids[2:4]], wait=0.1)
    recycle = sf.query_all("SELECT Id FROM Contact WHERE IsDeleted = true", include_deleted=True)
    assert sorted(r["Id"] for r in recycle["records"]) == sorted(ids[:2])  # hard ones are gone
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1
    again = sf.bulk2.Contact.delete(records=[{"Id": ids[0]}], wait=0.1)
    failed = _csv(sf.bulk2.Contact.get_failed_records(again[0]["job_id"]))
    assert failed[0]["sf__Error"].startswith("ENTITY_IS_DELETED:")


def test_bulk_job_states_list_abort_and_failure(sf, emu):
    s = emu.session()
    h = {"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"}
    base = f"{emu.url}/services/data/v59.0/jobs/ingest"
    job = s.post(base, json={"object": "Contact", "operation": "insert"}, headers=h).json()
    assert (
        job["state"] == "Open"
        and job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    )
    assert job["id"].startswith("750")
    put = s.put(
        f"{base}/{job['id']}/batches",
        data=b"LastName,Nope__c\nA,1\n",
        headers={**h, "Content-Type": "text/csv"},
    )
    assert put.status_code == 201 and put.content == b""
    assert (
        s.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=h).json()["state"]
        == "UploadComplete"
    )
    states = []
    for _ in range(100):
        states.append(s.get(f"{base}/{job['id']}", headers=h).json())
        if states[-1]["state"] in ("JobComplete", "Failed"):
            break
    assert states[-1]["state"] == "Failed"
    assert states[-1]["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    # Aborting an open job; uploads afterwards are refused.
    job2 = s.post(base, json={"object": "Contact", "operation": "insert"}, headers=h).json()
    assert (
        s.patch(f"{base}/{job2['id']}", json={"state": "Aborted"}, headers=h).json()["state"]
        == "Aborted"
    )
    assert (
        s.put(
            f"{base}/{job2['id']}/batches",
            data=b"LastName\nA\n",
            headers={**h, "Content-Type": "text/csv"},
        ).status_code
        == 409
    )
    listed = s.get(base, headers=h).json()
    assert {j["id"] for j in listed["records"]} >= {job["id"], job2["id"]} and listed["done"]
    assert s.delete(f"{base}/{job2['id']}", headers=h).status_code == 204
    # A successful job reports InProgress to the first poll.
    job3 = s.post(base, json={"object": "Contact", "operation": "insert"}, headers=h).json()
    s.put(
        f"{base}/{job3['id']}/batches",
        data=b"LastName\nA\n",
        headers={**h, "Content-Type": "text/csv"},
    )
    s.patch(f"{base}/{job3['id']}", json={"state": "UploadComplete"}, headers=h)
    polls = [s.get(f"{base}/{job3['id']}", headers=h).json()["state"] for _ in range(2)]
    while polls[-1] != "JobComplete":
        polls.append(s.get(f"{base}/{job3['id']}", headers=h).json()["state"])
    assert "InProgress" in polls
    with pytest.raises(SalesforceOperationError):
        sf.bulk2.Contact.insert(records=[{"LastName": "A", "Bogus__c": "x"}], wait=0.1)


def test_bulk_query_job(sf):
    sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [_rec(LastName=f"Q{i}") for i in range(30)]},
    )
    pages = list(
        sf.bulk2.Contact.query("SELECT Id, LastName FROM Contact", max_records=20, wait=0.1)
    )
    rows = [r for page in pages for r in _csv(page)]
    assert len(pages) == 2 and len(rows) == 30 and set(rows[0]) == {"Id", "LastName"}


@pytest.mark.parametrize(
    ("declared", "data"), [("LF", b"LastName\r\nA\r\n"), ("CRLF", b"LastName\nA\n")]
)
def test_bulk_data_whose_line_ends_differ_from_the_jobs_fails_the_job(sf, emu, declared, data):
    """Salesforce accepts the upload and fails the job (Bulk API 2.0 Developer Guide, "Line
    Ending Header"): a client writing csv.writer's default CRLF into an LF job passed the
    emulator and failed against a real org (an outsider's F8)."""
    s = emu.session()
    h = {"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"}
    base = f"{emu.url}/services/data/v59.0/jobs/ingest"
    spec = {"object": "Contact", "operation": "insert", "lineEnding": declared}
    job = s.post(base, json=spec, headers=h).json()
    put = s.put(f"{base}/{job['id']}/batches", data=data, headers={**h, "Content-Type": "text/csv"})
    assert put.status_code == 201
    s.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=h)
    for _ in range(200):
        info = s.get(f"{base}/{job['id']}", headers=h).json()
        if info["state"] in ("JobComplete", "Failed"):
            break
    assert info["state"] == "Failed"
    assert info["errorMessage"] == (
        "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is "
        + declared
    )
