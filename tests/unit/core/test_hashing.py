"""Keyed hashes: stable, keyed, namespaced; masks hide values."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector import hashing
from connector.hashing import KeyHasher, hashes_json, join_key, mask, normalise_key
from connector.privacy.facts import Phase


def test_key_is_hmac_sha256_of_namespace_and_value():
    expected = hmac.new(b"s", b"email\x1fa@b.nl", hashlib.sha256).hexdigest()[:32]
    assert KeyHasher("s").key("email", "a@b.nl") == expected


def test_keys_depend_on_secret_and_namespace():
    a, b = KeyHasher("one"), KeyHasher("two")
    assert a.key("email", "x") != b.key("email", "x")
    assert a.key("email", "x") != a.key("student", "x")
    assert a.key("email", "x") == KeyHasher("one").key("email", "x")


def test_value_hash_notices_change_and_is_keyed():
    h = KeyHasher("s")
    assert h.value(None) == ""
    assert h.value("Jansen") == h.value("Jansen") != h.value("Janssen")
    assert h.value("Jansen") != KeyHasher("t").value("Jansen")
    assert len(h.value(True)) == 16
    assert "Jansen" not in h.value("Jansen")


def test_empty_secret_refused():
    with pytest.raises(ValueError, match="empty"):
        KeyHasher("")


def test_join_and_mask():
    assert join_key(["a", "b"]) == "a\x1fb"
    assert mask("jan.jansen@school.nl") == "j***@s***"
    assert mask("Jansen") == "J***"
    assert mask(None) == ""


# -- stored formats: what state holds must hash the same after any speed-up ------------------

SECRETS = st.one_of(st.binary(min_size=1, max_size=100), st.text(min_size=1, max_size=80))


def _mac_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"sis-sync field values", hashlib.sha256).digest()


def _reference_key(secret: bytes, namespace: str, value: str) -> str:
    """The key hash as state has always stored it (HMAC-SHA256, 32 hex characters)."""
    return hmac.new(secret, (namespace + "\x1f" + value).encode(), hashlib.sha256).hexdigest()[:32]


def _reference_value(secret: bytes, value: object) -> str:
    """The field hash as state has always stored it."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), key=_mac_key(secret), digest_size=8).hexdigest()


def _raw(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


@settings(deadline=None)  # timing is not the property; the machine may be busy
@given(secret=SECRETS, namespace=st.text(max_size=20), value=st.text(max_size=60))
def test_key_hash_is_the_stored_format(secret, namespace, value):
    # Secrets longer than SHA-256's block (64 bytes) are hashed first, as hmac does.
    assert KeyHasher(secret).key(namespace, value) == _reference_key(_raw(secret), namespace, value)


VALUES = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=2))])),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=3),
)


@settings(deadline=None)  # timing is not the property; the machine may be busy
@given(secret=SECRETS, value=VALUES)
def test_value_hash_is_the_stored_format(secret, value):
    h = KeyHasher(secret)
    expected = _reference_value(_raw(secret), value)
    assert h.value(value) == expected
    assert h.values({"F": value}) == {"F": expected}


def test_value_hash_of_common_types_is_the_stored_format():
    # The written-out forms of json.dumps (bool, int, date, datetime) against json itself.
    h = KeyHasher("s")
    for value in (True, False, 0, -12, 10**30, date(2008, 4, 3),
                  datetime(2024, 5, 1, 8, 0, tzinfo=UTC), datetime(2024, 5, 1, 8, 0, 1, 5),
                  Decimal("1.50"), 1.5, "Jansen", ["a"]):  # fmt: skip
        assert h.value(value) == _reference_value(b"s", value), value


class _Colour(StrEnum):
    RED = "red"


class _Other(StrEnum):
    RED = "red"  # equal to _Colour.RED and to "red": a repr cache must not mix them up


AMS = timezone(timedelta(hours=2))
MOMENTS = st.datetimes(timezones=st.sampled_from([None, UTC, AMS]))
ATOMS = st.one_of(
    VALUES,
    st.sampled_from([Phase.APPLIED, Phase.ENDED, _Colour.RED, _Other.RED, "red"]),
    MOMENTS.map(lambda d: d.replace(fold=1)),
)
NESTED = st.recursive(ATOMS, lambda inner: st.tuples(inner) | st.tuples(inner, inner, inner))


def _reference_record(secret: bytes, payload, withheld, extra) -> str:
    """The record hash as state has always stored it."""
    text = repr((tuple(payload.items()), tuple(withheld), extra))
    return hashlib.blake2b(text.encode(), key=_mac_key(secret), digest_size=8).hexdigest()


@settings(deadline=None)  # timing is not the property; the machine may be busy
@given(
    secret=SECRETS,
    payload=st.dictionaries(st.text(max_size=8), NESTED, max_size=5),
    withheld=st.lists(st.text(max_size=8), max_size=3),
    extra=NESTED,
)
def test_record_hash_is_the_stored_format(secret, payload, withheld, extra):
    expected = _reference_record(_raw(secret), payload, withheld, extra)
    assert KeyHasher(secret).record(payload, withheld, extra) == expected


