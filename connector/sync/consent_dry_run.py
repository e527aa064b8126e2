"""The consent stage of ``sis-sync plan``: counts the consent records a run would write.

A plan's counts are the run's counts (issue #12): where the run writes an ``Individual`` and a
``ContactPointTypeConsent`` per person and consent purpose (``consent_stage.py``), the plan
reports them under the same names (``consent:individual``, ``consent:<purpose>``), created or
updated, from the same entries and the same field hashes state remembers. It writes nothing
and makes no Salesforce call:

* a record's consents belong to the Contact its write goes to, as in the run (state then holds
  that Contact's Id under the record's key): a registrant who joins a student's Contact (by
  student number or e-mail) shares the student's Individual and consents. A Contact the plan
  would create has no Id yet: it stands in as ``planned:person:<id>`` for a person the plan
  creates (the id :class:`~connector.sync.batch_state.PlannedPersons` gave it), so every
  mapping that reaches that person counts one Individual, not one each;
* the consent records the plan counts are remembered for the rest of the plan
  (:class:`PlannedRecords`, shared by the run's mappings): a later mapping's consent for the same
  Contact and purpose is then an update, or nothing when it is the same or an older proof,
  as the run decides against the state its earlier mapping wrote;
* a person-account mapping counts the same records (its person record is the Account; the
  link it would write is ``Account.PersonIndividualId``, which the plan does not count apart);
* the plan cannot ask the org whether it has Salesforce's consent objects (describe is a call):
  it counts them as an org that has them receives them. In an org without them the run writes
  the consent fields only, and its counts have no ``consent:*`` lines (docs/privacy.md).
"""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from connector.salesforce.consent_objects import CONSENT, INDIVIDUAL
from connector.state import StateStore
from connector.state.rows import KnownRow, SourceSeen
from connector.sync.background import Background
from connector.sync.batch_state import PlannedPersons
from connector.sync.consent_records import INDIVIDUALS, state_name
from connector.sync.consent_stage import ConsentStage
from connector.sync.consent_writes import Chunk
from connector.sync.plan import Write

PLANNED = "planned:"  # the stand-in Id of a Contact the plan would create
NEW = "(new)"  # the Id plan.py gives a person the plan creates (batch_state.PlannedPersons)


@dataclass
class PlannedRecords:
    """Dry run only: the consent records the plan counted so far, as state would remember them
    after the run wrote them (synced-row name → key → row); shared by a plan's mappings."""

    rows: dict[str, dict[str, KnownRow]] = field(default_factory=dict)

    def remember(self, name: str, key: str, sf_id: str, hashes: str) -> None:
        """A record the plan counted as written (its Id a stand-in when it is new)."""
        self.rows.setdefault(name, {})[key] = KnownRow(sf_id, None, json.loads(hashes), False)


class _PlannedStore:
    """State as the run would see it: what the store holds plus the records of
    :class:`PlannedRecords` (only :meth:`known` differs; nothing here writes)."""

    def __init__(self, store: StateStore, planned: PlannedRecords):
        self._store, self._planned = store, planned

    def known(self, mapping: str, key_hashes: Sequence[str]) -> dict[str, KnownRow]:
        """The store's rows, overlaid with the ones the plan counted."""
        out = self._store.known(mapping, key_hashes)
        mine = self._planned.rows.get(mapping, {})
        out.update((k, mine[k]) for k in key_hashes if k in mine)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class PlannedConsents(ConsentStage):
    """A :class:`ConsentStage` that counts instead of writing (construct it with ``org=None``).

    Args:
        *args: As :class:`ConsentStage`.
        persons: The persons the plan creates (the run context's ``planned_persons``).
        records: The consent records the plan counted (the run context's, shared by mappings).
    """

    def __init__(
        self,
        *args: Any,
        persons: PlannedPersons,
        records: PlannedRecords,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.persons, self.records = persons, records
        self.store = cast(StateStore, _PlannedStore(self.store, records))
        self.chunks = Background("plan-consents", inline=True)  # waits on nothing: one thread
        # Record key hash → the Contact its write goes to (the run's state after the write).
        self.targets: dict[str, str] = {}

    def defer(
        self, writes: Sequence[Write], unchanged: Sequence[SourceSeen], held: Container[str]
    ) -> list[SourceSeen]:
        """Note the Contact each written record with consents goes to, then as the run."""
        for w in writes:
            if w.key_hash in held:
                self.targets[w.key_hash] = self._target(w)
        return super().defer(writes, unchanged, held)

    def _target(self, w: Write) -> str:
        """The Contact a write goes to: its Id, or the stand-in of the person it creates."""
        sf_id = w.row.get("Id")
        if isinstance(sf_id, str) and sf_id != NEW:
            return sf_id  # an update by Id: a Contact in Salesforce (another mapping's too)
        if w.person_id is not None:
            # A person the plan creates (negative id) or whose Contact was purged: one new
            # Contact, whichever mapping reaches it.
            return f"{PLANNED}person:{w.person_id}"
        if w.new_person is not None:
            student, email = w.new_person
            row = self.persons.by_student.get(student) if student else None
            row = row or (self.persons.by_email.get(email) if email else None)
            if row is not None:
                return f"{PLANNED}person:{row.person_id}"
        return PLANNED + w.key_hash

    def _contact_ids(self, contact_keys: list[str]) -> dict[str, str]:
        known = super()._contact_ids(contact_keys)
        return {k: self.targets.get(k) or known.get(k) or PLANNED + k for k in contact_keys}

    def _confirm(self, contact_keys: set[str]) -> None:
        """A plan writes no state: nothing is held back to be remembered."""
        self.deferred.clear()

    def _retry_later(self, contact_keys: set[str]) -> None:
        """A plan writes no state: nothing is forgotten either."""

    def _send(self, chunk: Chunk) -> None:
        """Count what the run would write of ``chunk``: created unless state (or this plan)
        knows it; and remember it for the rest of the plan."""
        plan, chunk.retry = chunk.plan, set()
        if plan.individuals:
            rep = self._report(INDIVIDUALS, INDIVIDUAL)
            for w in plan.individuals:
                if w.known_id is None:
                    rep.created += 1
                else:
                    rep.updated += 1
                self.records.remember(INDIVIDUALS, w.key, w.known_id or PLANNED + w.key, w.hashes)
        by_purpose: dict[str, list[str]] = {}
        for c in plan.consents:
            by_purpose.setdefault(c.purpose, []).append(c.key)
        for purpose, keys in by_purpose.items():
            rep = self._report(state_name(purpose), CONSENT)
            known = self.store.known(state_name(purpose), sorted(set(keys)))
            for key in keys:
                if key in known:
                    rep.updated += 1
                else:
                    rep.created += 1
        for c in plan.consents:
            self.records.remember(state_name(c.purpose), c.key, PLANNED + c.key, c.hashes)
