"""``target.mode`` and person-account references, decided in pure code with typed values.

Salesforce has no "update by external id only" call: ``PATCH /sobjects/Obj/ExtField/Value``
and the collections upsert both create a record when none matches ("If the external ID isn't
matched, then a new record is created" — Insert or Update (Upsert) a Record Using an External
ID, REST API Developer Guide,
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm).
So ``update_only`` and ``insert_only`` first learn which external ids exist (state, then one
SOQL query per batch for the rest: :func:`connector.salesforce.existing.existing_ids`), and the
planner asks :func:`decide` per record: update those found by their Id, create or skip the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

UPDATE_ONLY_NO_MATCH = "update_only: no match"
INSERT_ONLY_EXISTS = "insert_only: exists"
# A plan makes no Salesforce call: a record state knows no Id of is matched only by the run.
UPDATE_ONLY_AT_RUN = "update_only: matched at run time"
INSERT_ONLY_AT_RUN = "insert_only: matched at run time"
AT_RUN = {"update_only": UPDATE_ONLY_AT_RUN, "insert_only": INSERT_ONLY_AT_RUN}


class ModeAction(Enum):
    """What a record's mode lets the planner do with a changed record."""

    WRITE = "write"  # as in upsert mode: upsert by external id (or update a known person)
    UPDATE = "update"  # update by Salesforce Id (``ModeDecision.sf_id``)
    SKIP = "skip"  # leave Salesforce alone (``ModeDecision.reason``)


@dataclass(frozen=True, slots=True)
class ModeDecision:
    """The outcome of :func:`decide`."""

    action: ModeAction
    sf_id: str | None = None
    reason: str = ""


WRITE = ModeDecision(ModeAction.WRITE)


def decide(
    mode: str, known_id: str | None, found_id: str | None, *, asked: bool = True
) -> ModeDecision:
    """What ``mode`` allows for one changed record.

    Args:
        mode: ``upsert``, ``update_only`` or ``insert_only`` (``target.mode``).
        known_id: The record's Salesforce id as state knows it (synced before, or its person).
        found_id: The id a query by external id found in the org (records state does not know).
        asked: False in a plan, which asks the org nothing: a record state knows no Id of is
            then left to the run (``AT_RUN``), neither counted as written nor as skipped.
    """
    if mode == "upsert":
        return WRITE
    existing = known_id or found_id
    if existing is None and not asked:
        return ModeDecision(ModeAction.SKIP, reason=AT_RUN[mode])
    if mode == "update_only":
        if existing is None:
            return ModeDecision(ModeAction.SKIP, reason=UPDATE_ONLY_NO_MATCH)
        # By Id, never by external id: an upsert of a record deleted meanwhile would create it.
        return ModeDecision(ModeAction.UPDATE, sf_id=existing)
    if existing is not None:
        return ModeDecision(ModeAction.SKIP, reason=INSERT_ONLY_EXISTS)
    return WRITE


def needs_person_contact(field: str) -> bool:
    """Whether a reference field wants a Contact id, so that a person account's
    ``PersonContactId`` goes there instead of the Account id: ``ContactId`` (CampaignMember),
    ``WhoId`` (Task, Event), ``LearnerContactId`` and custom ``…Contact__c`` lookups.

    "the ID of the corresponding person contact record is stored in the PersonContactId field
    on the person account" — Person Account Record Types, SOAP API Developer Guide,
    https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_guidelines_personaccounts.htm
    """
    return field == "WhoId" or field.endswith(("ContactId", "Contact__c"))
