"""A lost state rebuilt by the run itself (connector/sync/recovery.py), and a rebuild killed
half-way resumed by the next run."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from syncfixtures import registration, student

import connector.sync.rebuild as rebuild
import connector.sync.recovery as recovery
from connector.state import open_existing

MAIL = "bezoeker.herstel@mail.example"
AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _contacts(project) -> list[str | None]:
    rows = project.query(f"SELECT SIS_Student_Number__c FROM Contact WHERE Email = '{MAIL}'")
    return [r["SIS_Student_Number__c"] for r in rows]


def _rebuilding(project) -> dict[str | None, str]:
    store = open_existing(project.settings().state.url)
    try:
        return store.rebuilds_under_way()
    finally:
        store.close()


def _die(*args, **kwargs):
    raise KeyboardInterrupt


def test_a_rebuild_killed_half_way_is_resumed_by_the_next_run(project, monkeypatch):
    project.write_registrations([registration("REG-000907", MAIL)])
    project.write_students([])
    assert project.run().exit_code() == 0
    shutil.rmtree(project.folder / "state")
    project.write_students([student("59000907", email=MAIL)])

    real = recovery.rebuild_state

    def killed(settings, **kwargs):
        # Its first mapping recorded, then the process dies (in the adoption pass).
        monkeypatch.setattr(rebuild, "_adopt", _die)
        real(settings, **{**kwargs, "job": "students"})

    monkeypatch.setattr(recovery, "rebuild_state", killed)
    with pytest.raises(KeyboardInterrupt):
        recovery.run_recovering(project.settings(), job="nightly")
    assert set(_rebuilding(project)) == {"nightly"}  # the state says whose rebuild is under way
    monkeypatch.setattr(recovery, "rebuild_state", real)
    monkeypatch.undo()  # _adopt as it is

    rebuilt = []
    report = recovery.run_recovering(project.settings(), job="nightly", rebuilt=rebuilt.append)

    assert report.exit_code() == 0, report.summary()
    assert len(rebuilt) == 1  # resumed
    assert _contacts(project) == ["59000907"]  # joined, no second Contact
    assert not any(m.failed for m in report.mappings.values())
    assert _rebuilding(project) == {}
    again = recovery.run_recovering(project.settings(), job="nightly", rebuilt=rebuilt.append)
    assert again.exit_code() == 0 and len(rebuilt) == 1  # nothing left to resume


def test_a_state_that_has_recorded_a_run_is_never_rebuilt(project, monkeypatch):
    project.write_students([student("59000908", email=MAIL)])
    assert project.run().exit_code() == 0
    monkeypatch.setattr(recovery, "org_holds_records", lambda *a: pytest.fail("asked the org"))
    assert recovery.rebuild_if_lost(project.settings(), job="nightly") == []


def test_a_half_rebuilt_job_is_resumed_by_the_next_run_of_any_job(project, monkeypatch):
    """The note says whose rebuild stopped: another job's rebuild that goes through leaves it,
    and the next run, of whichever job, resumes it before it syncs."""
    project.write_registrations([registration("REG-000909", MAIL)])
    project.write_students([])
    assert project.run().exit_code() == 0
    shutil.rmtree(project.folder / "state")
    project.write_students([student("59000909", email=MAIL)])

    monkeypatch.setattr(rebuild, "_adopt", _die)  # killed after its mappings were recorded
    with pytest.raises(KeyboardInterrupt):
        recovery.run_recovering(project.settings(), job="registrants")
    monkeypatch.undo()
    assert set(_rebuilding(project)) == {"registrants"}
    note = recovery.lost_state_note(project.settings(), job="nightly")  # what `plan` says
    assert note is not None and "rebuild of the lost state of job registrants has not" in note

    # Another job's rebuild that goes through is no word on this one.
    assert rebuild.rebuild_state(project.settings(), job="students", force=True).exit_code() == 0
    assert set(_rebuilding(project)) == {"registrants"}

    rebuilt = []
    report = recovery.run_recovering(project.settings(), job="nightly", rebuilt=rebuilt.append)
    assert report.exit_code() == 0, report.summary()
    assert [r.report.job for r in rebuilt] == ["registrants"]  # resumed first, then the run
    assert _rebuilding(project) == {}
    assert _contacts(project) == ["59000909"]  # joined, no second Contact
    assert not any(m.failed for m in report.mappings.values())


def test_a_rebuild_of_every_mapping_ends_every_note(project):
    store = open_existing(project.settings().state.url, create=True)
    try:
        store.mark_rebuilding("students", AT)
        store.mark_rebuilding("nightly", AT)
        store.mark_rebuilding("nightly", None)
        assert set(store.rebuilds_under_way()) == {"students"}
        store.mark_rebuilding(None, AT)
        assert set(store.rebuilds_under_way()) == {"students", None}
        store.mark_rebuilding(None, None)
        assert store.rebuilds_under_way() == {}
    finally:
        store.close()
