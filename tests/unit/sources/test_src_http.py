"""HttpSource with `responses`: the three paging styles, auth from env, retries, errors."""

from __future__ import annotations

import pytest
import requests
import responses
from responses import matchers

from connector.errors import InputError, SourceError
from connector.records import Reject, SourceRecord
from connector.sources import open_source
from connector.sources.http import parse_retry_after
from connector.sources.jsonl import NAME_CLASH, UNREAD_FIELD

BASE = "https://events.example.org/api/v1/registrations"
TOKEN = "Bearer s3cr3t-token"


def src(tmp_path, env=None, **opts):
    spec = {"kind": "http", "url": BASE, "key": "id", "backoff": 0, **opts}
    s = open_source(spec, base_dir=tmp_path, env=env or {})
    s.waits = []
    s.sleep = s.waits.append  # record waits instead of sleeping
    return s


def items(n0, n1):
    return [{"id": i, "person": {"email": f"p{i}@example.org"}} for i in range(n0, n1)]


@responses.activate
def test_page_paging_until_a_short_page(tmp_path):
    for page, rows in ((1, items(0, 2)), (2, items(2, 4)), (3, items(4, 5))):
        responses.get(
            BASE,
            json={"data": rows},
            match=[matchers.query_param_matcher({"page": page, "per_page": 2})],
        )
    s = src(
        tmp_path, items="data", paging={"style": "page", "size_param": "per_page", "page_size": 2}
    )
    out = list(s.read())
    assert [r.key for r in out] == ["0", "1", "2", "3", "4"]
    assert [str(r.origin) for r in out][:2] == [
        "/api/v1/registrations:1",
        "/api/v1/registrations:2",
    ]
    assert out[0].fields["person.email"] == "p0@example.org"
    assert len(responses.calls) == 3


@responses.activate
def test_offset_paging_stops_on_an_empty_page(tmp_path):
    for offset, rows in ((0, items(0, 3)), (3, items(3, 6)), (6, [])):
        responses.get(
            BASE,
            json={"results": rows},
            match=[matchers.query_param_matcher({"offset": offset, "limit": 3, "event": "open"})],
        )
    s = src(
        tmp_path,
        items="results",
        params={"event": "open"},
        paging={"style": "offset", "page_size": 3},
    )
    assert [r.key for r in s.read()] == [str(i) for i in range(6)]
    assert len(responses.calls) == 3


@responses.activate
def test_next_link_from_body_then_from_link_header(tmp_path):
    responses.get(BASE, json={"items": items(0, 2), "links": {"next": "?cursor=abc"}})
    responses.get(
        BASE + "?cursor=abc",
        json={"items": items(2, 3), "links": {"next": None}},
        headers={"Link": f'<{BASE}?cursor=def>; rel="next"'},
        match=[matchers.query_param_matcher({"cursor": "abc"})],
    )
    responses.get(
        BASE + "?cursor=def",
        json={"items": items(3, 4)},
        match=[matchers.query_param_matcher({"cursor": "def"})],
    )
    s = src(tmp_path, items="items", paging={"style": "next_link", "next": "links.next"})
    assert [r.key for r in s.read()] == ["0", "1", "2", "3"]
    assert len(responses.calls) == 3


@responses.activate
def test_body_list_without_paging_and_non_object_items_rejected(tmp_path):
    responses.get(BASE, json=[{"id": "a"}, "oops", {"x": 1}])
    out = list(src(tmp_path).read())
    assert isinstance(out[0], SourceRecord)
    assert [(r.origin.line, r.reason) for r in out[1:] if isinstance(r, Reject)] == [
        (2, "not a JSON object (a str)"),
        (3, "empty key"),
    ]


@responses.activate
def test_auth_header_from_env(tmp_path):
    responses.get(BASE, json=[], match=[matchers.header_matcher({"X-Api-Key": TOKEN})])
    s = src(
        tmp_path,
        env={"EVENTS_API_TOKEN": TOKEN},
        auth_env="EVENTS_API_TOKEN",
        auth_header="X-Api-Key",
    )
    s.check()
    assert list(s.read()) == []
    assert responses.calls[0].request.headers["X-Api-Key"] == TOKEN


def test_check_requires_the_env_var_and_names_it_without_fetching(tmp_path):
    s = src(tmp_path, auth_env="EVENTS_API_TOKEN")
    with pytest.raises(InputError, match="EVENTS_API_TOKEN is not set"):
        s.check()  # no responses registered: a request would raise ConnectionError
    with pytest.raises(InputError, match="file not found"):
        src(tmp_path, ca_bundle="ca.pem").check()


