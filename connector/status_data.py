"""What the status page shows, read from the state store (and the reports beside it) in one go.

:func:`collect` reads runs, rejects, refusals, the audit trail, open requests, the outbox and
record counts (reads only, never Salesforce); :func:`source_quality` adds the sources' fill and
validity figures once per finished run. ``status_page.py`` renders the result as HTML.
Like every report it holds names, reasons, codes and counts: never a personal value.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connector.config import Settings
from connector.errors import ConnectorError
from connector.state import RejectSummary, RunRow, StateStore
from connector.state import tables as s
from connector.state.db import guard

RUNS_PER_JOB = 30  # bars per job chart; enough for a month of nightly runs
RUNS_SCANNED = 1000  # recent runs read to find each job's
AUDIT_DAYS = 30
# The reason prefix the Recorder stores for a record Salesforce refused (sync/recorder.py).
REFUSED = "salesforce refused:"


@dataclass(frozen=True)
class ApiBudget:
    """The org's daily API requests as Salesforce last reported them (``Sforce-Limit-Info``)."""

    used: int
    total: int
    run_id: int
    at: datetime

    @property
    def left(self) -> int:
        """Calls left in the rolling 24 hours."""
        return max(self.total - self.used, 0)


@dataclass
class StatusData:
    """Everything the page shows, read from the state store in one go."""

    generated_at: datetime
    timezone: str = "Europe/Amsterdam"
    runs: dict[str, list[RunRow]] = field(default_factory=dict)  # per job, oldest first
    rejects: list[tuple[int, RejectSummary]] = field(default_factory=list)  # (run id, summary)
    refusals: list[tuple[int, RejectSummary]] = field(default_factory=list)  # reason = the code
    api: ApiBudget | None = None
    api_calls_24h: int = 0
    audit: list[tuple[str, str, str, int, datetime]] = field(default_factory=list)
    audit_days: dict[date, Counter[str]] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    synced: dict[str, int] = field(default_factory=dict)
    health: dict[str, Any] | None = None
    quality: Any = None  # connector.quality.Quality of the sources, when that module exists
    quality_error: str = ""
    open_requests: list[Any] = field(default_factory=list)  # data-subject requests (art. 12(3))
    bounces: Any = None  # connector.quality.BounceFigures that `quality` last kept, if any
    bounces_error: str = ""


def collect(
    store: StateStore,
    *,
    now: datetime | None = None,
    timezone: str = "Europe/Amsterdam",
    health: dict[str, Any] | None = None,
) -> StatusData:
    """Read what the page shows from ``store`` (reads only); ``health`` is /healthz's body."""
    now = now or datetime.now(UTC)
    data = StatusData(generated_at=now, timezone=timezone, health=health)
    by_job: dict[str, list[RunRow]] = defaultdict(list)
    recent = store.recent_runs(RUNS_SCANNED)
    for run in recent:
        if len(by_job[run.job]) < RUNS_PER_JOB:
            by_job[run.job].append(run)
    data.runs = {job: runs[::-1] for job, runs in sorted(by_job.items())}
    for runs in data.runs.values():
        latest = runs[-1]
        for summary in store.reject_summary(latest.run_id):
            if summary.reason.startswith(REFUSED):
                code = summary.reason.removeprefix(REFUSED).strip() or "unknown"
                data.refusals.append((latest.run_id, _with_reason(summary, code)))
            else:
                data.rejects.append((latest.run_id, summary))
    data.api = _api_budget(recent)
    day_ago = now - timedelta(hours=24)
    # By the end of a run: its start is the run's clock (SIS_SYNC_NOW may set it), its end real.
    data.api_calls_24h = sum(
        r.api_calls for r in recent if (r.finished_at or r.started_at) >= day_ago
    )
    data.audit, data.audit_days = _audit(store, since=now - timedelta(days=AUDIT_DAYS))
    data.outbox = store.outbox_counts()
    data.synced = store.mapping_counts()
    data.open_requests = store.list_requests(status="open")
    return data


def _with_reason(summary: RejectSummary, reason: str) -> RejectSummary:
    return RejectSummary(summary.mapping, summary.column, reason, summary.count)


def _api_budget(runs: list[RunRow]) -> ApiBudget | None:
    """The newest ``api_usage`` ("used/max") among the last few run reports, if any."""
    for run in [r for r in runs if r.report_path][:5]:
        try:
            usage = json.loads(Path(str(run.report_path)).read_text("utf-8")).get("api_usage")
            used, total = (int(p) for p in str(usage).split("/"))
        except (OSError, ValueError, AttributeError):
            continue  # no report any more, or Salesforce sent no usage header for that run
        return ApiBudget(used, total, run.run_id, run.finished_at or run.started_at)
    return None


def _audit(
    store: StateStore, *, since: datetime
) -> tuple[list[tuple[str, str, str, int, datetime]], dict[date, Counter[str]]]:
    """Audit totals per (action, object, reason) with the last time, and per day since ``since``.

    Counted in SQL: the trail grows by every purged record and is never pruned.
    """
    t = s.audit
    totals = (
        sa.select(t.c.action, t.c.object, t.c.reason, sa.func.count(), sa.func.max(t.c.at))
        .group_by(t.c.action, t.c.object, t.c.reason)
        .order_by(sa.func.max(t.c.at).desc())
    )
    daily = sa.select(t.c.action, t.c.at).where(t.c.at >= since)
    days: dict[date, Counter[str]] = defaultdict(Counter)
    # A read-only aggregate that HistoryMixin does not offer (yet): its engine, read here.
    with guard("read audit"), store._db.engine.connect() as conn:
        lines = [(a, o, r, n, at) for a, o, r, n, at in conn.execute(totals)]
        for action, at in conn.execute(daily):
            days[at.date()][action] += 1
    return [(a, o, r, n, at) for a, o, r, n, at in lines if at is not None], dict(days)


_quality_cache: dict[tuple[str, int], Any] = {}


def source_quality(settings: Settings, latest_run: int) -> tuple[Any, str]:
    """Fill and validity figures of the sources (``connector.quality``, no Salesforce call) and
    a problem in words; (None, "") without that module.

    Reading every source costs about a plan's mapping step, so the service computes them once
    per finished run (the page reloads every minute), keyed by mappings folder and run id.
    """
    try:
        from connector.clock import school_date
        from connector.mapping import load_project
        from connector.quality import gather
    except ImportError:
        return None, ""
    key = (str(settings.mappings), latest_run)
    if key in _quality_cache:
        return _quality_cache[key], ""
    secret = settings.secret.get_secret_value() if settings.secret else None
    try:
        project = load_project(settings.mappings)
        found = gather(project, settings.project_dir, today=school_date(settings.clock()),
                       secret=secret)  # fmt: skip
    except ConnectorError as exc:
        return None, str(exc)
    _quality_cache.clear()  # one configuration per process: keep the latest figures only
    _quality_cache[key] = found
    return found, ""
