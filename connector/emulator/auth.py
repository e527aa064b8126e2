"""Tokens and the login endpoints: OAuth 2.0 token (client credentials, JWT bearer, password)
and the SOAP ``login`` call (wire spec §1).

Access tokens are HMAC-signed with a secret kept in DIR, so they stay valid across a restart of
the same org; ``expire_tokens`` rejects every token issued so far and accepts later ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import jwt
from cryptography import x509

from connector.emulator.ids import ORG_ID, USER_ID
from connector.emulator.wire import XML_TYPE, OAuthError, Response, json_response

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_AUDIENCES = re.compile(r"^https://([A-Za-z0-9.-]+\.)?salesforce\.com/?$")


@dataclass
class AuthConfig:
    """Who may log in. ``None`` means "anyone" (the DESIGN §8 default)."""

    client_id: str | None = None
    client_secret: str | None = None
    jwt_cert: Path | None = None
    users: dict[str, str] | None = None  # username → password (password logins)
    _jwt_key: Any = field(default=None, repr=False)

    def jwt_key(self) -> Any:
        """Public key of the ``--jwt-cert`` certificate (loaded once)."""
        if self._jwt_key is None and self.jwt_cert is not None:
            cert = x509.load_pem_x509_certificate(Path(self.jwt_cert).read_bytes())
            self._jwt_key = cert.public_key()
        return self._jwt_key


class Tokens:
    """Issues and checks access tokens."""

    def __init__(self, directory: Path):
        secret_file = directory / "token.secret"
        if not secret_file.exists():
            secret_file.write_bytes(secrets.token_bytes(32))
            secret_file.chmod(0o600)
        self._secret = secret_file.read_bytes()
        self._last = 0
        self._cutoff = 0
        self._lock = threading.Lock()
        # Revoked tokens (revoke endpoint, SOAP logout) stay revoked across a restart.
        self._revoked_file = directory / "revoked.tokens"
        self._revoked = (
            set(self._revoked_file.read_text().split()) if self._revoked_file.exists() else set()
        )

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:18]

    def issue(self) -> str:
        """A new access token, shaped like ``00D...!AQ...``."""
        with self._lock:
            self._last = max(time.time_ns(), self._last + 1)
            payload = self._last.to_bytes(8, "big")
        body = base64.urlsafe_b64encode(payload + self._mac(payload)).decode().rstrip("=")
        # Salesforce tokens use letters, digits, "." and "_" after the "!"; clients check that
        # shape (sf: /(00D\w{12,15})![.\w]*/), so base64url's "-" becomes ".".
        return f"{ORG_ID[:15]}!AQ{body.replace('-', '.')}"

    def valid(self, token: str) -> bool:
        """True when ``token`` was issued by this org and not expired since."""
        head, _, rest = token.partition("!AQ")
        if head != ORG_ID[:15] or not rest or token in self._revoked:
            return False
        rest = rest.replace(".", "-")
        try:
            raw = base64.urlsafe_b64decode(rest + "=" * (-len(rest) % 4))
        except ValueError:
            return False
        payload, mac = raw[:8], raw[8:]
        if len(payload) != 8 or not hmac.compare_digest(mac, self._mac(payload)):
            return False
        return int.from_bytes(payload, "big") > self._cutoff

    def revoke(self, token: str) -> None:
        """Make ``token`` invalid for good (OAuth revoke, SOAP logout)."""
        with self._lock:
            self._revoked.add(token)
            with self._revoked_file.open("a") as fh:
                fh.write(token + "\n")

    def expire_all(self) -> None:
        """Reject every token issued so far; later ones work."""
        with self._lock:
            self._cutoff = self._last


def _check_client(cfg: AuthConfig, client_id: str | None, secret: str | None) -> None:
    if cfg.client_id is not None and client_id != cfg.client_id:
        raise OAuthError("invalid_client", "invalid client credentials")
    if cfg.client_secret is not None and secret != cfg.client_secret:
        raise OAuthError("invalid_client", "invalid client credentials")


def _check_user(cfg: AuthConfig, username: str, password: str, *, soap: bool) -> bool:
    if not username or not password:
        return False
    if cfg.users is None:
        return True
    expected = cfg.users.get(username)
    if expected is None:
        return False
    # SOAP login sends password + security token concatenated.
    return password == expected or (soap and password.startswith(expected))


def _check_jwt(cfg: AuthConfig, assertion: str) -> None:
    key = cfg.jwt_key()
    try:
        header = jwt.get_unverified_header(assertion)
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "invalid assertion")
        # simple-salesforce sends exp as a *string*; PyJWT would reject that, so check by hand.
        claims = jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            options={
                "verify_signature": key is not None,
                "verify_exp": False,
                "verify_aud": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError:
        # [unverified] exact description for a bad signature; error code per SF-oautherr.
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if cfg.client_id is not None and claims.get("iss") != cfg.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if not claims.get("sub"):
        raise OAuthError("invalid_grant", "invalid assertion")
    if cfg.users is not None and claims["sub"] not in cfg.users:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    aud = str(claims.get("aud", ""))
    if not _AUDIENCES.match(aud):
        raise OAuthError("invalid_grant", "audience is invalid")
    try:
        expired = int(claims.get("exp", 0)) < time.time()
    except (TypeError, ValueError):
        expired = True
    if expired:
        raise OAuthError("invalid_grant", "expired authorization code")  # [unverified] wording


def token_endpoint(
    cfg: AuthConfig, tokens: Tokens, form: dict[str, str], headers: dict[str, str], base_url: str
) -> Response:
    """``POST /services/oauth2/token``: issue a token or a Salesforce OAuth error (400)."""
    grant = form.get("grant_type", "")
    if grant == "client_credentials":
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:]).decode()
            except ValueError:
                raise OAuthError("invalid_client", "invalid client credentials") from None
            client_id, _, secret = decoded.partition(":")
        _check_client(cfg, client_id, secret)
    elif grant == JWT_GRANT:
        _check_jwt(cfg, form.get("assertion", ""))
    elif grant == "password":
        _check_client(cfg, form.get("client_id"), form.get("client_secret"))
        if not _check_user(cfg, form.get("username", ""), form.get("password", ""), soap=False):
            raise OAuthError("invalid_grant", "authentication failure")
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    token = tokens.issue()
    issued = str(int(time.time() * 1000))
    signature = base64.b64encode(hashlib.sha256(token.encode() + issued.encode()).digest())
    return json_response(
        200,
        {
            "access_token": token,
            "instance_url": base_url,
            # The identity URL on the emulator's own host, so conn.identity() stays local.
            "id": f"{base_url}/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature.decode(),
            "scope": "api",
        },
    )


def _xml_text(body: str, tag: str) -> str:
    # The envelope is tiny and comes from loopback; a regex avoids an XML parser (and its
    # entity-expansion pitfalls) for two elements.
    m = re.search(rf"<(?:\w+:)?{tag}\b[^>]*>(.*?)</(?:\w+:)?{tag}>", body, re.S)
    if not m:
        return ""
    text = m.group(1)
    for ent, ch in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&")):
        text = text.replace(ent, ch)
    return text


def soap_login(cfg: AuthConfig, tokens: Tokens, body: str, version: str, base_url: str) -> Response:
    """``POST /services/Soap/u/{ver}``: the partner ``login`` call (200 XML or a 500 fault)."""
    username, password = _xml_text(body, "username"), _xml_text(body, "password")
    if not _check_user(cfg, username, password, soap=True):
        fault = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
            "<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid "
            "username, password, security token; or user locked out.</faultstring><detail>"
            "<sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>"
            "<sf:exceptionMessage>Invalid username, password, security token; or user locked "
            "out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body>"
            "</soapenv:Envelope>"
        )
        return Response(500, fault.encode(), XML_TYPE)
    token = tokens.issue()
    ok = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
        f"<metadataServerUrl>{base_url}/services/Soap/m/{version}/{ORG_ID[:15]}"
        "</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{base_url}/services/Soap/u/{version}/{ORG_ID[:15]}</serverUrl>"
        f"<sessionId>{escape(token)}</sessionId><userId>{USER_ID}</userId>"
        f"<userInfo><organizationId>{ORG_ID}</organizationId>"
        f"<userName>{escape(username)}</userName></userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response(200, ok.encode(), XML_TYPE)
