"""The nightly fast path against the emulator: rows already synced, unchanged, are not mapped.

Guards the contract of ``connector/sync/fingerprint.py``: a row whose keyed source hash state
remembers (record not purged, recheck day not yet come) is counted unchanged without
``CompiledMapping.apply`` being called and without any Salesforce call; a changed row, an edited
mapping or purposes register, a failed write, an old state without source hashes, a consent
dated ahead and an ended record's retention running out all map the row again. "Today" is the
school's day (Europe/Amsterdam), so several runs below sit just before or after its midnight.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import pytest
from syncfixtures import registration, student

from connector.mapping.compile import CompiledMapping
from connector.report import RunReport
from connector.sync import engine
from connector.sync.job import run_job

# syncfixtures.NOW is 2026-11-20T09:00Z: the school's day is Friday 20 November 2026.
LATE_ON_DAY_1 = "2026-11-20T22:59:00+00:00"  # 23:59 in Amsterdam: still 20 November
EARLY_ON_DAY_2 = "2026-11-20T23:30:00+00:00"  # 00:30 in Amsterdam: 21 November (UTC: the 20th)
DAY_3 = "2026-11-22T09:00:00+00:00"


@dataclass
class ApplySpy:
    """Every ``CompiledMapping.apply`` call of a run: (mapping, source key) in call order."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def take(self) -> list[tuple[str, str]]:
        """The calls since the last take (and forget them)."""
        out, self.calls = self.calls, []
        return out

    def keys(self, mapping: str = "students") -> list[str]:
        """The source keys mapped since the last take, for one mapping (and forget all)."""
        return [key for name, key in self.take() if name == mapping]


@pytest.fixture
def spy(monkeypatch) -> ApplySpy:
    calls = ApplySpy()
    real = CompiledMapping.apply

    def apply(self: CompiledMapping, rec: Any) -> Any:
        calls.calls.append((self.name, rec.key))
        return real(self, rec)

    monkeypatch.setattr(CompiledMapping, "apply", apply)
    return calls


def run_at(project, now: str, job: str = "students") -> RunReport:
    """One run with the clock at ``now`` (SIS_SYNC_NOW)."""
    report = run_job(project.settings(SIS_SYNC_NOW=now), job=job)
    assert report.exit_code() == 0, report.summary()
    return report


def counts(report: RunReport, mapping: str = "students") -> tuple[int, int, int, int]:
    """(created, updated, unchanged, skipped) of one mapping."""
    m = report.mappings[mapping]
    return m.created, m.updated, m.unchanged, m.skipped


def contacts(project, fields: str) -> dict[str, dict[str, Any]]:
    """Student Contacts by student number."""
    rows = project.query(
        f"SELECT SIS_Student_Number__c, {fields} FROM Contact WHERE SIS_Student_Number__c != null"
    )
    return {r["SIS_Student_Number__c"]: r for r in rows}


def test_rerun_over_unchanged_data_maps_nothing_and_calls_nothing(project, spy):
    project.write_students([student(f"11{i:04d}") for i in range(5)])
    # One event per registration, so that every mapping has one row per record.
    project.write_registrations(
        [
            registration(f"REG-11{i:04d}", f"gast{i}@mail.example", evenement_id=f"OD-{i}")
            for i in range(3)
        ]
    )
    rows = {"students": 5, "events": 3, "registrants": 3, "registrations": 3}
    rows["registration_tasks"] = 3
    first = project.run()
    assert first.exit_code() == 0, first.summary()
    # The consent model's records (consent:individual, consent:<purpose>) are counted apart.
    created = {m: r.created for m, r in first.mappings.items() if not m.startswith("consent:")}
    assert created == rows
    mapped_first = spy.take()
    # The registrants' new rows are mapped twice: first to learn what they withdraw before the
    # students are planned (sync/withdrawal_learning.py), then planned.
    learnt = {**rows, "registrants": 2 * rows["registrants"]}
    assert {m: sum(1 for name, _ in mapped_first if name == m) for m in rows} == learnt

    before = project.emulator.stats()
    second = project.run()
    assert second.exit_code() == 0, second.summary()
    assert spy.take() == []
    for name, n in rows.items():
        assert counts(second, name) == (0, 0, n, n), name
    after = project.emulator.stats()
    assert after["api_calls"] == before["api_calls"]
    # Only a new token: no query, no write.
    assert set(after["requests"]) == set(before["requests"])
    for request, n in after["requests"].items():
        assert n == before["requests"][request] + (request == "POST oauth2/token"), request


