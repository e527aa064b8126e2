"""/healthz and /metrics tell "Salesforce unreachable" (exit 3) from "record-level problems".

A job whose last run failed because Salesforce could not be reached or kept failing makes the
service ``degraded`` (503) and sets ``sis_sync_last_run_failed``; a partial run (exit 1) leaves it
``ok``; a run that goes through again clears both.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import generate_latest

from connector.commands.mapping import DEFAULTS
from connector.errors import SalesforceUnreachable
from connector.report import MappingReport, RunReport
from connector.service import SyncService

CAUSE = "connection refused by https://127.0.0.1:8443 — is Salesforce (or the emulator) running?"


def _report(*, status: str, rejected: int = 0) -> RunReport:
    report = RunReport(job="nightly", started_at=datetime.now(UTC), run_id=7, status=status)
    report.mappings["students"] = MappingReport("students", "Contact", read=3, rejected=rejected)
    return report


def _metric(service: SyncService, line_start: str) -> str:
    text = generate_latest(service.metrics.registry).decode()
    return next(line for line in text.splitlines() if line.startswith(line_start))


def test_unreachable_salesforce_degrades_health_until_a_run_goes_through(tmp_path: Path) -> None:
    shutil.copytree(DEFAULTS, tmp_path, dirs_exist_ok=True)
    outcomes: list[object] = [
        SalesforceUnreachable(CAUSE, code="CONNECTION_ERROR"),  # could not log in
        _report(status="failed"),  # lost Salesforce part-way (job.py marks it failed)
        _report(status="partial", rejected=2),  # record-level problems only: exit 1
    ]

    def run(settings, **kwargs):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    service = SyncService(tmp_path / "sync.yaml", env={}, run=run)
    service.start()  # the cron of nightly is hours away: only run_now runs it
    try:
        _check(service)
    finally:
        service.stop(timeout=5)


def _check(service: SyncService) -> None:
    gauge = 'sis_sync_last_run_failed{job="nightly"}'

    first = service.run_now("nightly")
    assert (first.status, first.exit_code, first.message) == ("failed", 3, CAUSE)
    code, body = service.health()
    assert (code, body["status"], body["degraded_jobs"]) == (503, "degraded", ["nightly"])
    assert _metric(service, gauge).endswith(" 1.0")
    assert _metric(service, 'sis_sync_runs_total{job="nightly",status="failed"}').endswith(" 1.0")

    second = service.run_now("nightly")
    assert (second.status, second.exit_code) == ("failed", 3)
    assert service.health()[1]["status"] == "degraded"

    third = service.run_now("nightly")
    assert (third.status, third.exit_code) == ("partial", 1)
    code, body = service.health()
    assert (code, body["status"], body["degraded_jobs"]) == (200, "ok", [])
    assert _metric(service, gauge).endswith(" 0.0")
