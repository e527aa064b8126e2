"""The day a mapping may map the same row otherwise: next_birthday, age_band's recheck, school_date.

A nightly run skips an unchanged row until its recheck day. ``age_band`` reads today, so it
names the next birthday (``TransformContext.recheck``); the compiled mapping hands that day out
per record in ``MapResult.recheck_on`` and must not carry it over to the next record. The
school's day is Amsterdam's, not UTC's (``connector.clock.school_date``).
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.clock import school_date
from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.mapping.transforms.dates import age_on, next_birthday
from connector.records import Origin, SourceRecord

VALID = Path(__file__).resolve().parents[2] / "fixtures" / "mappings" / "valid"
HASHER = KeyHasher("test-secret")
TODAY = date(2025, 1, 15)
DAY = timedelta(days=1)

AGES = """\
name: ages
source: {kind: csv, path: data/ages.csv, key: nummer}
target: {object: Contact, external_id: SIS_Sync_Key__c}
fields:
  LastName: {from: achternaam, required: true, purposes: [enrolment]}
  Age_Band__c:
    from: geboortedatum
    transform: ["date:%d-%m-%Y", age_band]
    purposes: [enrolment]
"""
# The same birth date read, but only as a fact and a plain date: nothing depends on the day.
PLAIN = """\
name: plain
source: {kind: csv, path: data/plain.csv, key: nummer}
target: {object: Contact, external_id: SIS_Sync_Key__c}
subject_birthdate: {from: geboortedatum, transform: ["date:%d-%m-%Y"]}
fields:
  LastName: {from: achternaam, purposes: [enrolment]}
  Birthdate: {from: geboortedatum, transform: ["date:%d-%m-%Y"], purposes: [enrolment]}
  Birth_Year__c: {from: geboortedatum, transform: ["date:%d-%m-%Y", birth_year], purposes: [enrolment]}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recheck") / "mappings"
    shutil.copytree(VALID, folder)
    (folder / "ages.yaml").write_text(AGES, encoding="utf-8")
    (folder / "plain.yaml").write_text(PLAIN, encoding="utf-8")
    return load_project(folder)


def rec(key: str, line: int = 2, **fields: str) -> SourceRecord:
    return SourceRecord(key=key, fields={"nummer": key, **fields}, origin=Origin("x.csv", line))


# -- next_birthday ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "today", "expected"),
    [
        (date(2008, 4, 3), date(2025, 3, 1), date(2025, 4, 3)),  # later this year
        (date(2008, 4, 3), date(2025, 5, 1), date(2026, 4, 3)),  # passed: next year
        (date(2008, 4, 3), date(2025, 4, 2), date(2025, 4, 3)),  # tomorrow
        (date(2008, 4, 3), date(2025, 4, 3), date(2026, 4, 3)),  # today: the next one
        # 29 February: in a common year the age turns on 1 March.
        (date(2008, 2, 29), date(2025, 1, 10), date(2025, 3, 1)),
        (date(2008, 2, 29), date(2025, 2, 28), date(2025, 3, 1)),
        (date(2008, 2, 29), date(2025, 3, 1), date(2026, 3, 1)),
        (date(2008, 2, 29), date(2023, 3, 1), date(2024, 2, 29)),  # next year is a leap year
        (date(2008, 2, 29), date(2024, 1, 10), date(2024, 2, 29)),  # a leap year
        (date(2008, 2, 29), date(2024, 2, 28), date(2024, 2, 29)),
        (date(2008, 2, 29), date(2024, 2, 29), date(2025, 3, 1)),
        # 31 December: the turn of the year.
        (date(2010, 12, 31), date(2025, 1, 1), date(2025, 12, 31)),
        (date(2010, 12, 31), date(2025, 12, 30), date(2025, 12, 31)),
        (date(2010, 12, 31), date(2025, 12, 31), date(2026, 12, 31)),
        (date(2010, 1, 1), date(2025, 12, 31), date(2026, 1, 1)),
    ],
)
def test_next_birthday(birth, today, expected):
    assert next_birthday(birth, today) == expected


@pytest.mark.parametrize(
    "birth",
    [date(2008, 2, 29), date(2009, 2, 28), date(2009, 3, 1), date(2010, 12, 31), date(2011, 1, 1)],
)
def test_next_birthday_is_the_first_day_the_age_changes(birth):
    """Over four years of days: the age is the same from today up to the next birthday, one
    more on it (so a row skipped until then keeps its band)."""
    days = [date(2023, 1, 1) + DAY * i for i in range(4 * 366 + 400)]
    ages = [age_on(birth, d) for d in days]
    first_change: list[date | None] = [None] * len(days)
    for i in range(len(days) - 2, -1, -1):
        first_change[i] = days[i + 1] if ages[i + 1] != ages[i] else first_change[i + 1]
    for i, today in enumerate(days[: 4 * 366]):
        nxt = next_birthday(birth, today)
        assert nxt == first_change[i], today
        assert age_on(birth, nxt) == ages[i] + 1


