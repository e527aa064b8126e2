"""The graphs of many persons at once, and their deletion in few calls (purge and erasure).

A purge of 10,000 persons used to cost 7 API calls per person: four queries for one person's
graph and three single-object deletes. Here the cost grows with chunks, not persons:

- **Reading.** One ``IN (...)`` list across all persons per child relation (Tasks and Events by
  ``WhoId``, CampaignMembers by ``ContactId``/``LeadId``) and one per object for the records
  known in state (are they still there?), cut so that each query's URI stays under Salesforce's
  limit and sent five queries per API call
  (:mod:`connector.salesforce.query_batch`). ``queryAll`` with ``IsDeleted = false``: archived
  activities are found, the recycle bin is not (see :func:`connector.gdpr.erasure.query_all`).
- **Deleting.** One ``Writer.delete`` per object across all persons (sObject Collections, ≤ 200
  Ids a call, or Bulk API 2.0 above ``bulk_threshold``; DESIGN §7 "Deletes likewise"),
  children before parents. Each person keeps erasure's rule: a person whose child Salesforce
  refused keeps their Contact, so the next attempt still finds the child through it.

Which queries to send and how the answers form each person's graph are pure functions
(:func:`plan_queries`, :func:`assemble_graph`); Salesforce and state are touched only in
:func:`read_graphs` and :func:`delete_many`. Erasing one person is a batch of one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from connector.gdpr.consent_graph import AFTER_PERSONS, add_consent_records
from connector.gdpr.education_graph import add_education_records
from connector.gdpr.erasure import (
    _CHILDREN,
    GONE_CODES,
    PERSON_OBJECTS,
    ChildKeys,
    ErasureResult,
    Graph,
    GraphItem,
)
from connector.privacy.person_objects import OWNER_OBJECTS, education_rank
from connector.salesforce.query_batch import URI_BUDGET, in_list_queries
from connector.state import PersonRow, StateStore, SyncedRow

_ID_KEY = 15  # the case-sensitive part of a Salesforce Id: 15- and 18-character forms match


@dataclass(frozen=True, slots=True)
class GraphQuery:
    """A query of a graph read: children of owners (``child``) or records still held (``live``)."""

    kind: Literal["child", "live"]
    obj: str
    relation: str  # the field the IN list filters on (WhoId, ContactId, LeadId, Id)
    soql: str


def owner_ids(person: PersonRow, rows: Sequence[SyncedRow]) -> dict[str, list[str]]:
    """Salesforce ids of a person's own records per person object (Contact, Lead). Pure."""
    out: dict[str, list[str]] = {}
    for row in rows:
        if row.object in PERSON_OBJECTS and row.sf_id:
            out.setdefault(row.object, []).append(row.sf_id)
    if person.sf_id and person.sf_id not in {i for ids in out.values() for i in ids}:
        out.setdefault("Contact", []).append(person.sf_id)
    return {o: list(dict.fromkeys(ids)) for o, ids in out.items()}


def plan_queries(
    owners: Iterable[dict[str, list[str]]],
    state_ids: dict[str, list[str]],
    fields_of: Any,
    *,
    budget: int = URI_BUDGET,
) -> list[GraphQuery]:
    """Every query a graph read needs, for all persons together. Pure.

    Args:
        owners: Per person, :func:`owner_ids`.
        state_ids: Object → Salesforce ids of the records state links to the persons.
        fields_of: ``obj → list of external-id fields`` to read (``ChildKeys.fields``).
        budget: URI bytes per query (Salesforce's limit less a margin).
    """
    contacts: dict[str, None] = {}
    leads: dict[str, None] = {}
    for own in owners:
        contacts.update(dict.fromkeys(own.get("Contact", [])))
        leads.update(dict.fromkeys(own.get("Lead", [])))
    out: list[GraphQuery] = []
    for obj, relation in _CHILDREN:
        ids = list(leads) if relation == "LeadId" else list(contacts)
        if relation == "WhoId":
            ids += list(leads)
        if not ids:
            continue
        out.extend(_queries("child", obj, relation, [relation, *fields_of(obj)], ids, budget))
    for obj, ids in state_ids.items():
        out.extend(_queries("live", obj, "Id", [], list(dict.fromkeys(ids)), budget))
    return out