def test_one_changed_row_among_unchanged_is_the_only_one_mapped_and_updated(project, spy):
    rows = [student(f"12{i:04d}") for i in range(6)]
    project.write_students(rows)
    project.run("students")
    rows[2]["woonplaats"] = "Amersfoort"
    project.write_students(rows)
    spy.take()

    before = project.api_calls()
    report = project.run("students")
    assert spy.keys() == ["120002"]
    assert counts(report) == (0, 1, 5, 5)
    # One collections call for the one update. No read of the opt-out fields the CRM holds:
    # the row's opt-ins are the ones this Contact was written with (crm_opt_outs.py).
    assert project.api_calls() - before == 1
    cities = {n: c["MailingCity"] for n, c in contacts(project, "MailingCity").items()}
    assert cities == {f"12{i:04d}": "Amersfoort" if i == 2 else "Utrecht" for i in range(6)}

    # The changed row is now what Salesforce holds: it is skipped like the others.
    again = project.run("students")
    assert spy.keys() == []
    assert counts(again) == (0, 0, 6, 6)


def test_consent_dated_tomorrow_counts_from_the_school_day_it_was_given(project, spy):
    # 00:30 on 21 November in Amsterdam is still 20 November in UTC: the school's day counts.
    ahead = student("130001", toestemming_nieuws_op="2026-11-21T00:30:00+01:00")
    project.write_students([student("130000"), ahead, student("130002")])
    first = project.run("students")
    assert first.mappings["students"].withheld["consent_in_future"] == 3
    news = "Consent_News__c, Consent_News_At__c, Consent_News_Source__c"
    c = contacts(project, news)["130001"]
    assert (c["Consent_News__c"], c["Consent_News_At__c"], c["Consent_News_Source__c"]) == (
        False,
        None,
        None,
    )
    assert contacts(project, news)["130000"]["Consent_News__c"] is True
    spy.take()

    # Again on day 1, up to 23:59 school time: the row is skipped, nothing is called.
    for now in (None, LATE_ON_DAY_1):
        before = project.api_calls()
        report = project.run("students") if now is None else run_at(project, now)
        assert spy.keys() == [], now
        assert counts(report) == (0, 0, 3, 3), now
        assert project.api_calls() == before

    # Just after the school's midnight: the consent counts, the row is mapped and the field sent.
    report = run_at(project, EARLY_ON_DAY_2)
    assert spy.keys() == ["130001"]
    assert counts(report) == (0, 1, 2, 2)
    assert report.mappings["students"].withheld["consent_in_future"] == 0
    c = contacts(project, news)["130001"]
    assert c["Consent_News__c"] is True
    assert c["Consent_News_At__c"] is not None
    assert c["Consent_News_Source__c"] == "intake"

    # Once sent, nothing depends on the day any more: the row is skipped again.
    report = run_at(project, DAY_3)
    assert spy.keys() == []
    assert counts(report) == (0, 0, 3, 3)


