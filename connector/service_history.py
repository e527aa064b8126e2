"""What /healthz and /metrics know after a restart: each job's last recorded runs, from the state.

The service keeps each job's last outcome in memory (``SyncService.results``) and in its gauges.
Without this, a restart would forget that last night's run failed: /healthz would answer 200
``ok`` with ``last_run: null`` and /metrics would have no ``sis_sync_last_run_failed`` series
(so the alert of docs/operations.md stops firing), while ``status`` and the page at ``/`` say the
job failed. The state is the truth, so the service starts from it and a new firing replaces it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from connector.errors import ConnectorError, PluginError
from connector.service_metrics import JobResult

if TYPE_CHECKING:
    from connector.config import Settings
    from connector.state.rows import RunRow

log = logging.getLogger("connector.service")
# Runs looked at per job for the newest finished one (a killed run stays "running") and the
# newest that went through: one indexed query of at most this many rows per job.
SEARCH = 50


@dataclass(frozen=True)
class History:
    """Per job name: its last finished run, and when its last run that went through ended."""

    last: dict[str, JobResult] = field(default_factory=dict)
    last_success: dict[str, datetime] = field(default_factory=dict)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite returns naive UTC


def result_of(job: str, row: RunRow) -> JobResult:
    """The JobResult a finished run ``row`` stands for, with the codes a live firing gives it
    (SyncService._execute): a failed run is exit 3 (Salesforce could not be reached or kept
    failing) unless its input was unusable (exit 2, still ``failed``: a missing export is no
    success, so /healthz and ``sis_sync_last_success_timestamp_seconds`` must not say it is),
    or a source plugin raised (``error``, exit 70, as the live firing reports it)."""
    cause = str(row.counts.get("cause") or "")
    status, code = {"ok": ("ok", 0), "partial": ("partial", 1), "aborted": ("aborted", 1)}.get(
        row.status.value, ("failed", 3)
    )
    if status == "failed" and cause.startswith("input error"):
        code = 2
    elif status == "failed" and cause.startswith(PluginError.PREFIX):
        status, code = "error", PluginError.exit_code
    finished = _aware(row.finished_at or row.started_at)
    return JobResult(job, status, _aware(row.started_at), finished, cause, row.run_id, code)


def recorded_history(settings: Settings) -> History:
    """Per job of sync.yaml, its last finished run in the state and the end of its last run
    that went through (``ok``/``partial``, as :meth:`ServiceMetrics.observe` counts it), among
    its newest ``SEARCH`` runs (a purge job's runs are recorded as ``purge``). Never raises: a
    state that cannot be read gives no history."""
    from connector.state import open_existing

    found = History()
    try:
        store = open_existing(settings.state.url)
    except ConnectorError as exc:
        log.warning("last runs not read from the state: %s", exc)
        return found
    try:
        for spec in settings.jobs:
            rows = store.recent_runs(SEARCH, job="purge" if spec.purge else spec.name)
            done = [result_of(spec.name, r) for r in rows if r.status.value != "running"]
            if done:
                found.last[spec.name] = done[0]
            good = next((r for r in done if r.status in ("ok", "partial")), None)
            if good is not None:
                found.last_success[spec.name] = good.finished_at
    except ConnectorError as exc:
        log.warning("last runs not read from the state: %s", exc)
    finally:
        store.close()
    return found