def _queries(
    kind: Literal["child", "live"],
    obj: str,
    relation: str,
    fields: Sequence[str],
    ids: Sequence[str],
    budget: int,
) -> list[GraphQuery]:
    cols = ", ".join(dict.fromkeys(["Id", *fields]))
    # Object and field names come from validated mappings and constants; the ids are escaped.
    # queryAll finds archived Tasks/Events; IsDeleted = false leaves the recycle bin out.
    template = f"SELECT {cols} FROM {obj} WHERE {relation} IN {{ids}} AND IsDeleted = false"  # noqa: S608
    return [
        GraphQuery(kind, obj, relation, soql)
        for soql in in_list_queries(template, ids, budget=budget)
    ]


def assemble_graph(
    person: PersonRow,
    rows: Sequence[SyncedRow],
    children: Sequence[GraphItem],
    live: set[str],
) -> Graph:
    """One person's graph in deletion order: children, other records, person records. Pure.

    Args:
        person: The person.
        rows: The records state links to them.
        children: Their children found in Salesforce, in query order (duplicates allowed).
        live: Ids (15-character form) of records Salesforce still holds.
    """
    seen: set[str] = set()
    kids: list[GraphItem] = []
    for child in children:
        if child.sf_id not in seen:
            seen.add(child.sf_id)
            kids.append(child)
    own: dict[str, GraphItem] = {}
    for row in rows:
        if not row.sf_id or row.sf_id in seen:
            continue
        if row.sf_id in own:  # one Contact that several mappings write (student + registrant)
            first = own[row.sf_id]
            own[row.sf_id] = replace(first, via=f"{first.via}, {row.mapping}")
        else:
            own[row.sf_id] = GraphItem(
                row.object, row.sf_id, row.mapping, row.mapping, row.key_hash
            )
    mine = [i if i.sf_id[:_ID_KEY] in live else replace(i, exists=False) for i in own.values()]
    # Children first, then other records known in state, then the person records themselves.
    mine.sort(key=lambda i: i.object in PERSON_OBJECTS)
    return Graph(person, kids + mine, list(rows))


def read_graphs(
    store: StateStore, writer: Any, keys: ChildKeys, persons: Sequence[PersonRow]
) -> dict[int, Graph]:
    """The graphs of ``persons`` (person id → graph) from state and Salesforce, queries only.

    The Salesforce calls grow with the number of query chunks (about 590 Ids each, five
    queries per call), not with the number of persons.
    """
    rows = {p.person_id: store.person_records(p.person_id) for p in persons}
    owners = {p.person_id: owner_ids(p, rows[p.person_id]) for p in persons}
    for p in persons:
        # A person account's children that take a Contact (CampaignMember.ContactId, Task.WhoId)
        # point at its PersonContactId, which state keeps beside the Account id
        # (connector/state/person_contacts.py).
        for row in rows[p.person_id]:
            if row.object == "Account" and row.sf_id:
                found_contact = store.person_contact_ids(row.mapping, [row.key_hash])
                owners[p.person_id].setdefault("Contact", []).extend(found_contact.values())
    by_owner: dict[str, list[int]] = {}
    for person_id, own in owners.items():
        for ids in own.values():
            for sf_id in ids:
                by_owner.setdefault(sf_id[:_ID_KEY], []).append(person_id)
    state_ids: dict[str, list[str]] = {}
    for person_rows in rows.values():
        for row in person_rows:
            if row.sf_id:
                state_ids.setdefault(row.object, []).append(row.sf_id)
    queries = plan_queries(owners.values(), state_ids, keys.fields)
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    live: set[str] = set()
    if queries:
        for index, record in writer.query_many([q.soql for q in queries], include_deleted=True):
            q = queries[index]
            if q.kind == "live":
                live.add(str(record["Id"])[:_ID_KEY])
            else:
                found.setdefault((q.obj, q.relation), []).append(record)
    children: dict[int, list[GraphItem]] = {}
    for obj, relation in _CHILDREN:  # the order children are deleted in
        records = found.get((obj, relation), [])
        resolved = keys.resolve_many(obj, records) if records else {}
        for record in records:
            sf_id = str(record["Id"])
            mapping, kh = resolved.get(sf_id, (None, None))
            item = GraphItem(obj, sf_id, mapping or f"{obj}.{relation}", mapping, kh)
            for person_id in by_owner.get(str(record.get(relation) or "")[:_ID_KEY], []):
                children.setdefault(person_id, []).append(item)
    graphs = {
        p.person_id: assemble_graph(p, rows[p.person_id], children.get(p.person_id, []), live)
        for p in persons
    }
    add_consent_records(writer, graphs, owners)  # Individuals, consents (consent_graph.py)
    add_education_records(writer, keys, graphs, owners)  # EDA, Education Cloud (education_graph)
    return graphs


