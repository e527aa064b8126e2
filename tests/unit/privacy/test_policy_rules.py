"""One test (or a small table) per policy rule and reason code."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connector.privacy.facts import ConsentFact, Phase, SubjectFacts
from connector.privacy.policy import (
    ACTIVE,
    CLEARING,
    CONSENT_IN_FUTURE,
    CONSENT_MISSING,
    CONSENT_WITHDRAWN,
    CONSENT_WITHOUT_SOURCE,
    CONSENT_WITHOUT_TIMESTAMP,
    CRM_OWNED,
    FORBIDDEN_NUMBER,
    MINOR_WITHOUT_PARENT,
    NO_ACTIVE_PURPOSE,
    OBJECTED,
    OPT_OUT_ONE_WAY,
    REASONS,
    RETENTION_EXPIRED,
    Decision,
    Policy,
    age_on,
    basis_status,
    consent_status,
)
from connector.privacy.purposes import PurposesSpec

TODAY = date(2025, 3, 1)
ADULT = date(2000, 1, 1)
BSN = "123456782"


def register(**extra: dict) -> PurposesSpec:
    purposes = {
        "enrolment": {
            "lawful_basis": "legal_obligation",
            "retention": {"after": "lifecycle_end", "keep": "P1M"},
        },
        "event": {"lawful_basis": "contract", "active_in": ["prospect", "applied"]},
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
    }
    purposes.update(extra)
    return PurposesSpec.model_validate({"controller": "ROC Test", "purposes": purposes})


def at(y: int, m: int, d: int, hour: int = 12) -> datetime:
    return datetime(y, m, d, hour, tzinfo=UTC)


def yes(when: datetime | None = None, by: str | None = "self") -> ConsentFact:
    return ConsentFact(True, at(2025, 1, 10) if when is None else when, by, "open dag")


def policy(fields: dict[str, list[str]], **kw) -> Policy:
    return Policy(register(), fields, **kw)


def facts(**kw) -> SubjectFacts:
    kw.setdefault("birthdate", ADULT)
    return SubjectFacts(**kw)


def decide(fields: dict[str, list[str]], values: dict, f: SubjectFacts, **kw) -> Decision:
    return policy(fields, **kw).decide(values, f, TODAY)


# -- reason codes ----------------------------------------------------------------------------


def test_reason_codes_are_stable_strings():
    assert (
        {
            NO_ACTIVE_PURPOSE,
            CONSENT_MISSING,
            CONSENT_WITHOUT_TIMESTAMP,
            CONSENT_WITHOUT_SOURCE,
            CONSENT_IN_FUTURE,
            CONSENT_WITHDRAWN,
            MINOR_WITHOUT_PARENT,
            FORBIDDEN_NUMBER,
            CRM_OWNED,
            OPT_OUT_ONE_WAY,
            OBJECTED,
            RETENTION_EXPIRED,
        }
        == set(REASONS)
        == {
            "no_active_purpose",
            "consent_missing",
            "consent_without_timestamp",
            "consent_without_source",
            "consent_in_future",
            "consent_withdrawn",
            "minor_without_parent_consent",
            "forbidden_number",
            "crm_owned",
            "opt_out_one_way",
            "objected",
            "retention_expired",
        }
    )


def test_clearing_excludes_crm_owned_and_opt_out():
    assert CRM_OWNED not in CLEARING
    assert OPT_OUT_ONE_WAY not in CLEARING
    # retention_expired: the purge clears (audited, required fields kept), not the sync.
    assert set(REASONS) - CLEARING == {CRM_OWNED, OPT_OUT_ONE_WAY, RETENTION_EXPIRED}


# -- purposes on another basis: lifecycle ----------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "enrolment", "event", "interest"),
    [
        (None, True, True, True),  # no lifecycle declared: every record is active
        (Phase.PROSPECT, False, True, True),
        (Phase.APPLIED, True, True, True),
        (Phase.ENROLLED, True, False, True),
    ],
)
def test_basis_purposes_follow_the_lifecycle(phase, enrolment, event, interest):
    d = decide(
        {"LastName": ["enrolment"], "Campaign__c": ["event"], "Segment__c": ["interest"]},
        {"LastName": "Jansen", "Campaign__c": "Open dag", "Segment__c": "mbo"},
        facts(phase=phase),
    )
    expected = {"LastName": enrolment, "Campaign__c": event, "Segment__c": interest}
    for field, sent in expected.items():
        assert (field in d.payload) is sent
        assert (d.withheld.get(field) == NO_ACTIVE_PURPOSE) is (not sent)


def test_phase_may_be_a_plain_string():
    d = decide({"LastName": ["enrolment"]}, {"LastName": "Jansen"}, facts(phase="prospect"))
    assert d.withheld == {"LastName": NO_ACTIVE_PURPOSE}


@pytest.mark.parametrize(
    ("ended_on", "sent"),
    [
        (date(2025, 2, 1), True),  # kept until 1 March inclusive
        (date(2025, 1, 31), False),  # 31 Jan + P1M clamps to 28 Feb, before 1 March
        (date(2025, 1, 30), False),  # 30 Jan + P1M = 28 Feb < 1 Mar
        (date(2024, 6, 1), False),
        (None, True),  # when it ended is unknown: not cleared before the purge has an anchor
    ],
)
def test_ended_phase_is_kept_until_the_retention_after_lifecycle_end_runs_out(ended_on, sent):
    d = decide(
        {"LastName": ["enrolment"]},
        {"LastName": "Jansen"},
        facts(phase=Phase.ENDED, phase_at=ended_on),
    )
    assert ("LastName" in d.payload) is sent
    assert d.withheld == ({} if sent else {"LastName": NO_ACTIVE_PURPOSE})


def test_ended_phase_without_lifecycle_end_retention_is_not_active():
    # `event` has no retention after lifecycle_end; `interest` none at all.
    d = decide(
        {"Campaign__c": ["event"], "Segment__c": ["interest"]},
        {"Campaign__c": "Open dag", "Segment__c": "mbo"},
        facts(phase=Phase.ENDED, phase_at=TODAY),
    )
    assert d.payload == {}
    assert d.withheld == {"Campaign__c": NO_ACTIVE_PURPOSE, "Segment__c": NO_ACTIVE_PURPOSE}


def test_retention_after_lifecycle_end_does_not_revive_a_prospect_only_purpose():
    spec = register(
        prospects={
            "lawful_basis": "contract",
            "active_in": ["prospect"],
            "retention": {"after": "lifecycle_end", "keep": "P1Y"},
        }
    )
    p = Policy(spec, {"Lead_Source__c": ["prospects"]})
    ended = facts(phase=Phase.ENDED, phase_at=TODAY)
    assert p.decide({"Lead_Source__c": "x"}, ended, TODAY).withheld == {
        "Lead_Source__c": NO_ACTIVE_PURPOSE
    }


def test_basis_status_function_matches_the_policy():
    purpose = register().purposes["enrolment"]
    assert basis_status(purpose, facts(phase=Phase.ENROLLED), TODAY) == ACTIVE
    assert basis_status(purpose, facts(phase=Phase.PROSPECT), TODAY) == NO_ACTIVE_PURPOSE


# -- consent ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fact", "reason"),
    [
        (None, CONSENT_MISSING),
        (ConsentFact(None, at(2025, 1, 1)), CONSENT_MISSING),
        (ConsentFact(True, None, "self", "form"), CONSENT_WITHOUT_TIMESTAMP),
        # Art. 7(1): a consent the school cannot say where it was given is no consent.
        (ConsentFact(True, at(2025, 1, 1), "self"), CONSENT_WITHOUT_SOURCE),
        (ConsentFact(True, at(2025, 1, 1), "self", ""), CONSENT_WITHOUT_SOURCE),
        (ConsentFact(True, at(2025, 3, 2, 0), "self", "form"), CONSENT_IN_FUTURE),
        (ConsentFact(False, at(2025, 2, 1)), CONSENT_WITHDRAWN),
        (ConsentFact(False, None), CONSENT_WITHDRAWN),  # a withdrawal needs no proof
        (ConsentFact(True, at(2025, 3, 1, 22), "self", "form"), ACTIVE),  # today (23:00 CET)
        # 23:00 UTC on 1 March is midnight in Amsterdam: the school's 2 March, not yet today.
        (ConsentFact(True, at(2025, 3, 1, 23), "self", "form"), CONSENT_IN_FUTURE),
        (yes(), ACTIVE),
    ],
)
def test_consent_reasons(fact, reason):
    consents = {} if fact is None else {"news": fact}
    d = decide({"Email": ["news"]}, {"Email": "a@b.nl"}, facts(consents=consents))
    if reason == ACTIVE:
        assert d.payload == {"Email": "a@b.nl"} and d.withheld == {}
    else:
        assert d.payload == {} and d.withheld == {"Email": reason}
        assert reason in CLEARING


def test_consent_is_per_purpose():
    d = decide(
        {"Email": ["news"], "MobilePhone": ["phone"]},
        {"Email": "a@b.nl", "MobilePhone": "+31612345678"},
        facts(consents={"news": yes()}),
    )
    assert d.payload == {"Email": "a@b.nl"}
    assert d.withheld == {"MobilePhone": CONSENT_MISSING}


def test_consent_purposes_do_not_depend_on_the_lifecycle():
    for phase in Phase:
        d = decide(
            {"Email": ["news"]}, {"Email": "a@b.nl"}, facts(phase=phase, consents={"news": yes()})
        )
        assert d.payload == {"Email": "a@b.nl"}


def test_consent_status_function():
    news = register().purposes["news"]
    assert consent_status(news, yes(), facts(), TODAY) == ACTIVE
    assert consent_status(news, None, facts(consents={"news": yes()}), TODAY) == CONSENT_MISSING
    assert consent_status(news, ConsentFact(False), facts(), TODAY) == CONSENT_WITHDRAWN


# -- minors (UAVG art. 5) --------------------------------------------------------------------

BIRTH = date(2009, 3, 15)  # turns 16 on 2025-03-15


@pytest.mark.parametrize(
    ("given", "by", "reason"),
    [
        (at(2025, 3, 14), "self", MINOR_WITHOUT_PARENT),  # the day before the 16th birthday
        (at(2025, 3, 15, 0), "self", ACTIVE),  # on the birthday
        (at(2025, 3, 14), "parent", ACTIVE),
        (at(2025, 3, 14), None, MINOR_WITHOUT_PARENT),  # giver unknown: not a parent
        (at(2020, 1, 1), "parent", ACTIVE),  # a parent's consent stays valid after 16
    ],
)
def test_minor_needs_a_parent_at_the_moment_of_consent(given, by, reason):
    today = date(2025, 6, 1)
    p = policy({"MobilePhone": ["phone"]})
    fact = ConsentFact(True, given, by, "form")
    d = p.decide(
        {"MobilePhone": "+31612345678"}, facts(birthdate=BIRTH, consents={"phone": fact}), today
    )
    assert d.withheld == ({} if reason == ACTIVE else {"MobilePhone": reason})


def test_a_minors_own_consent_does_not_become_valid_by_growing_older():
    # Given at 15 by the child; today the child is 17. The consent itself was never valid.
    p = policy({"MobilePhone": ["phone"]})
    fact = ConsentFact(True, at(2024, 6, 1), "self", "form")
    d = p.decide(
        {"MobilePhone": "+31612345678"},
        facts(birthdate=BIRTH, consents={"phone": fact}),
        date(2026, 6, 1),
    )
    assert d.withheld == {"MobilePhone": MINOR_WITHOUT_PARENT}


def test_unknown_birthdate_is_treated_as_a_minor():
    p = policy({"Email": ["news"]})
    own = SubjectFacts(birthdate=None, consents={"news": yes(by="self")})
    parent = SubjectFacts(birthdate=None, consents={"news": yes(by="parent")})
    assert p.decide({"Email": "a@b.nl"}, own, TODAY).withheld == {"Email": MINOR_WITHOUT_PARENT}
    assert p.decide({"Email": "a@b.nl"}, parent, TODAY).payload == {"Email": "a@b.nl"}


@pytest.mark.parametrize(
    ("given", "min_age", "reason"),
    [
        # Born 29 Feb 2008: the 16th birthday is 29 Feb 2024 (a leap year).
        (at(2024, 2, 28), 16, MINOR_WITHOUT_PARENT),
        (at(2024, 2, 29), 16, ACTIVE),
        # In a common year the birthday counts from 1 March: 17 on 1 March 2025.
        (at(2025, 2, 28), 17, MINOR_WITHOUT_PARENT),
        (at(2025, 3, 1), 17, ACTIVE),
    ],
)
def test_29_february_birthdays(given, min_age, reason):
    spec = register(
        photos={
            "lawful_basis": "consent",
            "consent": {"field": "foto", "at": "foto_op"},
            "retention": {"after": "consent_withdrawn", "keep": "P1M"},
            "min_age": min_age,
        }
    )
    p = Policy(spec, {"Photo__c": ["photos"]})
    f = SubjectFacts(
        birthdate=date(2008, 2, 29), consents={"photos": ConsentFact(True, given, "self", "form")}
    )
    d = p.decide({"Photo__c": "ja"}, f, date(2025, 6, 1))
    assert d.withheld == ({} if reason == ACTIVE else {"Photo__c": reason})


def test_age_on():
    assert age_on(date(2009, 3, 15), date(2025, 3, 14)) == 15
    assert age_on(date(2009, 3, 15), date(2025, 3, 15)) == 16
    assert age_on(date(2008, 2, 29), date(2025, 2, 28)) == 16
    assert age_on(date(2008, 2, 29), date(2025, 3, 1)) == 17


def test_min_age_zero_needs_no_parent_even_without_birthdate():
    spec = register(
        alumni={
            "lawful_basis": "consent",
            "consent": {"field": "a", "at": "b"},
            "min_age": 0,
            "retention": {"after": "consent_withdrawn", "keep": "P1M"},
        }
    )
    p = Policy(spec, {"Alumni__c": ["alumni"]})
    d = p.decide({"Alumni__c": "ja"}, SubjectFacts(consents={"alumni": yes(by=None)}), TODAY)
    assert d.payload == {"Alumni__c": "ja"}


# -- several purposes per field --------------------------------------------------------------


def test_one_active_purpose_is_enough():
    d = decide(
        {"Email": ["enrolment", "news"]},
        {"Email": "a@b.nl"},
        facts(phase=Phase.ENROLLED, consents={"news": ConsentFact(False, at(2025, 1, 1))}),
    )
    assert d.payload == {"Email": "a@b.nl"}


def test_the_most_telling_reason_is_reported():
    fields = {"Email": ["enrolment", "news", "phone"]}
    values = {"Email": "a@b.nl"}
    withdrawn = facts(
        phase=Phase.PROSPECT,
        consents={
            "news": ConsentFact(False, at(2025, 1, 1)),
            "phone": ConsentFact(True, None, "self"),
        },
    )
    assert decide(fields, values, withdrawn).withheld == {"Email": CONSENT_WITHDRAWN}
    minor = facts(phase=Phase.PROSPECT, birthdate=date(2012, 1, 1), consents={"phone": yes()})
    assert decide(fields, values, minor).withheld == {"Email": MINOR_WITHOUT_PARENT}
    nothing = facts(phase=Phase.PROSPECT)
    assert decide(fields, values, nothing).withheld == {"Email": CONSENT_MISSING}


def test_unknown_purpose_never_activates_a_field():
    d = decide({"Email": ["no_such_purpose"]}, {"Email": "a@b.nl"}, facts())
    assert d.withheld == {"Email": NO_ACTIVE_PURPOSE}


def test_fields_without_a_declared_purpose_are_dropped():
    d = decide({"LastName": ["enrolment"]}, {"LastName": "Jansen", "Extra__c": "x"}, facts())
    assert d.payload == {"LastName": "Jansen"}
    assert "Extra__c" not in d.withheld


def test_missing_values_and_none():
    d = decide(
        {"LastName": ["enrolment"], "FirstName": ["enrolment"], "Email": ["news"]},
        {"LastName": None},
        facts(),
    )
    assert d.payload == {"LastName": None}  # None clears a value the source no longer has
    assert d.withheld == {"Email": CONSENT_MISSING}  # withheld even when absent: clear it


# -- forbidden numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        BSN,
        f"Leerling met BSN {BSN} kwam langs",
        "1234.56.782",
        "123 456 782",
        "10000008",
        "101222331",
        123456782,
    ],
)
def test_forbidden_number_is_never_sent(value):
    d = decide({"Description": ["enrolment"]}, {"Description": value}, facts())
    assert d.payload == {}
    assert d.withheld == {"Description": FORBIDDEN_NUMBER}
    assert FORBIDDEN_NUMBER in CLEARING


@pytest.mark.parametrize("value", ["123456789", "Leerling 123456789", "06-12345678", "2008-03-14"])
def test_numbers_failing_the_checks_are_sent(value):
    d = decide({"Description": ["enrolment"]}, {"Description": value}, facts())
    assert d.payload == {"Description": value}


def test_forbidden_number_only_withholds_its_own_field():
    d = decide(
        {"LastName": ["enrolment"], "Description": ["enrolment"]},
        {"LastName": "Jansen", "Description": f"bsn {BSN}"},
        facts(),
    )
    assert d.payload == {"LastName": "Jansen"}
    assert d.withheld == {"Description": FORBIDDEN_NUMBER}


# -- CRM-owned, opt-out, always_send ---------------------------------------------------------


def test_crm_owned_is_never_sent_and_never_cleared():
    d = decide(
        {"DoNotCall": ["enrolment"], "LastName": ["enrolment"]},
        {"DoNotCall": True, "LastName": "Jansen"},
        facts(),
        crm_owned={"DoNotCall"},
    )
    assert d.payload == {"LastName": "Jansen"}
    assert d.withheld == {"DoNotCall": CRM_OWNED}
    assert CRM_OWNED not in CLEARING


@pytest.mark.parametrize(
    ("value", "sent"), [(True, True), (False, False), (None, False), ("true", False), (1, False)]
)
def test_opt_out_is_one_way(value, sent):
    d = decide(
        {"HasOptedOutOfEmail": ["enrolment"]},
        {"HasOptedOutOfEmail": value},
        facts(),
        opt_out_fields={"HasOptedOutOfEmail"},
    )
    if sent:
        assert d.payload == {"HasOptedOutOfEmail": True}
    else:
        assert d.payload == {}
        assert d.withheld == {"HasOptedOutOfEmail": OPT_OUT_ONE_WAY}


def test_opt_out_field_without_an_active_purpose_is_never_cleared():
    # Clearing HasOptedOutOfEmail would re-subscribe the person (peers-and-pitfalls §3.8).
    d = decide(
        {"HasOptedOutOfEmail": ["news"]},
        {"HasOptedOutOfEmail": None},
        facts(consents={"news": ConsentFact(False, at(2025, 1, 1))}),
        opt_out_fields={"HasOptedOutOfEmail"},
    )
    assert d.payload == {}
    assert d.withheld == {"HasOptedOutOfEmail": OPT_OUT_ONE_WAY}
    assert d.withheld["HasOptedOutOfEmail"] not in CLEARING


def test_always_send_bypasses_purposes():
    d = decide(
        {"LastName": ["enrolment"], "SIS_Student_Number__c": ["enrolment"]},
        {"LastName": "Jansen", "SIS_Student_Number__c": "500123", "Account__c": "001000000000001"},
        facts(phase=Phase.PROSPECT),
        always_send={"SIS_Student_Number__c", "Account__c"},
    )
    assert d.payload == {"SIS_Student_Number__c": "500123", "Account__c": "001000000000001"}
    assert d.withheld == {"LastName": NO_ACTIVE_PURPOSE}


def test_always_send_does_not_bypass_the_forbidden_number_check():
    d = decide(
        {"SIS_Student_Number__c": ["enrolment"]},
        {"SIS_Student_Number__c": BSN, "Parent__c": f"x{BSN}x"},
        facts(),
        always_send={"SIS_Student_Number__c", "Parent__c"},
    )
    assert d.payload == {}
    assert d.withheld == {"SIS_Student_Number__c": FORBIDDEN_NUMBER, "Parent__c": FORBIDDEN_NUMBER}


def test_crm_owned_wins_over_always_send():
    d = decide({}, {"Owner__c": "x"}, facts(), always_send={"Owner__c"}, crm_owned={"Owner__c"})
    assert d.payload == {}
    assert d.withheld == {"Owner__c": CRM_OWNED}


def test_statuses_and_active_purposes():
    p = policy({"LastName": ["enrolment"], "Email": ["news"], "MobilePhone": ["phone"]})
    f = facts(phase=Phase.APPLIED, consents={"news": yes()})
    assert p.statuses(f, TODAY) == {
        "enrolment": ACTIVE,
        "news": ACTIVE,
        "phone": CONSENT_MISSING,
    }
    assert p.active_purposes(f, TODAY) == frozenset({"enrolment", "news"})


def test_decisions_do_not_share_state_between_records():
    p = policy({"LastName": ["enrolment"], "Description": ["enrolment"]})
    first = p.decide({"LastName": "A", "Description": BSN}, facts(), TODAY)
    second = p.decide({"LastName": "B", "Description": "ok"}, facts(), TODAY)
    assert first.withheld == {"Description": FORBIDDEN_NUMBER}
    assert second.withheld == {}
    assert second.payload == {"LastName": "B", "Description": "ok"}
