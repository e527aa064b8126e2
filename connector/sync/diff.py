"""Diff: what must change in Salesforce for one record, given what was sent before.

Pure functions over field hashes. An unchanged record costs nothing; only changed fields are
sent; a field the policy now withholds but that was sent before is sent as null, so that
minimisation reaches back (DESIGN §6) instead of leaving stale data in the CRM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connector.state.rows import RECORD

# RECORD: the key of the whole-record hash kept beside the field hashes. A run sees mostly
# unchanged records: one hash decides that, instead of one per field.


@dataclass(frozen=True, slots=True)
class Change:
    """What to send for one record and the field hashes to remember once Salesforce accepts it.

    ``send`` holds changed fields with their values and cleared fields with ``None``;
    ``hashes`` is the complete new field-hash map; ``cleared`` names the fields set to null.
    """

    send: dict[str, Any]
    hashes: dict[str, str]
    cleared: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """True when nothing needs to be sent."""
        return not self.send


def diff(
    payload: Mapping[str, Any],
    withheld: Mapping[str, str],
    previous: Mapping[str, str] | None,
    hash_value: Callable[[Any], str],
    record_hash: str | None = None,
) -> Change:
    """Compare the policy's payload with the hashes of what was sent last time.

    Args:
        payload: Fields the policy allows, with their values (``None`` = the source has no value).
        withheld: Fields the policy withholds, with the reason.
        previous: Field → value hash from the last accepted write; ``None`` for a new record.
        hash_value: Keyed hash of one value (``""`` for ``None``).
        record_hash: Keyed hash of the whole payload and withheld names; when it equals the one
            remembered, nothing changed and no field is hashed.

    Returns:
        The change. For a new record, empty values are not sent (nothing to clear yet).
    """
    if previous is not None and record_hash is not None and previous.get(RECORD) == record_hash:
        return Change({}, dict(previous), ())
    hashes: dict[str, str] = {}
    send: dict[str, Any] = {}
    if previous is None:
        for field, value in payload.items():
            h = hash_value(value)
            hashes[field] = h
            if value is not None:
                send[field] = value
        if record_hash is not None:
            hashes[RECORD] = record_hash
        return Change(send, hashes, ())

    hashes.update(previous)
    if record_hash is not None:
        hashes[RECORD] = record_hash
    for field, value in payload.items():
        h = hash_value(value)
        if previous.get(field, "") != h:
            send[field] = value
        hashes[field] = h
    cleared = []
    for field in withheld:
        if previous.get(field, ""):
            # Sent before, no longer justified: clear it in Salesforce.
            send[field] = None
            hashes[field] = ""
            cleared.append(field)
        else:
            hashes.pop(field, None)
    return Change(send, hashes, tuple(cleared))
