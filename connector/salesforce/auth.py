"""Getting an OAuth 2.0 access token ourselves, with ``requests``.

simple-salesforce can log in by itself, but then it owns the refresh logic, and its ``SFType``
calls refresh without a bound (wire spec §1.4, SS-804). The connector gets the token here and
hands ``session_id`` + ``instance_url`` to simple-salesforce in direct mode; the client refreshes
through this module once per failed call.

Errors never carry a secret: they name the flow, Salesforce's ``error`` code and its
description (with the configured username and secrets blanked out, should Salesforce echo them).
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connector import errors
from connector.salesforce.settings import SalesforceSettings

if TYPE_CHECKING:
    import requests  # imported where a request is made: `status` and `--help` need none

TLS_VERIFY = "TLS: certificate verify failed"  # how describe_failure starts for a bad certificate
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts a JWT assertion for at most three minutes after it was signed (SF-jwt).
JWT_LIFETIME_S = 180
_SF_ID = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")  # a 15- or 18-character record Id

# OAuth errors that mean the credentials or the connected app are wrong: configuration
# problems (exit 2), not something a retry fixes (SF-oautherr).
_CONFIG_ERRORS = {
    "invalid_client",
    "invalid_client_id",
    "invalid_client_credentials",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_request",
    "inactive_user",
    "inactive_org",
}


@dataclass(frozen=True)
class Token:
    """An access token and the instance it is valid for.

    Attributes:
        access_token: The bearer token (hidden from ``repr``).
        instance_url: ``https://host[:port]`` that every API call goes to.
        issued_at: Epoch seconds (local clock) when the token was received.
        user_id: The Id of the user the token acts as: the last segment of the identity URL
            the token response carries as ``id`` (``…/id/<org Id>/<user Id>``; OAuth 2.0
            token responses, Salesforce Help "OAuth Endpoints"); "" when absent.
    """

    access_token: str = field(repr=False)
    instance_url: str
    issued_at: float
    user_id: str = ""


def jwt_assertion(settings: SalesforceSettings, *, now: float | None = None) -> str:
    """Build and sign the JWT bearer assertion (RS256).

    Args:
        settings: Needs ``client_id``, ``username``, ``private_key_file`` and ``url``.
        now: Epoch seconds to sign at (tests); default the clock.

    Returns:
        The compact JWT.

    Raises:
        errors.ConfigError: The key file is missing, unreadable or not an RSA private key.
    """
    import jwt  # with it comes cryptography (~0.1 s): only the jwt flow needs it

    path = settings.private_key_file
    if path is None:
        raise errors.ConfigError("salesforce.private_key_file is required for auth jwt")
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise errors.ConfigError(
            f"salesforce.private_key_file {path}: cannot read ({exc.strerror})"
        ) from None
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": settings.client_id,
        "sub": settings.username,
        "aud": settings.audience,
        "exp": issued + JWT_LIFETIME_S,
    }
    try:
        return jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):
        # The exception text of cryptography can quote parts of the key; say only where it is.
        raise errors.ConfigError(
            f"salesforce.private_key_file {path}: not a usable PEM RSA private key"
        ) from None


def token_request(settings: SalesforceSettings) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The form body (and HTTP basic auth, if any) for the configured flow."""
    if settings.auth == "jwt":
        return {"grant_type": JWT_GRANT, "assertion": jwt_assertion(settings)}, None
    secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
    if settings.auth == "client_credentials":
        # Salesforce takes the client credentials as HTTP basic auth (jsforce / SF docs).
        return {"grant_type": "client_credentials"}, (settings.client_id or "", secret)
    password = settings.password.get_secret_value() if settings.password else ""
    token = settings.security_token.get_secret_value() if settings.security_token else ""
    form = {
        "grant_type": "password",
        "client_id": settings.client_id or "",
        "username": settings.username or "",
        # The security token is appended to the password (the org's IP restrictions decide
        # whether it is needed).
        "password": password + token,
    }
    if secret:
        form["client_secret"] = secret
    return form, None


