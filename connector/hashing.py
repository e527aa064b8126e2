"""Keyed hashes: how personal keys and values appear in state, logs and reports.

Keys (student numbers, e-mail addresses) become HMAC-SHA256 under ``SIS_SYNC_SECRET`` so that a
dictionary attack on the state file or a report is useless without the secret (an unkeyed hash of
an e-mail address is reversible in practice). Field values are hashed the same way, only to notice
change; they are never needed back.

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

    __slots__ = ("_key",)

    def __init__(self, secret: str | bytes):
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not secret:
            raise ValueError("the hashing secret must not be empty")
        self._key = secret

    def key(self, namespace: str, value: str) -> str:
        """A 32-hex-character keyed hash of ``value`` in ``namespace`` (e.g. ``"email"``)."""
        msg = (namespace + _SEP + value).encode("utf-8")
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:32]

    def value(self, value: Any) -> str:
        """A 16-hex-character keyed hash of a field value, to notice change. ``None`` → ``""``."""
        if value is None:
            return ""
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        return hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


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
