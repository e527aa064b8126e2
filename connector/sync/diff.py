"""Diff: what must change in Salesforce for one record, given what was sent before.

Pure functions over field hashes. An unchanged record costs nothing; only changed fields are
sent; a field the policy now withholds but that was sent before is sent as null, so that
minimisation reaches back (DESIGN §6) instead of leaving stale data in the CRM; for a record
state does not know, every withheld field is sent as null (Salesforce may hold the record).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connector.hashing import KeyHasher
from connector.state.rows import RECORD

# RECORD: the key of the whole-record hash kept beside the field hashes. A run sees mostly
# unchanged records: one hash decides that, instead of one per field.

HashValue = Callable[[Any], str]


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


def _hash_all(payload: Mapping[str, Any], hash_value: HashValue | KeyHasher) -> dict[str, str]:
    if isinstance(hash_value, KeyHasher):
        return hash_value.values(payload)  # one loop inside the hasher
    return {name: hash_value(value) for name, value in payload.items()}


def diff(
    payload: Mapping[str, Any],
    withheld: Mapping[str, str],
    previous: Mapping[str, str] | None,
    hash_value: HashValue | KeyHasher,
    record_hash: str | None = None,
) -> Change:
    """Compare the policy's payload with the hashes of what was sent last time.

    Args:
        payload: Fields the policy allows, with their values (``None`` = the source has no value).
        withheld: Fields the policy withholds, with the reason.
        previous: Field → value hash from the last accepted write; ``None`` for a new record.
        hash_value: Keyed hash of one value (``""`` for ``None``), or the
            :class:`~connector.hashing.KeyHasher` itself (faster: its ``values`` hashes a
            whole payload in one loop; the hashes are the same).
        record_hash: Keyed hash of the whole payload and withheld names; when it equals the one
            remembered, nothing changed and no field is hashed.

    Returns:
        The change. For a record state does not know (``previous`` None), empty values are
        not sent, but the withheld fields are sent as null: state may not know a record that
        Salesforce holds (a lost or rebuilt state, a write that landed before a crash), and
        its upsert must leave no field the policy withholds — a withdrawn consent, a phone
        number without one — as it was. On a true create a null sets nothing. Those nulls are
        not counted as cleared (nothing is known to have been there).
    """
    if previous is not None and record_hash is not None and previous.get(RECORD) == record_hash:
        return Change({}, dict(previous), ())
    fresh = _hash_all(payload, hash_value)
    if previous is None:
        send = {name: value for name, value in payload.items() if value is not None}
        send.update(dict.fromkeys(withheld))
        if record_hash is not None:
            fresh[RECORD] = record_hash
        return Change(send, fresh, ())

    hashes = dict(previous)
    if record_hash is not None:
        hashes[RECORD] = record_hash
    get = previous.get
    send = {name: payload[name] for name, h in fresh.items() if get(name, "") != h}
    hashes.update(fresh)
    cleared = []
    for name in withheld:
        if get(name, ""):
            # Sent before, no longer justified: clear it in Salesforce.
            send[name] = None
            hashes[name] = ""
            cleared.append(name)
        else:
            hashes.pop(name, None)
    return Change(send, hashes, tuple(cleared))
