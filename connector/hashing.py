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
from typing import Any

_SEP = "\x1f"  # unit separator: joins namespace and composite key parts unambiguously


class KeyHasher:
    """HMAC-SHA256 under one secret, for record keys and field values."""

    __slots__ = ("_hmac", "_mac_key")

    def __init__(self, secret: str | bytes):
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not secret:
            raise ValueError("the hashing secret must not be empty")
        self._hmac = hmac.new(secret, digestmod=hashlib.sha256)  # copied per call: keyed once
        # BLAKE2b takes keys of at most 64 bytes: derive one from the secret.
        self._mac_key = hmac.new(secret, b"sis-sync field values", hashlib.sha256).digest()

    def derive(self, label: str) -> bytes:
        """A 32-byte key for another keyed hash, derived from the secret and ``label``."""
        mac = self._hmac.copy()
        mac.update(b"derive" + _SEP.encode() + label.encode("utf-8"))
        return mac.digest()

    def key(self, namespace: str, value: str) -> str:
        """A 32-hex-character keyed hash of ``value`` in ``namespace`` (e.g. ``"email"``)."""
        mac = self._hmac.copy()
        mac.update((namespace + _SEP + value).encode("utf-8"))
        return mac.hexdigest()[:32]

    def value(self, value: Any) -> str:
        """A 16-hex-character keyed hash of a field value, to notice change. ``None`` → ``""``."""
        if value is None:
            return ""
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        return hashlib.blake2b(text.encode("utf-8"), key=self._mac_key, digest_size=8).hexdigest()

    def record(self, payload: dict[str, Any], withheld: Any = (), extra: Any = ()) -> str:
        """A 16-hex-character keyed hash of a whole payload (field order included), the names of
        the withheld fields and ``extra`` (e.g. retention anchors): equal exactly when the
        record would be sent unchanged."""
        text = repr((tuple(payload.items()), tuple(withheld), extra))
        return hashlib.blake2b(text.encode("utf-8"), key=self._mac_key, digest_size=8).hexdigest()


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