# -- age_band through a compiled mapping ------------------------------------------------------


def test_age_band_names_the_next_birthday_per_record(project):
    m = project.compile("ages", hasher=HASHER, today=TODAY)
    soon = m.apply(rec("1", achternaam="Jansen", geboortedatum="20-01-2009"))
    assert soon.errors == []
    assert soon.values["Age_Band__c"] == "<16"
    assert soon.recheck_on == date(2025, 1, 20)
    # A later row with a later birthday: its own day, not the earlier one of the row before.
    later = m.apply(rec("2", achternaam="Bakker", geboortedatum="03-04-2008"))
    assert later.values["Age_Band__c"] == "16-17"
    assert later.recheck_on == date(2025, 4, 3)
    # A row without a birth date reads no day: nothing left over from the rows before.
    none = m.apply(rec("3", achternaam="de Vries", geboortedatum=""))
    assert none.errors == []
    assert none.values["Age_Band__c"] is None
    assert none.recheck_on is None


def test_a_rejected_row_leaves_no_recheck_day_behind(project):
    m = project.compile("ages", hasher=HASHER, today=TODAY)
    bad = m.apply(rec("1", achternaam="", geboortedatum="20-01-2009"))  # LastName required
    assert [e.column for e in bad.errors] == ["achternaam"]
    after = m.apply(rec("2", achternaam="Jansen"))
    assert after.errors == []
    assert after.recheck_on is None


def test_the_band_really_changes_on_the_recheck_day(project):
    row = rec("1", achternaam="Jansen", geboortedatum="03-04-2007")
    today = project.compile("ages", hasher=HASHER, today=TODAY).apply(row)
    day = today.recheck_on
    eve = project.compile("ages", hasher=HASHER, today=day - DAY).apply(row)
    on = project.compile("ages", hasher=HASHER, today=day).apply(row)
    assert (today.values["Age_Band__c"], eve.values["Age_Band__c"]) == ("16-17", "16-17")
    assert on.values["Age_Band__c"] == "18-20"


def test_a_mapping_without_age_band_never_rechecks(project):
    m = project.compile("plain", hasher=HASHER, today=TODAY)
    r = m.apply(rec("1", achternaam="Jansen", geboortedatum="20-01-2009"))
    assert r.errors == []
    assert r.values["Birthdate"] == date(2009, 1, 20)
    assert r.facts.birthdate == date(2009, 1, 20)
    assert r.recheck_on is None


# -- school_date -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        # Winter (CET, UTC+1): 23:30 UTC is 00:30 the next day; 22:59 UTC still 23:59 today.
        (datetime(2025, 1, 15, 23, 30, tzinfo=UTC), date(2025, 1, 16)),
        (datetime(2025, 1, 15, 22, 59, tzinfo=UTC), date(2025, 1, 15)),
        # Summer (CEST, UTC+2): 23:30 UTC is 01:30 the next day, and so is 22:30 UTC.
        (datetime(2025, 7, 15, 23, 30, tzinfo=UTC), date(2025, 7, 16)),
        (datetime(2025, 7, 15, 22, 30, tzinfo=UTC), date(2025, 7, 16)),
        (datetime(2025, 7, 15, 21, 59, tzinfo=UTC), date(2025, 7, 15)),
        # New Year's Eve and the night the clocks go forward.
        (datetime(2025, 12, 31, 23, 0, tzinfo=UTC), date(2026, 1, 1)),
        (datetime(2025, 3, 29, 23, 0, tzinfo=UTC), date(2025, 3, 30)),
        # Another zone: 19:00 in New York (UTC-5) is 01:00 in Amsterdam.
        (datetime(2025, 1, 15, 19, 0, tzinfo=timezone(timedelta(hours=-5))), date(2025, 1, 16)),
        # Naive counts as school time already: its own date, late or not.
        (datetime(2025, 1, 15, 23, 30), date(2025, 1, 15)),
        (datetime(2025, 7, 15, 0, 30), date(2025, 7, 15)),
    ],
)
def test_school_date(moment, day):
    assert school_date(moment) == day


def test_school_date_defaults_to_now_in_amsterdam():
    before = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    today = school_date()
    after = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    assert today in (before, after)


def test_a_transform_reading_today_without_a_day_is_rechecked_tomorrow():
    """A plugin that reads ctx.today but names no day must not keep a stale answer."""
    from connector.mapping.transforms import TransformContext

    ctx = TransformContext(today=date(2026, 11, 20))
    assert ctx.take_recheck() is None  # nothing read
    _ = ctx.today
    assert ctx.take_recheck() == date(2026, 11, 21)
    assert ctx.take_recheck() is None  # taken: the next record starts clean
    _ = ctx.today
    ctx.recheck(date(2027, 3, 1))  # a day named by the transform wins
    ctx.recheck(date(2027, 5, 1))  # the earliest is kept
    assert ctx.take_recheck() == date(2027, 3, 1)
