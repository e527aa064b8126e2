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
   link to its Individual; the Individuals linked there are read for ``HasOptedOutSolicit``
   ("Don't Solicit", Object Reference: Individual), where the org has that object. On a person
   account (an object a ``target.person_account`` mapping writes) the fields are the Account's
   person fields, as the sync writes them (:func:`~connector.mapping.compile.person_account_field`:
   ``PersonHasOptedOutOfEmail``, ``PersonDoNotCall``, a custom ``X__c`` as ``X__pc``), and the
   link is ``PersonIndividualId``: an Account has no ``IndividualId`` (Object Reference,
   Account);
3. only the fields not yet true are updated (sObject Collections, one call per object): a second
   ``object --apply`` changes nothing and a receipt counts what really changed;
4. what was set is read back (:func:`unset_after`): a request is done only when every flag it
   had to set is true. It had to set the opt-out fields the sync itself sends on that object for
   the objected purposes (the person mappings' ``purpose_opt_outs``): one the object's describe
   lacks is reported as ``FIELD_MISSING`` and keeps the request open, never counted as done.

Opt-outs are one-way: nothing here ever sends false. Values read are flags and Ids only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce import format_soql

from connector.mapping.compile import person_account_field
from connector.salesforce.consent_objects import PERSON_ACCOUNT_LINK
from connector.state import PersonRow, StateStore

INDIVIDUAL = "Individual"
SOLICIT = "HasOptedOutSolicit"
INDIVIDUAL_ID = "IndividualId"
#: Error code of a flag the sync sets on an object whose describe lacks it.
FIELD_MISSING = "FIELD_MISSING"
#: Error code of a flag still not true after Salesforce accepted the update.
NOT_SET = "NOT_SET"


@dataclass(frozen=True, slots=True)
class ObjectFlags:
    """What the objection sets on one object: ``flags`` (where its describe has them),
    ``required`` (the opt-outs the sync sends there for the objected purposes: missing from
    the describe, the request cannot be done) and ``link``, its field naming its Individual."""

    flags: tuple[str, ...]
    required: frozenset[str] = frozenset()
    link: str = INDIVIDUAL_ID


def object_flags(
    project: Any, compiled: Mapping[str, Any], purposes: Collection[str], flags: Sequence[str]
) -> dict[str, ObjectFlags]:
    """Object → :class:`ObjectFlags` for every object a person mapping writes.

    Args:
        project: The loaded project (person mappings: ``identity`` set).
        compiled: Mapping name → compiled mapping (``purpose_opt_outs``, already in the
            Account's person names for a ``target.person_account`` mapping).
        purposes: The objected purposes.
        flags: Their opt-out fields as purposes.yaml names them (the Contact's names).
    """
    out: dict[str, ObjectFlags] = {}
    for name, spec in project.mappings.items():
        if spec.identity is None:
            continue
        obj, person = spec.target.object, bool(spec.target.person_account)
        own = {f for p, f in compiled[name].purpose_opt_outs.items() if p in purposes}
        had = out.get(obj)
        if person or (had is not None and had.link == PERSON_ACCOUNT_LINK.field):
            # A person account: Salesforce holds the Contact's fields on the Account as
            # Person…/…__pc, and the Individual behind PersonIndividualId.
            names = tuple(person_account_field(f) for f in flags)
            link = PERSON_ACCOUNT_LINK.field
        else:
            names, link = tuple(flags), INDIVIDUAL_ID
        required = own | (had.required if had is not None else frozenset())
        out[obj] = ObjectFlags(names, frozenset(required), link)
    return out


@dataclass(slots=True)
class Marks:
    """What marking the records takes: ``found`` records per object, ``updates`` object → rows
    (``Id`` and the flags to set true), ``fields`` object → the flags it has, ``missing``
    object → the flags the sync sets there that its describe lacks (found records only)."""

    found: Counter[str] = field(default_factory=Counter)
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)

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


def plan_marks(
    writer: Any,
    targets: Iterable[tuple[str, str]],
    flags: Sequence[str],
    per_object: Mapping[str, ObjectFlags] | None = None,
) -> Marks:
    """Read the targets' flags and Individuals (queries only) and plan what to set true.

    Args:
        writer: The Salesforce writer (``query``, ``describer``).
        targets: (object, Id) of the person's records.
        flags: The objected purposes' opt-out fields (set where the object has them), for an
            object ``per_object`` does not name.
        per_object: Object → its names, required flags and Individual link
            (:func:`object_flags`).
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
        spec = (per_object or {}).get(obj) or ObjectFlags(tuple(flags))
        described = writer.describer.fields(obj) or {}
        have = tuple(f for f in spec.flags if f in described)
        link = spec.link
        linked = solicit and link in described
        marks.fields[obj] = have
        cols = ["Id", *have, *([link] if linked else [])]
        for rec in writer.query(_ids_query(obj, cols, ids)):
            marks.found[obj] += 1
            change = {f: True for f in have if rec.get(f) is not True}
            if change:
                marks.updates.setdefault(obj, []).append({"Id": rec["Id"], **change})
            if linked and rec.get(link) and rec[link] not in individuals:
                individuals.append(str(rec[link]))
        lacking = tuple(sorted(f for f in spec.required if f not in described))
        if lacking and marks.found[obj]:
            marks.missing[obj] = lacking
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


def unset_after(
    writer: Any,
    targets: Iterable[tuple[str, str]],
    flags: Sequence[str],
    per_object: Mapping[str, ObjectFlags] | None = None,
) -> list[tuple[str, str]]:
    """[(object, error code)] of what is still not as the objection needs it, read back after
    :func:`apply_marks` (queries only): ``NOT_SET`` for a record whose flag an accepted update
    did not make true (a trigger or validation that reset it), ``FIELD_MISSING`` for a flag
    the sync sets on the object that its describe lacks. Empty: the request may be done."""
    again = plan_marks(writer, targets, flags, per_object)
    out = [(obj, NOT_SET) for obj, rows in again.updates.items() for _ in rows]
    out += [(obj, FIELD_MISSING) for obj in again.missing]
    return out


def flags_set(marks: Marks) -> Mapping[str, tuple[str, ...]]:
    """Object → the flags the objection sets there (for the receipt's notes)."""
    return {obj: have for obj, have in marks.fields.items() if have}
