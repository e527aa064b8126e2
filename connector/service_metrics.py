"""The service's outcome of one job firing and its Prometheus metrics (``/metrics``).

Labels carry job names, statuses and actions only, never a personal value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from connector.report import RunReport

ACTIONS = ("created", "updated", "unchanged", "rejected", "failed")
# ok/partial: the run finished (partial = some records rejected or failed, exit 1); failed:
# Salesforce could not be reached or kept failing (exit 3) or an input was unusable (exit 2,
# e.g. a missing export; nothing written), recorded in state as failed and never a success;
# error: it raised; aborted: stopped by a shutdown; locked: running elsewhere; skipped: not run
# on purpose; missed: the firing came more than misfire_grace_time late (busy, suspended) and
# was dropped.
STATUSES = ("ok", "partial", "failed", "error", "aborted", "locked", "skipped", "missed")
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


@dataclass(frozen=True)
class JobResult:
    """How one firing of a job ended (real-clock times, UTC)."""

    job: str
    status: str
    started_at: datetime
    finished_at: datetime
    message: str = ""
    run_id: int | None = None
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_seconds": round((self.finished_at - self.started_at).total_seconds(), 3),
            "exit_code": self.exit_code,
            "run_id": self.run_id,
            "message": self.message,
        }


class ServiceMetrics:
    """The service's Prometheus metrics, in a registry of its own (several services per process)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "sis_sync_runs", "Job firings by outcome", ["job", "status"], registry=r
        )
        self.records = Counter(
            "sis_sync_records", "Records by what a run did with them", ["job", "action"], registry=r
        )
        self.api_calls = Counter(
            "sis_sync_api_calls", "Salesforce API calls made by runs", ["job"], registry=r
        )
        self.last_run = Gauge(
            "sis_sync_last_run_timestamp_seconds", "When the last run ended", ["job"], registry=r
        )
        self.last_success = Gauge(
            "sis_sync_last_success_timestamp_seconds",
            "When the last run that went through (ok or partial) ended",
            ["job"],
            registry=r,
        )
        self.duration = Histogram(
            "sis_sync_run_duration_seconds",
            "How long runs took",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.running = Gauge(
            "sis_sync_job_running", "1 while a run of the job goes", ["job"], registry=r
        )
        self.next_run = Gauge(
            "sis_sync_next_run_timestamp_seconds", "When the job fires next", ["job"], registry=r
        )
        self.scheduler_up = Gauge(
            "sis_sync_scheduler_running", "1 while the scheduler runs", registry=r
        )
        self.last_failed = Gauge(
            "sis_sync_last_run_failed",
            "1 when the job's last run failed: Salesforce could not be reached or an input was "
            "unusable",
            ["job"],
            registry=r,
        )
        self.config_errors = Counter(
            "sis_sync_config_reload_errors", "sync.yaml edits that did not load", registry=r
        )

    def observe(self, result: JobResult, report: RunReport | None) -> None:
        """Count one firing and, when it ran, its records, API calls and duration."""
        job = result.job
        self.runs.labels(job, result.status).inc()
        if result.status in ("locked", "skipped"):
            return
        end = result.finished_at.timestamp()
        self.last_run.labels(job).set(end)
        self.last_failed.labels(job).set(1 if result.status == "failed" else 0)
        self.duration.labels(job).observe((result.finished_at - result.started_at).total_seconds())
        if result.status in ("ok", "partial"):
            self.last_success.labels(job).set(end)
        if report is not None:
            totals = report.totals()
            for action in ACTIONS:
                self.records.labels(job, action).inc(totals[action])
            self.api_calls.labels(job).inc(report.api_calls)

    def restore(self, last: dict[str, JobResult], last_success: dict[str, datetime]) -> None:
        """Set the last-run gauges from runs recorded before this process started.

        A restart must not forget a failed run: the ``sis_sync_last_run_failed == 1`` alert of
        docs/operations.md keeps firing until a run goes through. Counters and the duration
        histogram start at zero, as Prometheus expects of a restarted process.
        """
        for job, result in last.items():
            self.last_run.labels(job).set(result.finished_at.timestamp())
            self.last_failed.labels(job).set(1 if result.status == "failed" else 0)
        for job, at in last_success.items():
            self.last_success.labels(job).set(at.timestamp())
