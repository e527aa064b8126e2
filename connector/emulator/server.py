"""The emulator's HTTPS server: routing, auth, faults, limits and Salesforce-shaped errors.

Listens on 127.0.0.1 only. One thread per connection (keep-alive, HTTP/1.1); the store's lock
serialises record changes. Every response carries ``Sforce-Limit-Info``; every failure is a
Salesforce-shaped body (JSON array, OAuth JSON or SOAP fault), never a traceback. Which
handler answers which path is in ``routes.py``.
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from connector.emulator import bulk, control, rest
from connector.emulator.auth import AuthConfig, Tokens, token_endpoint
from connector.emulator.certs import ensure_certificates
from connector.emulator.dml import Dml
from connector.emulator.limits import ApiLimits
from connector.emulator.org_records import Store, Txn
from connector.emulator.org_schema import load_schema
from connector.emulator.routes import match_route
from connector.emulator.userinfo import check_version
from connector.emulator.wire import ApiError, OAuthError, RecordError, Response, json_response

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


@dataclass
class EmulatorConfig:
    """Start-up options (the ``sis-sync emulator`` flags)."""

    data_dir: Path
    port: int = 8443
    schema_file: Path | None = None
    person_accounts: bool = False  # person accounts + Education Cloud objects (docs/emulator.md)
    jwt_cert: Path | None = None
    client_id: str | None = None
    client_secret: str | None = None
    daily_api_limit: int = 100_000
    users: dict[str, str] | None = None


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    version: str = "v59.0"
    groups: dict[str, str] = field(default_factory=dict)


_INVALID_SESSION = ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


class App:
    """The org: schema, store, tokens, limits, faults, jobs and the request dispatcher."""

    def __init__(self, config: EmulatorConfig):
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.schema = load_schema(config.schema_file, person_accounts=config.person_accounts)
        self.store = Store(self.schema, config.data_dir)
        self.faults = control.Faults()
        self.dml = Dml(self.store, self.faults.lock_error)
        self.tokens = Tokens(config.data_dir)
        self.auth = AuthConfig(
            config.client_id, config.client_secret, config.jwt_cert, config.users
        )
        self.limits = ApiLimits(config.daily_api_limit)
        self.jobs: dict[str, bulk.Job] = {}
        self.cursors = rest.Cursors()
        self.requests: dict[str, int] = {}
        self.stats_lock = threading.Lock()
        self.base_url = f"https://{HOST}:{config.port}"

    # -- helpers for routes ------------------------------------------------------------------
    def single(self, fn: Callable[[Txn], Any]) -> Any:
        """Run one single-record change in its own transaction; a RecordError becomes a 4xx."""
        txn = Txn(self.store)
        try:
            result = fn(txn)
        except RecordError as exc:
            txn.rollback()
            raise exc.as_api_error() from None
        txn.commit()
        return result

    def token(self, req: Request) -> Response:
        """The OAuth token endpoint."""
        form = {
            k: v[0]
            for k, v in parse_qs(
                req.body.decode("utf-8", "replace"), keep_blank_values=True
            ).items()
        }
        return token_endpoint(self.auth, self.tokens, form, req.headers, self.base_url)

    def _authorised(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            token = headers.get("x-sfdc-session", "")
        return bool(token) and self.tokens.valid(token.strip())

    # -- dispatch -----------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        """Answer one request; never raises."""
        try:
            resp = self._dispatch(method, raw_path, headers, body)
        except ApiError as exc:
            resp = json_response(exc.status, exc.body())
        except OAuthError as exc:
            resp = json_response(
                exc.status, {"error": exc.error, "error_description": exc.description}
            )
        except Exception:  # a bug must still give the client a Salesforce-shaped answer
            log.exception("emulator: unhandled error on %s %s", method, raw_path.split("?")[0])
            resp = json_response(
                500,
                [
                    {
                        "errorCode": "UNKNOWN_EXCEPTION",
                        "message": "An unexpected error occurred. Please include this "
                        "ErrorId if you contact support: emulator",
                    }
                ],
            )
        resp.headers["Sforce-Limit-Info"] = self.limits.header()
        return resp

    def _dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> Response:
        path, _, qs = raw_path.partition("?")
        path = path.rstrip("/") or "/"
        try:
            name, handler, kind, groups = match_route(method, path)
        except ApiError:
            self._count("UNKNOWN")
            raise
        versioned = "version" in groups
        req = Request(
            method,
            path,
            parse_qs(qs, keep_blank_values=True),
            headers,
            body,
            groups.pop("version", "v59.0"),
        )
        if kind == "control":
            return handler(self, req)
        self._count(name)
        rule = headers.get("sforce-duplicate-rule-header")
        if rule is not None:
            # Accepted on any write and counted in stats ("Duplicate Rule Header", REST API
            # Developer Guide, API 52.0+); the emulator has no duplicate rules to run.
            self._count(f"Sforce-Duplicate-Rule-Header: {rule.strip()}")
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        if kind in ("login", "open"):
            return handler(self, req, **groups)
        if versioned:
            check_version(req.version)
        if self.faults.server_unavailable():
            return json_response(
                503,
                [
                    {
                        "errorCode": "SERVER_UNAVAILABLE",
                        "message": "Server is unavailable: down for maintenance or "
                        "overloaded (injected)",
                    }
                ],
            )
        if kind == "identity":
            # The identity URL takes the token as a header or ?oauth_token= ("Identity URLs").
            # [unverified] whether these calls count against the daily API allocation; the
            # emulator does not count them.
            token = req.query.get("oauth_token", [""])[0]
            if not (self._authorised(headers) or (token and self.tokens.valid(token))):
                raise _INVALID_SESSION
            return handler(self, req, **groups)
        if not self._authorised(headers):
            raise _INVALID_SESSION
        self.limits.consume()
        return handler(self, req, **groups)

    def _count(self, name: str) -> None:
        with self.stats_lock:
            self.requests[name] = self.requests.get(name, 0) + 1

    def close(self) -> None:
        """Stop background work and release files."""
        for job in list(self.jobs.values()):
            job.abort.set()
        with self.store.lock:
            self.store.close()


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sis-sync-emulator"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped after a minute
    # Buffer the response so headers and body leave in one segment (flushed per request);
    # separate small writes meet the peer's delayed ACK and cost ~40 ms per request.
    wbufsize = 1 << 16

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            body = self._body()
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        app: App = self.server.app  # type: ignore[attr-defined]
        if body is None:
            resp = json_response(
                400, [{"errorCode": "JSON_PARSER_ERROR", "message": "Malformed request body"}]
            )
        else:
            resp = app.handle(self.command, self.path, headers, body)
        self.send_response(resp.status)
        if resp.content_type:
            self.send_header("Content-Type", resp.content_type)
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD" and resp.body:
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("emulator: %s", format % args)


class EmulatorServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that does the TLS handshake in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: App, port: int, context: ssl.SSLContext):
        self.app = app
        self.ssl_context = context
        super().__init__((HOST, port), _HttpHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Wrap the accepted socket in TLS here, so a slow handshake never blocks accept()."""
        request.settimeout(30)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)  # builds RequestHandlerClass on tls
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone before its answer was written (killed, timed out: ``SSLEOFError``,
        a reset) is a debug line, as a real server's access log would show it, not the raw
        traceback socketserver prints to stderr; any other failure is logged with its
        traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | ssl.SSLError | TimeoutError):
            log.debug("emulator: client %s gone: %r", client_address[0], exc)
            return
        log.error("emulator: failed serving %s", client_address[0], exc_info=exc)


def make_server(config: EmulatorConfig) -> tuple[EmulatorServer, App]:
    """Build the org and bind its HTTPS server (port 0 picks a free port)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    _ca, cert, key = ensure_certificates(config.data_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    app = App(config)
    server = EmulatorServer(app, config.port, context)
    config.port = server.server_address[1]
    app.base_url = f"https://{HOST}:{config.port}"
    return server, app
