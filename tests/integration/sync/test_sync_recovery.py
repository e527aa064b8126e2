"""A lost state rebuilt by the run itself (connector/sync/recovery.py), and a rebuild killed
half-way resumed by the next run."""

from __future__ import annotations

import shutil

import pytest
from syncfixtures import registration, student

import connector.sync.rebuild as rebuild
import connector.sync.recovery as recovery
from connector.state import open_existing

MAIL = "bezoeker.herstel@mail.example"


def _contacts(project) -> list[str | None]:
    rows = project.query(f"SELECT SIS_Student_Number__c FROM Contact WHERE Email = '{MAIL}'")
    return [r["SIS_Student_Number__c"] for r in rows]


def _rebuilding(project) -> str | None:
    store = open_existing(project.settings().state.url)
    try:
        return store.rebuilding_since()
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
    assert _rebuilding(project) is not None  # the state says a rebuild is under way
    monkeypatch.setattr(recovery, "rebuild_state", real)
    monkeypatch.undo()  # _adopt as it is

    rebuilt = []
    report = recovery.run_recovering(project.settings(), job="nightly", rebuilt=rebuilt.append)

    assert report.exit_code() == 0, report.summary()
    assert len(rebuilt) == 1  # resumed
    assert _contacts(project) == ["59000907"]  # joined, no second Contact
    assert not any(m.failed for m in report.mappings.values())
    assert _rebuilding(project) is None
    again = recovery.run_recovering(project.settings(), job="nightly", rebuilt=rebuilt.append)
    assert again.exit_code() == 0 and len(rebuilt) == 1  # nothing left to resume


def test_a_state_that_has_recorded_a_run_is_never_rebuilt(project, monkeypatch):
    project.write_students([student("59000908", email=MAIL)])
    assert project.run().exit_code() == 0
    monkeypatch.setattr(recovery, "org_holds_records", lambda *a: pytest.fail("asked the org"))
    assert recovery.rebuild_if_lost(project.settings(), job="nightly") is None