def get_token(
    settings: SalesforceSettings, *, session: requests.Session, timeout: float | None = None
) -> Token:
    """Get an access token with the configured OAuth flow.

    Args:
        settings: The ``salesforce:`` settings.
        session: The HTTP session to use (its ``verify`` decides which CA is trusted).
        timeout: Seconds to wait; default ``settings.timeout``.

    Returns:
        The token and the instance URL it belongs to.

    Raises:
        errors.ConfigError: Salesforce refused the credentials (invalid_client, invalid_grant …).
        errors.RetriableSalesforceError: The login host could not be reached or failed (5xx).
        errors.SalesforceError: Any other unexpected answer.
    """
    import requests

    form, basic = token_request(settings)
    try:
        response = session.post(
            settings.token_url,
            data=form,
            auth=basic,
            headers={"Accept": "application/json"},
            timeout=timeout or settings.timeout,
        )
    except requests.RequestException as exc:
        # str(exc) would be fine here (no personal data in a token URL) but stay uniform.
        failure = errors.RetriableSalesforceError(
            f"token request to {settings.url} failed: {type(exc).__name__}",
            code="CONNECTION_ERROR",
        )
        failure.cause = describe_failure(exc, settings.token_url, ca_bundle=settings.ca_bundle)
        if failure.cause.startswith(TLS_VERIFY):
            # A certificate that does not verify will not verify on a retry either.
            raise errors.SalesforceUnreachable(failure.cause, code="TLS_VERIFY_FAILED") from None
        raise failure from None
    body = _json_or_none(response)
    if response.status_code == 200 and body and body.get("access_token"):
        instance = str(body.get("instance_url") or "").rstrip("/")
        if not instance.startswith("https://"):
            raise errors.SalesforceError(
                "token response has no https instance_url", code="BAD_TOKEN_RESPONSE"
            )
        user = str(body.get("id") or "").rstrip("/").rpartition("/")[2]
        user_id = user if _SF_ID.fullmatch(user) else ""
        return Token(str(body["access_token"]), instance, time.time(), user_id)
    code = str((body or {}).get("error") or f"HTTP_{response.status_code}")
    description = _redact(str((body or {}).get("error_description") or ""), settings)
    message = f"Salesforce refused the {settings.auth} login: {code}"
    if description:
        message += f" ({description})"
    if response.status_code >= 500:
        failure = errors.RetriableSalesforceError(message, status=response.status_code)
        failure.cause = (
            f"the login at {origin(settings.token_url)} answered HTTP {response.status_code}"
        )
        raise failure
    if code in _CONFIG_ERRORS or response.status_code in (400, 401, 403):
        raise errors.ConfigError(message + "; check the salesforce settings and secrets")
    raise errors.SalesforceError(message, status=response.status_code)


def _json_or_none(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _redact(text: str, settings: SalesforceSettings) -> str:
    """Blank out anything configured that must not reach a log (username and secrets)."""
    values = [settings.username or ""]
    for secret in (settings.client_secret, settings.password, settings.security_token):
        if secret is not None:
            values.append(secret.get_secret_value())
    for value in values:
        if len(value) >= 3:
            text = text.replace(value, "***")
    return text[:300]


def origin(url: str) -> str:
    """``https://host[:port]`` of ``url``: what a cause may name (never a path or a query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything behind it: causes, contexts, urllib3's ``reason`` and ``args``."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]


def describe_failure(exc: BaseException, url: str, *, ca_bundle: Path | None = None) -> str:
    """Why a request to ``url`` never got an answer, in words an admin can act on.

    Names the host (scheme, host, port) and the kind of failure — TLS verification, refused
    connection, unknown host, timeout — with a hint; never the request's path or query (a SOQL
    query or an external id in a path can hold a value).
    """
    import requests

    where = origin(url)
    found = list(_chain(exc))
    verify = next((e for e in found if isinstance(e, ssl.SSLCertVerificationError)), None)
    if verify is not None or isinstance(exc, requests.exceptions.SSLError):
        detail = getattr(verify, "verify_message", "") or "handshake failed"
        hint = (
            f"is ca_bundle ({ca_bundle.name}) the emulator's ca.pem?"
            if ca_bundle is not None
            else "the system CAs do not trust it: set salesforce.ca_bundle (the emulator's ca.pem)"
        )
        what = TLS_VERIFY if verify is not None else "TLS: TLS error"
        return f"{what} for {where} ({detail}) — {hint}"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer from {where} in time (timeout) — is Salesforce reachable from here?"
    if any(isinstance(e, socket.gaierror) for e in found):
        return f"cannot resolve the host of {where} — check salesforce.url and DNS"
    if any(isinstance(e, ConnectionRefusedError) for e in found):
        return f"connection refused by {where} — is Salesforce (or the emulator) running there?"
    return f"cannot connect to {where} ({type(exc).__name__}) — check salesforce.url and network"
