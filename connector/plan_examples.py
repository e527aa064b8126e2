"""What ``sis-sync plan`` may show of a record it would send, and what it must mask.

A plan is for checking a mapping: "does ``IsActive`` get ``true``, does the CampaignMember get
status ``Attended``, is the open day's date right?" Values that are not about a person are
shown as they would be sent; everything else is masked (first character, then asterisks),
because a plan's output lands in terminals, tickets and chat.

A value is shown when it is

- a boolean (``true``/``false`` says nothing about who the person is);
- a constant of the mapping (``value:``), or the result of a ``map`` transform that ends the
  chain: a picklist value from the mapping's own table
  (``Status: {from: scan, transform: [{map: …}]}``);
- any field of a Campaign (an event: its name, type, dates — not a person's data);
- an event date: a field read from the mapping's ``event_date`` column (the day of the open
  day a registration belongs to);
- a reference to the record of a parent mapping that is itself shown, e.g. a CampaignMember's
  ``CampaignId`` (the event), never a ``ContactId``.
- the record type (``RecordTypeId``: the plan shows its DeveloperName, it makes no call);
- a ``lookup:`` value: the external id of an org record (a programme's crebo), sent under the
  relationship key (``LearningProgramPlan.Crebo__c``) — unless the lookup points at a person
  (a Contact, Lead, User, Individual, or an Account by a person-account ``__pc`` field);
- a field the mapping declares ``personal: false`` (a programme's name from a template).

Everything else is masked: names, e-mail addresses, phone numbers, birth dates, free text,
templates (``"{voornaam} {achternaam}"``), keyed hashes and references to persons. When in
doubt the rule masks: a field is shown only by one of the reasons above.

This module is pure (no I/O): :func:`shown_fields` decides per field from the mapping;
:func:`example_values` renders one record's values with that decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.hashing import mask
from connector.mapping.models import FieldSpec, LookupSpec, MappingSpec
from connector.mapping.project import Project

#: Objects whose records are events or groupings, not persons: all their fields are shown.
EVENT_OBJECTS = frozenset({"Campaign"})

#: Transforms whose output is a value from the mapping's own table (a picklist value).
TABLE_TRANSFORMS = frozenset({"map"})


def _transform_names(f: FieldSpec) -> list[str]:
    names = []
    for item in f.transform:
        if isinstance(item, str):
            names.append(item.partition(":")[0].strip())
        elif isinstance(item, Mapping) and len(item) == 1:
            names.append(str(next(iter(item))))
    return names


def _is_constant(f: FieldSpec) -> bool:
    return f.value is not None and f.from_ is None and f.template is None


def _is_table_value(f: FieldSpec) -> bool:
    # Only when the table has the last word: a transform after it could add source text.
    names = _transform_names(f)
    return f.template is None and bool(names) and names[-1] in TABLE_TRANSFORMS


def _is_event_date(f: FieldSpec, spec: MappingSpec) -> bool:
    return spec.event_date is not None and f.from_ is not None and f.from_ == spec.event_date.from_


#: Objects whose records are persons: a lookup to one of them is masked like a ref to a person.
PERSON_OBJECTS = frozenset({"Contact", "Lead", "User", "Individual"})


def _points_at_person(lookup: LookupSpec) -> bool:
    obj, ext = lookup.object, lookup.external_id
    return obj in PERSON_OBJECTS or (obj == "Account" and ext.lower().endswith("__pc"))


def shown_fields(project: Project, name: str) -> frozenset[str]:
    """The target fields of mapping ``name`` whose values a plan shows as they would be sent.

    Booleans are shown whatever the field (see :func:`example_values`); this set holds the
    fields shown for any value type. Fields not in it are masked.
    """
    spec = project.mappings[name]
    if spec.target.object in EVENT_OBJECTS:
        return frozenset(spec.fields) | {spec.target.external_id}
    shown: set[str] = set()
    if spec.target.record_type or spec.target.person_account:
        shown.add("RecordTypeId")  # "(record type Academic_Program)": org configuration
    sent_as = spec.lookups()
    for field, f in spec.fields.items():
        if f.lookup is not None and not _points_at_person(f.lookup):
            shown.update({field, sent_as.get(field, field)})
        if not f.personal:
            shown.add(field)
        if f.ref is not None:
            parent = project.mappings.get(f.ref.mapping)
            if parent is not None and parent.target.object in EVENT_OBJECTS:
                shown.add(field)
        elif _is_constant(f) or _is_table_value(f) or _is_event_date(f, spec):
            shown.add(field)
    return frozenset(shown)


def example_value(value: Any, shown: bool) -> Any:
    """One value of a plan example: as sent when ``shown`` or a boolean, else masked."""
    if value is None or isinstance(value, bool):
        return value
    if shown:
        return value if isinstance(value, str | int | float | dict | list) else str(value)
    return mask(str(value))


def example_values(row: Mapping[str, Any], shown: frozenset[str]) -> dict[str, Any]:
    """A record's values for a plan example, sorted by field; ``Id`` left out.

    Args:
        row: the values the run would send (target field → value).
        shown: :func:`shown_fields` of the record's mapping.
    """
    return {k: example_value(v, k in shown) for k, v in sorted(row.items()) if k != "Id"}


def generated_external_id_notes(project: Project) -> list[str]:
    """One sentence per mapping whose external id field will hold the keyed hash of the key.

    DESIGN §5: a mapping that does not map its target's external id field sends the keyed hash
    of the record key there (privacy by default). That is right for a ``SIS_Sync_Key__c``; it
    surprises whoever expects the student number in ``SIS_Student_Number__c``. ``validate``
    and ``plan`` print these notes so nobody finds hashes in the org without a word.
    """
    notes = []
    for name in project.order():
        spec = project.mappings[name]
        ext = spec.target.external_id
        if ext in spec.fields:
            continue
        key = ", ".join(spec.key_columns)
        note = (
            f"{name}: {spec.target.object}.{ext} will hold the keyed hash of the key ({key}), "
            f"not the key itself: no field maps {ext} (privacy by default, DESIGN §5)"
        )
        if len(spec.key_columns) == 1:
            note += (
                f"; to send the key as it is, map it: "
                f"`{ext}: {{from: {spec.key_columns[0]}, purposes: [...]}}`"
            )
        notes.append(note)
    return notes