def test_editing_a_mapping_or_the_purposes_maps_every_row_once(project, spy):
    rows = [student(f"14{i:04d}", woonplaats=f"Plaats{i}") for i in range(4)]
    project.write_students(rows)
    project.run("students")
    spy.take()

    mapping = project.folder / "mappings" / "students.yaml"
    old = "MailingCity:       {from: woonplaats, transform: [strip], purposes: [enrolment]}"
    text = mapping.read_text(encoding="utf-8")
    assert old in text
    mapping.write_text(text.replace(old, old.replace("[strip]", "[strip, upper]")), "utf-8")
    report = project.run("students")
    assert sorted(spy.keys()) == [f"14{i:04d}" for i in range(4)]
    assert counts(report) == (0, 4, 0, 0)
    cities = {n: c["MailingCity"] for n, c in contacts(project, "MailingCity").items()}
    assert cities == {f"14{i:04d}": f"PLAATS{i}" for i in range(4)}
    report = project.run("students")
    assert spy.keys() == []
    assert counts(report) == (0, 0, 4, 4)

    # The purposes register is part of the hash too, even when the edit changes no payload.
    purposes = project.folder / "mappings" / "purposes.yaml"
    text = purposes.read_text(encoding="utf-8")
    assert "  name: ROC Voorbeeld\n" in text  # controller: {name, contact} since art. 30(1)(a)
    purposes.write_text(text.replace("ROC Voorbeeld\n", "ROC Voorbeeld Oost\n", 1), "utf-8")
    before = project.api_calls()
    report = project.run("students")
    assert len(spy.keys()) == 4
    assert counts(report) == (0, 0, 4, 0)
    assert project.api_calls() == before  # no read: its opt-ins are written (crm_opt_outs.py)
    report = project.run("students")
    assert spy.keys() == []
    assert counts(report) == (0, 0, 4, 4)


def test_a_row_whose_write_failed_is_mapped_again_and_lands(project, spy):
    rows = [student(f"15{i:04d}") for i in range(8)]
    project.write_students(rows)
    project.run("students")
    for row in rows:
        row["woonplaats"] = "Zwolle"
    project.write_students(rows)
    spy.take()

    # Half the records refused with UNABLE_TO_LOCK_ROW, and no re-send round to rescue them.
    project.emulator.faults(lock_error_rate=0.5, seed=3)
    failing = run_job(project.settings(SIS_SYNC_SALESFORCE__MAX_RETRIES="0"), job="students")
    project.emulator.faults(lock_error_rate=0)
    m = failing.mappings["students"]
    assert m.failures["UNABLE_TO_LOCK_ROW"] == m.failed
    assert 0 < m.failed < 8 and m.updated == 8 - m.failed
    assert len(spy.keys()) == 8
    cities = {n: c["MailingCity"] for n, c in contacts(project, "MailingCity").items()}
    not_landed = sorted(n for n, city in cities.items() if city == "Utrecht")
    assert len(not_landed) == m.failed

    report = project.run("students")
    assert sorted(spy.keys()) == not_landed
    assert counts(report) == (0, m.failed, 8 - m.failed, 8 - m.failed)
    cities = {n: c["MailingCity"] for n, c in contacts(project, "MailingCity").items()}
    assert set(cities.values()) == {"Zwolle"}
    report = project.run("students")
    assert spy.keys() == []
    assert counts(report) == (0, 0, 8, 8)


def test_an_older_row_of_a_record_in_an_earlier_batch_writes_nothing(project, spy, monkeypatch):
    # Two rows of one student in the same export, in different batches: the later one is the
    # newest and is what reaches Salesforce; the older one must not overwrite it on later runs,
    # and it is reported (duplicates: report) with both lines, on every run until fixed.
    monkeypatch.setattr(engine, "BATCH", 2)
    older = student("160001", woonplaats="Oudewater")
    newer = student("160001", woonplaats="Nieuwegein")
    project.write_students([older, student("160002"), student("160003"), newer])
    first = project.run("students")
    assert counts(first) == (3, 0, 0, 0)
    assert contacts(project, "MailingCity")["160001"]["MailingCity"] == "Nieuwegein"
    spy.take()

    for run in (1, 2, 3):
        if run > 1:
            before = project.api_calls()
            report = project.run("students")
            # The older row is mapped (its hash is not the one remembered); so is the newer
            # one, whose record an earlier row of the run changed; nothing is written.
            assert spy.keys() == ["160001", "160001"], run
            assert counts(report) == (0, 0, 3, 2), run
            # Nothing written, nothing read: the mapped rows' opt-ins are the ones the Contact
            # was written with (crm_opt_outs.py).
            assert project.api_calls() == before, run
        else:
            report = first
        m = report.mappings["students"]
        assert m.rejects == [
            {
                "file": m.rejects[0]["file"],
                "line": 2,
                "column": "studentnummer",
                "reason": "duplicate key: superseded by line 5, which has other values",
            }
        ], run
        assert report.exit_code() == 1
        assert contacts(project, "MailingCity")["160001"]["MailingCity"] == "Nieuwegein"