def _object_order(units: Sequence[Sequence[GraphItem]]) -> list[str]:
    """Objects in deletion order: children as erasure lists them, other objects as they come,
    person objects last (a child must go before the parent it hangs on)."""
    seen: list[str] = []
    for items in units:
        for item in items:
            if item.object not in seen:
                seen.append(item.object)
    rank = {obj: n for n, (obj, _) in reversed(list(enumerate(_CHILDREN)))}
    return sorted(
        seen,
        key=lambda o: (
            o in AFTER_PERSONS,
            o in PERSON_OBJECTS or o in OWNER_OBJECTS,
            education_rank(o),
            rank.get(o, len(rank)),
        ),
    )


def in_deletion_order(items: Sequence[GraphItem]) -> list[GraphItem]:
    """``items`` (one person's graph) in the order :func:`delete_many` deletes them: object by
    object as :func:`_object_order` ranks them, the records of one object as listed. Pure; for
    showing a graph (the erase preview), which lists education children and an EDA
    Administrative Account in the order they were found."""
    rank = {obj: n for n, obj in enumerate(_object_order([items]))}
    return sorted(items, key=lambda i: rank[i.object])


def delete_many(
    writer: Any,
    units: Sequence[Sequence[GraphItem]],
    *,
    hard: bool = False,
    results: Sequence[ErasureResult] | None = None,
) -> list[ErasureResult]:
    """Delete the items of every unit (a person's graph), one ``Writer.delete`` per object.

    Items marked ``exists=False`` and deletes refused with a :data:`GONE_CODES` code count as
    already gone. Children go before person records; a unit with a refused item keeps its
    person records (the next attempt still finds the child through them). An Id in several
    units is sent once and its outcome counted in each.

    Returns:
        One :class:`ErasureResult` per unit, in order (``results`` filled in when given).
    """
    out = list(results) if results is not None else [ErasureResult() for _ in units]
    for unit, items in enumerate(units):
        out[unit].already_gone.extend(i for i in items if not i.exists)
    for obj in _object_order(units):
        holders: dict[str, list[tuple[int, GraphItem]]] = {}
        for unit, items in enumerate(units):
            parent = obj in PERSON_OBJECTS or obj in OWNER_OBJECTS or obj in AFTER_PERSONS
            if parent and out[unit].failed:
                continue  # a child survived: keep its parent, so the next attempt finds it
            for item in items:
                if item.object == obj and item.exists:
                    holders.setdefault(item.sf_id, []).append((unit, item))
        if not holders:
            continue
        outcomes = writer.delete(obj, list(holders), hard=hard)
        for (_, held), res in zip(holders.items(), outcomes, strict=True):
            for unit, item in held:
                if res.ok:
                    out[unit].deleted.append(item)
                elif res.error_code in GONE_CODES:
                    out[unit].already_gone.append(item)
                else:
                    out[unit].failed.append((item, res.error_code or "UNKNOWN"))
    return out
