"""One run per job at a time (DESIGN §9): a second `sis-sync run` of the same job on the same state
exits 1 with a clear message and touches nothing; a killed holder does not block the next run.

Once on the default SQLite file (a file lock) and once on PostgreSQL (an advisory lock).

Deterministic under load: the holder is stopped mid-write by a gate in the (in-process)
emulator, not slowed by a latency that a busy machine's slow start-up of the second run could
outlast, and after the SIGKILL the test waits until the locks are observably free (PostgreSQL
ends the dead client's session, and so its advisory locks, asynchronously). Timeouts are
deadlines for a failing test only; a passing one never waits on them.
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from relfixtures import CliProject, WriteGate, held_run_locks, student, wait_until

from connector.state import open_store

STUDENTS = 1_000
# Deadlines (seconds) that only a failing test reaches; generous for a machine under load.
START = 180
RUN = 300


def _second_run_is_refused_then_killed_holder_releases(project: CliProject, state_url: str):
    project.write_students([student(f"9{i:05d}") for i in range(STUDENTS)])
    env = {"SIS_SYNC_STATE__URL": state_url}
    # The holder's held write must not time out (and be retried or fail) while the test works.
    holder_env = {**env, "SIS_SYNC_SALESFORCE__TIMEOUT": "3600"}
    with WriteGate(project.emulator, passes=1) as gate:
        # The first write (200 Contacts) lands; the second waits in the gate, inside the lock.
        holder = project.spawn("run", "nightly", name="holder", **holder_env)
        try:
            assert wait_until(
                lambda: gate.held.is_set() or holder.poll() is not None, timeout=START
            ), project.output("holder")
            assert holder.poll() is None, project.output("holder")
            assert gate.held.is_set()
            assert project.live_records("Contact") > 0
            assert held_run_locks(state_url) > 0

            reports = project.report_files()
            second = project.cli("run", "nightly", timeout=RUN, **env)
            assert second.returncode == 1, second.stdout + second.stderr
            assert "already running" in second.stderr
            assert "nightly" in second.stderr
            assert "Traceback" not in second.stdout + second.stderr
            # No report of its own (and, below, no run row): it wrote nothing.
            assert project.report_files() == reports
            assert holder.poll() is None, "the refused run disturbed the holder"

            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=RUN)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait(timeout=RUN)
        # The held write never reached the org: leaving the gate answers it 503, unapplied.

    # The operating system (SQLite: at exit) or the server (PostgreSQL: when it notices the
    # dead session, which may be a moment later) dropped the dead holder's locks.
    assert wait_until(lambda: held_run_locks(state_url) == 0, timeout=START)
    after = project.cli("run", "nightly", timeout=RUN, **env)
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
