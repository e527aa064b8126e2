"""The retention rule, pure: anchor arithmetic (month ends), purposes without retention,
consents never given or never withdrawn, and the loose cutoff the store query uses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connector.privacy.purposes import Duration, PurposeSpec
from connector.privacy.retention import is_expired, loose_cutoff, purpose_expiry, record_expiries
from connector.state import SyncedRow

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(**over) -> SyncedRow:
    values = dict(
        mapping="m", key_hash="k", object="Contact", sf_id="003", person_id=1,
        field_hashes={}, first_seen=T0, last_seen=T0, last_synced=T0, lifecycle=None,
        lifecycle_end_at=None, event_date=None, consent_withdrawn_at={}, deleted_at=None,
    )  # fmt: skip
    values.update(over)
    return SyncedRow(**values)


def purpose(after: str | None = None, keep: str = "P1M", consent: bool = False) -> PurposeSpec:
    data: dict = {"lawful_basis": "consent" if consent else "contract"}
    if consent:
        data["consent"] = {"field": "c", "at": "c_at"}
    if after:
        data["retention"] = {"after": after, "keep": keep}
    return PurposeSpec(**data)


@pytest.mark.parametrize(
    ("anchor", "keep", "first_day_gone"),
    [
        (date(2026, 1, 31), "P1M", date(2026, 3, 1)),  # 31 Jan + P1M = 28 Feb (clamped)
        (date(2028, 1, 31), "P1M", date(2028, 3, 1)),  # leap year: 29 Feb
        (date(2026, 11, 14), "P3M", date(2027, 2, 15)),
        (date(2026, 8, 31), "P12M", date(2027, 9, 1)),
        (date(2026, 3, 1), "P90D", date(2026, 5, 31)),
    ],
)
def test_expired_only_after_anchor_plus_keep(anchor, keep, first_day_gone) -> None:
    r = row(event_date=anchor)
    p = purpose("event_date", keep)
    day_before = date.fromordinal(first_day_gone.toordinal() - 1)
    assert not purpose_expiry("e", p, r, frozenset(), day_before).expired
    e = purpose_expiry("e", p, r, frozenset(), first_day_gone)
    assert e.expired and e.expires_on == day_before


def test_datetime_anchors_use_the_schools_day() -> None:
    # 23:30 UTC on 31 January is 00:30 on 1 February in Amsterdam: the anchor is 1 February,
    # so with keep P1M the record is covered through 1 March and expired from 2 March.
    ended = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    r = row(lifecycle_end_at=ended, last_seen=ended)
    for anchor in ("lifecycle_end", "last_seen"):
        assert purpose_expiry("p", purpose(anchor), r, frozenset(), date(2026, 3, 2)).expired
        assert not purpose_expiry("p", purpose(anchor), r, frozenset(), date(2026, 3, 1)).expired
    # 22:30 UTC is still 31 January in Amsterdam (CET, UTC+1).
    r = row(lifecycle_end_at=ended.replace(hour=22), last_seen=ended.replace(hour=22))
    assert purpose_expiry("p", purpose("last_seen"), r, frozenset(), date(2026, 3, 1)).expired


def test_a_purpose_without_retention_or_anchor_never_expires() -> None:
    r = row(event_date=date(2000, 1, 1))
    assert not purpose_expiry("p", purpose(), r, frozenset(), date(2099, 1, 1)).expired
    enrolled = purpose_expiry("p", purpose("lifecycle_end"), r, frozenset(), date(2099, 1, 1))
    assert not enrolled.expired and "not reached" in enrolled.note


def test_consent_never_withdrawn_holds_and_withdrawn_expires() -> None:
    news = purpose("consent_withdrawn", "P1M", consent=True)
    given = row(field_hashes={"Consent_News__c": "h1"})
    assert not purpose_expiry("news", news, given, frozenset({"Consent_News__c"}),
                              date(2099, 1, 1)).expired  # fmt: skip
    withdrawn = row(consent_withdrawn_at={"news": datetime(2026, 2, 10, tzinfo=UTC)})
    assert not purpose_expiry("news", news, withdrawn, frozenset(), date(2026, 3, 10)).expired
    assert purpose_expiry("news", news, withdrawn, frozenset(), date(2026, 3, 11)).expired
    # Another purpose's withdrawal is not this one's.
    other = row(consent_withdrawn_at={"phone": datetime(2026, 2, 10, tzinfo=UTC)},
                field_hashes={"Consent_News__c": "h1"})  # fmt: skip
    assert not purpose_expiry("news", news, other, frozenset({"Consent_News__c"}),
                              date(2099, 1, 1)).expired  # fmt: skip


def test_a_consent_never_given_justifies_nothing() -> None:
    news = purpose("consent_withdrawn", consent=True)
    never = row(field_hashes={"Consent_News__c": ""})  # cleared / never sent
    e = purpose_expiry("news", news, never, frozenset({"Consent_News__c"}), date(2026, 1, 2))
    assert e.expired and e.note == "consent never given"


def test_a_record_expires_only_when_every_purpose_has() -> None:
    purposes = {"visit": purpose("event_date", "P3M"), "news": purpose("consent_withdrawn",
                                                                        consent=True)}  # fmt: skip
    fields = {"visit": frozenset({"LastName"}), "news": frozenset({"Consent_News__c"})}
    on = date(2027, 3, 14)
    without = row(event_date=date(2026, 11, 14), field_hashes={"LastName": "h"})
    assert is_expired(record_expiries(without, purposes, fields, on))
    consented = row(event_date=date(2026, 11, 14),
                    field_hashes={"LastName": "h", "Consent_News__c": "h"})  # fmt: skip
    assert not is_expired(record_expiries(consented, purposes, fields, on))
    assert not is_expired([])


@pytest.mark.parametrize("keep", ["P1M", "P3M", "P12M", "P2Y", "P90D", "P1M2D"])
def test_the_loose_cutoff_never_misses_an_expired_anchor(keep: str) -> None:
    d = Duration.parse(keep)
    for on_ord in range(date(2027, 1, 1).toordinal(), date(2028, 12, 31).toordinal(), 3):
        on = date.fromordinal(on_ord)
        cutoff = loose_cutoff(on, d).date()
        for back in range(0, 40):
            anchor = date.fromordinal(cutoff.toordinal() + back)
            if d.after(anchor) < on:
                pytest.fail(f"{anchor} + {keep} < {on} but not before cutoff {cutoff}")


# -- issue 9 item 6: retention that reaches every case ------------------------------------


def test_a_consent_purpose_must_declare_a_retention() -> None:
    """GDPR art. 5(1)(e): consent is no licence to keep data forever."""
    with pytest.raises(ValueError, match="must declare `retention`"):
        PurposeSpec(lawful_basis="consent", consent={"field": "c", "at": "c_at"})
    PurposeSpec(lawful_basis="contract")  # other bases may still leave it to the FG


def test_a_consent_purpose_without_retention_is_refused_with_file_and_key(tmp_path) -> None:
    from connector.errors import MappingError
    from connector.mapping import load_project

    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(
        "controller: School\n"
        "purposes:\n"
        "  enrolment: {lawful_basis: contract}\n"
        "  news:\n"
        "    lawful_basis: consent\n"
        "    consent: {field: c, at: c_at, source: c_src}\n"
    )
    with pytest.raises(MappingError) as info:
        load_project(folder)
    (problem,) = [p for p in info.value.problems if "retention" in p.message]
    assert (problem.file, problem.key, problem.line) == (
        "mappings/purposes.yaml",
        "purposes.news",
        4,
    )


def _mapping(lifecycle: dict | None = None, **extra):
    from connector.mapping.models import MappingSpec

    body = {
        "name": "m",
        "source": {"kind": "csv", "path": "x.csv", "key": "id"},
        "target": {"object": "Contact", "external_id": "Ext__c"},
        "fields": {
            "Ext__c": {"from": "id", "purposes": ["enrolment"]},
            "LastName": {"from": "n", "required": True, "purposes": ["enrolment"]},
            "Email": {"from": "e", "purposes": ["enrolment"]},
            "Birthdate": {"from": "b", "purposes": ["enrolment"]},
            "Consent__c": {"from": "c", "purposes": ["news"]},
            "Visit__c": {"from": "v", "purposes": ["visit"]},
        },
        **extra,
    }
    if lifecycle is not None:
        body["lifecycle"] = lifecycle
    return MappingSpec.model_validate(body)


STUDENT_LIFE = {"from": "s", "enrolled": ["in"], "ended": ["out"]}


def test_a_purpose_the_lifecycle_never_reaches_is_never_active() -> None:
    from connector.privacy.retention import never_active

    spec = _mapping(STUDENT_LIFE)
    prospects = PurposeSpec(lawful_basis="contract", active_in=["prospect"])
    assert "yields only ['ended', 'enrolled']" in (never_active(prospects, spec) or "")
    assert never_active(purpose("lifecycle_end"), spec) is None  # applied + enrolled
    assert never_active(prospects, _mapping()) is None  # no lifecycle: always active
    kept = PurposeSpec(lawful_basis="contract", active_in=["applied"],
                       retention={"after": "lifecycle_end", "keep": "P1M"})  # fmt: skip
    ended_only = _mapping({"phase": "ended"})
    assert never_active(kept, ended_only) is None  # active after the end until retention
    minor = PurposeSpec(lawful_basis="consent", consent={"field": "c", "at": "a"},
                        retention={"after": "consent_withdrawn", "keep": "P1M"})  # fmt: skip
    assert "needs a parent" in (never_active(minor, spec) or "")
    born = _mapping(STUDENT_LIFE, subject_birthdate={"from": "b"})
    assert never_active(minor, born) is None


def test_a_never_active_purpose_does_not_block_the_purge() -> None:
    from connector.privacy.retention import MappingRule

    purposes = {
        "enrolment": purpose("lifecycle_end", "P1M"),
        "news": purpose("consent_withdrawn", consent=True),
        # Never active for a student mapping, and no event date to anchor it: before, the
        # record could never expire.
        "visit": PurposeSpec(
            lawful_basis="contract",
            active_in=["prospect"],
            retention={"after": "event_date", "keep": "P3M"},
        ),
    }
    rule = MappingRule("m", _mapping(STUDENT_LIFE), purposes)
    ended = row(lifecycle_end_at=T0, field_hashes={"LastName": "h", "Email": "h"})
    expiries = rule.judge(ended, date(2026, 3, 1))
    assert is_expired(expiries)
    assert "visit: never active for this mapping" in [e.reason for e in expiries]
    assert rule.drivers() == ["enrolment"]


def test_a_record_that_stays_loses_the_fields_of_its_expired_purposes() -> None:
    """GDPR art. 5(1)(c): an ended student with a consent keeps the consent's fields only."""
    from connector.privacy.retention import MappingRule

    purposes = {
        "enrolment": purpose("lifecycle_end", "P1M"),
        "news": purpose("consent_withdrawn", consent=True),
        "visit": purpose("event_date", "P3M"),
    }
    rule = MappingRule("m", _mapping(STUDENT_LIFE, subject_birthdate={"from": "b"}), purposes)
    hashes = {"Ext__c": "h", "LastName": "h", "Email": "h", "Birthdate": "", "Consent__c": "h"}
    ended = row(lifecycle_end_at=T0, field_hashes=hashes)
    # Within the month after the end nothing is cleared.
    assert rule.fields_to_clear(ended, date(2026, 2, 1))[0] == []
    fields, _ = rule.fields_to_clear(ended, date(2026, 2, 2))
    # Not the external id, not the required LastName, not the empty Birthdate, not the consent.
    assert fields == ["Email"]
    enrolled = row(field_hashes=hashes)
    assert rule.fields_to_clear(enrolled, date(2099, 1, 1))[0] == []
