"""Fixtures for the Salesforce unit tests: a fake org behind ``responses``, RSA keys, settings."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tenacity import wait_none

from connector.salesforce.client import SalesforceClient
from connector.salesforce.settings import SalesforceSettings

LOGIN = "https://login.salesforce.com"
INSTANCE = "https://org.my.salesforce.com"
API = f"{INSTANCE}/services/data/v59.0/"
TOKEN_URL = f"{LOGIN}/services/oauth2/token"
SECRET = "s3cr3t-Client-Secret-value"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "jwt.key"
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def make_settings(**overrides: Any) -> SalesforceSettings:
    values: dict[str, Any] = {
        "url": LOGIN,
        "auth": "client_credentials",
        "client_id": "3MVGtestclient",
        "client_secret": SECRET,
        "max_retries": 3,
    }
    values.update(overrides)
    return SalesforceSettings(**values)


class FakeOrg:
    """A scripted org: token endpoint plus per-route answers, with a request log."""

    LOGIN, INSTANCE, API, TOKEN_URL, SECRET = LOGIN, INSTANCE, API, TOKEN_URL, SECRET

    def __init__(self, rsps: responses.RequestsMock):
        self.rsps = rsps
        self.tokens_issued = 0
        self.usage = (10, 15000)

    def token(self, *, status: int = 200, body: dict[str, Any] | None = None) -> None:
        def answer(request: Any) -> tuple[int, dict[str, str], str]:
            if status != 200:
                return status, {}, json.dumps(body or {})
            self.tokens_issued += 1
            payload = {
                "access_token": f"00Dtoken{self.tokens_issued}",
                "instance_url": INSTANCE,
                "token_type": "Bearer",
            }
            return 200, {}, json.dumps(payload)

        self.rsps.add_callback(responses.POST, TOKEN_URL, callback=answer)

    def route(
        self,
        method: str,
        path: str,
        handler: Callable[[Any], tuple[int, Any]],
    ) -> None:
        """Register ``handler(request) -> (status, body)`` for ``API + path`` (regex, any query)."""

        def answer(request: Any) -> tuple[int, dict[str, str], str | bytes]:
            status, body = handler(request)
            used, total = self.usage
            self.usage = (used + 1, total)
            headers = {"Sforce-Limit-Info": f"api-usage={used + 1}/{total}"}
            if isinstance(body, str | bytes):
                return status, headers, body
            return status, headers, "" if body is None else json.dumps(body)

        pattern = re.compile(re.escape(API) + path + r"/?(\?.*)?$")
        self.rsps.add_callback(method, pattern, callback=answer)

    def calls_to(self, fragment: str, method: str | None = None) -> list[Any]:
        return [
            c.request
            for c in self.rsps.calls
            if fragment in c.request.url and (method is None or c.request.method == method)
        ]


@pytest.fixture(name="make_settings")
def make_settings_fixture() -> Callable[..., SalesforceSettings]:
    return make_settings


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def org(rsps: responses.RequestsMock) -> FakeOrg:
    fake = FakeOrg(rsps)
    fake.token()
    return fake


@pytest.fixture
def client(org: FakeOrg) -> SalesforceClient:
    return SalesforceClient(make_settings(), retry_wait=wait_none())
