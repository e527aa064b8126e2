"""The scheduled service behind ``sis-sync serve``: cron jobs from sync.yaml, health and metrics.

One APScheduler 3 ``BackgroundScheduler`` (memory job store: the schedule *is* sync.yaml, so it
is rebuilt at start and never pickled) runs every job that has a ``cron:``, with
``max_instances=1`` and ``coalesce=True``: a firing that finds the previous run of the same job
still going is skipped, and firings missed while the scheduler was busy or suspended collapse
into one run if they are less than ``misfire_grace_time`` late (older ones are logged as missed).
Jobs of one instance run one after another (one worker thread): the SQLite state has one writer.

Each firing reads sync.yaml again, so an admin's edit is used by the next run; a broken edit is
logged and the settings that last loaded are kept. The cron lines themselves follow an edit too
(checked every minute, at each firing and on SIGHUP). ``run_job`` takes the job's run lock in the
state store: several instances on one PostgreSQL state give fail-over, and the instance that
finds the lock held logs ``skipped: running elsewhere``.

``GET /healthz`` answers 200 with JSON (scheduler state, per job the next run and the last
result) or 503 when the scheduler is not running or a job's last run ended in an exception.
``GET /metrics`` is Prometheus text from this service's own ``CollectorRegistry``. Logs, health
and metrics carry job names, counts, statuses and error codes only, never a personal value.
The metrics and a firing's :class:`JobResult` are in ``service_metrics.py``, the HTTP endpoints
in ``service_http.py``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from connector import service_http
from connector.config import Settings, load_settings
from connector.errors import (
    BUG_EXIT,
    ConfigError,
    ConnectorError,
    LockedError,
    RunError,
    SalesforceUnreachable,
)
from connector.report import RunReport
from connector.service_history import recorded_history
from connector.service_metrics import JobResult, ServiceMetrics

log = logging.getLogger(__name__)

CONFIG_CHECK_SECONDS = 60


class ShutdownRequested(RunError):
    """The service is stopping: raised between batches so the run ends at a clean boundary."""


def _now() -> datetime:
    return datetime.now(UTC)


class SyncService:
    """The scheduled service: a scheduler for sync.yaml's cron jobs plus /healthz and /metrics.

    Args:
        config_path: sync.yaml (None: ``SIS_SYNC_CONFIG`` or ./sync.yaml, as every command).
        env: The environment to read settings from (default os.environ), fixed for the service.
        jobs: Only these jobs (default every job with a cron).
        misfire_grace_time: Seconds a firing may be late and still run.
        require_schedule: Refuse a configuration without cron jobs (False for ``--once``).
        run: The function that runs a job (``connector.sync.job.run_job``; tests may wrap it).

    Raises:
        ConfigError: sync.yaml does not load, names an unknown time zone, or has no cron job.
    """

    def __init__(
        self,
        config_path: Path | str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        jobs: Sequence[str] | None = None,
        misfire_grace_time: int = 3600,
        require_schedule: bool = True,
        run: Callable[..., RunReport] | None = None,
    ):
        self.config_path = config_path
        self.env = dict(os.environ if env is None else env)
        self.only = list(jobs or [])
        self.misfire_grace_time = misfire_grace_time
        self._run = run
        self.metrics = ServiceMetrics()
        self.settings = self._load()
        self._check_jobs(self.settings)
        self._reload_lock = threading.Lock()
        self.config_error = ""
        self.config_loaded_at = _now()
        self._config_mtime = self._mtime()
        # A restart starts from each job's last recorded run, so /healthz still says degraded
        # and /metrics still has sis_sync_last_run_failed 1 after a failed one
        # (service_history.py); a new firing replaces both.
        history = recorded_history(self.settings)
        self.results: dict[str, JobResult] = dict(history.last)
        self.metrics.restore(history.last, history.last_success)
        self.running: dict[str, datetime] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._http: Any = None
        self._schedule: dict[str, tuple[str, str]] = {}
        self.scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            # One worker: runs of one instance go one after another. The config check has its
            # own so that a long run does not hold it up.
            executors={"default": ThreadPoolExecutor(1), "config": ThreadPoolExecutor(1)},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": misfire_grace_time,
            },
            timezone=self.settings.service.timezone,
        )
        if require_schedule:
            self._plan_schedule(self.settings)  # refuse an empty schedule now

    # -- configuration ----------------------------------------------------------------------

    def _load(self) -> Settings:
        return load_settings(self.config_path, env=self.env)

    def _file(self) -> Path:
        return Path(self.config_path or self.env.get("SIS_SYNC_CONFIG") or "sync.yaml")

    def _mtime(self) -> float | None:
        try:
            return self._file().stat().st_mtime
        except OSError:
            return None

    def reload(self) -> Settings:
        """Read sync.yaml again; on a problem log it, keep the previous settings and return them."""
        with self._reload_lock:
            self._config_mtime = self._mtime()
            try:
                settings = self._load()
                self._check_jobs(settings)
                if self._schedule:
                    self._plan_schedule(settings)
            except ConfigError as exc:
                self.metrics.config_errors.inc()
                with self._lock:
                    self.config_error = str(exc)
                log.error("sync.yaml did not load; keeping the previous settings: %s", exc)
                return self.settings
            with self._lock:
                self.settings, self.config_error = settings, ""
                self.config_loaded_at = _now()
            if self.scheduler.running and not self._stopping.is_set():
                self._apply_schedule(settings)
            return settings

    def check_config(self) -> None:
        """Reload sync.yaml if it changed on disk (a periodic job; SIGHUP reloads regardless)."""
        if self._mtime() != self._config_mtime:
            log.info("sync.yaml changed; reloading")
            self.reload()

    def _check_jobs(self, settings: Settings) -> None:
        unknown = sorted(set(self.only) - {j.name for j in settings.jobs})
        if unknown:
            raise ConfigError(f"serve: no job {', '.join(unknown)} in {self._file()}")
        zone = settings.service.timezone
        try:
            ZoneInfo(zone)
        except (ValueError, ZoneInfoNotFoundError):
            raise ConfigError(f"service.timezone: unknown time zone {zone!r}") from None

    def _plan_schedule(self, settings: Settings) -> dict[str, tuple[str, str]]:
        """Job name → (cron, time zone) for every job to schedule; ConfigError if unusable."""
        tz = settings.service.timezone
        plan = {
            j.name: (j.cron, tz)
            for j in settings.jobs
            if j.cron and (not self.only or j.name in self.only)
        }
        if not plan:
            raise ConfigError(f"{self._file()}: no job has a cron: line, so nothing to schedule")
        return plan

    def _apply_schedule(self, settings: Settings) -> None:
        """Make the scheduler's jobs match the settings: add, re-time or remove."""
        plan = self._plan_schedule(settings)
        for name in set(self._schedule) - set(plan):
            self.scheduler.remove_job(name)
            log.info("job %s: no longer scheduled", name)
        for name, (cron, tz) in plan.items():
            if self._schedule.get(name) == (cron, tz):
                continue
            trigger = CronTrigger.from_crontab(cron, timezone=tz)
            if name in self._schedule:
                self.scheduler.reschedule_job(name, trigger=trigger)
            else:
                self.scheduler.add_job(
                    self.fire, trigger, args=[name], id=name, name=name, replace_existing=True
                )
            log.info("job %s: scheduled at %r (%s)", name, cron, tz)
        self._schedule = plan

    # -- running jobs -------------------------------------------------------------------------

    def fire(self, name: str) -> None:
        """What a scheduled firing does: reload sync.yaml, then run the job (never raises)."""
        self.reload()
        self.run_now(name)

    def run_now(self, name: str) -> JobResult:
        """Run job ``name`` with the current settings, record the outcome and return it.

        Never raises for a failed run: the outcome (``ok``, ``partial``, ``failed``, ``error``,
        ``aborted``, ``locked``, ``skipped``) is logged, counted in the metrics and shown by
        /healthz.
        """
        settings = self.settings
        started = _now()
        report: RunReport | None = None
        spec = next((j for j in settings.jobs if j.name == name), None)
        if spec is None:
            result = JobResult(name, "skipped", started, _now(), "not in sync.yaml")
            log.warning("job %s: skipped: no such job in sync.yaml any more", name)
        elif self._stopping.is_set():
            result = JobResult(name, "skipped", started, _now(), "service stopping")
        elif spec.purge:
            result, report = self._execute(settings, name, started, purge=True)
        else:
            result, report = self._execute(settings, name, started)
        with self._lock:
            self.results[name] = result
        self.metrics.observe(result, report)
        return result

    def _execute(
        self, settings: Settings, name: str, started: datetime, *, purge: bool = False
    ) -> tuple[JobResult, RunReport | None]:
        run = self._run
        if run is None:
            # run_job, after rebuilding a lost state from the org (sync/recovery.py).
            from connector.sync.recovery import run_recovering

            run = run_recovering
        with self._lock:
            self.running[name] = started
        self.metrics.running.labels(name).set(1)
        log.info("job %s: run started", name)
        try:
            if purge:
                return self._purge(settings, name, started), None
            report = run(settings, job=name, progress=self._progress)
        except LockedError:
            log.info("job %s: skipped: running elsewhere", name)
            return JobResult(name, "locked", started, _now(), "running elsewhere"), None
        except ShutdownRequested:
            log.warning("job %s: run stopped by shutdown; the next run finishes it", name)
            return JobResult(
                name, "aborted", started, _now(), "stopped by shutdown", exit_code=1
            ), None
        except SalesforceUnreachable as exc:
            # Not logged in at all: the run is recorded as failed in the state (job.py), and
            # /healthz says degraded until a run goes through again.
            log.error("job %s: run failed: %s", name, exc)
            return JobResult(
                name, "failed", started, _now(), exc.cause, exc.run_id, exit_code=3
            ), None
        except ConnectorError as exc:
            # The error tree's messages name files, fields and codes, never personal values.
            log.error("job %s: run failed: %s", name, exc)
            return JobResult(
                name, "error", started, _now(), str(exc), exit_code=exc.exit_code
            ), None
        except Exception as exc:  # a failed run must not stop the service
            # An unexpected error's text may hold anything, a value included: name the type only
            # and keep the traceback for --verbose.
            log.error("job %s: run failed with an unexpected %s", name, type(exc).__name__)
            log.debug("job %s: traceback", name, exc_info=True)
            msg = f"unexpected {type(exc).__name__}; see the service log"
            return JobResult(name, "error", started, _now(), msg, exit_code=BUG_EXIT), None
        finally:
            with self._lock:
                self.running.pop(name, None)
                self._idle.notify_all()
            self.metrics.running.labels(name).set(0)
        code = report.exit_code()
        status = "ok" if code == 0 else "partial"
        if report.status == "failed":  # recorded as failed: never a success (issue #12)
            # An unusable input keeps its exit 2; else Salesforce stopped answering (exit 3).
            status, code = "failed", (2 if code == 2 else 3)
        t = report.totals()
        log.info(
            "job %s: run %s %s: %d created, %d updated, %d unchanged, %d rejected, %d failed, "
            "%d API calls",
            name, report.run_id, status, t["created"], t["updated"], t["unchanged"],
            t["rejected"], t["failed"], report.api_calls,
        )  # fmt: skip
        # A failed run's cause in words, as the run history keeps it (status, the page).
        msg = report.stopped or (report.input_cause() if status == "failed" else "")
        return JobResult(name, status, started, _now(), msg, report.run_id, code), report

    @staticmethod
    def _purge(settings: Settings, name: str, started: datetime) -> JobResult:
        """A job with ``purge: true``: the retention purge, applied (see docs/privacy.md)."""
        from connector.config import require_secret
        from connector.gdpr.purge_job import run_purge
        from connector.hashing import KeyHasher

        hasher = KeyHasher(require_secret(settings))
        outcome = run_purge(settings, apply=True, hasher=hasher)
        status = "partial" if outcome.exit_code else "ok"
        msg = (
            f"purged {outcome.deleted} records ({outcome.persons} persons), "
            f"fields cleared on {outcome.minimise.cleared} records, "
            f"{len(outcome.failed) + len(outcome.minimise.failed)} refused; "
            f"report {outcome.report_path}"
        )
        log.info("job %s: purge %s: %s", name, status, msg)
        return JobResult(name, status, started, _now(), msg, outcome.run_id, outcome.exit_code)

    def _missed(self, event: JobExecutionEvent) -> None:
        # APScheduler drops a firing that comes later than the grace time; say so where an
        # operator looks, since nothing ran. The next firing (or `sis-sync run`) catches up.
        if event.job_id.startswith("_"):
            return
        log.warning(
            "job %s: missed the run due at %s (more than %d s late); the next firing catches up",
            event.job_id,
            event.scheduled_run_time.isoformat(),
            self.misfire_grace_time,
        )
        self.metrics.runs.labels(event.job_id, "missed").inc()

    def _progress(self, mapping: str, read: int) -> None:
        # Called by the engine after each batch: the place where a stop leaves nothing half-done
        # (the outbox covers writes in flight; the run is recorded as aborted).
        if self._stopping.is_set():
            raise ShutdownRequested("the service is stopping")

    # -- health and metrics -------------------------------------------------------------------

    def health(self) -> tuple[int, dict[str, Any]]:
        """HTTP status and JSON body of /healthz.

        ``degraded`` (503) while a job's last run failed because Salesforce could not be reached
        or kept failing (exit 3): the service is up, but nothing reaches the org. A run with
        record-level problems (``partial``, exit 1) leaves the service ``ok``.
        """
        code, body = service_http.health(self)
        degraded = [
            j["name"] for j in body["jobs"] if (j["last_run"] or {}).get("status") == "failed"
        ]
        body["degraded_jobs"] = degraded
        if degraded and body["status"] == "ok":
            body["status"], code = "degraded", 503
        return code, body

    def wsgi_app(self) -> Callable[..., Any]:
        """The WSGI app: /healthz (JSON), /metrics (prometheus_client's own app), else 404."""
        return service_http.wsgi_app(self)

    def serve_http(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        """Serve /healthz and /metrics in a background thread; returns the bound (host, port).

        Raises:
            ConfigError: the address cannot be bound (in use, or not an address of this host).
        """
        host = host or self.settings.service.host
        port = self.settings.service.port if port is None else port
        self._http = service_http.serve(self.wsgi_app(), host, port)
        bound = self._http.server_address
        return bound[0], bound[1]

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler with the jobs from sync.yaml and the periodic config check."""
        self.scheduler.add_listener(self._missed, EVENT_JOB_MISSED)
        self.scheduler.start()
        self._apply_schedule(self.settings)
        self.scheduler.add_job(
            self.check_config,
            "interval",
            seconds=CONFIG_CHECK_SECONDS,
            id="_config",
            name="config check",
            executor="config",
        )

    def stop(self, *, timeout: float = 30.0) -> bool:
        """Stop scheduling, ask a running job to stop at its next batch and wait up to ``timeout``.

        Returns:
            True when no run is still going (a clean stop), False when one outlasted the wait.
        """
        self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.running and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            busy = sorted(self.running)
        if busy:
            log.warning("stopping with %s still running; the next run picks it up", ", ".join(busy))
        return not busy

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: no new run starts, a running one ends at a batch."""
        return self._stopping.is_set()

    def scheduled(self) -> list[str]:
        """The scheduled jobs as ``name (cron, time zone)``, for the start-up log line."""
        return [f"{name} ({cron}, {tz})" for name, (cron, tz) in self._schedule.items()]

    def run_once(self) -> list[JobResult]:
        """Run the jobs once, now, in sync.yaml's order (``serve --once``).

        The jobs named when the service was made, or else every job with a cron.
        """
        names = [
            j.name for j in self.settings.jobs if (j.name in self.only if self.only else j.cron)
        ]
        return [self.run_now(name) for name in names]
