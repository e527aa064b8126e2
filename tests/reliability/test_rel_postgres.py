"""A full sync with the state in PostgreSQL, end to end through the command line."""

from __future__ import annotations

import pytest
from relfixtures import CliProject, registration, student

from connector.state import open_store


@pytest.mark.postgres
def test_full_sync_on_postgresql_then_rerun_writes_nothing(
    project: CliProject, pg_url: str
) -> None:
    project.write_students([student(f"6{i:05d}") for i in range(150)])
    project.write_registrations(
        [registration(f"REG-{i:06d}", f"pg{i}@mail.example") for i in range(40)]
    )
    env = {"SIS_SYNC_STATE__URL": pg_url}

    first = project.cli("run", "nightly", **env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert not project.state_file.exists()  # the state went to PostgreSQL, not to SQLite
    assert len(project.query("SELECT Id FROM Contact")) == 190
    assert project.live_records("CampaignMember") == 40
    assert project.live_records("Task") == 40

    store = open_store(pg_url)
    try:
        assert store.mapping_counts() == {
            "students": 150,
            "events": 1,
            "registrants": 40,
            "registrations": 40,
            "registration_tasks": 40,
            # The consent model: an Individual per person (150 students + 40 prospects), a
            # ContactPointTypeConsent per person and purpose they answered.
            "consent:individual": 190,
            "consent:recruitment_news": 190,
            "consent:phone_contact": 150,
        }
        [run] = store.recent_runs(10)
        assert str(run.status) == "ok"
    finally:
        store.close()

    before = project.api_calls()
    second = project.cli("run", "nightly", **env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert project.api_calls() == before
    totals = project.last_report()["totals"]
    assert totals["created"] + totals["updated"] == 0
    assert totals["unchanged"] == 150 + 1 + 40 + 40 + 40
    assert not project.state_file.exists()
