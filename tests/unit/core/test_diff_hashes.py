"""diff() given the KeyHasher itself hashes a payload in one pass: the same change, field for
field and in the same order, as one call of ``KeyHasher.value`` per field."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.hashing import KeyHasher
from connector.sync.diff import RECORD, diff

HASHER = KeyHasher("diff-test-secret-of-at-least-32-bytes")
VALUES = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.booleans(),
    st.integers(),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
)
PAYLOADS = st.dictionaries(st.sampled_from(["A", "B", "C", "D"]), VALUES, max_size=4)
WITHHELD = st.dictionaries(st.sampled_from(["E", "F"]), st.just("consent_withdrawn"), max_size=2)


def _same(a, b):
    assert a.send == b.send and list(a.send) == list(b.send)
    assert a.hashes == b.hashes and list(a.hashes) == list(b.hashes)
    assert a.cleared == b.cleared


@settings(deadline=None)  # timing is not the property; the machine may be busy
@given(before=PAYLOADS, after=PAYLOADS, withheld=WITHHELD, record=st.sampled_from([None, "r1"]))
def test_one_pass_equals_one_call_per_field(before, after, withheld, record):
    new_fast = diff(before, {}, None, HASHER, record)
    new_slow = diff(before, {}, None, HASHER.value, record)
    _same(new_fast, new_slow)
    old = {**new_slow.hashes, "E": HASHER.value("sent before")}
    _same(diff(after, withheld, old, HASHER, "r2"), diff(after, withheld, old, HASHER.value, "r2"))


def test_new_record_hashes_every_field_and_sends_the_present_ones():
    payload = {"Birthdate": date(2008, 4, 3), "Phone": None, "Opt": True,
               "At": datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "Name": "Jansen"}  # fmt: skip
    change = diff(payload, {}, None, HASHER, "rec")
    assert change.send == {k: v for k, v in payload.items() if v is not None}
    assert change.hashes == {**{k: HASHER.value(v) for k, v in payload.items()}, RECORD: "rec"}


def test_an_empty_field_new_to_the_record_is_not_cleared():
    # A field the last write did not carry and that is still empty: nothing to clear (an update
    # would otherwise null a field some other system filled).
    first = diff({"Name": "Jansen"}, {}, None, HASHER, "r1")
    again = diff({"Name": "Jansen", "Phone": None}, {}, first.hashes, HASHER, "r2")
    assert again.empty
    assert again.hashes["Phone"] == ""
