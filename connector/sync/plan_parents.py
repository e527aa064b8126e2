"""The planner's rules for parent records: lookups by parent key, and parents missing on purpose.

Part of the pure planning stage (``plan.py``: :class:`~connector.sync.plan.Planner` mixes
these in): no store, no I/O. A record that refers to a parent mapping's record (a
registration to its event and its person) gets the parent's Salesforce id from the batch's
state; a parent that is not in Salesforce rejects the record, unless it is missing on purpose
(purged for retention, or withheld by the privacy policy): then the record is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connector.mapping.compile import CompiledMapping
from connector.sync.batch_state import BatchState

if TYPE_CHECKING:  # plan.py imports this module: its types only for the checker
    from connector.sync.plan import Item

# Why a record was skipped (run report, ``left_alone``): its parent was purged for retention.
PARENT_PURGED = "parent purged (retention)"
# … or its parent was never written because the privacy policy withholds it (not justified,
# e.g. a student whose retention ran out before the first sync): the same case, not an error.
PARENT_WITHHELD = "parent withheld (privacy policy)"


class ParentRules:
    """Parent-record rules of :class:`~connector.sync.plan.Planner`.

    The planner sets these attributes; the methods only read them.
    """

    compiled: dict[str, CompiledMapping]
    planned: dict[str, set[str]]  # dry run: key hashes a parent mapping would create

    def _parent_left_out(
        self, refs: dict[str, tuple[str, str]], parents: dict[tuple[str, str], str],
        state: BatchState,
    ) -> str | None:  # fmt: skip
        """Why a parent the record needs is missing on purpose (:data:`PARENT_PURGED`: the
        retention purge deleted it; :data:`PARENT_WITHHELD`: the policy did not write it this
        run), or None: every parent is there, or one is missing for a real problem (its row was
        rejected, Salesforce refused it, no row has its key) and the record is rejected."""
        if not state.purged_parents and not state.withheld_parents:
            return None
        for parent, key in refs.values():
            if (parent, key) in parents:
                continue
            wanted = (parent, self.compiled[parent].hash_key(key))
            if wanted in state.purged_parents:
                return PARENT_PURGED
            if wanted in state.withheld_parents:
                return PARENT_WITHHELD
        return None

    @staticmethod
    def _resolve_refs(
        refs: dict[str, tuple[str, str]],
        parents: dict[tuple[str, str], str],
        payload: dict[str, Any],
        contacts: dict[tuple[str, str], str] | None = None,
        contact_refs: frozenset[str] = frozenset(),
    ) -> tuple[str, str] | None:
        """Put the parents' Salesforce ids into the payload; a missing parent rejects the row.

        A field in ``contact_refs`` gets the person account's ``PersonContactId`` instead of
        its Account id (CampaignMember.ContactId and Task.WhoId take only a Contact)."""
        for fld, (parent, parent_key) in refs.items():
            if fld in contact_refs:
                sf_id = (contacts or {}).get((parent, parent_key))
                if sf_id is None and (parent, parent_key) not in parents:
                    # No person account at all (its row was rejected, Salesforce refused it):
                    # the next run does not mend that by itself, unlike a contact not read yet.
                    return fld, f"parent record of mapping {parent!r} is not in Salesforce"
                if sf_id is None:
                    return fld, f"person contact of mapping {parent!r} is not known yet"
                payload[fld] = sf_id
                continue
            sf_id = parents.get((parent, parent_key))
            if sf_id is None:
                return fld, f"parent record of mapping {parent!r} is not in Salesforce"
            payload[fld] = sf_id
        return None

    def _parents(
        self, items: Sequence[Item], state: BatchState, *, contacts: bool = False
    ) -> dict[tuple[str, str], str]:
        """(parent mapping, parent key) → Salesforce id for the refs of ``items`` (with
        ``contacts``: the person contact ids of person-account parents)."""
        found: dict[tuple[str, str], str] = {}
        ids = state.parent_contacts if contacts else state.parent_ids
        for it in items:
            for parent, key in it.res.refs.values():
                key_hash = self.compiled[parent].hash_key(key)
                sf_id = ids.get((parent, key_hash))
                if sf_id is None and key_hash in self.planned.get(parent, ()):
                    sf_id = "(new)"  # a dry run never creates the parents: count on them
                if sf_id is not None:
                    found[(parent, key)] = sf_id
        return found
