"""Keyed hashes: stable, keyed, namespaced; masks hide values."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connector.hashing import KeyHasher, join_key, mask


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
