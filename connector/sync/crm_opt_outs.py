"""Opt-outs the CRM holds, read for the records a batch would opt in again (DESIGN §6).

The CRM owns opt-outs: a sync never sends ``false`` to an opt-out field, so an opt-out staff
set survives every run. When a row brings an explicit opt-in with proof (an active consent)
for a purpose whose ``consent: {opt_out: FIELD}`` the CRM holds ``true``, that is a conflict
for staff: reported (reason code ``opt_out_conflict``, file and line, never a value), and the
opt-out is lifted only where the purpose says ``opt_in_lifts_opt_out: true`` *and* the
opt-in is newer than the record's last change in Salesforce (``LastModifiedDate``, a system
field every object has: an opt-in dated before it may be older than the opt-out, so it only
raises the conflict).

:func:`read_crm_opt_outs` is the I/O (one SOQL query per 200 records, only for the few mapped
rows of known persons that carry an opt-in not yet written to that record); the rest is pure.

Which opt-ins are new: a record written with an opt-in the CRM did not contradict keeps, in its
state field hashes, ``+FIELD`` (:func:`sent_key`) → a keyed hash of that opt-in (its purposes and
capture moments). A row whose opt-in still has that hash brings nothing the CRM has not seen:
an opt-out set since is staff's newer word, not a conflict, and no read is made (a nightly run
of changed phone numbers asks the CRM nothing). A new opt-in (another capture moment, or one
after a withdrawal) reads; a conflict keeps no mark, so the row is read and reported again each
run until staff settle it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

OPT_OUT_CONFLICT = "opt_out_conflict"
CONFLICT_TEXT = (
    f"{OPT_OUT_CONFLICT}: the source has a newer opt-in with proof but the CRM holds the "
    "opt-out; staff decide (kept)"
)
#: Ids per query: 200 fifteen-to-eighteen-character ids keep the SOQL well under its length
#: limit (100,000 characters, "SOQL and SOSL Limits").
CHUNK = 200
#: Prefix of the field-hash keys that mark an opt-in written to a record (no Salesforce field
#: name holds "+"; beside RECORD "*" and SOURCE "#").
OPT_IN_SENT = "+"


def sent_key(field: str) -> str:
    """The field-hash key marking the opt-in written behind opt-out field ``field``."""
    return OPT_IN_SENT + field


@dataclass(frozen=True, slots=True)
class CrmOptOut:
    """What Salesforce holds of one record: the opt-out fields set to true, its last change."""

    fields: frozenset[str]
    modified: datetime | None


class Querier(Protocol):
    """Anything with the Writer's ``query`` (SOQL → records without ``attributes``)."""

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Yield the records of a SOQL query."""
        ...


def _moment(text: object) -> datetime | None:
    """A Salesforce dateTime (``2025-03-01T09:30:00.000+0000``) as an aware datetime."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_crm_opt_outs(
    querier: Querier, obj: str, wanted: Mapping[str, frozenset[str]]
) -> dict[str, CrmOptOut]:
    """Salesforce id → the opt-out fields (of those asked for) that are true there.

    ``wanted`` maps Salesforce ids to the opt-out fields to read; ids are Salesforce's own
    (checked to be alphanumeric before they go into the query), field names come from the
    validated purposes.
    """
    fields = sorted({f for fs in wanted.values() for f in fs})
    ids = sorted(i for i in wanted if i.isalnum())
    out: dict[str, CrmOptOut] = {}
    if not fields or not ids:
        return out
    select = ", ".join(["Id", "LastModifiedDate", *fields])
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        # Names from validated purposes and mappings; ids checked alphanumeric above.
        in_list = ", ".join(f"'{i}'" for i in chunk)
        soql = f"SELECT {select} FROM {obj} WHERE Id IN ({in_list})"  # noqa: S608
        for rec in querier.query(soql):
            sf_id = str(rec.get("Id") or "")
            on = frozenset(f for f in wanted.get(sf_id, fields) if rec.get(f) is True)
            out[sf_id] = CrmOptOut(on, _moment(rec.get("LastModifiedDate")))
    return out
