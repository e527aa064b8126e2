"""What a purged record came from, independent of mappings and code (issue 9.6, art. 5(1)(e)).

A record the retention purge deleted must not come back because a mapping or the connector
changed — only for new source data or a new anchor (another event, another status). The
record hash (``field_hashes["*"]``) covers the mapped payload, so any mapping edit changes it;
this keyed hash covers only the source row (key, column names and values), and is kept beside
it as ``field_hashes["#"]`` at every write. A purged record whose row is the same as when it
was last written stays purged. (A row that changed only in columns no field reads after the
last write counts as new data: the record hash did not change, so nothing was written then.)
"""

from __future__ import annotations

import hashlib

from connector.hashing import KeyHasher
from connector.records import SourceRecord

SOURCE = "#"  # beside RECORD ("*"); no Salesforce field is called "#"


class ContentHasher:
    """Keyed hashes of source rows that ignore the project (16 bytes, hex)."""

    __slots__ = ("_key",)

    def __init__(self, hasher: KeyHasher):
        self._key = hasher.derive("source content")

    def of(self, rec: SourceRecord) -> str:
        """The row's hash: equal exactly when key, column names and values are the same."""
        if rec.signature is not None:
            text = rec.key + "\x1d" + rec.signature
        else:
            text = "\x1d".join(("fields", rec.key, repr(tuple(rec.fields.items()))))
        data = text.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, key=self._key, digest_size=16).hexdigest()
