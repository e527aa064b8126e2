"""The emulator's HTTPS server: routing, auth, faults, limits and Salesforce-shaped errors.

Listens on 127.0.0.1 only. One thread per connection (keep-alive, HTTP/1.1); the store's lock
serialises record changes. Every response carries ``Sforce-Limit-Info``; every failure is a
Salesforce-shaped body (JSON array, OAuth JSON or SOAP fault), never a traceback.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from connector.emulator import bulk, collections, control, rest
from connector.emulator.auth import AuthConfig, Tokens, soap_login, token_endpoint
from connector.emulator.certs import ensure_certificates
from connector.emulator.dml import Dml
from connector.emulator.limits import ApiLimits
from connector.emulator.schema import load_schema
from connector.emulator.store import Store, Txn
from connector.emulator.wire import ApiError, OAuthError, RecordError, Response, json_response

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


@dataclass
class EmulatorConfig:
    """Start-up options (the ``sis-sync emulator`` flags)."""

    data_dir: Path
    port: int = 8443
    schema_file: Path | None = None
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


Handler = Callable[..., Response]
_V = r"/services/data/(?P<version>v\d+\.\d+)"
# (method, regex, stats name, handler, kind) — kind: "api" (token, counted), "login", "control"
ROUTES: list[tuple[str, str, str, Handler, str]] = [
    ("POST", r"/services/oauth2/token", "POST oauth2/token", lambda a, r: a.token(r), "login"),
    (
        "POST",
        r"/services/Soap/u/(?P<soap>[\d.]+)(?:/.*)?",
        "POST Soap/u",
        lambda a, r, soap: soap_login(
            a.auth, a.tokens, r.body.decode("utf-8", "replace"), soap, a.base_url
        ),
        "login",
    ),
    ("POST", r"/__emulator__/reset", "control", control.reset, "control"),
    ("POST", r"/__emulator__/faults", "control", control.faults, "control"),
    ("GET", r"/__emulator__/stats", "control", control.stats, "control"),
    ("GET", r"/services/data", "GET versions", rest.versions, "api"),
    ("GET", _V, "GET resources", rest.resources, "api"),
    ("GET", _V + r"/sobjects", "GET sobjects", rest.describe_global, "api"),
    (
        "GET",
        _V + r"/sobjects/(?P<obj>\w+)/describe",
        "GET sobjects/{O}/describe",
        rest.describe,
        "api",
    ),
    ("GET", _V + r"/sobjects/(?P<obj>\w+)", "GET sobjects/{O}", rest.metadata, "api"),
    ("POST", _V + r"/sobjects/(?P<obj>\w+)", "POST sobjects/{O}", rest.create, "api"),
    (
        "GET",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<rid>[^/]+)",
        "GET sobjects/{O}/{id}",
        rest.get,
        "api",
    ),
    (
        "PATCH",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<rid>[^/]+)",
        "PATCH sobjects/{O}/{id}",
        rest.update,
        "api",
    ),
    (
        "DELETE",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<rid>[^/]+)",
        "DELETE sobjects/{O}/{id}",
        rest.delete,
        "api",
    ),
    (
        "GET",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<field>\w+)/(?P<value>.+)",
        "GET sobjects/{O}/{field}/{value}",
        rest.get_by_external_id,
        "api",
    ),
    (
        "PATCH",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<field>\w+)/(?P<value>.+)",
        "PATCH sobjects/{O}/{field}/{value}",
        rest.upsert,
        "api",
    ),
    ("GET", _V + r"/query", "GET query", rest.query, "api"),
    ("GET", _V + r"/queryAll", "GET queryAll", rest.query_all, "api"),
    ("GET", _V + r"/query/(?P<locator>[^/]+)", "GET query/{locator}", rest.query_more, "api"),
    (
        "GET",
        _V + r"/queryAll/(?P<locator>[^/]+)",
        "GET queryAll/{locator}",
        rest.query_all_more,
        "api",
    ),
    ("GET", _V + r"/limits", "GET limits", rest.limits, "api"),
    ("POST", _V + r"/composite/sobjects", "POST composite/sobjects", collections.create, "api"),
    ("PATCH", _V + r"/composite/sobjects", "PATCH composite/sobjects", collections.update, "api"),
    ("DELETE", _V + r"/composite/sobjects", "DELETE composite/sobjects", collections.delete, "api"),
    (
        "PATCH",
        _V + r"/composite/sobjects/(?P<obj>\w+)/(?P<field>\w+)",
        "PATCH composite/sobjects/{O}/{field}",
        collections.upsert,
        "api",
    ),
    ("POST", _V + r"/jobs/ingest", "POST jobs/ingest", bulk.create_job, "api"),
    ("GET", _V + r"/jobs/ingest", "GET jobs/ingest", bulk.list_jobs, "api"),
    ("GET", _V + r"/jobs/ingest/(?P<job_id>\w+)", "GET jobs/ingest/{id}", bulk.get_job, "api"),
    (
        "PATCH",
        _V + r"/jobs/ingest/(?P<job_id>\w+)",
        "PATCH jobs/ingest/{id}",
        bulk.change_job,
        "api",
    ),
    (
        "DELETE",
        _V + r"/jobs/ingest/(?P<job_id>\w+)",
        "DELETE jobs/ingest/{id}",
        bulk.delete_job,
        "api",
    ),
    (
        "PUT",
        _V + r"/jobs/ingest/(?P<job_id>\w+)/batches",
        "PUT jobs/ingest/{id}/batches",
        bulk.upload,
        "api",
    ),
    (
        "GET",
        _V + r"/jobs/ingest/(?P<job_id>\w+)/(?P<which>(?i:successfulResults|failedResults|"
        r"unprocessedRecords))",
        "GET jobs/ingest/{id}/results",
        bulk.results,
        "api",
    ),
    ("POST", _V + r"/jobs/query", "POST jobs/query", bulk.create_query_job, "api"),
    (
        "GET",
        _V + r"/jobs/query",
        "GET jobs/query",
        lambda a, r: bulk.list_jobs(a, r, kind="query"),
        "api",
    ),
    (
        "GET",
        _V + r"/jobs/query/(?P<job_id>\w+)",
        "GET jobs/query/{id}",
        lambda a, r, job_id: bulk.get_job(a, r, job_id, kind="query"),
        "api",
    ),
    (
        "PATCH",
        _V + r"/jobs/query/(?P<job_id>\w+)",
        "PATCH jobs/query/{id}",
        lambda a, r, job_id: bulk.change_job(a, r, job_id, kind="query"),
        "api",
    ),
    (
        "DELETE",
        _V + r"/jobs/query/(?P<job_id>\w+)",
        "DELETE jobs/query/{id}",
        lambda a, r, job_id: bulk.delete_job(a, r, job_id, kind="query"),
        "api",
    ),
    (
        "GET",
        _V + r"/jobs/query/(?P<job_id>\w+)/results",
        "GET jobs/query/{id}/results",
        bulk.query_results,
        "api",
    ),
]
_COMPILED = [(m, re.compile(p + "$"), n, h, k) for m, p, n, h, k in ROUTES]
_INVALID_SESSION = ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


class App:
    """The org: schema, store, tokens, limits, faults, jobs and the request dispatcher."""

    def __init__(self, config: EmulatorConfig):
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.schema = load_schema(config.schema_file)
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

    def _route(self, method: str, path: str) -> tuple[str, Handler, str, dict[str, str]]:
        path_matched = False
        for m, rx, name, handler, kind in _COMPILED:
            match = rx.match(path)
            if match:
                path_matched = True
                if m == method:
                    return name, handler, kind, match.groupdict()
        if path_matched:
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,POST,DELETE,PUT",
            )
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> Response:
        path, _, qs = raw_path.partition("?")
        path = path.rstrip("/") or "/"
        try:
            name, handler, kind, groups = self._route(method, path)
        except ApiError:
            self._count("UNKNOWN")
            raise
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
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        if kind == "login":
            return handler(self, req, **groups)
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
            chunks = []
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
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


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
