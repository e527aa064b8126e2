"""HttpSource credentials never leave the origin of `url`: next links and redirects."""

from __future__ import annotations

import pytest
import responses

from connector.errors import InputError
from connector.records import SourceRecord
from connector.sources import open_source

BASE = "https://events.example.org/api/v1/registrations"
OTHER = "https://cdn.example.net/page2"
TOKEN = "Bearer s3cr3t-token"


def src(tmp_path, **opts):
    spec = {"kind": "http", "url": BASE, "key": "id", "backoff": 0, "auth_env": "TOK", **opts}
    return open_source(spec, base_dir=tmp_path, env={"TOK": TOKEN})


def sent(call, header: str) -> str | None:
    return call.request.headers.get(header)


@responses.activate
@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key"])
def test_a_next_link_to_another_host_gets_no_credential(tmp_path, header):
    responses.get(BASE, json={"data": [{"id": 1}], "next": OTHER})
    responses.get(OTHER, json={"data": [{"id": 2}], "next": None})
    s = src(
        tmp_path, items="data", paging={"style": "next_link", "next": "next"}, auth_header=header
    )
    out = list(s.read())
    assert [r.key for r in out if isinstance(r, SourceRecord)] == ["1", "2"]
    assert sent(responses.calls[0], header) == TOKEN
    assert sent(responses.calls[1], header) is None


@responses.activate
def test_a_next_link_on_the_same_origin_keeps_the_credential(tmp_path):
    responses.get(BASE, json={"data": [{"id": 1}], "next": "/api/v1/registrations?p=2"})
    responses.get(BASE + "?p=2", json={"data": [{"id": 2}]})
    s = src(tmp_path, items="data", paging={"style": "next_link", "next": "next"})
    assert len(list(s.read())) == 2
    assert [sent(c, "Authorization") for c in responses.calls] == [TOKEN, TOKEN]


@responses.activate
@pytest.mark.parametrize(
    "target",
    [
        OTHER,  # another host
        "http://events.example.org/api/v1/registrations/2",  # another scheme (and port)
        "https://events.example.org:8443/api/v1/registrations/2",  # another port
    ],
)
@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key"])
def test_a_redirect_to_another_origin_gets_no_credential_header_or_cookie(tmp_path, target, header):
    # A session cookie from the home host: cookies are not scoped by port or scheme.
    responses.get(BASE, status=302, headers={"Location": target, "Set-Cookie": "sid=abc; Path=/"})
    responses.get(target, json=[{"id": 1}])
    s = src(tmp_path, auth_header=header)
    assert [r.key for r in s.read()] == ["1"]
    assert sent(responses.calls[0], header) == TOKEN
    assert sent(responses.calls[1], header) is None
    assert sent(responses.calls[1], "Cookie") is None


@responses.activate
def test_a_redirect_within_the_origin_keeps_a_custom_header(tmp_path):
    responses.get(BASE, status=301, headers={"Location": BASE + "/v2"})
    responses.get(BASE + "/v2", json=[{"id": 1}])
    s = src(tmp_path, auth_header="X-Api-Key")
    assert [r.key for r in s.read()] == ["1"]
    assert sent(responses.calls[1], "X-Api-Key") == TOKEN


@responses.activate
def test_refuse_stops_at_a_next_link_to_another_host(tmp_path):
    responses.get(BASE, json={"data": [{"id": 1}], "next": OTHER})
    responses.get(OTHER, json={"data": [{"id": 2}]})
    s = src(
        tmp_path, items="data", paging={"style": "next_link", "next": "next"}, cross_host="refuse"
    )
    with pytest.raises(InputError, match=r"another host.*cross_host: refuse") as info:
        list(s.read())
    assert len(responses.calls) == 1  # the other host was never asked
    assert "cdn.example.net" not in str(info.value) and TOKEN not in str(info.value)


@responses.activate
def test_refuse_stops_at_a_redirect_to_another_host(tmp_path):
    responses.get(BASE, status=307, headers={"Location": OTHER})
    responses.get(OTHER, json=[{"id": 1}])
    s = src(tmp_path, cross_host="refuse")
    with pytest.raises(InputError, match="cross_host: refuse"):
        list(s.read())
    assert len(responses.calls) == 1


def test_cross_host_accepts_only_drop_or_refuse(tmp_path):
    from connector.errors import ConfigError

    with pytest.raises(ConfigError, match="cross_host"):
        src(tmp_path, cross_host="allow")
