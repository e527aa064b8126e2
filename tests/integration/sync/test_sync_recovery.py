"""A lost state rebuilt by the run itself (connector/sync/recovery.py), and a rebuild killed
half-way resumed by the next run."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from syncfixtures import registration, student

import connector.sync.rebuild as rebuild
import connector.sync.recovery as recovery
from connector.mapping import load_project
from connector.state import open_existing, tables

MAIL = "bezoeker.herstel@mail.example"
AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
NIGHTLY = ["students", "events", "registrants", "registrations", "registration_tasks"]


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
    # The state says whose rebuild has not gone through: the nightly's mappings.
    assert set(_rebuilding(project)) == set(NIGHTLY)
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
    assert recovery.rebuild_if_lost(project.settings(), job="nightly") == recovery.Recovery()


def _lost_visitor(project) -> None:
    """An open-day visitor synced, the state lost, then she is a student in the SIS export."""
    project.write_registrations([registration("REG-000909", MAIL)])
    project.write_students([])
    assert project.run().exit_code() == 0
    shutil.rmtree(project.folder / "state")
    project.write_students([student("59000909", email=MAIL)])


def _killed_rebuild(project, monkeypatch, job: str) -> None:
    monkeypatch.setattr(rebuild, "_adopt", _die)  # killed after its mappings were recorded
    with pytest.raises(KeyboardInterrupt):
        recovery.run_recovering(project.settings(), job=job)
    monkeypatch.undo()


def test_another_jobs_rebuild_leaves_the_note_and_a_run_holding_the_mapping_resumes_it(
    project, monkeypatch
):
    """Each mapping's note goes only with a rebuild of it that went through: a rebuild of
    another job leaves it (an outsider found one job's rebuild clearing another's note)."""
    _lost_visitor(project)
    _killed_rebuild(project, monkeypatch, "registrants")
    assert set(_rebuilding(project)) == {"registrants"}
    note = recovery.lost_state_note(project.settings(), job="nightly")  # what `plan` says
    assert note is not None and "rebuild of the lost state of registrants has not" in note

    assert rebuild.rebuild_state(project.settings(), job="students", force=True).exit_code() == 0
    assert set(_rebuilding(project)) == {"registrants"}

    rebuilt = []
    report = recovery.run_recovering(project.settings(), job="nightly", rebuilt=rebuilt.append)
    assert report.exit_code() == 0, report.summary()
    assert [r.report.job for r in rebuilt] == ["nightly"]  # resumed first, then the run
    assert _rebuilding(project) == {}
    assert _contacts(project) == ["59000909"]  # joined, no second Contact
    assert not any(m.failed for m in report.mappings.values())


def test_a_run_resumes_the_half_rebuilt_person_mappings_of_its_people_first(project, monkeypatch):
    """`run students` does not hold the registrants mapping, but its people are the
    students': on the half-rebuilt registrants the student would get a second Contact."""
    _lost_visitor(project)
    _killed_rebuild(project, monkeypatch, "registrants")

    rebuilt = []
    report = recovery.run_recovering(project.settings(), job="students", rebuilt=rebuilt.append)

    assert report.exit_code() == 0, report.summary()
    assert [r.report.job for r in rebuilt] == ["registrants"]
    assert _contacts(project) == ["59000909"]  # joined the visitor's Contact
    assert _rebuilding(project) == {}


def test_a_resumed_rebuild_whose_export_is_missing_keeps_its_note_and_syncs_nothing(
    project, monkeypatch
):
    """An outsider's D2: a resumed rebuild with its export missing did nothing, cleared the
    note as if it had gone through, and the run synced — the student got a second Contact
    once the export came back."""
    _lost_visitor(project)
    _killed_rebuild(project, monkeypatch, "registrants")
    export = project.folder / "data" / "aanmeldingen_opendag.csv"
    kept = export.read_bytes()
    export.unlink()  # not delivered today

    report = recovery.run_recovering(project.settings(), job="nightly")

    assert report.exit_code() != 0 and report.rebuild  # the rebuild's report: nothing synced
    assert "registrants" in _rebuilding(project)
    assert _contacts(project) == [None]  # the visitor's Contact only, untouched
    export.write_bytes(kept)
    report = recovery.run_recovering(project.settings(), job="nightly")
    assert report.exit_code() == 0, report.summary()
    assert _contacts(project) == ["59000909"]
    assert _rebuilding(project) == {}


def test_a_noted_mapping_without_an_export_does_not_hold_up_another_job(project):
    """An outsider's D1: an earlier version's note (every mapping's) or `sis-sync run` without a
    job on a lost state noted the shipped OneRoster mappings, whose export a school without
    OneRoster never has; every later run of every job stopped on them. Another job's run warns
    and goes on; the note stays for that mapping's own job."""
    _lost_visitor(project)
    store = open_existing(project.settings().state.url, create=True)
    try:
        store.mark_rebuilding(["oneroster_users", "oneroster_enrollments"], AT)
    finally:
        store.close()

    report = recovery.run_recovering(project.settings(), job="nightly")

    assert report.exit_code() == 0, report.summary()
    assert _contacts(project) == ["59000909"]
    assert set(_rebuilding(project)) == {"oneroster_users", "oneroster_enrollments"}
    assert recovery.run_recovering(project.settings(), job="nightly").exit_code() == 0


def test_an_earlier_versions_note_is_every_mappings_and_goes_mapping_by_mapping(project):
    _lost_visitor(project)
    store = open_existing(project.settings().state.url, create=True)
    try:
        with store._db.writing() as conn:  # the bare key an earlier version wrote
            conn.execute(sa.insert(tables.meta).values(key="recovery:rebuilding", value="x"))
        assert store.rebuilds_under_way() == {None: "x"}
    finally:
        store.close()

    report = recovery.run_recovering(project.settings(), job="nightly")

    assert report.exit_code() == 0, report.summary()
    assert _contacts(project) == ["59000909"]
    # The nightly's mappings went through; the rest keep the earlier note's time.
    left = _rebuilding(project)
    assert set(left) == set(load_project(project.settings().mappings).mappings) - set(NIGHTLY)
    assert set(left.values()) == {"x"}


def test_notes_are_one_a_mapping(project):
    store = open_existing(project.settings().state.url, create=True)
    try:
        store.mark_rebuilding(["students", "registrants"], AT)
        store.mark_rebuilding(["students"], AT.replace(hour=10))  # a note keeps its time
        assert store.rebuilds_under_way() == dict.fromkeys(
            ["students", "registrants"], AT.isoformat()
        )
        store.mark_rebuilt(["registrants", "events"], every=["students", "registrants"])
        assert set(store.rebuilds_under_way()) == {"students"}
    finally:
        store.close()
