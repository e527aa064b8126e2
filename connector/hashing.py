"""Keyed hashes: how personal keys and values appear in state, logs and reports.

Keys (student numbers, e-mail addresses) become HMAC-SHA256 under ``SIS_SYNC_SECRET`` so that a
dictionary attack on the state file or a report is useless without the secret (an unkeyed hash of
an e-mail address is reversible in practice). Field values get a keyed BLAKE2b MAC (64 bits,
only to notice change; never needed back): as safe against dictionary attacks without the key,
and about twice as fast as HMAC, which matters at ten values a record.

Do not rotate ``SIS_SYNC_SECRET`` on a live installation: every key hash would change and the next
run would no longer recognise what it synced before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime

_SEP = "\x1f"  # unit separator: joins namespace and composite key parts unambiguously
# RFC 2104: the key block XOR-ed with these pads keys the inner and the outer SHA-256.
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_SHA256_BLOCK = 64
# Field-value hashes remembered per hasher (KeyHasher.values): most values of a load repeat
# (statuses, programmes, cities, booleans, every consent record's purpose, type and capture
# date), and a dict look-up costs a tenth of a keyed BLAKE2b. Emptied when full: bounded
# memory, and the values that repeat are back after a few rows.
VALUE_CACHE = 8192


def normalise_key(text: str) -> str:
    """A key (or one part of a composite key) as it is compared and hashed.

    Unicode NFKC (full-width digits ``１００`` → ``100``, ligatures, compatibility spaces), every
    invisible format character (Unicode category Cf: zero-width space/joiner/non-joiner
    U+200B–U+200D, word joiner U+2060, BOM U+FEFF, soft hyphen U+00AD, direction marks …)
    removed, and surrounding whitespace (NBSP included) stripped: an export that carries such a
    character otherwise creates a second record for the same person. A plain ASCII key only
    loses its surrounding whitespace, so its hash is what it always was.
    """
    if text.isascii():  # nearly every key: NFKC and Cf removal leave ASCII text as it is
        return text.strip()
    category = unicodedata.category
    # Format characters go first, so that NFKC composes what they kept apart.
    visible = "".join(c for c in text if category(c) != "Cf")
    return unicodedata.normalize("NFKC", visible).strip()


def _text_of(value: object) -> str:
    """The text a field value is hashed as (``json.dumps(value, sort_keys, default=str)`` for
    anything but text), with the exact result of ``json.dumps`` written out for the common
    types: the stored field hashes stay what they were."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[return-value]
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return int.__repr__(value)
    if cls is date or cls is datetime:
        return '"' + str(value) + '"'  # str() of a date is ASCII: nothing to escape
    return json.dumps(value, sort_keys=True, default=str)


class KeyHasher:
    """HMAC-SHA256 under one secret, for record keys and field values."""

    __slots__ = ("_hmac", "_inner", "_mac", "_mac_key", "_outer", "_seen")

    def __init__(self, secret: str | bytes):
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not secret:
            raise ValueError("the hashing secret must not be empty")
        self._hmac = hmac.new(secret, digestmod=hashlib.sha256)  # copied per call: keyed once
        # The same HMAC by hand for the hot path (RFC 2104): the inner and outer SHA-256 keyed
        # once and copied per call cost half of what hmac.HMAC.copy() does.
        block = secret if len(secret) <= _SHA256_BLOCK else hashlib.sha256(secret).digest()
        block = block.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_IPAD))
        self._outer = hashlib.sha256(block.translate(_OPAD))
        # BLAKE2b takes keys of at most 64 bytes: derive one from the secret.
        self._mac_key = hmac.new(secret, b"sis-sync field values", hashlib.sha256).digest()
        # Keyed once, copied per value: keying BLAKE2b costs a whole compression per call.
        self._mac = hashlib.blake2b(key=self._mac_key, digest_size=8)
        self._seen: dict[str, str] = {}  # value text → its hash (values(); VALUE_CACHE)

    def derive(self, label: str) -> bytes:
        """A 32-byte key for another keyed hash, derived from the secret and ``label``."""
        mac = self._hmac.copy()
        mac.update(b"derive" + _SEP.encode() + label.encode("utf-8"))
        return mac.digest()

    def key(self, namespace: str, value: str) -> str:
        """A 32-hex-character keyed hash of ``value`` in ``namespace`` (e.g. ``"email"``):
        HMAC-SHA256 of ``namespace + "\\x1f" + value``."""
        inner = self._inner.copy()
        inner.update((namespace + _SEP + value).encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]

    def value(self, value: object) -> str:
        """A 16-hex-character keyed hash of a field value, to notice change. ``None`` → ``""``."""
        if value is None:
            return ""
        mac = self._mac.copy()
        mac.update(_text_of(value).encode("utf-8"))
        return mac.hexdigest()

    def values(self, payload: Mapping[str, object]) -> dict[str, str]:
        """:meth:`value` of every field of ``payload`` (one loop for a new record's hashes).

        A value's hash depends on its text alone, so it is looked up by the text first
        (``VALUE_CACHE``): never by the value itself, as ``True == 1`` and their texts differ.
        """
        base, text_of, seen = self._mac, _text_of, self._seen
        out: dict[str, str] = {}
        for name, value in payload.items():
            if value is None:
                out[name] = ""
                continue
            text = value if value.__class__ is str else text_of(value)
            digest = seen.get(text)
            if digest is None:
                mac = base.copy()
                mac.update(text.encode("utf-8"))
                digest = mac.hexdigest()
                if len(seen) >= VALUE_CACHE:
                    seen.clear()
                seen[text] = digest
            out[name] = digest
        return out

    def record(
        self, payload: Mapping[str, object], withheld: Iterable[str] = (), extra: object = ()
    ) -> str:
        """A 16-hex-character keyed hash of a whole payload (field order included), the names of
        the withheld fields and ``extra`` (e.g. retention anchors): equal exactly when the
        record would be sent unchanged."""
        # repr, written in C, beats building the same text in Python (measured: 11 vs 15 µs a
        # record); the text must stay what it is, or every stored record hash would change.
        text = repr((tuple(payload.items()), tuple(withheld), extra))
        mac = self._mac.copy()
        mac.update(text.encode("utf-8"))
        return mac.hexdigest()


def hashes_json(hashes: Mapping[str, str]) -> str:
    """``json.dumps(hashes, separators=(",", ":"))`` of a field-hash map, as state stores it.

    Field names and hex hashes need no escaping: the text is joined directly (half the cost
    of ``json.dumps``, which builds an encoder per call — and a first load stores one such map
    per record and per consent record). Anything that would need escaping (a quote, a
    backslash, a control or non-ASCII character) goes through ``json.dumps``, so the text is
    always exactly what it produces.
    """
    try:
        text = '{"' + '","'.join(map('":"'.join, hashes.items())) + '"}'
    except TypeError:  # a value that is not text: json.dumps says what it is
        return json.dumps(hashes, separators=(",", ":"))
    # Exactly two quotes a key and two a value (an empty map fails this too: '{""}').
    if (
        text.isascii()
        and text.isprintable()
        and "\\" not in text
        and text.count('"') == 4 * len(hashes)
    ):
        return text
    return json.dumps(hashes, separators=(",", ":"))


def join_key(parts: list[str] | tuple[str, ...]) -> str:
    """Join composite key parts with the unit separator (never appears in real data)."""
    return _SEP.join(parts)


def mask(value: str | None) -> str:
    """A masked rendering for reports and examples: first character, then asterisks."""
    if not value:
        return ""
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    return value[:1] + "***"
