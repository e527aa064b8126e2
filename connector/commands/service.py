"""`sis-sync serve`: the scheduled service (connector/service.py; docs/service.md)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger("connector.service")


def _config(ctx: typer.Context) -> Path | None:
    return (ctx.obj or {}).get("config")


def serve(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option("--once", help="run the jobs once now, then exit (no scheduler, no HTTP)"),
    ] = False,
    job: Annotated[
        list[str] | None,
        typer.Option("--job", "-j", help="only this job (repeatable); default every cron job"),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="address for /healthz and /metrics (service.host)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port for /healthz and /metrics (service.port; 0: any)")
    ] = None,
    no_http: Annotated[
        bool, typer.Option("--no-http", help="serve no /healthz and /metrics")
    ] = False,
    misfire_grace_time: Annotated[
        int, typer.Option(help="seconds a late firing may still run; later ones are skipped")
    ] = 3600,
    stop_timeout: Annotated[
        float, typer.Option(help="seconds to wait on SIGTERM for a run to reach a batch end")
    ] = 30.0,
) -> None:
    """The scheduled service: run every job with a cron: in sync.yaml at its time.

    Runs until SIGTERM or SIGINT (Ctrl-C), then stops scheduling, lets a running job stop at
    its next batch boundary (at most --stop-timeout seconds) and exits 0. SIGHUP reloads
    sync.yaml; so does every firing, and a change on disk is noticed within a minute. A broken
    edit is logged and the previous settings stay in use.

    Serves GET /healthz (JSON; 503 "degraded" when a job's last run could not reach Salesforce,
    503 "failing" when the scheduler is down or a job's last run raised) and
    GET /metrics (Prometheus) on service.host:service.port, 127.0.0.1:9464 by default. Bound
    beyond loopback, it needs SIS_SYNC_SERVE__TOKEN, a bearer token for /, /metrics and the
    details of /healthz, and refuses to start without it (exit 2; connector/service_auth.py).

    --once runs the jobs once now (every cron job, or those named with --job, cron or not) and
    exits with the worst exit code: 0 ok or deliberately skipped (e.g. running elsewhere), 1 a
    run rejected or failed something or was stopped, 2 configuration or input error, 3 Salesforce
    could not be reached or kept failing, 70 a bug (an unexpected error, a plugin's included).
    """
    from connector.service import SyncService

    # The CLI logs warnings only unless -v; a service's runs belong in its journal.
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    service = SyncService(
        _config(ctx),
        jobs=job or None,
        misfire_grace_time=misfire_grace_time,
        require_schedule=not once,
    )
    if once:
        results = service.run_once()
        raise typer.Exit(max((r.exit_code for r in results), default=0))

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    def on_hangup(signum: int, frame: object) -> None:
        log.info("SIGHUP received: reloading sync.yaml")
        # Not in the handler itself: reload takes locks the interrupted thread may hold.
        threading.Thread(target=service.reload, name="sis-sync-reload", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    if not no_http:
        service.serve_http(host, port)
    service.start()
    log.info("scheduler started: %s", ", ".join(service.scheduled()))
    while not stop.wait(1.0):
        pass
    clean = service.stop(timeout=stop_timeout)
    log.info("stopped")
    if not clean:
        # The run's worker thread cannot be interrupted and the interpreter would wait for it
        # at exit; the outbox and run lock make leaving now safe (the next run finishes it).
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


# The --help text: one line per paragraph (the docstring's line breaks would show in a terminal).
HELP = "\n\n".join(
    [
        "The scheduled service: runs every job with a cron: line in sync.yaml at its time.",
        "SIGTERM / Ctrl-C stop it (exit 0; a running job stops at its next batch). SIGHUP, "
        "every firing and a change on disk reload sync.yaml; a broken edit is logged and the "
        "previous settings stay in use.",
        "Serves GET /healthz (JSON; 503 degraded when a job's last run could not reach "
        "Salesforce, 503 failing when the scheduler is down or a job's last run raised) "
        "and GET /metrics (Prometheus) on service.host:service.port (127.0.0.1:9464). Any "
        "address beyond loopback needs a bearer token in SIS_SYNC_SERVE__TOKEN (exit 2 without).",
        "--once runs the jobs once now and exits 0 (ok or skipped), 1 (something rejected, "
        "failed or stopped), 2 (configuration or input error), 3 (Salesforce could not be "
        "reached or kept failing) or 70 (a bug: an unexpected error). See docs/service.md.",
    ]
)


def register_commands(app: typer.Typer) -> None:
    """Mount ``serve`` on the main app."""
    app.command("serve", help=HELP)(serve)
