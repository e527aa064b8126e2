"""Carrying an objection into Salesforce at once (GDPR art. 21(3), 7(3)).

The durable objection in local state (:mod:`connector.gdpr.objection`) reaches a record only
when a later run maps a row for it; a Contact staff made by hand, or one whose student left the
export, would never change. So ``sis-sync object --apply`` also marks the records themselves:

1. the person's records are found where local state links them (the person mappings' records)
   and in Salesforce by the external ids and e-mail fields of the person mappings
   (:func:`connector.gdpr.person_lookup.find_in_salesforce`, escaped SOQL), so a lost state or a
   staff-made Contact is reached too;
2. one query per object reads the objected purposes' opt-out fields the object has (from its
   describe: ``HasOptedOutOfEmail`` exists on Contact and Lead, not on a custom object) and its
   ``IndividualId``; the Individuals linked there are read for ``HasOptedOutSolicit`` ("Don't
   Solicit", Object Reference: Individual), where the org has that object;
3. only the fields not yet true are updated (sObject Collections, one call per object): a second
   ``object --apply`` changes nothing and a receipt counts what really changed.

Opt-outs are one-way: nothing here ever sends false. Values read are flags and Ids only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce import format_soql

from connector.state import PersonRow, StateStore

INDIVIDUAL = "Individual"
SOLICIT = "HasOptedOutSolicit"
INDIVIDUAL_ID = "IndividualId"


@dataclass(slots=True)
class Marks:
    """What marking the records takes: ``found`` records per object, ``updates`` object → rows
    (``Id`` and the flags to set true), ``fields`` object → the flags it has."""

    found: Counter[str] = field(default_factory=Counter)
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def changes(self) -> dict[str, int]:
        """Records to change (or changed) per object."""
        return {obj: len(rows) for obj, rows in self.updates.items() if rows}


def local_targets(
    store: StateStore, project: Any, persons: Iterable[PersonRow]
) -> list[tuple[str, str]]:
    """(object, Salesforce Id) of the person-mapping records local state links to ``persons``."""
    out: list[tuple[str, str]] = []
    for person in persons:
        for row in store.person_records(person.person_id):
            spec = project.mappings.get(row.mapping)
            if spec is not None and spec.identity is not None and row.sf_id:
                out.append((row.object, row.sf_id))
    return out


def _ids_query(obj: str, cols: Sequence[str], ids: Sequence[str]) -> str:
    # Object and field names come from validated mappings and describes; Ids are escaped.
    text = f"SELECT {', '.join(cols)} FROM {obj} WHERE Id IN {{ids}}"  # noqa: S608
    return format_soql(text, ids=list(ids))


def plan_marks(writer: Any, targets: Iterable[tuple[str, str]], flags: Sequence[str]) -> Marks:
    """Read the targets' flags and Individuals (queries only) and plan what to set true.

    Args:
        writer: The Salesforce writer (``query``, ``describer``).
        targets: (object, Id) of the person's records.
        flags: The objected purposes' opt-out fields (set where the object has them).
    """
    by_object: dict[str, list[str]] = {}
    for obj, sf_id in targets:
        ids = by_object.setdefault(obj, [])
        if sf_id not in ids:
            ids.append(sf_id)
    marks = Marks()
    individual = writer.describer.fields(INDIVIDUAL) or {}
    solicit = SOLICIT in individual
    individuals: list[str] = []
    for obj, ids in by_object.items():
        described = writer.describer.fields(obj) or {}
        have = tuple(f for f in flags if f in described)
        linked = solicit and INDIVIDUAL_ID in described
        marks.fields[obj] = have
        cols = ["Id", *have, *([INDIVIDUAL_ID] if linked else [])]
        for rec in writer.query(_ids_query(obj, cols, ids)):
            marks.found[obj] += 1
            change = {f: True for f in have if rec.get(f) is not True}
            if change:
                marks.updates.setdefault(obj, []).append({"Id": rec["Id"], **change})
            if linked and rec.get(INDIVIDUAL_ID) and rec[INDIVIDUAL_ID] not in individuals:
                individuals.append(str(rec[INDIVIDUAL_ID]))
    if individuals:
        marks.fields[INDIVIDUAL] = (SOLICIT,)
        for rec in writer.query(_ids_query(INDIVIDUAL, ["Id", SOLICIT], individuals)):
            marks.found[INDIVIDUAL] += 1
            if rec.get(SOLICIT) is not True:
                marks.updates.setdefault(INDIVIDUAL, []).append({"Id": rec["Id"], SOLICIT: True})
    return marks


def apply_marks(writer: Any, marks: Marks) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Send the planned updates (collections, one call per object).

    Returns:
        (records changed per object, [(object, error code)] of the refused ones).
    """
    changed: dict[str, int] = {}
    failed: list[tuple[str, str]] = []
    for obj, rows in marks.updates.items():
        for result in writer.update(obj, rows, bulk=False):
            if result.ok:
                changed[obj] = changed.get(obj, 0) + 1
            else:
                failed.append((obj, result.error_code or "FAILED"))
    return changed, failed


def flags_set(marks: Marks) -> Mapping[str, tuple[str, ...]]:
    """Object → the flags the objection sets there (for the receipt's notes)."""
    return {obj: have for obj, have in marks.fields.items() if have}
