"""Two service instances on one state: one runs, the other logs "skipped: running elsewhere".

Deterministic under load: the first instance holds its run (and so the lock) until the test has
seen the second one skip, not for a fixed time a busy machine could outlast.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import pytest
from svcfixtures import get, health, make_service, metric, serving
from syncfixtures import student

from connector.sync.job import run_job

_RELIABILITY = Path(__file__).resolve().parents[2] / "reliability"
if str(_RELIABILITY) not in sys.path:
    sys.path.insert(0, str(_RELIABILITY))

from relfixtures import fresh_pg_database  # noqa: E402

# Deadlines (seconds) for a failing test only; a passing one never waits them out.
START = 180
RUN = 240


class HeldRun:
    """run_job that, after its first batch, holds the run (and so the lock) until released."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()

    def __call__(self, settings, *, job, progress):
        def hold(mapping: str, read: int) -> None:
            progress(mapping, read)
            self.inside.set()
            # Until the test releases it (always, in a finally); the deadline only ends a
            # test that failed to.
            assert self.release.wait(RUN), "the test never released the held run"

        return run_job(settings, job=job, progress=hold)


def _failover(project, caplog, env: dict[str, str]) -> None:
    caplog.set_level(logging.INFO, logger="connector.service")
    project.write_students([student("100001"), student("100002")])
    held = HeldRun()
    first = make_service(project, env=env, run=held)
    second = make_service(project, env=env)
    with serving(first) as base_a, serving(second) as base_b:
        thread = threading.Thread(target=first.run_now, args=["nightly"])
        thread.start()
        try:
            assert held.inside.wait(START), "the first instance never got going"
            assert health(base_a)[1]["jobs"][0]["running"] is True
            skipped = second.run_now("nightly")
        finally:
            held.release.set()
            thread.join(RUN)
        assert not thread.is_alive(), "the first instance's run did not end"
        assert skipped.status == "locked" and skipped.message == "running elsewhere"
        assert "job nightly: skipped: running elsewhere" in caplog.text
        assert first.results["nightly"].status == "ok"
        # Running elsewhere is not a failure of this instance.
        code, body = health(base_b)
        assert code == 200 and body["jobs"][0]["last_run"]["status"] == "locked"
        text = get_metrics(base_b)
        assert metric(text, "sis_sync_runs_total", job="nightly", status="locked") == 1
        assert metric(text, "sis_sync_run_duration_seconds_count", job="nightly") is None
        # Fail-over: with the first instance idle (or gone) the second one runs the job,
        # and finds everything already in Salesforce: no double writes.
        again = second.run_now("nightly")
        assert again.status == "ok" and again.run_id == first.results["nightly"].run_id + 1
        text = get_metrics(base_b)
        assert metric(text, "sis_sync_records_total", job="nightly", action="created") == 0
        assert metric(text, "sis_sync_records_total", job="nightly", action="unchanged") >= 2


def get_metrics(base: str) -> str:
    return get(base + "/metrics")[1]


def test_second_instance_skips_while_the_first_runs_sqlite(project, caplog):
    _failover(project, caplog, {})


@pytest.mark.postgres
def test_second_instance_skips_while_the_first_runs_postgresql(project, caplog):
    with fresh_pg_database("sis_sync_svc") as url:
        _failover(project, caplog, {"SIS_SYNC_STATE__URL": url})