@responses.activate
def test_retry_on_503_then_success_honouring_retry_after(tmp_path):
    responses.get(BASE, status=503, headers={"Retry-After": "7"})
    responses.get(BASE, status=429)
    responses.get(BASE, json=[{"id": 1}])
    s = src(tmp_path, backoff=0.5)
    assert [r.key for r in s.read()] == ["1"]
    assert s.waits == [7.0, 1.0]  # Retry-After, then exponential backoff (0.5 * 2)
    assert len(responses.calls) == 3


@responses.activate
def test_retries_are_bounded_then_source_error(tmp_path):
    responses.get(BASE, status=502)
    s = src(tmp_path, retries=3)
    with pytest.raises(SourceError, match=r"/api/v1/registrations: HTTP 502 on page 1 after 3"):
        list(s.read())
    assert len(responses.calls) == 3


@responses.activate
def test_connection_errors_retried(tmp_path):
    responses.get(BASE, body=requests.ConnectionError("boom"))
    responses.get(BASE, json=[{"id": 1}])
    assert [r.key for r in src(tmp_path).read()] == ["1"]


@responses.activate
def test_404_is_source_error_without_token_or_query(tmp_path):
    responses.get(BASE, status=404, json={"detail": "no"})
    s = src(tmp_path, env={"T": TOKEN}, auth_env="T", params={"api_key": "q-secret"})
    with pytest.raises(SourceError) as err:
        list(s.read())
    msg = str(err.value)
    assert msg == "/api/v1/registrations: HTTP 404 on page 1"
    assert "s3cr3t" not in msg
    assert "q-secret" not in msg
    assert len(responses.calls) == 1  # a 4xx other than 429 is not retried


@responses.activate
def test_max_pages_bound_refuses_a_partial_set(tmp_path):
    responses.get(BASE, json={"data": items(0, 2)})
    s = src(tmp_path, items="data", max_pages=3, paging={"style": "page", "page_size": 2})
    with pytest.raises(SourceError, match="more than max_pages=3"):
        list(s.read())
    assert len(responses.calls) == 3


@responses.activate
def test_items_path_not_a_list_and_non_json_are_source_errors(tmp_path):
    responses.get(BASE, json={"data": {"id": 1}})
    with pytest.raises(SourceError, match="`items: data` is not a list on page 1"):
        list(src(tmp_path, items="data").read())
    responses.replace(responses.GET, BASE, body="<html>")
    with pytest.raises(SourceError, match="not JSON"):
        list(src(tmp_path, items="data").read())


def test_paging_shorthand_and_bad_url():
    from connector.sources.http import HttpOptions

    assert HttpOptions(url=BASE, key="id", paging="next_link").paging.style == "next_link"
    with pytest.raises(ValueError, match="absolute http"):
        HttpOptions(url="ftp://x/y", key="id")


def test_parse_retry_after():
    from datetime import UTC, datetime

    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("0") == 0.0


@responses.activate
def test_an_item_naming_a_member_twice_is_rejected_and_the_page_read_on(tmp_path):
    """``{"email": a, "email": b}``: json keeps the last without a word; which one the mapping
    reads must not depend on the order of the members (as for a JSON-lines source)."""
    body = (
        '{"data": [{"id": 1, "email": "a@example.org"},'
        ' {"id": 2, "email": "b@example.org", "email": "c@example.org"},'
        ' {"id": 3, "person": {"email": "d@example.org", "email": "e@example.org"}}]}'
    )
    responses.get(BASE, body=body, content_type="application/json")
    out = list(src(tmp_path, items="data").read())
    assert isinstance(out[0], SourceRecord) and out[0].key == "1"
    assert [(r.column, r.reason) for r in out[1:] if isinstance(r, Reject)] == [
        (UNREAD_FIELD, NAME_CLASH),
        (UNREAD_FIELD, NAME_CLASH),
    ]
    assert "b@example.org" not in repr(out) and "e@example.org" not in repr(out)


@responses.activate
def test_an_envelope_naming_its_items_twice_is_a_source_error(tmp_path):
    responses.get(BASE, body='{"data": [], "data": [{"id": 1}]}', content_type="application/json")
    with pytest.raises(SourceError, match="names `data` twice"):
        list(src(tmp_path, items="data").read())
