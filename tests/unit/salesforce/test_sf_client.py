"""The client session: CA handling, refresh-once, limit header and guard, retries, secrecy."""

from __future__ import annotations

import pytest
import requests
from tenacity import wait_none

from connector import errors
from connector.salesforce.client import LimitGuard, SalesforceClient, parse_limit_info, scrub

EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_ca_bundle_is_trusted_and_environment_ignored(org, make_settings, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    client = SalesforceClient(make_settings(ca_bundle=ca), retry_wait=wait_none())
    assert client.session.verify == str(ca)
    # REQUESTS_CA_BUNDLE would otherwise override session.verify (wire spec §0).
    assert client.session.trust_env is False
    plain = SalesforceClient(make_settings(), session=requests.Session())
    assert plain.session.trust_env is True


def test_direct_mode_uses_token_and_instance(client, org):
    assert client.sf.session_id == "00Dtoken1"
    assert client.base_url == org.API
    assert client.auth_calls == 1
    assert client.calls_made == 0


def test_expired_session_is_refreshed_once_and_the_call_retried(client, org):
    answers = iter([(401, EXPIRED), (200, {"ok": True})])
    org.route("GET", "limits", lambda request: next(answers))

    assert client.json("GET", "limits/") == {"ok": True}
    calls = org.calls_to("/limits")
    assert [c.headers["Authorization"] for c in calls] == ["Bearer 00Dtoken1", "Bearer 00Dtoken2"]
    assert client.refreshes == 1
    assert client.auth_calls == 2


def test_expired_session_is_not_refreshed_twice(client, org):
    org.route("GET", "limits", lambda request: (401, EXPIRED))
    with pytest.raises(errors.SalesforceError) as info:
        client.request("GET", "limits/")
    assert info.value.code == "INVALID_SESSION_ID"
    assert not isinstance(info.value, errors.Retriable)
    assert len(org.calls_to("/limits")) == 2
    assert org.tokens_issued == 2  # the first login and exactly one refresh


def test_each_call_may_refresh_once_in_a_long_run(client, org):
    answers = iter([(401, EXPIRED), (200, {}), (401, EXPIRED), (200, {})])
    org.route("GET", "limits", lambda request: next(answers))
    client.request("GET", "limits/")
    client.request("GET", "limits/")
    assert client.refreshes == 2


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("api-usage=18/5000", (18, 5000)),
        ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)", (25, 5000)),
        ("per-app-api-usage=17/250(appName=x)", None),
        (None, None),
    ],
)
def test_parse_limit_info(header, expected):
    assert parse_limit_info(header) == expected


def test_limit_header_is_read_from_every_response_and_calls_counted(client, org):
    org.usage = (100, 15000)
    org.route("GET", "limits", lambda request: (200, {}))
    org.route(
        "GET", "sobjects/Contact/describe", lambda request: (404, [{"errorCode": "NOT_FOUND"}])
    )
    client.request("GET", "limits/")
    assert (client.api_used, client.api_max, client.calls_made) == (101, 15000, 1)
    with pytest.raises(errors.SalesforceError):
        client.request("GET", "sobjects/Contact/describe")
    # Error responses carry the header too.
    assert (client.api_used, client.calls_made) == (102, 2)


def test_guard_stops_before_the_share_is_exceeded(org, make_settings):
    client = SalesforceClient(make_settings(daily_api_share=0.5), retry_wait=wait_none())
    org.usage = (48, 100)
    org.route("GET", "limits", lambda request: (200, {}))
    client.request("GET", "limits/")  # 49/100: below half
    client.request("GET", "limits/")  # 50/100: the answer says the share is now used
    with pytest.raises(errors.LimitReached) as info:
        client.request("GET", "limits/")
    assert len(org.calls_to("/limits")) == 2  # the third call was never sent
    assert info.value.exit_code == 1


def test_limit_guard_unit():
    guard = LimitGuard(0.8)
    guard.check(None, None)
    guard.check(799, 1000)
    with pytest.raises(errors.LimitReached, match="800 of 1000"):
        guard.check(800, 1000)


def test_daily_limit_exceeded_response_is_limit_reached(client, org):
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    org.route("GET", "limits", lambda request: (403, body))
    with pytest.raises(errors.LimitReached):
        client.request("GET", "limits/")
    assert len(org.calls_to("/limits")) == 1


def test_503_is_retried_then_succeeds(client, org):
    answers = iter(
        [
            (503, "Service Unavailable"),
            (503, [{"errorCode": "SERVER_UNAVAILABLE"}]),
            (200, {"a": 1}),
        ]
    )
    org.route("GET", "limits", lambda request: next(answers))
    assert client.json("GET", "limits/") == {"a": 1}
    assert len(org.calls_to("/limits")) == 3


def test_retries_are_bounded(client, org):
    org.route(
        "GET", "limits", lambda request: (500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "x"}])
    )
    with pytest.raises(errors.RetriableSalesforceError) as info:
        client.request("GET", "limits/")
    assert info.value.status == 500
    assert len(org.calls_to("/limits")) == client.settings.max_retries + 1


def test_bad_request_is_not_retried(client, org):
    org.route(
        "GET", "query", lambda request: (400, [{"errorCode": "MALFORMED_QUERY", "message": "bad"}])
    )
    with pytest.raises(errors.SalesforceError) as info:
        client.request("GET", "query/", params={"q": "SELEC"})
    assert (info.value.code, info.value.status) == ("MALFORMED_QUERY", 400)
    assert len(org.calls_to("/query")) == 1


def test_connection_errors_are_retried_and_never_quote_the_url(client, org, rsps):
    rsps.add(
        "GET", f"{org.API}query/", body=requests.ConnectionError("boom at url ...Email='a@b.nl'")
    )
    with pytest.raises(errors.RetriableSalesforceError) as info:
        client.request(
            "GET", "query/", params={"q": "SELECT Id FROM Contact WHERE Email = 'a@b.nl'"}
        )
    assert "a@b.nl" not in str(info.value)
    assert info.value.code == "CONNECTION_ERROR"
    assert len(org.calls_to("/query")) == client.settings.max_retries + 1


def test_client_repr_has_no_token(client):
    assert "00Dtoken" not in repr(client)
    assert "s3cr3t" not in repr(client)


def test_scrub_cuts_quoted_values():
    assert scrub("Email: invalid email address: jan@x") == "Email: invalid email address: <value>"
    assert (
        scrub("Last Name: data value too large: Pietersen-van-Dam (max length=80)")
        == "Last Name: data value too large: <value> (max length=80)"
    )
    assert (
        scrub("Required fields are missing: [LastName]")
        == "Required fields are missing: [LastName]"
    )


def test_a_ca_bundle_that_is_not_there_is_a_configuration_error(make_settings, tmp_path):
    """An outsider's F1: requests raised a bare OSError on the first call (exit 70, "a bug")."""
    from connector.errors import ConfigError

    with pytest.raises(ConfigError, match=r"salesforce.ca_bundle .*missing.pem: not a readable"):
        SalesforceClient(make_settings(ca_bundle=tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="not a readable file"):
        SalesforceClient(make_settings(ca_bundle=tmp_path))  # a folder
