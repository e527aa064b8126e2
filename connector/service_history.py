"""What /healthz knows after a restart: the last recorded run of each job, read from the state.

The service keeps each job's last outcome in memory (``SyncService.results``). Without this, a
restart would forget that last night's run failed: /healthz would answer 200 ``ok`` with
``last_run: null`` while ``status`` and the page at ``/`` say the job failed. The state is the
truth, so the service starts from it and a new firing replaces it as before.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from connector.errors import ConnectorError
from connector.service_metrics import JobResult

if TYPE_CHECKING:
    from connector.config import Settings
    from connector.state.rows import RunRow

log = logging.getLogger("connector.service")
SEARCH = 5  # runs looked at per job for the newest finished one (a killed run stays "running")


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite returns naive UTC


def result_of(job: str, row: RunRow) -> JobResult:
    """The JobResult a finished run ``row`` stands for, with the codes a live firing gives it
    (SyncService._execute): a failed run is exit 3 (Salesforce could not be reached or kept
    failing) unless its input was unusable (exit 2, shown as ``partial``)."""
    cause = str(row.counts.get("cause") or "")
    status, code = {"ok": ("ok", 0), "partial": ("partial", 1), "aborted": ("aborted", 1)}.get(
        row.status.value, ("failed", 3)
    )
    if status == "failed" and cause.startswith("input error"):
        status, code = "partial", 2
    finished = _aware(row.finished_at or row.started_at)
    return JobResult(job, status, _aware(row.started_at), finished, cause, row.run_id, code)


def last_recorded(settings: Settings) -> dict[str, JobResult]:
    """Per job of sync.yaml, its last finished run in the state (a purge job's runs are
    recorded as ``purge``). Never raises: a state that cannot be read gives no history."""
    from connector.state import open_existing

    found: dict[str, JobResult] = {}
    try:
        store = open_existing(settings.state.url)
    except ConnectorError as exc:
        log.warning("last runs not read from the state: %s", exc)
        return found
    try:
        for spec in settings.jobs:
            rows = store.recent_runs(SEARCH, job="purge" if spec.purge else spec.name)
            done = next((r for r in rows if r.status.value != "running"), None)
            if done is not None:
                found[spec.name] = result_of(spec.name, done)
    except ConnectorError as exc:
        log.warning("last runs not read from the state: %s", exc)
    finally:
        store.close()
    return found
