"""The HTTP face of the scheduled service: ``GET /`` (the status page), ``GET /healthz`` (JSON)
and ``GET /metrics``.

``/`` is the status page of ``connector/status_page.py`` over the service's state, with the
scheduler's health in its header; it is built per request (the state is the truth, and the
page reloads itself every minute).

``/healthz`` answers 200 with the scheduler state and, per job, the next run and the last
result, or 503: ``failing`` when the scheduler is not running or a job's last run ended in an
exception (``error``), ``degraded`` when a job's last run ``failed`` (Salesforce unreachable, or
an unusable input such as a missing export; ``SyncService.health`` adds that).
``/metrics`` is prometheus_client's own WSGI app over the service's registry. The server runs
in a background thread; it logs under ``connector.service`` like the rest of the service.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from apscheduler.schedulers.base import STATE_RUNNING
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from connector import service_auth
from connector.errors import ConfigError, ConnectorError

if TYPE_CHECKING:
    from connector.service import SyncService

log = logging.getLogger("connector.service")
HOUSEKEEPING = frozenset({"_config"})  # scheduler ids of SyncService.start's own checks


def health(service: SyncService) -> tuple[int, dict[str, Any]]:
    """HTTP status and JSON body of /healthz for ``service``."""
    up = service.scheduler.state == STATE_RUNNING
    jobs = {j.id: j for j in service.scheduler.get_jobs()} if up else {}
    with service._lock:
        schedule = service._schedule
        names = list(dict.fromkeys([*schedule, *service.results]))
        body_jobs: list[dict[str, Any]] = []
        for name in names:
            job = jobs.get(name)
            last = service.results.get(name)
            body_jobs.append(
                {
                    "name": name,
                    "cron": schedule.get(name, (None, None))[0],
                    "next_run": job.next_run_time.isoformat()
                    if job and job.next_run_time
                    else None,
                    "running": name in service.running,
                    "last_run": last.to_json() if last else None,
                }
            )
        failing = [j["name"] for j in body_jobs if (j["last_run"] or {}).get("status") == "error"]
        body = {
            "status": "ok" if up and not failing else "failing",
            "scheduler": "running" if up else "stopped",
            "failing_jobs": failing,
            "timezone": service.settings.service.timezone,
            "config": {
                "file": str(service._file()),
                "loaded_at": service.config_loaded_at.isoformat(),
                "error": service.config_error or None,
            },
            "jobs": body_jobs,
        }
    return (200 if body["status"] == "ok" else 503), body


def refresh_gauges(service: SyncService) -> None:
    """Set the scheduler-up and next-run gauges from the scheduler (before /metrics answers)."""
    up = service.scheduler.state == STATE_RUNNING
    service.metrics.scheduler_up.set(1 if up else 0)
    for job in service.scheduler.get_jobs() if up else []:
        # The service's own housekeeping (the minutely sync.yaml check) is no job of sync.yaml:
        # an admin's dashboards and alerts list jobs only.
        if job.next_run_time is not None and job.id not in HOUSEKEEPING:
            service.metrics.next_run.labels(job.id).set(job.next_run_time.timestamp())


def wsgi_app(service: SyncService) -> Callable[..., Any]:
    """The WSGI app: / (status page), /healthz (JSON), /metrics (prometheus_client's), else 404."""
    metrics_app = make_wsgi_app(service.metrics.registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            refresh_gauges(service)
            return metrics_app(environ, start_response)
        if path == "/healthz":
            code, body = service.health()
            data = json.dumps(body, indent=2).encode()
            reason = "200 OK" if code == 200 else "503 Service Unavailable"
            start_response(
                reason,
                [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
            )
            return [data]
        if path in ("", "/"):
            code, text = page(service)
            data = text.encode()
            start_response(
                "200 OK" if code == 200 else "503 Service Unavailable",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(data))),
                    ("Cache-Control", "no-store"),
                ],
            )
            return [data]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /, /healthz or /metrics\n"]

    # The bearer token of SIS_SYNC_SERVE__TOKEN, when set (connector/service_auth.py).
    return service_auth.guard(app, service_auth.serve_token(service.env))


def page(service: SyncService) -> tuple[int, str]:
    """HTTP status and HTML of the status page at ``/``: 503 with the cause when the state
    cannot be read (its message names the store, never a value)."""
    from connector.status_page import status_page  # only when someone looks: serve starts fast

    _, health_body = service.health()
    try:
        return 200, status_page(service.settings, health=health_body)
    except ConnectorError as exc:
        log.warning("status page: the state could not be read: %s", exc)
        return 503, (
            "<!doctype html><title>sis-sync status</title>"
            f"<p>The state could not be read: {escape(str(exc))}</p>"
        )


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)  # noqa: G003 - http.server's own format


def serve(app: Callable[..., Any], host: str, port: int) -> ThreadingWSGIServer:
    """Serve ``app`` on ``host:port`` in a background thread; the caller shuts the server down.

    Raises:
        ConfigError: the address cannot be bound (in use, or not an address of this host), or
            is beyond loopback while no SIS_SYNC_SERVE__TOKEN guards ``app``.
    """
    service_auth.check_bind(host, app)  # beyond loopback only behind a token
    try:
        server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    except OSError as exc:
        raise ConfigError(
            f"service: cannot listen on {host}:{port} ({exc.strerror}); "
            "set service.host / service.port in sync.yaml"
        ) from None
    threading.Thread(target=server.serve_forever, daemon=True, name="sis-sync-http").start()
    bound = server.server_address
    log.info("serving /, /healthz and /metrics on http://%s:%s", bound[0], bound[1])
    return server
