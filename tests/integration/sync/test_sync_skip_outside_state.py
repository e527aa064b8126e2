"""The nightly fast path is invalidated by what lies outside the row but decides its outcome.

Guards the second half of the contract of ``connector/sync/fingerprint.py``: a remembered source
hash must not let a run skip a row once something outside that row changed what the row would
come to. Each test syncs rows until they are skipped, changes one such thing and checks that
the next run maps them again (and decides them differently where the outcome changed):

- a ``--suppress-only`` tombstone on a synced student (``IdentityMixin.add_suppression``);
- two students enrolling with an address a synced registrant uses: the registrant's match
  became ambiguous (``Recorder.results`` → ``forget_shared_sources``);
- a retention purge of a parent record (``retention_job._Purge.apply`` → ``forget_sources``);
- a run whose clock (``SIS_SYNC_NOW``) is ahead of the real one (``remember_sources``);
- a change in the connector's own code (``fingerprint._code_digest`` in the project digest).

Every clock used here lies before the real one (except the run meant to be in the future).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from syncfixtures import NOW, SECRET, SyncProject, registration, student
from typer.testing import CliRunner

from connector.cli import app
from connector.errors import ConnectorError
from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.report import RunReport
from connector.state import open_store
from connector.sync import fingerprint
from connector.sync.job import run_job
from connector.sync.plan_parents import PARENT_PURGED

DAY_BEFORE = "2026-11-19T09:00:00+00:00"  # syncfixtures.NOW is 2026-11-20T09:00Z
MAY = "2026-05-01T09:00:00+00:00"
FAR_FUTURE = "2099-06-01T09:00:00+00:00"


def run_at(project: SyncProject, now: str, job: str = "students") -> RunReport:
    """One run with the clock at ``now`` (SIS_SYNC_NOW)."""
    return run_job(project.settings(SIS_SYNC_NOW=now), job=job)


def counts(report: RunReport, mapping: str = "students") -> tuple[int, int, int, int]:
    """(created, updated, unchanged, skipped) of one mapping."""
    m = report.mappings[mapping]
    return m.created, m.updated, m.unchanged, m.skipped


def cli(project: SyncProject, *args: str) -> Any:
    """``sis-sync ARGS`` in-process on the project, with its environment (and clock)."""
    result = CliRunner().invoke(
        app, ["--config", str(project.folder / "sync.yaml"), *args], env=project.env
    )
    if isinstance(result.exception, ConnectorError):
        result.exit_code = result.exception.exit_code
    return result


def key_hash(project: SyncProject, mapping: str, key: str) -> str:
    """The key hash a record of ``mapping`` has in state."""
    compiled = load_project(project.settings().mappings).compile(
        mapping, hasher=KeyHasher(SECRET), today=datetime.now(UTC).date()
    )
    return compiled.hash_key(key)


def last_seen(project: SyncProject, mapping: str, key: str) -> datetime:
    """When state last saw the record ``key`` of ``mapping`` in its source."""
    store = open_store(project.settings().state.url)
    try:
        h = key_hash(project, mapping, key)
        return store.lookup(mapping, [h])[h].last_seen
    finally:
        store.close()


def live(project: SyncProject, mapping: str) -> int:
    """Records of ``mapping`` not purged, in the project's SQLite state."""
    with closing(sqlite3.connect(project.folder / "state" / "sync.db")) as conn:
        sql = "SELECT count(*) FROM synced WHERE mapping = ? AND deleted_at IS NULL"
        return conn.execute(sql, (mapping,)).fetchone()[0]


def test_a_suppress_only_tombstone_on_a_synced_student_is_seen_by_the_next_run(project):
    project.write_students([student("210001"), student("210002")])
    assert counts(run_at(project, DAY_BEFORE)) == (2, 0, 0, 0)
    assert counts(run_at(project, DAY_BEFORE)) == (0, 0, 2, 2)

    erased = cli(project, "erase", "--student-number", "210001", "--suppress-only", "--apply")
    assert erased.exit_code == 0, erased.output
    assert erased.output.startswith("added 1 tombstones")

    report = run_at(project, NOW)
    assert report.exit_code() == 0, report.summary()
    m = report.mappings["students"]
    assert m.suppressed == 1  # the planner saw the tombstone: not recognised as unchanged
    assert counts(report) == (0, 0, 1, 1)  # only the other student is skipped
    # The export still holds its row: last_seen moves as for every row the source holds but
    # the run does not write (recorder.present), so a full export does not count it as gone.
    assert last_seen(project, "students", "210001") == datetime.fromisoformat(NOW)
    assert last_seen(project, "students", "210002") == datetime.fromisoformat(NOW)
    # And it stays suppressed: a suppressed row is never remembered as unchanged.
    again = run_at(project, NOW)
    assert again.mappings["students"].suppressed == 1
    assert counts(again) == (0, 0, 1, 1)


