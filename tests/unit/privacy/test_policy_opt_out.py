"""Opt-outs and objection in the policy (GDPR art. 7(3), 21; DESIGN §6 "The CRM owns opt-outs")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.privacy.facts import ConsentFact, SubjectFacts
from connector.privacy.policy import (
    ACTIVE,
    CLEARING,
    CONSENT_WITHDRAWN,
    OBJECTED,
    Policy,
)
from connector.privacy.purposes import PurposesSpec
from connector.records import Origin, SourceRecord

TODAY = date(2025, 3, 1)
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mappings" / "valid"


def register() -> PurposesSpec:
    return PurposesSpec.model_validate(
        {
            "controller": "ROC Test",
            "purposes": {
                "enrolment": {"lawful_basis": "legal_obligation"},
                "interest": {"lawful_basis": "legitimate_interest"},
                "news": {
                    "lawful_basis": "consent",
                    "consent": {
                        "field": "nieuws",
                        "at": "nieuws_op",
                        "source": "nieuws_bron",
                        "opt_out": "HasOptedOutOfEmail",
                    },
                    "retention": {"after": "consent_withdrawn", "keep": "P1M"},
                },
            },
        }
    )


FIELDS = {
    "LastName": ["enrolment"],
    "Interest__c": ["interest"],
    "Consent_News__c": ["news"],
}
VALUES = {"LastName": "Jansen", "Interest__c": "ICT", "Consent_News__c": True}


def news(given: bool | None) -> SubjectFacts:
    fact = ConsentFact(given, datetime(2025, 1, 10, 12, tzinfo=UTC), "self", "open dag")
    return SubjectFacts(birthdate=date(2000, 1, 1), consents={"news": fact})


def policy(**kw) -> Policy:
    kw.setdefault("purpose_opt_outs", {"news": "HasOptedOutOfEmail"})
    return Policy(register(), FIELDS, **kw)


# -- art. 7(3): a withdrawal sets the purpose's opt-out field ----------------------------------


def test_art7_3_withdrawal_sends_the_opt_out_true():
    d = policy().decide(VALUES, news(False), TODAY)
    assert d.payload["HasOptedOutOfEmail"] is True
    assert d.withheld["Consent_News__c"] == CONSENT_WITHDRAWN
    assert "HasOptedOutOfEmail" not in d.withheld


def test_an_opt_in_never_sends_the_opt_out_at_all():
    # Neither true nor false, and never cleared: an opt-out staff set stays (the planner reports
    # a conflict or lifts it, crm_opt_outs.py).
    d = policy().decide(VALUES, news(True), TODAY)
    assert d.payload["Consent_News__c"] is True
    assert "HasOptedOutOfEmail" not in d.payload
    assert "HasOptedOutOfEmail" not in d.withheld


def test_no_consent_recorded_sends_no_opt_out():
    d = policy().decide(VALUES, SubjectFacts(birthdate=date(2000, 1, 1)), TODAY)
    assert "HasOptedOutOfEmail" not in d.payload


def test_a_crm_owned_opt_out_field_is_never_sent():
    d = policy(crm_owned={"HasOptedOutOfEmail"}).decide(VALUES, news(False), TODAY)
    assert "HasOptedOutOfEmail" not in d.payload


# -- mapped `opt_out: true` fields: compiled as the engine compiles them ------------------------


def test_a_mapped_opt_out_field_is_sent_when_true():
    # The bug: compile.py put every opt-out field into crm_owned and the policy checks that set
    # first, so HasOptedOutOfEmail never left. Built exactly as engine.py builds the policy.
    project = load_project(FIXTURES)
    compiled = project.compile("people", hasher=KeyHasher("k" * 32), today=TODAY)
    assert "HasOptedOutOfEmail" not in compiled.crm_owned
    p = Policy(
        project.purposes,
        compiled.field_purposes,
        opt_out_fields=compiled.opt_out_fields,
        crm_owned=compiled.crm_owned,
        purpose_opt_outs=compiled.purpose_opt_outs,
    )
    row = {
        "nummer": "12345", "tussenvoegsel": "", "achternaam": "Dijk", "email": "s@example.nl",
        "status": "ingeschreven", "status_datum": "01-09-2024", "geboortedatum": "03-04-2008",
        "afmelding": "ja", "mobiel": "",
    }  # fmt: skip
    res = compiled.apply(SourceRecord("12345", row, Origin("people.csv", 2)))
    assert res is not None and not res.errors
    d = p.decide(res.values, res.facts, TODAY)
    assert d.payload["HasOptedOutOfEmail"] is True


def test_a_true_opt_out_goes_even_when_its_purpose_is_withdrawn():
    p = Policy(register(), {"HasOptedOutOfEmail": ["news"]}, opt_out_fields={"HasOptedOutOfEmail"})
    d = p.decide({"HasOptedOutOfEmail": True}, news(False), TODAY)
    assert d.payload == {"HasOptedOutOfEmail": True}


# -- art. 21: an objected purpose is never active, whatever the row says ------------------------


def objected(given: bool | None, *purposes: str) -> SubjectFacts:
    base = news(given)
    return SubjectFacts(
        birthdate=base.birthdate, consents=base.consents, objected=frozenset(purposes)
    )


def test_art21_objection_beats_a_later_yes():
    p = policy()
    d = p.decide(VALUES, objected(True, "news", "interest"), TODAY)
    assert d.withheld["Consent_News__c"] == OBJECTED
    assert d.withheld["Interest__c"] == OBJECTED
    assert d.payload["HasOptedOutOfEmail"] is True
    assert d.payload["LastName"] == "Jansen"  # the person stays: other purposes untouched
    statuses = p.statuses(objected(True, "news"), TODAY)
    assert statuses == {"enrolment": ACTIVE, "interest": ACTIVE, "news": OBJECTED}


def test_objected_fields_are_cleared_in_salesforce():
    assert OBJECTED in CLEARING


def test_an_objection_does_not_leak_through_the_plan_cache():
    p = policy()
    assert p.decide(VALUES, objected(True, "news"), TODAY).withheld["Consent_News__c"] == OBJECTED
    again = p.decide(VALUES, news(True), TODAY)
    assert again.payload["Consent_News__c"] is True
    assert "HasOptedOutOfEmail" not in again.payload
