"""Writer through sObject Collections: chunking, ordering, per-record errors, lock retries."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from connector import errors
from connector.records import WriteResult
from connector.salesforce.writer import Writer

LOCK = {
    "statusCode": "UNABLE_TO_LOCK_ROW",
    "message": "unable to obtain exclusive access to this record or 1 records: 003xx",
    "fields": [],
}


TOO_LONG = "Last Name: data value too large: L1 van Dam (max length=80)"


def _body(request) -> dict:
    return json.loads(request.body)


def _ok_upserts(request):
    records = _body(request)["records"]
    return 200, [
        {"id": f"003{r['Ext__c']:0>15}", "success": True, "errors": [], "created": True}
        for r in records
    ]


@pytest.fixture
def writer(client):
    return Writer(client, sleep=lambda s: None)


def _rows(n: int) -> list[dict]:
    return [{"Ext__c": f"E{i}", "LastName": f"L{i}"} for i in range(n)]


def test_upsert_is_chunked_into_200s_with_all_or_none_false(writer, org):
    org.route("PATCH", "composite/sobjects/Contact/Ext__c", _ok_upserts)
    results = writer.upsert("Contact", "Ext__c", _rows(450))

    calls = org.calls_to("/composite/sobjects/Contact/Ext__c", "PATCH")
    assert [len(_body(c)["records"]) for c in calls] == [200, 200, 50]
    first = _body(calls[0])
    assert first["allOrNone"] is False
    assert first["records"][0] == {
        "attributes": {"type": "Contact"},
        "Ext__c": "E0",
        "LastName": "L0",
    }
    assert [r.sf_id for r in results] == [f"003{'E' + str(i):0>15}" for i in range(450)]
    assert all(r.ok and r.created for r in results)
    assert writer.api_calls == 3


def test_per_record_failures_are_results_in_input_order(writer, org):
    def answer(request):
        out = []
        for r in _body(request)["records"]:
            if r["Ext__c"] == "E1":
                out.append(
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "STRING_TOO_LONG",
                                "message": TOO_LONG,
                                "fields": ["LastName"],
                            }
                        ],
                    }
                )
            else:
                out.append(
                    {"id": "003A" + r["Ext__c"], "success": True, "errors": [], "created": False}
                )
        return 200, out

    org.route("PATCH", "composite/sobjects/Contact/Ext__c", answer)
    rows = _rows(3)
    rows[1]["LastName"] = "L1 van Dam"
    results = writer.upsert("Contact", "Ext__c", rows)
    assert results[0] == WriteResult(ok=True, sf_id="003AE0", created=False)
    assert results[2].sf_id == "003AE2"
    failed = results[1]
    assert (failed.ok, failed.error_code, failed.fields) == (
        False,
        "STRING_TOO_LONG",
        ("LastName",),
    )
    assert "van Dam" not in failed.message
    assert "max length=80" in failed.message


def test_dates_are_sent_as_iso_and_none_as_null(writer, org):
    org.route("PATCH", "composite/sobjects/Contact/Ext__c", _ok_upserts)
    writer.upsert(
        "Contact", "Ext__c", [{"Ext__c": "E1", "Birthdate": date(2007, 5, 1), "Email": None}]
    )
    record = _body(org.calls_to("/composite/")[0])["records"][0]
    assert record["Birthdate"] == "2007-05-01"
    assert record["Email"] is None


def test_update_sends_record_ids_to_composite_sobjects(writer, org):
    org.route(
        "PATCH",
        "composite/sobjects",
        lambda request: (
            200,
            [{"id": r["id"], "success": True, "errors": []} for r in _body(request)["records"]],
        ),
    )
    results = writer.update(
        "Contact", [{"Id": "003AAA", "Email": None}, {"Id": "003BBB", "Phone": "+31"}]
    )
    record = _body(org.calls_to("/composite/sobjects")[0])["records"][0]
    assert record == {"attributes": {"type": "Contact"}, "id": "003AAA", "Email": None}
    assert [r.sf_id for r in results] == ["003AAA", "003BBB"]


def test_delete_sends_ids_in_chunks(writer, org):
    def answer(request):
        ids = parse_qs(urlsplit(request.url).query)["ids"][0].split(",")
        return 200, [
            {
                "id": i,
                "success": i != "003X7",
                "errors": []
                if i != "003X7"
                else [
                    {
                        "statusCode": "ENTITY_IS_DELETED",
                        "message": "entity is deleted",
                        "fields": [],
                    }
                ],
            }
            for i in ids
        ]

    org.route("DELETE", "composite/sobjects", answer)
    ids = [f"003X{i}" for i in range(250)]
    results = writer.delete("Contact", ids)
    calls = org.calls_to("/composite/sobjects", "DELETE")
    query = [parse_qs(urlsplit(c.url).query) for c in calls]
    assert [len(q["ids"][0].split(",")) for q in query] == [200, 50]
    assert query[0]["allOrNone"] == ["false"]
    assert results[7].error_code == "ENTITY_IS_DELETED"
    assert sum(r.ok for r in results) == 249


def test_locked_records_alone_are_sent_again(writer, org):
    seen: list[list[str]] = []

    def answer(request):
        keys = [r["Ext__c"] for r in _body(request)["records"]]
        seen.append(keys)
        first_round = len(seen) == 1
        return 200, [
            {"success": False, "errors": [LOCK]}
            if first_round and k in ("E1", "E3")
            else {"id": "003" + k, "success": True, "errors": [], "created": True}
            for k in keys
        ]

    org.route("PATCH", "composite/sobjects/Contact/Ext__c", answer)
    results = writer.upsert("Contact", "Ext__c", _rows(5))
    assert seen == [["E0", "E1", "E2", "E3", "E4"], ["E1", "E3"]]
    assert all(r.ok for r in results)
    assert [r.sf_id for r in results] == ["003E0", "003E1", "003E2", "003E3", "003E4"]


def test_lock_retries_are_bounded(client, org):
    org.route(
        "PATCH",
        "composite/sobjects/Contact/Ext__c",
        lambda request: (
            200,
            [{"success": False, "errors": [LOCK]} for _ in _body(request)["records"]],
        ),
    )
    writer = Writer(client, lock_attempts=2, sleep=lambda s: None)
    results = writer.upsert("Contact", "Ext__c", _rows(2))
    assert len(org.calls_to("/composite/")) == 3
    assert [r.error_code for r in results] == ["UNABLE_TO_LOCK_ROW"] * 2


def test_503_on_a_chunk_is_retried(writer, org):
    answers = iter([(503, "unavailable")])

    def answer(request):
        return next(answers, None) or _ok_upserts(request)

    org.route("PATCH", "composite/sobjects/Contact/Ext__c", answer)
    results = writer.upsert("Contact", "Ext__c", _rows(3))
    assert all(r.ok for r in results)
    assert len(org.calls_to("/composite/")) == 2


def test_request_level_400_fails_that_chunk_only(writer, org):
    calls = iter(
        [
            (
                400,
                [
                    {
                        "errorCode": "INVALID_FIELD",
                        "message": "No such column 'Foo__c' on sobject of type Contact",
                    }
                ],
            )
        ]
    )

    def answer(request):
        return next(calls, None) or _ok_upserts(request)

    org.route("PATCH", "composite/sobjects/Contact/Ext__c", answer)
    results = writer.upsert("Contact", "Ext__c", _rows(201))
    assert {r.error_code for r in results[:200]} == {"INVALID_FIELD"}
    assert results[200].ok


def test_limit_reached_mid_write_carries_partial_results(client, org):
    org.usage = (70, 100)
    org.route("PATCH", "composite/sobjects/Contact/Ext__c", _ok_upserts)
    org.usage = (78, 100)  # the first answer says 79/100, the second 80/100 = 80 %
    writer = Writer(client, sleep=lambda s: None)
    with pytest.raises(errors.LimitReached) as info:
        writer.upsert("Contact", "Ext__c", _rows(600))
    results = info.value.results
    assert [r.ok for r in results[:400]] == [True] * 400
    assert {r.error_code for r in results[400:]} == {"NOT_SENT"}
    assert len(results) == 600


def test_threshold_chooses_collections_up_to_and_bulk_above(client, org):
    org.route("PATCH", "composite/sobjects/Contact/Ext__c", _ok_upserts)
    writer = Writer(client, bulk_threshold=3, sleep=lambda s: None)
    writer.upsert("Contact", "Ext__c", _rows(3))
    assert len(org.calls_to("/composite/")) == 1
    assert not org.calls_to("/jobs/ingest")


def test_empty_input_makes_no_call(writer, org):
    assert writer.upsert("Contact", "Ext__c", []) == []
    assert writer.delete("Contact", []) == []
    assert writer.api_calls == 0


def test_rows_without_key_are_a_programming_error(writer):
    with pytest.raises(ValueError, match="row 1 has no Ext__c"):
        writer.upsert("Contact", "Ext__c", [{"Ext__c": "A"}, {"LastName": "x"}])
    with pytest.raises(ValueError, match="no Id"):
        writer.update("Contact", [{"Email": None}])


def test_query_follows_pages_and_strips_attributes(writer, org):
    first = {
        "totalSize": 3,
        "done": False,
        "nextRecordsUrl": "/services/data/v59.0/query/01gXX-2",
        "records": [
            {
                "attributes": {"type": "Contact"},
                "Id": "003A",
                "Account": {"attributes": {}, "Name": "S"},
            },
            {"attributes": {"type": "Contact"}, "Id": "003B", "Account": None},
        ],
    }
    second = {"totalSize": 3, "done": True, "records": [{"attributes": {}, "Id": "003C"}]}
    org.route("GET", "query", lambda request: (200, first))
    org.route("GET", "query/01gXX-2", lambda request: (200, second))
    records = list(writer.query("SELECT Id, Account.Name FROM Contact"))
    assert records == [
        {"Id": "003A", "Account": {"Name": "S"}},
        {"Id": "003B", "Account": None},
        {"Id": "003C"},
    ]
    assert parse_qs(urlsplit(org.calls_to("/query")[0].url).query)["q"] == [
        "SELECT Id, Account.Name FROM Contact"
    ]
