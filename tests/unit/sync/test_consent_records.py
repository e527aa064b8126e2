"""Consent records planned for Salesforce's consent model (pure): which consent becomes OptIn,
which OptOut, and when nothing is written (GDPR art. 7(1) proof, 7(3) withdrawal, 21 objection)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from connector.hashing import KeyHasher
from connector.mapping.checks import consent_warnings
from connector.privacy.facts import ConsentFact, SubjectFacts
from connector.privacy.policy import (
    ACTIVE,
    CONSENT_MISSING,
    CONSENT_WITHDRAWN,
    CONSENT_WITHOUT_SOURCE,
    MINOR_WITHOUT_PARENT,
)
from connector.privacy.purposes import PurposesSpec
from connector.state.rows import RECORD, KnownRow
from connector.sync.consent_records import (
    OPT_IN,
    OPT_OUT,
    consent_key,
    entries_for,
    individual_key,
    plan_consents,
)

H = KeyHasher("unit-test-secret")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
GIVEN = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
PURPOSES = PurposesSpec.model_validate(
    {
        "controller": "School",
        "purposes": {
            "news": {
                "lawful_basis": "consent",
                "consent": {"field": "n", "at": "n_op", "source": "n_bron"},
                "retention": {"after": "consent_withdrawn", "keep": "P1M"},
            },
            "phone": {
                "lawful_basis": "consent",
                "consent": {
                    "field": "b",
                    "at": "b_op",
                    "by": "b_door",
                    "source": "b_bron",
                    "contact_point_type": "Phone",
                },
                "retention": {"after": "consent_withdrawn", "keep": "P1M"},
            },
            "enrolment": {"lawful_basis": "legal_obligation"},
        },
    }
)


def _entries(consents, statuses, objected=frozenset()):
    facts = SubjectFacts(consents=consents, objected=objected)
    return entries_for("k1", facts, statuses, PURPOSES, now=NOW, fallback_source="sis-sync m")


def test_art_7_1_active_consent_with_proof_is_opt_in_with_its_date_source_and_giver():
    [e] = _entries({"phone": ConsentFact(True, GIVEN, "parent", "intake")}, {"phone": ACTIVE})
    assert (e.status, e.at, e.source, e.by) == (OPT_IN, GIVEN, "intake", "parent")


def test_art_7_1_consent_without_proof_writes_nothing():
    facts = {"news": ConsentFact(True, GIVEN, "self", None)}
    assert _entries(facts, {"news": CONSENT_WITHOUT_SOURCE}) == []
    assert (
        _entries({"news": ConsentFact(True, GIVEN, "self", "x")}, {"news": CONSENT_MISSING}) == []
    )
    minor = {"phone": ConsentFact(True, GIVEN, "self", "intake")}
    assert _entries(minor, {"phone": MINOR_WITHOUT_PARENT}) == []
    # Not a consent purpose: no consent record whatever its status.
    assert _entries({}, {"enrolment": ACTIVE}) == []


def test_art_7_3_withdrawal_is_opt_out_with_its_date_or_the_runs():
    withdrawn = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    [e] = _entries({"news": ConsentFact(False, withdrawn, None, None)}, {"news": CONSENT_WITHDRAWN})
    assert (e.status, e.at, e.source) == (OPT_OUT, withdrawn, "sis-sync m")
    [e] = _entries({"news": ConsentFact(False)}, {"news": CONSENT_WITHDRAWN})
    assert (e.status, e.at) == (OPT_OUT, NOW)


def test_art_21_objection_is_opt_out_and_marks_the_individual():
    facts = {"news": ConsentFact(True, GIVEN, "self", "intake")}
    [e] = _entries(facts, {"news": "objected"}, objected=frozenset({"news"}))
    assert (e.status, e.at, e.objected) == (OPT_OUT, NOW, True)
    plan = plan_consents([e], {"k1": "003A"}, {}, {}, PURPOSES, H)
    assert plan.individuals[0].row["HasOptedOutSolicit"] is True


def test_art_7_1_plan_rows_carry_proof_and_no_personal_value():
    [e] = _entries({"phone": ConsentFact(True, GIVEN, "parent", "intake")}, {"phone": ACTIVE})
    plan = plan_consents([e], {"k1": "003A"}, {}, {}, PURPOSES, H)
    [ind] = plan.individuals
    assert ind.key == individual_key(H, "003A") and ind.row["LastName"].startswith("sis-sync ")
    assert "HasOptedOutSolicit" not in ind.row  # never sent as false
    [c] = plan.consents
    assert c.key == consent_key(H, "003A", "phone")
    assert c.row == {
        "Name": "phone 2026-09-01",
        "ContactPointType": "Phone",
        "CaptureContactPointType": "Web",
        "PrivacyConsentStatus": "OptIn",
        "CaptureDate": "2026-09-01T08:00:00.000Z",
        "CaptureSource": "intake",
        "EffectiveFrom": "2026-09-01T08:00:00.000Z",
        "Consent_Given_By__c": "parent",
    }


def test_unchanged_consents_plan_no_write_and_a_contact_not_in_salesforce_waits():
    [e] = _entries({"news": ConsentFact(True, GIVEN, "self", "form")}, {"news": ACTIVE})
    first = plan_consents([e], {"k1": "003A"}, {}, {}, PURPOSES, H)
    ind, c = first.individuals[0], first.consents[0]
    known_ind = {ind.key: KnownRow("0PK1", None, json.loads(ind.hashes), False)}
    known_c = {("news", c.key): KnownRow("0ZY1", None, json.loads(c.hashes), False)}
    again = plan_consents([e], {"k1": "003A"}, known_ind, known_c, PURPOSES, H)
    assert (again.individuals, again.consents, again.unchanged) == ([], [], 1)
    assert again.individual_ids == {ind.key: "0PK1"}
    # A withdrawal changes the record hash: the same key is written again.
    [w] = _entries({"news": ConsentFact(False, NOW)}, {"news": CONSENT_WITHDRAWN})
    changed = plan_consents([w], {"k1": "003A"}, known_ind, known_c, PURPOSES, H)
    assert [x.key for x in changed.consents] == [c.key]
    assert (
        json.loads(changed.consents[0].hashes)[RECORD]
        != known_c[("news", c.key)].field_hashes[RECORD]
    )
    nothing = plan_consents([e], {}, {}, {}, PURPOSES, H)
    assert (nothing.individuals, nothing.consents) == ([], [])


def test_validate_warns_about_a_consent_purpose_without_a_source_column():
    spec = PurposesSpec.model_validate(
        {
            "controller": "School",
            "purposes": {
                "news": {
                    "lawful_basis": "consent",
                    "consent": {"field": "n", "at": "n_op"},
                    "retention": {"after": "consent_withdrawn", "keep": "P1M"},
                },
            },
        }
    )
    [warning] = consent_warnings(spec)
    assert "purposes.news.consent" in warning and "source" in warning
    assert consent_warnings(PURPOSES) == []


def _remember(plan) -> tuple[dict, dict]:
    """What state holds after ``plan`` was written (Individuals and consents by key)."""
    inds = {i.key: KnownRow("0PK1", None, json.loads(i.hashes), False) for i in plan.individuals}
    cons = {
        (c.purpose, c.key): KnownRow("0ZY1", None, json.loads(c.hashes), False)
        for c in plan.consents
    }
    return inds, cons


def _run(entries, known_ind, known_c):
    """One run over ``entries`` in mapping order, each written and remembered as it goes."""
    writes = 0
    for e in entries:
        plan = plan_consents([e], {"k1": "003A"}, known_ind, known_c, PURPOSES, H)
        writes += len(plan.consents)
        inds, cons = _remember(plan)
        known_ind, known_c = {**known_ind, **inds}, {**known_c, **cons}
    return writes, known_ind, known_c


def _from(mapping: str, fact: ConsentFact, status: str, now: datetime = NOW):
    facts = SubjectFacts(consents={"news": fact})
    [e] = entries_for("k1", facts, {"news": status}, PURPOSES, now=now, fallback_source=mapping)
    return e


def test_art_7_3_two_mappings_learning_one_undated_withdrawal_do_not_take_turns():
    """The student and the open-day export both say "withdrawn", without a date (one names a
    parent): the first mapping writes the OptOut, dated by the run; neither this run nor a
    later one writes again (they once overwrote each other's CaptureSource every run)."""
    by_parent, undated = ConsentFact(False, None, "parent"), ConsentFact(False)
    first = [
        _from("sis-sync students", by_parent, CONSENT_WITHDRAWN),
        _from("sis-sync reg", undated, CONSENT_WITHDRAWN),
    ]
    writes, ind, cons = _run(first, {}, {})
    assert writes == 1
    later = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    again = [
        _from("sis-sync students", by_parent, CONSENT_WITHDRAWN, later),
        _from("sis-sync reg", undated, CONSENT_WITHDRAWN, later),
    ]
    assert _run(again, ind, cons)[0] == 0


def test_art_7_1_one_capture_moment_from_two_sources_is_written_once_an_opt_out_wins_the_tie():
    intake = _from("m", ConsentFact(True, GIVEN, "self", "intake"), ACTIVE)
    open_day = _from("m", ConsentFact(True, GIVEN, "self", "open day"), ACTIVE)
    writes, ind, cons = _run([intake, open_day], {}, {})
    assert writes == 1
    assert _run([intake, open_day], ind, cons)[0] == 0
    # The same moment, one says "nee": the OptOut is written, and stays.
    refused = _from("m", ConsentFact(False, GIVEN, "self", "open day"), CONSENT_WITHDRAWN)
    writes, ind, cons = _run([refused, intake], ind, cons)
    assert writes == 1
    [(_, row)] = cons.items()
    assert row.field_hashes["PrivacyConsentStatus"] == H.value(OPT_OUT)
    assert _run([intake, refused], ind, cons)[0] == 0
    # The same source correcting its own proof of that moment (another giver) is written.
    corrected = _from("m", ConsentFact(False, GIVEN, "parent", "open day"), CONSENT_WITHDRAWN)
    assert _run([corrected], ind, cons)[0] == 1


def test_art_21_an_objection_replaces_an_undated_withdrawal_once_with_its_own_source():
    """A plain "nee" without a date was written first; the objection's OptOut carries the
    art. 21 source: written once (another source is not ignored for it), then stable."""
    withdrawn = _from("sis-sync reg", ConsentFact(False), CONSENT_WITHDRAWN)
    writes, ind, cons = _run([withdrawn], {}, {})
    assert writes == 1
    facts = SubjectFacts(consents={}, objected=frozenset({"news"}))
    [objection] = entries_for(
        "k1", facts, {"news": "objected"}, PURPOSES, now=NOW, fallback_source="sis-sync m"
    )
    writes, ind, cons = _run([objection, withdrawn], ind, cons)
    assert writes == 1
    [(_, row)] = cons.items()
    assert row.field_hashes["CaptureSource"] == H.value("bezwaar (AVG art. 21)")
    later = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    [objection] = entries_for(
        "k1", facts, {"news": "objected"}, PURPOSES, now=later, fallback_source="sis-sync m"
    )
    assert _run([objection, withdrawn], ind, cons)[0] == 0
