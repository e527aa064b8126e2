"""Every state read of one batch, in a few set-based queries: the planner's only view of state.

The engine asks the :class:`~connector.sync.plan.Planner` what it needs to know
(:class:`StateQuery`, pure), loads it here (:meth:`BatchState.load`, the I/O) and hands the
result back to the planner. So the planner's rules — identity, siblings, clears, suppression,
purged records — are tested with a hand-built ``BatchState`` and no database, and a batch costs
the same handful of indexed statements however large the state is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from connector.state import StateStore
from connector.state.rows import KnownRow, PersonMatches


@dataclass(frozen=True, slots=True)
class StateQuery:
    """What a batch needs to know from state (keyed hashes only).

    Attributes:
        mapping: The mapping being planned.
        keys: The key hashes of the batch's records.
        suppressible: Hashes to test against erasure tombstones (keys, identity hashes,
            parents' key hashes); empty when the store holds no tombstone at all.
        parents: Parent mapping → key hashes whose Salesforce ids the batch's refs need.
        students: Student-number hashes to find persons by (person mappings only).
        emails: E-mail hashes to find persons by (person mappings only).
        persons: True for a mapping that writes persons (it declares ``identity``).
    """

    mapping: str
    keys: Sequence[str]
    suppressible: Sequence[str] = ()
    parents: Mapping[str, Sequence[str]] = field(default_factory=dict)
    students: Sequence[str] = ()
    emails: Sequence[str] = ()
    persons: bool = False


@dataclass(frozen=True, slots=True)
class BatchState:
    """What state holds about one batch.

    Attributes:
        known: Key hash → the record as synced before (field hashes, Salesforce id, person).
        parent_ids: (parent mapping, key hash) → the parent's Salesforce id (purged left out).
        persons: Persons matching the batch's identity hashes; ``None`` for other mappings.
        suppressed: The hashes of the query that an erasure tombstone covers.
    """

    known: Mapping[str, KnownRow] = field(default_factory=dict)
    parent_ids: Mapping[tuple[str, str], str] = field(default_factory=dict)
    persons: PersonMatches | None = None
    suppressed: frozenset[str] = frozenset()

    @classmethod
    def load(cls, store: StateStore, query: StateQuery) -> BatchState:
        """Run the batch's queries: one per question, each over an index (chunked IN lists)."""
        parent_ids: dict[tuple[str, str], str] = {}
        for parent, hashes in query.parents.items():
            for key_hash, sf_id in store.sf_ids(parent, list(hashes)).items():
                parent_ids[(parent, key_hash)] = sf_id
        persons = (
            store.find_persons(student_hashes=list(query.students), email_hashes=list(query.emails))
            if query.persons
            else None
        )
        suppressed = store.suppressed(list(query.suppressible)) if query.suppressible else set()
        return cls(
            known=store.known(query.mapping, list(query.keys)),
            parent_ids=parent_ids,
            persons=persons,
            suppressed=frozenset(suppressed),
        )