def test_an_address_two_students_then_share_puts_the_registrant_on_the_review_list(project):
    shared = "ouders.220000@mail.example"
    # No news answer: a "nee" would set HasOptedOutOfEmail (shipped opt_out), and the siblings'
    # "ja" would then be an opt_out_conflict for staff, mapped again every run.
    project.write_registrations([registration("REG-220001", shared, toestemming_nieuws="")])
    first = project.run()
    assert first.exit_code() == 0, first.summary()
    assert counts(first, "registrants") == (1, 0, 0, 0)
    assert counts(project.run(), "registrants") == (0, 0, 1, 1)

    # Two siblings enrol with their parents' address, the registrant's export is unchanged.
    project.write_students([student("220001", email=shared), student("220002", email=shared)])
    for run in (1, 2, 3):
        report = project.run()
        m = report.mappings["registrants"]
        assert (m.review, m.skipped, m.unchanged) == (1, 0, 0), run
        assert [r["reason"] for r in m.review_list] == ["e-mail matches 2 persons"], run
        assert report.exit_code() == 1, run
        # The students themselves are matched by student number: skipped from the second run.
        assert counts(report)[3] == (0 if run == 1 else 2), run


def test_a_purged_parent_makes_its_children_be_mapped_again(project):
    # The export names event OD-1 with two dates: the last row's (2024-06-01) is the Campaign's.
    # In May 2026 it is within event_administration's P2Y and is written; by NOW (November) it
    # is past it and the purge takes it, while the earlier visitor's registration (2026-11-14,
    # event_registration P3M) is still justified and stays. (A record already past its
    # retention when first seen is never written at all: the first runs are in May.)
    project.write_registrations(
        [
            registration("REG-230001", "blijft.230001@mail.example", evenement_id="OD-1"),
            registration(
                "REG-230002",
                "weg.230002@mail.example",
                evenement_id="OD-1",
                evenement_datum="2024-06-01",
            ),
        ]
    )
    first = run_at(project, MAY, job="nightly")
    assert first.exit_code() == 0, first.summary()
    assert first.mappings["events"].created == 1
    second = run_at(project, MAY, job="nightly")
    assert counts(second, "registrations") == (0, 0, 1, 1)
    assert counts(second, "registration_tasks") == (0, 0, 1, 1)

    purged = cli(project, "purge", "--apply")  # as of NOW (syncfixtures' clock)
    assert purged.exit_code == 0, purged.output
    assert not project.query("SELECT Id FROM Campaign")
    # The Campaign is gone; the other visitor's registration stays live in state.
    assert live(project, "registrations") == 1 and live(project, "events") == 0

    report = project.run()
    reg = report.mappings["registrations"]
    # Mapped again (not recognised by its source hash) and left alone: its Campaign is gone,
    # which is retention doing its work, not an error.
    assert (reg.skipped, reg.unchanged, reg.rejected) == (0, 0, 0)
    assert reg.left_alone == {PARENT_PURGED: 1}
    assert report.mappings["registration_tasks"].skipped == 0
    assert report.mappings["registration_tasks"].left_alone == {PARENT_PURGED: 1}
    assert "skipped: parent purged (retention) ×1" in report.summary()
    assert "target.mode" not in report.summary()
    assert report.exit_code() == 0


def test_a_run_with_its_clock_ahead_of_the_real_one_lets_no_later_run_skip(project):
    assert datetime.fromisoformat(FAR_FUTURE) > datetime.now(UTC)
    project.write_students([student(f"24{i:04d}") for i in range(3)])
    future = run_at(project, FAR_FUTURE)
    assert future.exit_code() == 0, future.summary()
    assert counts(future) == (3, 0, 0, 0)

    # Back on the real calendar (a past clock, as everywhere here): every row is mapped.
    report = run_at(project, NOW)
    assert report.exit_code() == 0, report.summary()
    assert counts(report) == (0, 0, 3, 0)
    # That run's decisions are remembered: the next one skips them all.
    assert counts(run_at(project, NOW)) == (0, 0, 3, 3)


def test_a_change_in_the_connectors_code_maps_every_row_once(project, monkeypatch):
    project.write_students([student(f"25{i:04d}") for i in range(3)])
    assert counts(project.run("students")) == (3, 0, 0, 0)
    assert counts(project.run("students")) == (0, 0, 3, 3)

    # Another build of the connector: same version, same project, same rows, other code.
    real = fingerprint._code_digest()
    monkeypatch.setattr(fingerprint, "_code_digest", lambda: "0" * len(real))
    report = project.run("students")
    assert report.exit_code() == 0, report.summary()
    assert counts(report) == (0, 0, 3, 0)
    assert counts(project.run("students")) == (0, 0, 3, 3)


def test_recognised_rows_of_an_export_the_size_guard_holds_back_still_move_last_seen(project):
    """last_seen moves in sets (recorder.flush_seen): also when no export mark follows, as for
    an export that shrank past the guard (its missing records do not count as gone)."""
    numbers = [f"2100{i:02d}" for i in range(10)]
    project.write_students([student(n) for n in numbers])
    assert counts(run_at(project, DAY_BEFORE)) == (10, 0, 0, 0)
    assert counts(run_at(project, DAY_BEFORE)) == (0, 0, 10, 10)
    project.write_students([student(n) for n in numbers[:2]])  # 2 of 10: below the guard
    report = run_at(project, NOW)
    assert counts(report) == (0, 0, 2, 2)
    assert any("export" in w for w in report.mappings["students"].warnings)
    assert last_seen(project, "students", numbers[0]) == datetime.fromisoformat(NOW)
    assert last_seen(project, "students", numbers[5]) == datetime.fromisoformat(DAY_BEFORE)
