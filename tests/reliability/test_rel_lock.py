"""One run per job at a time (DESIGN §9): a second `sis-sync run` of the same job on the same state
exits 1 with a clear message and touches nothing; a killed holder does not block the next run.

Once on the default SQLite file (a file lock) and once on PostgreSQL (an advisory lock).
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from relfixtures import CliProject, student, wait_until

from connector.state import open_store

STUDENTS = 1_000


def _second_run_is_refused_then_killed_holder_releases(project: CliProject, state_url: str):
    project.write_students([student(f"9{i:05d}") for i in range(STUDENTS)])
    env = {"SIS_SYNC_STATE__URL": state_url}
    # 5 collection calls of 200, a second each: the holder is still writing when the second
    # run (a second or two to start) reaches the lock.
    project.emulator.faults(latency_ms=1000)
    holder = project.spawn("run", "nightly", name="holder", **env)
    try:
        assert wait_until(
            lambda: project.live_records("Contact") > 0 or holder.poll() is not None, timeout=40
        )
        assert holder.poll() is None, project.output("holder")

        reports = project.report_files()
        second = project.cli("run", "nightly", **env)
        assert second.returncode == 1, second.stdout + second.stderr
        assert "already running" in second.stderr
        assert "nightly" in second.stderr
        assert "Traceback" not in second.stdout + second.stderr
        # No report of its own (and, below, no run row): it wrote nothing.
        assert project.report_files() == reports
        assert holder.poll() is None, "the refused run disturbed the holder"

        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)

    # The operating system (SQLite) or the server (PostgreSQL) dropped the dead holder's lock.
    project.emulator.faults(latency_ms=0)
    after = project.cli("run", "nightly", **env)
    assert after.returncode == 0, after.stdout + after.stderr
    numbers = project.external_ids("Contact", "SIS_Student_Number__c")
    assert len(numbers) == STUDENTS
    assert not [n for n, c in Counter(numbers).items() if c > 1]

    store = open_store(state_url)
    try:
        runs = store.recent_runs(10)
    finally:
        store.close()
    # The killed holder and the run after it; the refused run never started one.
    assert len(runs) == 2, [(r.run_id, str(r.status)) for r in runs]


def test_run_lock_on_sqlite(project: CliProject) -> None:
    _second_run_is_refused_then_killed_holder_releases(project, f"sqlite:///{project.state_file}")


@pytest.mark.postgres
def test_run_lock_on_postgresql(project: CliProject, pg_url: str) -> None:
    _second_run_is_refused_then_killed_holder_releases(project, pg_url)
