"""Many queries for few calls: IN lists cut by URI length, five queries per /composite call."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from connector import errors
from connector.salesforce.query_batch import (
    QUERIES_PER_CALL,
    URI_BUDGET,
    URI_LIMIT,
    in_list_queries,
    query_many,
    uri_length,
)

TEMPLATE = "SELECT Id, WhoId FROM Task WHERE WhoId IN {ids} AND IsDeleted = false"


def _ids(n: int) -> list[str]:
    return [f"003{i:012d}AAA" for i in range(n)]  # 18 characters, like Salesforce's


def test_10000_ids_are_cut_so_that_every_uri_stays_under_salesforces_limit() -> None:
    ids = _ids(10_000)

    queries = in_list_queries(TEMPLATE, ids)

    assert all(uri_length(q) <= URI_BUDGET < URI_LIMIT for q in queries)
    # Every id once, in order; the chunks are as full as the budget allows (~590 ids).
    found = [i for q in queries for i in q.split("IN (")[1].split(")")[0].strip("'").split("','")]
    assert found == ids
    assert len(queries) == 18
    assert all(uri_length(q) > URI_BUDGET - 30 for q in queries[:-1])


def test_values_are_escaped_and_a_short_list_is_one_query() -> None:
    [only] = in_list_queries(TEMPLATE, ["a'b", "c\\d"])
    assert only == (
        "SELECT Id, WhoId FROM Task WHERE WhoId IN ('a\\'b','c\\\\d') AND IsDeleted = false"
    )
    assert in_list_queries(TEMPLATE, []) == []


def test_an_id_that_cannot_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="budget"):
        in_list_queries(TEMPLATE, ["x" * 20_000])


def _page(n: int, prefix: str) -> dict:
    return {
        "totalSize": n,
        "done": True,
        "records": [{"attributes": {"type": "Task"}, "Id": f"{prefix}{i}"} for i in range(n)],
    }


def test_five_queries_share_one_composite_call_and_a_lone_query_is_a_get(client, org) -> None:
    subrequests: list[list[dict]] = []

    def composite(request):
        subs = json.loads(request.body)["compositeRequest"]
        subrequests.append(subs)
        out = []
        for sub in subs:
            soql = parse_qs(urlsplit(sub["url"]).query)["q"][0]
            out.append(
                {"body": _page(1, soql[-4:-1]), "httpStatusCode": 200,
                 "referenceId": sub["referenceId"], "httpHeaders": {}}
            )  # fmt: skip
        return 200, {"compositeResponse": out}

    org.route("POST", "composite", composite)
    org.route("GET", "queryAll", lambda r: (200, _page(1, "lone")))
    soqls = [f"SELECT Id FROM Task WHERE Id = 'q{n:02d}'" for n in range(11)]

    got = list(query_many(client, soqls, include_deleted=True))

    assert [len(s) for s in subrequests] == [QUERIES_PER_CALL, QUERIES_PER_CALL]
    assert all(
        s["url"].startswith("/services/data/v59.0/queryAll/?q=") for b in subrequests for s in b
    )
    assert len(org.calls_to("/queryAll", "GET")) == 1
    assert [i for i, _ in got] == list(range(11))
    assert got[0][1] == {"Id": "q000"}  # the query's own answer, attributes stripped
    assert got[9][1] == {"Id": "q090"}
    assert got[10][1] == {"Id": "lone0"}


def test_further_pages_are_read_and_a_refused_query_raises_its_code(client, org) -> None:
    first = {**_page(2, "a"), "done": False, "nextRecordsUrl": "/services/data/v59.0/query/01g-2"}

    def composite(request):
        return 200, {
            "compositeResponse": [
                {"body": first, "httpStatusCode": 200, "referenceId": "q0"},
                {"body": _page(1, "b"), "httpStatusCode": 200, "referenceId": "q1"},
            ]
        }

    org.route("POST", "composite", composite)
    org.route("GET", "query/01g-2", lambda r: (200, _page(3, "c")))

    got = [(i, r["Id"]) for i, r in query_many(client, ["S0", "S1"])]

    assert got == [(0, "a0"), (0, "a1"), (0, "c0"), (0, "c1"), (0, "c2"), (1, "b0")]

    def refused(request):
        bad = [{"errorCode": "MALFORMED_QUERY", "message": "unexpected token"}]
        ok = {"body": _page(1, "x"), "httpStatusCode": 200, "referenceId": "q0"}
        return 200, {"compositeResponse": [ok, {"body": bad, "httpStatusCode": 400}]}

    org.rsps.reset()
    org.token()
    org.route("POST", "composite", refused)
    with pytest.raises(errors.SalesforceError) as info:
        list(query_many(client, ["S0", "S1"]))
    assert info.value.code == "MALFORMED_QUERY"
