"""Who is logged in: API versions, UserInfo, the identity URL, token revocation, SOAP logout.

These are the endpoints real clients call around the data API: ``sf org login access-token``
reads ``/services/oauth2/userinfo`` and then the ``User`` record; jsforce's ``identity()`` reads
the ``identity`` URL of the version resource; ``logout()`` revokes the token (OAuth sessions) or
calls SOAP ``logout`` (SOAP sessions). Everything answers on the emulator's own host, never on
``login.salesforce.com``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from connector.emulator.auth import soap_login
from connector.emulator.ids import ORG_ID, USER_ID
from connector.emulator.wire import XML_TYPE, ApiError, OAuthError, Response, json_response

if TYPE_CHECKING:
    from connector.emulator.server import App, Request

#: API versions the emulator serves. "Versions 41.0 through 67.0: Supported. Versions 31.0
#: through 40.0: Supported. Deprecated ... from Summer '27. Versions 21.0 through 30.0: As of
#: Summer '25, these versions are retired and unavailable" — API End-of-Life Policy,
#: https://developer.salesforce.com/docs/atlas.en-us.252.0.securityImplGuide.meta/securityImplGuide/api_rest_eol.htm
#: (Winter '27 added 68.0: the Composite guide of release 262 already shows v68.0 URLs).
MIN_VERSION = 31
MAX_VERSION = 68  # Winter '27, the release of today (2026-12)
USERNAME = "integration@sis-sync.emulator"
USER_RECORD: dict[str, Any] = {
    "Id": USER_ID,
    "Username": USERNAME,
    "FirstName": "Integration",
    "LastName": "User",
    "Name": "Integration User",
    "Alias": "integ",
    "Email": USERNAME,
    "IsActive": True,
    "UserType": "Standard",
    "TimeZoneSidKey": "Europe/Amsterdam",
    "LocaleSidKey": "nl_NL",
    "LanguageLocaleKey": "en_US",
    "EmailEncodingKey": "UTF-8",
}


def check_version(version: str) -> None:
    """Refuse a version the org does not serve.

    "If you request any resource or use an operation from a retired API version, REST API
    returns the 410:GONE error code" (API End-of-Life Policy, above); a version newer than the
    org's is an unknown resource (404).

    Raises:
        ApiError: 410 for retired versions, 404 for versions above :data:`MAX_VERSION`.
    """
    major = int(version[1:].split(".")[0])
    if major < MIN_VERSION:
        # [unverified] errorCode and wording of the 410 body; the status is documented.
        raise ApiError(410, "GONE", f"API version {version[1:]} is retired and unavailable")
    if major > MAX_VERSION:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def versions(app: App, req: Request) -> Response:
    """``GET /services/data``: every version served; no token needed.

    "Lists summary information about each Salesforce version currently available ... You
    don't need an access token" — REST API Developer Guide, Versions resource,
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_versions.htm
    """
    return json_response(
        200,
        [
            {"label": f"v{v}.0", "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(MIN_VERSION, MAX_VERSION + 1)
        ],
    )


def identity_url(app: App) -> str:
    """The running user's identity URL on the emulator's own host (``/id/ORG/USER``)."""
    return f"{app.base_url}/id/{ORG_ID}/{USER_ID}"


def _urls(app: App) -> dict[str, str]:
    base, org15 = app.base_url, ORG_ID[:15]
    data = f"{base}/services/data/v{{version}}"
    return {
        "enterprise": f"{base}/services/Soap/c/{{version}}/{org15}",
        "metadata": f"{base}/services/Soap/m/{{version}}/{org15}",
        "partner": f"{base}/services/Soap/u/{{version}}/{org15}",
        "rest": f"{data}/",
        "sobjects": f"{data}/sobjects/",
        "search": f"{data}/search/",
        "query": f"{data}/query/",
        "recent": f"{data}/recent/",
        "profile": f"{base}/{USER_ID}",
        "feeds": f"{data}/chatter/feeds",
        "users": f"{data}/chatter/users",
        "custom_domain": base,
    }


def _user(app: App) -> dict[str, Any]:
    with app.store.lock:
        return app.store.get(USER_ID) or USER_RECORD


def userinfo(app: App, req: Request) -> Response:
    """``GET|POST /services/oauth2/userinfo``: OpenID Connect claims of the token's user.

    Claims as in "Query for User Information" (Salesforce Help, UserInfo endpoint,
    https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm);
    ``sf org login access-token`` reads ``user_id``, ``organization_id`` and then the User record.
    """
    user = _user(app)
    return json_response(
        200,
        {
            "sub": identity_url(app),
            "user_id": USER_ID,
            "organization_id": ORG_ID,
            "preferred_username": user.get("Username"),
            "nickname": user.get("Alias"),
            "name": user.get("Name"),
            "email": user.get("Email"),
            "email_verified": True,
            "given_name": user.get("FirstName"),
            "family_name": user.get("LastName"),
            "zoneinfo": user.get("TimeZoneSidKey"),
            "locale": user.get("LocaleSidKey"),
            "language": user.get("LanguageLocaleKey"),
            "active": bool(user.get("IsActive")),
            "user_type": "STANDARD",
            "is_salesforce_integration_user": False,
            "urls": _urls(app),
            "utcOffset": 3600000,
        },
    )


def identity(app: App, req: Request, org: str, user: str) -> Response:
    """``GET /id/{org}/{user}``: the identity service ("Identity URLs", Mobile SDK guide,
    https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-using-identity-urls.html).

    The token may come as ``Authorization: Bearer`` or ``?oauth_token=`` (both documented there).
    Only the running user's URL exists: the emulator has one user.
    """
    if org[:15] != ORG_ID[:15] or user[:15] != USER_ID[:15]:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")  # [unverified]
    info = _user(app)
    return json_response(
        200,
        {
            "id": identity_url(app),
            "asserted_user": True,
            "user_id": USER_ID,
            "organization_id": ORG_ID,
            "username": info.get("Username"),
            "nick_name": info.get("Alias"),
            "display_name": info.get("Name"),
            "email": info.get("Email"),
            "email_verified": True,
            "first_name": info.get("FirstName"),
            "last_name": info.get("LastName"),
            "timezone": info.get("TimeZoneSidKey"),
            "active": bool(info.get("IsActive")),
            "user_type": "STANDARD",
            "language": info.get("LanguageLocaleKey"),
            "locale": info.get("LocaleSidKey"),
            "utcOffset": 3600000,
            "urls": _urls(app),
            "is_app_installed": True,
        },
    )


def revoke(app: App, req: Request) -> Response:
    """``POST /services/oauth2/revoke`` (form ``token=``; ``GET ?token=`` too): the token stops
    working.

    "Salesforce indicates successful processing of the request by returning an HTTP 200 status
    code. For all error conditions, Salesforce returns a 400 status code along with one of the
    following error responses: unsupported_token_type, invalid_token" — Revoking OAuth Tokens,
    https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-revoking-tokens.html
    """
    form = parse_qs(req.body.decode("utf-8", "replace")) if req.method == "POST" else {}
    token = (form.get("token") or req.query.get("token") or [""])[0].strip()
    if not token:
        raise OAuthError("unsupported_token_type", "Token type not supported")
    if not app.tokens.valid(token):
        raise OAuthError("invalid_token", "Token was invalid")
    app.tokens.revoke(token)
    return Response(200)


_SESSION_RE = re.compile(r"<(?:\w+:)?sessionId\b[^>]*>([^<]*)</(?:\w+:)?sessionId>", re.S)
_OPERATION_RE = re.compile(r"<(?:\w+:)?Body\b[^>]*>\s*<(?:\w+:)?(\w+)", re.S)
_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com"><soapenv:Body>{}</soapenv:Body></soapenv:Envelope>'
)


def _soap_fault(code: str, message: str) -> Response:
    body = (
        f"<soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {message}"
        "</faultstring></soapenv:Fault>"
    )
    xml = _ENVELOPE.format(body).replace(
        'xmlns="urn:partner.soap.sforce.com"', 'xmlns:sf="urn:fault.partner.soap.sforce.com"'
    )
    return Response(500, xml.encode(), XML_TYPE)


def soap(app: App, req: Request, soap: str) -> Response:
    """``POST /services/Soap/u/{ver}``: the partner API's ``login`` and ``logout`` calls.

    ``logout`` ends the session named in the ``SessionHeader`` ("logout: Ends the session of
    the logged-in user", SOAP API Developer Guide,
    https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_logout.htm);
    any other call is refused: the emulator speaks REST, not the SOAP data API.
    """
    body = req.body.decode("utf-8", "replace")
    found = _OPERATION_RE.search(body)
    operation = found.group(1) if found else ""
    if operation == "login":
        return soap_login(app.auth, app.tokens, body, soap, app.base_url)
    if operation == "logout":
        session = _SESSION_RE.search(body)
        token = session.group(1).strip() if session else ""
        if not token or not app.tokens.valid(token):
            return _soap_fault("INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader")
        app.tokens.revoke(token)
        return Response(200, _ENVELOPE.format("<logoutResponse/>").encode(), XML_TYPE)
    # [unverified] the fault Salesforce sends for an operation it does not offer.
    return _soap_fault("INVALID_OPERATION", "the emulator serves only login and logout over SOAP")
