"""A child record without a retention anchor of its own follows its person (issue #10.4), pure:
which purposes are borrowed, and that only an unreached borrowed anchor goes with the person."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from connector.privacy.purposes import PurposeSpec
from connector.privacy.retention import MappingRule, is_expired
from connector.state import SyncedRow

T0 = datetime(2026, 12, 1, tzinfo=UTC)
ON = date(2027, 3, 1)


def _row(**over) -> SyncedRow:
    values = dict(
        mapping="learner_programs", key_hash="k", object="LearnerProgram", sf_id="0lp",
        person_id=None, field_hashes={"Status": "h", "Consent__c": ""}, first_seen=T0,
        last_seen=T0, last_synced=T0, lifecycle=None, lifecycle_end_at=None, event_date=None,
        consent_withdrawn_at={}, deleted_at=None,
    )  # fmt: skip
    values.update(over)
    return SyncedRow(**values)


def _field(*purposes: str) -> SimpleNamespace:
    return SimpleNamespace(purposes=list(purposes), required=False, ref=None)


def _spec(*, lifecycle=None, identity=None, news=False) -> SimpleNamespace:
    fields = {"Status": _field("enrolment")}
    if news:
        fields["Consent__c"] = _field("news")
    return SimpleNamespace(
        fields=fields, lifecycle=lifecycle, event_date=None, identity=identity,
        target=SimpleNamespace(object="LearnerProgram", external_id="SIS_Sync_Key__c"),
    )  # fmt: skip


PURPOSES = {
    "enrolment": PurposeSpec(
        lawful_basis="legal_obligation", active_in=["applied", "enrolled"],
        retention={"after": "lifecycle_end", "keep": "P1M"},
    ),
    "news": PurposeSpec(
        lawful_basis="consent", consent={"field": "c", "at": "c_at"}, min_age=0,
        retention={"after": "consent_withdrawn", "keep": "P1M"},
    ),
}  # fmt: skip


def test_a_child_without_a_lifecycle_goes_with_its_person_and_never_alone() -> None:
    rule = MappingRule("learner_programs", _spec(), PURPOSES)
    assert rule.borrowed == {"enrolment"}
    assert not is_expired(rule.judge(_row(), ON))  # alone: nothing to anchor on
    [e] = rule.judge_with_person(_row(), ON)
    assert e.expired and "with its person" in e.reason


def test_a_child_with_its_own_anchor_or_consent_is_judged_on_it() -> None:
    own = MappingRule(
        "learner_programs", _spec(lifecycle=SimpleNamespace(phase="enrolled")), PURPOSES
    )
    assert own.borrowed == frozenset()
    assert not is_expired(own.judge_with_person(_row(), ON))  # its own end not reached
    consent = MappingRule("learner_programs", _spec(news=True), PURPOSES)
    held = _row(field_hashes={"Status": "h", "Consent__c": "h"})
    assert not is_expired(consent.judge_with_person(held, ON))  # a consent it holds counts
    left = _row(lifecycle_end_at=datetime(2027, 2, 20, tzinfo=UTC))  # ended on its own, later
    assert not is_expired(MappingRule("x", _spec(), PURPOSES).judge_with_person(left, ON))


def test_a_person_mapping_borrows_nothing() -> None:
    assert MappingRule("students", _spec(identity=object()), PURPOSES).borrowed == frozenset()


def test_a_purpose_is_gone_for_a_person_only_when_every_record_naming_it_expired() -> None:
    from connector.gdpr.purge_plan import expired_purposes

    person = MappingRule("students", _spec(identity=object(), news=True), PURPOSES)
    ended = _row(mapping="students", lifecycle_end_at=T0, field_hashes={"Status": "h"})
    enrolled = _row(mapping="students", key_hash="k2", field_hashes={"Status": "h"})
    rules = {"students": person}
    # News never given: gone; enrolment ended 1 December + P1M.
    assert expired_purposes([ended], rules, ON) == {"enrolment", "news"}
    # Another record of the person still enrolled: enrolment holds, the child stays.
    assert expired_purposes([ended, enrolled], rules, ON) == {"news"}
    child = MappingRule("learner_programs", _spec(), PURPOSES)
    gone = expired_purposes([ended, enrolled], rules, ON)
    assert not is_expired(child.judge_with_person(_row(), ON, gone))
    assert is_expired(child.judge_with_person(_row(), ON, frozenset({"enrolment"})))
