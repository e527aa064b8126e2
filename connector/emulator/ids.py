"""Salesforce-shaped record ids and timestamps.

Ids are 15 case-sensitive characters (3-char key prefix, 2-char pod, 1 reserved, 9-char base-62
counter) plus the 3-character case-insensitivity suffix Salesforce appends to make the 18-char form
(wire spec §0: for each 5-char block set bit i when char i is upper case, then map the 5-bit value
into ``A-Z0-5``).
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62 = BASE62
_ID_RE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
_POD = "5g0"

ORG_ID = "00D5g000004Emu1EAC"
USER_ID = "0055g000004Emu1AAC"


_UPPER_BITS = str.maketrans(
    {c: "1" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    | {c: "0" for c in "0123456789abcdefghijklmnopqrstuvwxyz"}
)


def id_suffix(id15: str) -> str:
    """The 3-character checksum suffix of a 15-character id."""
    # Bit i of each 5-char block is char i being upper case; reversing makes it a binary number.
    bits = id15.translate(_UPPER_BITS)
    return (
        _SUFFIX_CHARS[int(bits[4::-1], 2)]
        + _SUFFIX_CHARS[int(bits[9:4:-1], 2)]
        + _SUFFIX_CHARS[int(bits[14:9:-1], 2)]
    )


def normalize_id(value: object) -> str | None:
    """Return the 18-char form of a 15/18-char id, or None when it is not id-shaped.

    An 18-char id whose suffix does not match its first 15 characters is not a valid id.
    """
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    head = value[:15]
    suffix = id_suffix(head)
    if len(value) == 18 and value[15:].upper() != suffix:
        return None
    return head + suffix


def _base62(n: int, width: int) -> str:
    chars = []
    while n:
        n, r = divmod(n, 62)
        chars.append(_BASE62[r])
    return "".join(reversed(chars)).rjust(width, "0")


_PAIRS = [a + b for a in _BASE62 for b in _BASE62]  # every two-digit base-62 string
_LOW = 62**5  # the counter's last five digits are the id's third suffix block


class IdFactory:
    """Hands out unique, monotonically increasing ids per org (thread-safe)."""

    def __init__(self, start: int = 0):
        self._n = start
        self._lock = threading.Lock()
        # (key prefix, counter // 62**5) → (first 10 id chars, first 2 suffix chars): they
        # change once per 916 million ids, so only the last block is worked out per id.
        self._tops: dict[tuple[str, int], tuple[str, str]] = {}

    def observe(self, record_id: str) -> None:
        """Move the counter past an id loaded from disk, so new ids never collide with it."""
        n = 0
        for ch in record_id[6:15]:
            n = n * 62 + _BASE62.index(ch)
        if n > self._n:
            self._n = n

    @property
    def counter(self) -> int:
        """The last number handed out (or observed)."""
        return self._n

    def observe_counter(self, n: int) -> None:
        """Move the counter to at least ``n`` (from a compacted journal)."""
        if n > self._n:
            self._n = n

    def new(self, key_prefix: str) -> str:
        """A fresh 18-char id with the given 3-char key prefix."""
        with self._lock:
            self._n += 1
            n = self._n
        # Equal to ``head = key_prefix + _POD + _base62(n, 9); head + id_suffix(head)``, in
        # parts: ids are made once per inserted record, and this is three times faster.
        top_n, low_n = divmod(n, _LOW)
        top = self._tops.get((key_prefix, top_n))
        if top is None:
            if len(self._tops) > 256:
                self._tops.clear()
            start = key_prefix + _POD + _base62(top_n, 4)
            top = self._tops[(key_prefix, top_n)] = (start, id_suffix(start + "00000")[:2])
        digit, pairs = divmod(low_n, 3844 * 3844)
        pair1, pair2 = divmod(pairs, 3844)
        low = _BASE62[digit] + _PAIRS[pair1] + _PAIRS[pair2]
        return top[0] + low + top[1] + _SUFFIX_CHARS[int(low.translate(_UPPER_BITS)[::-1], 2)]


_now_cache: tuple[int, str] = (0, "")


def sf_datetime(moment: datetime | None = None) -> str:
    """Format a moment the way the REST API does: ``2013-05-20T20:49:32.000+0000``."""
    global _now_cache
    if moment is None:
        # Formatting dominates bulk inserts; "now" only changes once per millisecond.
        ms = time.time_ns() // 1_000_000
        if _now_cache[0] == ms:
            return _now_cache[1]
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"
        _now_cache = (ms, text)
        return text
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
