"""The ``salesforce:`` block of sync.yaml (DESIGN §4; the names are a contract).

Secrets (``client_secret``, ``password``, ``security_token``) are ``SecretStr`` so that they never
show up in a repr, a log line or a validation message; they come from the environment
(``SIS_SYNC_SALESFORCE__CLIENT_SECRET`` …), never from the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

AuthFlow = Literal["jwt", "client_credentials", "password"]

# What each OAuth flow cannot do without; checked when the configuration loads, so that a
# missing setting is a configuration error (exit 2) before anything is read or written.
_REQUIRED_BY_FLOW: dict[str, tuple[str, ...]] = {
    "jwt": ("client_id", "username", "private_key_file"),
    "client_credentials": ("client_id", "client_secret"),
    "password": ("client_id", "username", "password"),
}


class SalesforceSettings(BaseModel):
    """How to reach and authenticate to one Salesforce org.

    Attributes:
        url: Login / token host (``https://login.salesforce.com``, ``https://test.salesforce.com``,
            a My Domain URL, or the emulator's ``https://127.0.0.1:P``).
        auth: OAuth flow: ``jwt`` (unattended default), ``client_credentials`` or ``password``.
        client_id: The connected app's consumer key.
        client_secret: The connected app's consumer secret (client_credentials, optional for
            password).
        username: The integration user (jwt and password flows).
        password: The integration user's password (password flow).
        security_token: Appended to the password when the org requires it (password flow).
        private_key_file: PEM private key whose certificate is uploaded to the connected app (jwt).
        jwt_audience: The JWT ``aud`` claim; default ``url`` when that is a Salesforce host,
            else ``https://login.salesforce.com`` (an emulator or proxy in front of the login).
        ca_bundle: A CA file to trust instead of the system store (the emulator's ``ca.pem``).
        api_version: REST API version, without the ``v``.
        daily_api_share: Stop before this share of the daily API allocation is used.
        bulk_threshold: Above this many rows per object and run, write with Bulk API 2.0.
        batch_size: Records per sObject Collections call, 1-200 (200 is Salesforce's maximum,
            SF-coll-create). Lower it for orgs whose triggers or flows hit governor limits on
            200 records at once; more calls, each lighter.
        duplicate_rules: ``enforce`` (default: a duplicate rule's alert blocks the save) or
            ``allow_save`` (save despite alerts), sent as ``Sforce-Duplicate-Rule-Header`` on
            sObject Collections writes.
        timeout: Seconds to wait for one HTTP response.
        max_retries: Retries of one call on a transient failure (connection, 5xx, row lock).
    """

    model_config = ConfigDict(extra="forbid")

    url: str = "https://login.salesforce.com"
    auth: AuthFlow = "jwt"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    private_key_file: Path | None = None
    jwt_audience: str | None = None
    ca_bundle: Path | None = None
    api_version: str = "59.0"
    daily_api_share: float = Field(0.8, gt=0, le=1)
    bulk_threshold: int = Field(2000, ge=0)
    # Salesforce refuses more than 200 records per collections call (wire spec §3).
    batch_size: int = Field(200, ge=1, le=200)
    duplicate_rules: Literal["enforce", "allow_save"] = "enforce"
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(5, ge=0, le=20)

    @field_validator("url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith("https://"):
            # simple-salesforce hard-codes https for every instance URL (wire spec §0).
            raise ValueError("must be an https:// URL")
        return value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.strip().removeprefix("v")
        major, _, minor = value.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            raise ValueError("must look like 59.0")
        return value

    @model_validator(mode="after")
    def _flow_has_what_it_needs(self) -> SalesforceSettings:
        missing = [name for name in _REQUIRED_BY_FLOW[self.auth] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth {self.auth} needs {', '.join(missing)}")
        return self

    def ca_bundle_problem(self) -> str | None:
        """What is wrong with ``ca_bundle`` (not a readable file), or None. Checked by
        ``validate`` and before the first call: requests would raise a bare OSError there."""
        ca = self.ca_bundle
        if ca is None or (ca.is_file() and os.access(ca, os.R_OK)):
            return None
        return (
            f"salesforce.ca_bundle {ca}: not a readable file (the CA certificate to trust, "
            "e.g. the emulator's ca.pem)"
        )

    @property
    def audience(self) -> str:
        """The ``aud`` of the JWT bearer assertion (SF-jwt: the login or test host)."""
        if self.jwt_audience:
            return self.jwt_audience.rstrip("/")
        host = urlsplit(self.url).hostname or ""
        if host.endswith((".salesforce.com", ".force.com")):
            return self.url
        return "https://login.salesforce.com"

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint on the login host."""
        return f"{self.url}/services/oauth2/token"
