"""The bearer token of ``sis-sync serve``: who may read ``/``, ``/metrics`` and ``/healthz``.

On loopback (the default ``127.0.0.1``) the endpoints are open: only this host can reach them.
Bound to any other address, ``serve`` requires ``SIS_SYNC_SERVE__TOKEN`` (or a file named by
``SIS_SYNC_SERVE__TOKEN_FILE``, e.g. a systemd credential) and refuses to start without it
(exit 2). With a token set (on any address):

- ``/`` and ``/metrics`` answer ``401`` without ``Authorization: Bearer <token>``;
- ``/healthz`` answers every caller with its status code and ``{"status": …}`` only (a load
  balancer's probe needs no secret); the details (jobs, config file, errors) need the token.

The scheme is RFC 6750's bearer token, which Prometheus sends with ``authorization:
{credentials: …}`` (or ``bearer_token_file``) in a scrape config. The token is compared in
constant time and never logged. Plain HTTP carries it in clear: beyond a trusted network, put a
TLS-terminating proxy in front (docs/service.md).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from connector.errors import ConfigError

TOKEN_VAR = "SIS_SYNC_SERVE__TOKEN"  # noqa: S105 - the variable's name, not a token
MIN_LENGTH = 32
GENERATE = 'python -c "import secrets; print(secrets.token_hex(32))"'

WsgiApp = Callable[..., Any]


def serve_token(env: Mapping[str, str]) -> str | None:
    """The configured token, from ``SIS_SYNC_SERVE__TOKEN`` or the file ``…_TOKEN_FILE`` names.

    Raises:
        ConfigError: the file cannot be read, or the token is shorter than 32 characters.
    """
    token = env.get(TOKEN_VAR)
    path = env.get(TOKEN_VAR + "_FILE")
    if not token and path:
        try:
            token = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"{TOKEN_VAR}_FILE: cannot read {path}: {exc.strerror}") from None
    token = (token or "").strip()
    if not token:
        return None
    if len(token) < MIN_LENGTH:
        raise ConfigError(
            f"{TOKEN_VAR} is shorter than {MIN_LENGTH} characters; generate one with {GENERATE}"
        )
    return token


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, ``localhost``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything, so it counts as the network


def check_bind(host: str, app: WsgiApp) -> None:
    """Refuse to serve ``app`` on ``host`` beyond loopback unless a token guards it.

    Raises:
        ConfigError: the address is not loopback and no token is configured (exit 2).
    """
    if not is_loopback(host) and not getattr(app, "token_guarded", False):
        raise ConfigError(
            f"service: serving on {host} opens /, /healthz and /metrics to the network; set "
            f"{TOKEN_VAR} (a bearer token of at least {MIN_LENGTH} characters: {GENERATE}) "
            "or keep service.host at 127.0.0.1"
        )


def _authorized(environ: Mapping[str, Any], token: str) -> bool:
    scheme, _, given = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def guard(app: WsgiApp, token: str | None) -> WsgiApp:
    """``app`` behind the bearer token (``app`` itself when no token is configured)."""
    if token is None:
        return app

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if _authorized(environ, token):
            return app(environ, start_response)
        if environ.get("PATH_INFO", "") == "/healthz":
            return _status_only(app, environ, start_response)
        body = b"unauthorized: send Authorization: Bearer <SIS_SYNC_SERVE__TOKEN>\n"
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "text/plain"),
                ("Content-Length", str(len(body))),
                # RFC 6750 §3: a 401 names the scheme the client should use.
                ("WWW-Authenticate", 'Bearer realm="sis-sync"'),
            ],
        )
        return [body]

    guarded.token_guarded = True  # type: ignore[attr-defined]
    return guarded


def _status_only(
    app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    """/healthz for a caller without the token: the same status code, ``{"status": …}`` only."""
    seen: list[str] = []
    chunks = app(environ, lambda status, headers, exc_info=None: seen.append(status))
    try:
        full = json.loads(b"".join(chunks))
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    data = json.dumps({"status": full.get("status")}).encode()
    start_response(
        seen[0] if seen else "500 Internal Server Error",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