def test_a_state_from_before_source_hashes_maps_once_then_skips(project, spy):
    project.write_students([student(f"17{i:04d}") for i in range(5)])
    project.run("students")
    spy.take()
    db = project.folder / "state" / "sync.db"

    def remembered() -> int:
        with closing(sqlite3.connect(db)) as conn:
            return conn.execute(
                "SELECT count(*) FROM source_rows WHERE mapping = 'students'"
            ).fetchone()[0]

    assert remembered() == 5
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM source_rows")  # as a state of schema v1 has none
    assert remembered() == 0

    before = project.api_calls()
    report = project.run("students")
    assert len(spy.keys()) == 5
    assert counts(report) == (0, 0, 5, 0)
    assert project.api_calls() == before  # no read: its opt-ins are written (crm_opt_outs.py)
    assert remembered() == 5
    report = project.run("students")
    assert spy.keys() == []
    assert counts(report) == (0, 0, 5, 5)


def test_an_ended_student_is_mapped_again_the_day_after_retention_runs_out(project, spy):
    # purposes.yaml keeps `enrolment` for P1M after lifecycle_end: ended 20 October, its last
    # covered day is 20 November; from 21 November no purpose justifies the required LastName.
    ended = student("180001", status="uitgeschreven", status_datum="20-10-2026")
    project.write_students([student("180000"), ended])
    first = project.run("students")
    assert counts(first) == (2, 0, 0, 0)
    c = contacts(project, "LastName, Lifecycle_Status__c")["180001"]
    assert (c["LastName"], c["Lifecycle_Status__c"]) == ("de Vries", "Uitgeschreven")
    spy.take()

    before = project.api_calls()
    report = run_at(project, LATE_ON_DAY_1)
    assert spy.keys() == []
    assert counts(report) == (0, 0, 2, 2)

    # The recheck day: the ended row is decided again (and, required field withheld, left for
    # the retention purge rather than half-cleared); the active student stays skipped.
    report = run_at(project, EARLY_ON_DAY_2)
    assert spy.keys() == ["180001"]
    assert counts(report) == (0, 0, 1, 1)
    assert report.mappings["students"].not_justified == 1
    assert project.api_calls() == before  # no read: its opt-ins are written (crm_opt_outs.py)
    # Not remembered as unchanged: still decided every run until the purge removes it.
    report = run_at(project, DAY_3)
    assert spy.keys() == ["180001"]
    assert report.mappings["students"].not_justified == 1


def test_every_row_of_a_record_fed_by_many_rows_is_recognised(project, spy):
    """One event named on every registration row: after the run that synced it and one that
    saw its other rows come to the same outcome, no row of it is mapped again."""
    project.write_students([])
    project.write_registrations(
        [registration(f"REG-12{i:04d}", f"bezoeker{i}@mail.example") for i in range(6)]
    )
    first = project.run()
    assert first.exit_code() == 0, first.summary()
    assert first.mappings["events"].created == 1
    assert len(spy.keys("events")) == 6  # the first run maps every row
    project.run()  # the rows that lost to the last one are mapped once and found alike
    spy.take()
    third = project.run()
    assert third.exit_code() == 0, third.summary()
    assert spy.take() == []
    assert counts(third, "events") == (0, 0, 1, 1)
    # A changed event (another name on every row) is mapped and updated once, then skipped.
    project.write_registrations(
        [
            registration(f"REG-12{i:04d}", f"bezoeker{i}@mail.example", evenement_naam="Open dag")
            for i in range(6)
        ]
    )
    changed = project.run()
    assert changed.mappings["events"].updated == 1
    project.run()
    spy.take()
    project.run()
    assert spy.keys("events") == []