def test_record_hash_tells_equal_moments_of_other_zones_and_folds_apart():
    # Equal as values, different as text: the stored hash was of the text.
    h = KeyHasher("s")
    utc = datetime(2026, 7, 20, 15, 49, tzinfo=UTC)
    ams = datetime(2026, 7, 20, 17, 49, tzinfo=AMS)
    naive = datetime(2026, 10, 25, 2, 30)
    cases = [utc, ams, utc, naive, naive.replace(fold=1), naive, _Colour.RED, _Other.RED, "red"]
    for value in cases + cases[::-1]:  # in both orders, so a cache is filled either way
        extra = (value, (value,), date(2026, 1, 2), ())
        assert h.record({"F": value}, ["G"], extra) == _reference_record(
            b"s", {"F": value}, ["G"], extra
        )


# -- key normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        " 100011 ",
        "100011\u200b",  # zero-width space
        "\ufeff100011",  # BOM
        "10\u00ad0011",  # soft hyphen
        "1000\u200c11\u200d",  # zero-width non-joiner, joiner
        "\u2060100011",  # word joiner
        "\u00a0100011\u00a0",  # NBSP around
        "\uff11\uff10\uff10\uff10\uff11\uff11",  # full-width digits
        "\u200e100011\u200f",  # direction marks (Cf)
        "\u3000100011",  # ideographic space
    ],
)
def test_normalise_key_makes_lookalikes_one_key(raw):
    assert normalise_key(raw) == "100011"


@settings(deadline=None)  # timing is not the property; the machine may be busy
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=30))
def test_normalise_key_leaves_plain_ascii_keys_alone_but_for_surrounding_space(raw):
    # Normal keys hash exactly as before normalisation existed (CSV keys arrive stripped).
    assert normalise_key(raw) == raw.strip()


@settings(deadline=None)  # timing is not the property; the machine may be busy
@given(st.text(max_size=30))
def test_normalise_key_is_idempotent_and_leaves_no_format_characters(raw):
    once = normalise_key(raw)
    assert normalise_key(once) == once
    assert not any(unicodedata.category(c) == "Cf" for c in once)
    assert once == once.strip()


def test_normalise_key_keeps_accented_keys_composed():
    # NFKC composes; a format character between a letter and its accent does not split them.
    assert normalise_key("jose\u0301@school.nl") == "jos\u00e9@school.nl"
    assert normalise_key("jose\u200b\u0301") == "jos\u00e9"


# hashes_json joins a field-hash map directly instead of json.dumps: it must stay exactly the
# text json.dumps gives (state compares and parses it), whatever the keys and values hold.
@pytest.mark.parametrize(
    "hashes",
    [
        {},
        {"*": "0123456789abcdef", "LastName": "", "~": "fedcba9876543210"},
        {'Quo"te': "ab"},  # a quote in a name
        {"a": 'b","c":"d'},  # a value that looks like more entries
        {"back\\slash": "x"},
        {"tab\there": "x", "nl": "a\nb"},
        {"Naïve__c": "é"},  # non-ASCII is escaped by json.dumps
        {"del": "\x7f"},
        {"\u2028": "x"},
    ],
)
def test_hashes_json_is_json_dumps(hashes):
    assert hashes_json(hashes) == json.dumps(hashes, separators=(",", ":"))
    assert json.loads(hashes_json(hashes)) == hashes


def test_hashes_json_of_a_value_that_is_not_text_is_json_dumps():
    odd = {"n": 1, "b": None}
    assert hashes_json(odd) == json.dumps(odd, separators=(",", ":"))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=5))
def test_hashes_json_matches_json_dumps_for_any_text(hashes):
    assert hashes_json(hashes) == json.dumps(hashes, separators=(",", ":"))


# KeyHasher.values remembers value hashes by their text (VALUE_CACHE): a remembered hash must
# be what the value hashes to under this secret, whatever was hashed before it.
def test_remembered_value_hashes_are_the_hashes_of_the_value():
    one, other = KeyHasher("one"), KeyHasher("two")
    payload = {"a": "Enrolled", "b": True, "c": 1, "d": "true", "e": "1", "f": date(2020, 1, 2)}
    first = one.values(payload)
    assert other.values(payload) == {k: other.value(v) for k, v in payload.items()}
    assert one.values(payload) == first == {k: one.value(v) for k, v in payload.items()}
    # True and 1 are equal keys of a dict; their texts ("true", "1") and hashes are not.
    assert one.values({"x": 1})["x"] == one.value(1) != one.value(True)
    assert one.values({"x": True})["x"] == one.value(True)


def test_remembered_value_hashes_stay_bounded(monkeypatch):
    monkeypatch.setattr(hashing, "VALUE_CACHE", 50)
    h = KeyHasher("s")
    for i in range(500):
        assert h.values({"n": f"value {i}"}) == {"n": h.value(f"value {i}")}
        assert len(h._seen) <= 50
