"""OAuth flows, settings validation and secrecy of the Salesforce credentials."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs

import jwt
import pydantic
import pytest
import requests

from connector import errors
from connector.salesforce.auth import JWT_GRANT, Token, get_token


def _form(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body).items()}


def test_jwt_assertion_has_salesforce_claims_and_verifies(
    org, rsps, key_file, rsa_key, make_settings
):
    settings = make_settings(
        auth="jwt",
        client_secret=None,
        username="integration@school.example",
        private_key_file=key_file,
    )
    before = time.time()
    token = get_token(settings, session=requests.Session())

    form = _form(rsps.calls[0].request)
    assert form["grant_type"] == JWT_GRANT
    claims = jwt.decode(
        form["assertion"],
        rsa_key.public_key(),
        algorithms=["RS256"],
        audience=org.LOGIN,
    )
    assert claims["iss"] == "3MVGtestclient"
    assert claims["sub"] == "integration@school.example"
    assert claims["aud"] == org.LOGIN
    assert before + 170 <= claims["exp"] <= time.time() + 181
    assert jwt.get_unverified_header(form["assertion"])["alg"] == "RS256"
    assert token.instance_url == org.INSTANCE
    assert token.access_token == "00Dtoken1"


def test_jwt_signature_made_with_another_key_does_not_verify(org, rsps, key_file, make_settings):
    from cryptography.hazmat.primitives.asymmetric import rsa

    settings = make_settings(auth="jwt", username="u@x.example", private_key_file=key_file)
    get_token(settings, session=requests.Session())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            _form(rsps.calls[0].request)["assertion"],
            other.public_key(),
            algorithms=["RS256"],
            audience=org.LOGIN,
        )


def test_jwt_audience_defaults_to_login_host_off_salesforce(make_settings, key_file):
    base = {"auth": "jwt", "username": "u@x.example", "private_key_file": key_file}
    assert make_settings(**base, url="https://test.salesforce.com").audience == (
        "https://test.salesforce.com"
    )
    emulator = make_settings(**base, url="https://127.0.0.1:8443")
    assert emulator.audience == "https://login.salesforce.com"
    assert make_settings(**base, jwt_audience="https://site.force.com/x/").audience == (
        "https://site.force.com/x"
    )


def test_client_credentials_sends_basic_auth(org, rsps, make_settings):
    get_token(make_settings(), session=requests.Session())
    request = rsps.calls[0].request
    assert _form(request) == {"grant_type": "client_credentials"}
    expected = base64.b64encode(f"3MVGtestclient:{org.SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


def test_password_flow_appends_security_token(org, rsps, make_settings):
    settings = make_settings(
        auth="password", username="u@school.example", password="pw-123", security_token="TOK"
    )
    get_token(settings, session=requests.Session())
    form = _form(rsps.calls[0].request)
    assert form["grant_type"] == "password"
    assert form["password"] == "pw-123TOK"
    assert form["username"] == "u@school.example"
    assert form["client_secret"] == org.SECRET


@pytest.mark.parametrize("code", ["invalid_client", "invalid_grant"])
def test_refused_credentials_are_a_config_error_without_secrets(rsps, make_settings, code):
    settings = make_settings(auth="password", username="u@school.example", password="pw-Secret1")
    description = "authentication failure for u@school.example"
    rsps.add(
        "POST",
        "https://login.salesforce.com/services/oauth2/token",
        status=400,
        json={"error": code, "error_description": description},
    )
    with pytest.raises(errors.ConfigError) as info:
        get_token(settings, session=requests.Session())
    text = str(info.value)
    assert code in text
    assert info.value.exit_code == 2
    for secret in ("pw-Secret1", "s3cr3t-Client-Secret-value", "u@school.example"):
        assert secret not in text


def test_login_host_down_is_retriable(rsps, make_settings):
    rsps.add("POST", "https://login.salesforce.com/services/oauth2/token", status=503, body="down")
    with pytest.raises(errors.RetriableSalesforceError):
        get_token(make_settings(), session=requests.Session())


@pytest.mark.parametrize(
    ("identity", "user"),
    [
        (
            "https://login.salesforce.com/id/00D5g000004EmuXAAS/0055g000004Emu1AAC",
            "0055g000004Emu1AAC",
        ),
        ("https://login.salesforce.com/id/00D5g000004EmuX/0055g000004Emu1", "0055g000004Emu1"),
        (None, ""),  # no identity URL: the user is unknown
        ("https://login.salesforce.com/id/00D5g000004EmuXAAS/not-an-id", ""),
    ],
)
def test_the_token_names_the_user_it_acts_as(rsps, make_settings, identity, user):
    # The identity URL's last segment is the user's Id (OAuth token response, "id"): the
    # rebuild tells sis-sync's records by their CreatedById / LastModifiedById with it.
    body = {"access_token": "00Dtoken", "instance_url": "https://org.my.salesforce.com"}
    rsps.add(
        "POST",
        "https://login.salesforce.com/services/oauth2/token",
        json=body if identity is None else {**body, "id": identity},
    )
    assert get_token(make_settings(), session=requests.Session()).user_id == user


def test_unreadable_key_file_names_the_path_only(tmp_path, make_settings):
    bad = tmp_path / "broken.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n")
    settings = make_settings(auth="jwt", username="u@x.example", private_key_file=bad)
    with pytest.raises(errors.ConfigError) as info:
        get_token(settings, session=requests.Session())
    assert "broken.key" in str(info.value)
    assert "not-a-key" not in str(info.value)
    missing = make_settings(auth="jwt", username="u@x.example", private_key_file=tmp_path / "nope")
    with pytest.raises(errors.ConfigError, match="nope"):
        get_token(missing, session=requests.Session())


def test_token_repr_hides_the_access_token():
    token = Token("00Dsecret-token", "https://org.my.salesforce.com", 0.0)
    assert "00Dsecret-token" not in repr(token)
    assert "org.my.salesforce.com" in repr(token)


def test_settings_repr_and_errors_hide_secrets(make_settings):
    settings = make_settings(auth="password", username="u@x.example", password="pw-Secret1")
    assert "pw-Secret1" not in repr(settings)
    assert "s3cr3t-Client-Secret-value" not in repr(settings)
    with pytest.raises(pydantic.ValidationError) as info:
        make_settings(client_secret="another-secret-9", surprise=1)
    assert "another-secret-9" not in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "needs"),
    [
        ({"auth": "jwt"}, "private_key_file"),
        ({"auth": "client_credentials", "client_secret": None}, "client_secret"),
        ({"auth": "password"}, "password"),
    ],
)
def test_each_flow_requires_its_settings(make_settings, overrides, needs):
    with pytest.raises(pydantic.ValidationError, match=needs):
        make_settings(**overrides)


def test_settings_defaults_and_bounds(make_settings):
    settings = make_settings(url="https://test.salesforce.com/")
    assert settings.url == "https://test.salesforce.com"
    assert settings.token_url == "https://test.salesforce.com/services/oauth2/token"
    assert (settings.api_version, settings.daily_api_share, settings.bulk_threshold) == (
        "59.0",
        0.8,
        2000,
    )
    for bad in ({"daily_api_share": 0}, {"daily_api_share": 1.5}, {"url": "http://x"}):
        with pytest.raises(pydantic.ValidationError):
            make_settings(**bad)
