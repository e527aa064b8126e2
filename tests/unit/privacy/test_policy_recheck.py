"""Policy.recheck_on: the day the same row may be decided otherwise, so a skipped row is mapped.

A nightly run skips a row whose source did not change until its recheck day. That is only safe
when ``decide()`` gives the same answer on every day before it: a consent dated ahead starts to
count on its school day (Europe/Amsterdam), an ended record's retention runs out the day after
its last covered day. These tests pin both the days and that promise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from connector.privacy.facts import ConsentFact, Phase, SubjectFacts
from connector.privacy.policy import (
    ACTIVE,
    CONSENT_IN_FUTURE,
    MINOR_WITHOUT_PARENT,
    NO_ACTIVE_PURPOSE,
    RETENTION_EXPIRED,
    Policy,
)
from connector.privacy.purposes import PurposesSpec

TODAY = date(2025, 3, 1)
DAY = timedelta(days=1)
ADULT = date(2000, 1, 1)
REGISTER = PurposesSpec.model_validate(
    {
        "controller": "ROC Test",
        "purposes": {
            "enrolment": {
                "lawful_basis": "legal_obligation",
                "retention": {"after": "lifecycle_end", "keep": "P1M"},
            },
            "event": {
                "lawful_basis": "contract",
                "active_in": ["prospect", "applied"],
                "retention": {"after": "event_date", "keep": "P3M"},
            },
            "interest": {"lawful_basis": "legitimate_interest"},
            "news": {
                "lawful_basis": "consent",
                "consent": {"field": "nieuws", "at": "nieuws_op"},
                "retention": {"after": "consent_withdrawn", "keep": "P1M"},
            },
            "phone": {
                "lawful_basis": "consent",
                "consent": {"field": "bellen", "at": "bellen_op", "by": "bellen_door"},
                "retention": {"after": "consent_withdrawn", "keep": "P1M"},
                "min_age": 16,
            },
        },
    }
)
FIELDS = {
    "LastName": ["enrolment"],
    "Email": ["news"],
    "MobilePhone": ["phone"],
    "Campaign__c": ["event"],
    "Segment__c": ["interest"],
}
VALUES = {
    "LastName": "Jansen",
    "Email": "a@example.nl",
    "MobilePhone": "+31612345678",
    "Campaign__c": "Open dag",
    "Segment__c": "mbo",
}


def policy(fields=None) -> Policy:
    return Policy(REGISTER, FIELDS if fields is None else fields)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def yes(when, by: str | None = "self") -> ConsentFact:
    return ConsentFact(True, when, by, "open dag")


def facts(**kw) -> SubjectFacts:
    kw.setdefault("birthdate", ADULT)
    return SubjectFacts(**kw)


def news(fact: ConsentFact | None, **kw) -> SubjectFacts:
    return facts(consents={} if fact is None else {"news": fact}, **kw)


def ended(on: date) -> SubjectFacts:
    return facts(phase=Phase.ENDED, phase_at=on)


# -- consent dated ahead ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "day"),
    [
        (utc(2025, 3, 5, 12), date(2025, 3, 5)),
        (utc(2025, 3, 2, 8), date(2025, 3, 2)),
        # 23:30 UTC on 1 March is 00:30 on 2 March in Amsterdam (CET): not today, tomorrow.
        (utc(2025, 3, 1, 23, 30), date(2025, 3, 2)),
        (utc(2025, 3, 4, 23, 30), date(2025, 3, 5)),
        (date(2025, 3, 9), date(2025, 3, 9)),  # a consent recorded as a bare date
    ],
)
def test_a_consent_dated_after_today_rechecks_on_its_school_day(at, day):
    assert policy().recheck_on(news(yes(at)), TODAY) == day


def test_a_summer_evening_consent_counts_on_the_amsterdam_day():
    # 22:30 UTC on 1 July is 00:30 on 2 July in Amsterdam (CEST, UTC+2).
    p, f = policy(), news(yes(utc(2025, 7, 1, 22, 30)))
    assert p.recheck_on(f, date(2025, 7, 1)) == date(2025, 7, 2)
    assert p.statuses(f, date(2025, 7, 1))["news"] == CONSENT_IN_FUTURE
    assert p.statuses(f, date(2025, 7, 2))["news"] == ACTIVE


@pytest.mark.parametrize(
    "fact",
    [
        yes(utc(2025, 3, 1, 12)),  # today
        yes(utc(2025, 2, 28, 23, 30)),  # 00:30 on 1 March in Amsterdam: today
        yes(utc(2024, 9, 1)),
        yes(date(2025, 3, 1)),
        ConsentFact(False, utc(2025, 3, 20)),  # a withdrawal dated ahead: nothing to wait for
        ConsentFact(False, None),
        ConsentFact(None, utc(2025, 3, 20)),  # the source says nothing
        ConsentFact(True, None),  # no timestamp: no consent, on any day
        None,  # no consent recorded at all
    ],
)
def test_a_consent_that_already_counts_or_never_will_needs_no_recheck(fact):
    assert policy().recheck_on(news(fact), TODAY) is None


def test_decide_changes_on_the_consent_recheck_day_and_not_the_day_before():
    p = policy()
    f = news(yes(utc(2025, 3, 1, 23, 30)))  # late on 1 March UTC: Amsterdam's 2 March
    day = p.recheck_on(f, TODAY)
    assert day == date(2025, 3, 2)
    before, on = p.decide(VALUES, f, day - DAY), p.decide(VALUES, f, day)
    assert "Email" not in before.payload
    assert before.withheld["Email"] == CONSENT_IN_FUTURE
    assert on.payload["Email"] == "a@example.nl"
    assert "Email" not in on.withheld


# -- an ended record's retention -------------------------------------------------------------


def test_an_ended_record_rechecks_the_day_after_its_retention_runs_out():
    p, f = policy(), ended(date(2025, 2, 15))  # P1M: covered up to and including 15 March
    assert p.recheck_on(f, TODAY) == date(2025, 3, 16)
    assert p.recheck_on(f, date(2025, 3, 15)) == date(2025, 3, 16)
    assert p.recheck_on(f, date(2025, 3, 16)) is None  # run out: nothing changes any more
    assert p.recheck_on(f, date(2026, 1, 1)) is None
    # A month end clamps: 31 January + P1M is 28 February, so the change comes on 1 March.
    assert p.recheck_on(ended(date(2025, 1, 31)), date(2025, 2, 1)) == date(2025, 3, 1)


def test_decide_changes_on_the_retention_recheck_day_and_not_the_day_before():
    p, f = policy(), ended(date(2025, 2, 15))
    day = p.recheck_on(f, TODAY)
    before, on = p.decide(VALUES, f, day - DAY), p.decide(VALUES, f, day)
    assert before.payload["LastName"] == "Jansen"
    assert "LastName" not in on.payload
    assert on.withheld["LastName"] == NO_ACTIVE_PURPOSE
    assert p.decide(VALUES, f, TODAY) == before  # and nothing moved between today and then


@pytest.mark.parametrize(
    "f",
    [
        facts(phase=Phase.ENROLLED, phase_at=date(2024, 9, 1)),
        facts(phase=Phase.APPLIED),
        facts(phase=Phase.ENDED, phase_at=None),  # no end date: kept, on every day
        facts(phase=None),
        facts(phase=Phase.PROSPECT),  # no event date: nothing to count from
    ],
)
def test_records_not_ended_or_without_an_end_date_need_no_recheck(f):
    assert policy().recheck_on(f, TODAY) is None


def test_an_event_registration_is_rechecked_the_day_after_its_retention():
    # event + P3M covers 10 March .. 10 June; from 11 June the visit justifies nothing
    # (the purge's rule, connector.privacy.retention), so the policy stops sending its fields.
    p = policy({"Campaign__c": ["event"]})
    f = facts(phase=Phase.PROSPECT, event_date=date(2025, 3, 10))
    assert p.recheck_on(f, TODAY) == date(2025, 6, 11)
    assert p.statuses(f, date(2025, 6, 10)) == {"event": ACTIVE}
    assert p.statuses(f, date(2025, 6, 11)) == {"event": RETENTION_EXPIRED}
    assert "Campaign__c" not in p.decide(VALUES, f, date(2025, 6, 11)).payload
    assert p.recheck_on(f, date(2025, 6, 11)) is None


# -- several, and none -----------------------------------------------------------------------


def test_the_earliest_of_several_recheck_days_wins():
    p = policy()
    phone = yes(utc(2025, 3, 10, 12))
    late_news = yes(utc(2025, 4, 1, 12))
    f = facts(
        phase=Phase.ENDED, phase_at=date(2025, 2, 20), consents={"news": late_news, "phone": phone}
    )
    assert p.recheck_on(f, TODAY) == date(2025, 3, 10)  # phone, before the retention (21 March)
    assert p.recheck_on(f, date(2025, 3, 10)) == date(2025, 3, 21)  # then the retention
    assert p.recheck_on(f, date(2025, 3, 21)) == date(2025, 4, 1)  # then the news consent
    assert p.recheck_on(f, date(2025, 4, 1)) is None


def test_a_policy_without_a_time_dependent_purpose_never_rechecks():
    p = policy({"Segment__c": ["interest"]})
    f = facts(
        phase=Phase.ENDED,
        phase_at=date(2025, 2, 20),
        event_date=date(2025, 3, 10),
        consents={"news": yes(utc(2025, 3, 10)), "phone": yes(utc(2025, 3, 10))},
    )
    assert p.recheck_on(f, TODAY) is None
    # The consents belong to purposes this mapping does not use: nothing here waits for them.
    assert p.decide(VALUES, f, TODAY) == p.decide(VALUES, f, date(2025, 6, 1))


# -- the promise: no other day decides otherwise ---------------------------------------------

SCENARIOS = {
    "news ahead": news(yes(utc(2025, 3, 20, 23, 15))),
    "news ahead, ended": news(yes(utc(2025, 4, 2)), phase=Phase.ENDED, phase_at=date(2025, 2, 1)),
    "phone ahead, minor self": facts(
        birthdate=date(2010, 5, 1), consents={"phone": yes(utc(2025, 5, 1))}
    ),
    "phone ahead, turns 16 on it": facts(
        birthdate=date(2009, 3, 12), consents={"phone": yes(utc(2025, 3, 12, 9))}
    ),
    "phone ahead by parent": facts(
        birthdate=date(2012, 1, 1), consents={"phone": yes(utc(2025, 3, 3), by="parent")}
    ),
    "withdrawn ahead": news(ConsentFact(False, utc(2025, 3, 9))),
    "ended last week": ended(date(2025, 2, 22)),
    "ends next month": ended(date(2025, 4, 30)),
    "ended long ago": ended(date(2023, 6, 30)),
    "ended 31 January": ended(date(2025, 1, 31)),
    "enrolled": facts(phase=Phase.ENROLLED, consents={"news": yes(utc(2024, 1, 1))}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_decide_is_constant_between_recheck_days(name):
    """Walk a year and a half as the nightly runs would: a decision may only change on a
    recheck day, and after the last one (None) never again."""
    p, f = policy(), SCENARIOS[name]
    end = TODAY + timedelta(days=550)
    day = TODAY
    rechecks = []
    while day < end:
        decision = p.decide(VALUES, f, day)
        nxt = p.recheck_on(f, day)
        assert nxt is None or nxt > day
        stop = end if nxt is None else min(nxt, end)
        d = day + DAY
        while d < stop:
            assert p.decide(VALUES, f, d) == decision, (name, d)
            d += DAY
        if nxt is None:
            break
        rechecks.append(nxt)
        day = nxt
    if name == "phone ahead, minor self":
        # Only a day where nothing changes (still a minor without a parent): harmless.
        assert p.statuses(f, date(2025, 5, 1))["phone"] == MINOR_WITHOUT_PARENT
        assert rechecks == [date(2025, 5, 1)]
