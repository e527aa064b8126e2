"""Diff: only changed fields are sent; withheld fields that were sent before are cleared."""

from __future__ import annotations

from connector.hashing import KeyHasher
from connector.sync.diff import diff

H = KeyHasher("test-secret").value


def test_new_record_sends_only_present_values():
    change = diff({"LastName": "Jansen", "Phone": None}, {}, None, H)
    assert change.send == {"LastName": "Jansen"}
    assert set(change.hashes) == {"LastName", "Phone"}
    assert change.cleared == ()


def test_unchanged_record_sends_nothing():
    first = diff({"LastName": "Jansen", "Email": "a@b.nl"}, {}, None, H)
    again = diff({"LastName": "Jansen", "Email": "a@b.nl"}, {}, first.hashes, H)
    assert again.empty
    assert again.hashes == first.hashes


def test_one_changed_field_is_the_only_one_sent():
    first = diff({"LastName": "Jansen", "Email": "a@b.nl"}, {}, None, H)
    again = diff({"LastName": "Jansen", "Email": "c@d.nl"}, {}, first.hashes, H)
    assert again.send == {"Email": "c@d.nl"}


def test_value_emptied_in_source_is_cleared():
    first = diff({"Phone": "+31201234567"}, {}, None, H)
    again = diff({"Phone": None}, {}, first.hashes, H)
    assert again.send == {"Phone": None}


def test_withheld_field_sent_before_is_cleared_once():
    first = diff({"MobilePhone": "+31612345678"}, {}, None, H)
    again = diff({}, {"MobilePhone": "consent_withdrawn"}, first.hashes, H)
    assert again.send == {"MobilePhone": None}
    assert again.cleared == ("MobilePhone",)
    third = diff({}, {"MobilePhone": "consent_withdrawn"}, again.hashes, H)
    assert third.empty


def test_withheld_field_never_sent_is_not_cleared():
    change = diff(
        {"LastName": "Jansen"}, {"MobilePhone": "consent_missing"}, {"LastName": H("Jansen")}, H
    )
    assert change.empty


def test_record_hash_short_circuits_an_unchanged_record():
    hasher = KeyHasher("test-secret")
    payload = {"LastName": "Jansen", "Email": "a@b.nl"}
    first = diff(payload, {}, None, H, hasher.record(payload))
    calls = []

    def counting(value):
        calls.append(value)
        return H(value)

    again = diff(dict(payload), {}, first.hashes, counting, hasher.record(dict(payload)))
    assert again.empty
    assert calls == []  # decided by the record hash alone


def test_record_hash_changes_with_a_value_or_a_withheld_field():
    hasher = KeyHasher("test-secret")
    base = hasher.record({"LastName": "Jansen"})
    assert hasher.record({"LastName": "Janssen"}) != base
    assert hasher.record({"LastName": "Jansen"}, {"MobilePhone": "consent_withdrawn"}) != base
    first = diff(
        {"LastName": "Jansen", "MobilePhone": "+31612345678"},
        {},
        None,
        H,
        hasher.record({"LastName": "Jansen", "MobilePhone": "+31612345678"}),
    )
    clear = {"MobilePhone": "consent_withdrawn"}
    again = diff(
        {"LastName": "Jansen"}, clear, first.hashes, H, hasher.record({"LastName": "Jansen"}, clear)
    )
    assert again.send == {"MobilePhone": None}


def test_a_record_state_does_not_know_sends_its_withheld_fields_as_null():
    # Found attacking issue 8: after a lost or rebuilt state (or a write that landed before a
    # crash) the upsert of a record Salesforce holds left a withdrawn consent and a phone
    # number without one in place, run after run. Nulls on a true create set nothing.
    withheld = {"MobilePhone": "consent_withdrawn", "Consent_News__c": "consent_withdrawn"}
    change = diff({"LastName": "Jansen", "Phone": None}, withheld, None, H)
    assert change.send == {"LastName": "Jansen", "MobilePhone": None, "Consent_News__c": None}
    assert change.cleared == ()  # not counted: nothing is known to have been there
    assert "MobilePhone" not in change.hashes  # remembered as never sent: no clear next time
    again = diff({"LastName": "Jansen", "Phone": None}, withheld, change.hashes, H)
    assert again.empty
