"""The planner's retention rules without a database (GDPR art. 5(1)(c),(e)).

Fields the retention purge cleared stay out of the writes while the source row is the one last
written; a record Salesforce holds is still written when only a retention withholds its
required fields; a new record only expired purposes justify is not created.
"""

from __future__ import annotations

import json
from dataclasses import replace

from test_sync_planner import HASHER, items, planner, registration

from connector.privacy.policy import RETENTION_EXPIRED
from connector.state.rows import PURGE_CLEARED, KnownRow
from connector.sync.batch_state import BatchState
from connector.sync.diff import diff
from connector.sync.plan import Item
from connector.sync.source_content import SOURCE, ContentHasher

CLEARED = ("FirstName", "LeadSource")


def _after_purge(it: Item) -> KnownRow:
    """What state holds after a write of ``it`` and a purge that cleared ``CLEARED``."""
    payload, clear, token = planner("registrants").outcome(it)
    hashes = diff(payload, clear, None, HASHER.value, token).hashes
    hashes.update(dict.fromkeys(CLEARED, ""))
    hashes[SOURCE] = ContentHasher(HASHER).of(it.rec)
    hashes[PURGE_CLEARED] = ",".join(CLEARED)
    hashes["*"] = "an older record hash: the mapping was edited since"
    return KnownRow("003X", 7, hashes, False)


def test_fields_the_purge_cleared_stay_out_while_the_row_is_the_same() -> None:
    [it] = items("registrants", [registration("R-1", "a@b.example")])
    known = _after_purge(it)
    plan = planner("registrants").plan([it], BatchState(known={it.res.key_hash: known}))
    # Nothing but the cleared fields would differ: nothing to write (not "update" them back).
    assert plan.writes == [] and len(plan.unchanged) == 1


def test_a_new_source_row_brings_them_back_and_drops_the_mark() -> None:
    [it] = items("registrants", [registration("R-1", "a@b.example")])
    known = _after_purge(it)
    row = dict(registration("R-1", "a@b.example"), voornaam="Daniël")
    [changed] = items("registrants", [row])
    [w] = planner("registrants").plan([changed], BatchState(known={it.res.key_hash: known})).writes
    assert w.row["FirstName"] == "Daniël" and w.row["LeadSource"] == "Open dag"
    assert PURGE_CLEARED not in json.loads(w.hashes)


def _expired(it: Item) -> Item:
    """``it`` as the policy decides it after its event's retention ran out."""
    d = it.decision
    kept = {"SIS_Sync_Key__c", "CampaignId", "ContactId"}  # external id and references
    gone = {f: RETENTION_EXPIRED for f in d.payload if f not in kept}
    payload = {f: v for f, v in d.payload.items() if f not in gone}
    return replace(it, decision=replace(d, payload=payload, withheld={**d.withheld, **gone}))


def test_a_new_record_only_expired_purposes_justify_is_not_created() -> None:
    [it] = items("registrants", [registration("R-1", "a@b.example")])
    plan = planner("registrants").plan([_expired(it)], BatchState())
    assert (plan.not_justified, plan.writes, plan.rejects) == (1, [], [])


def test_a_known_record_is_written_though_retention_withholds_its_required_fields() -> None:
    [it] = items("registrants", [registration("R-1", "a@b.example")])
    payload, clear, _ = planner("registrants").outcome(it)
    hashes = diff(payload, clear, None, HASHER.value, "old").hashes
    known = KnownRow("003X", 7, hashes, False)
    expired = _expired(it)
    plan = planner("registrants").plan([expired], BatchState(known={it.res.key_hash: known}))
    assert plan.not_justified == 0 and len(plan.writes) + len(plan.unchanged) == 1
    # Nothing cleared by the sync: the purge clears (audited) and keeps LastName and Email.
    for w in plan.writes:
        assert not {"LastName", "Email", "FirstName"} & w.row.keys(), w.row


def test_a_new_membership_only_expired_purposes_justify_is_skipped_not_rejected() -> None:
    # CampaignMember: its required fields are the parent references, always sent; its Status
    # is withheld by the retention, and its parent Contact was not created either.
    [it] = items("registrations", [registration("R-1", "a@b.example")])
    plan = planner("registrations").plan([_expired(it)], BatchState())
    assert (plan.not_justified, plan.writes, plan.rejects) == (1, [], [])
