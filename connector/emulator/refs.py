"""Parent references by external id in writes: ``{"LearningProgram": {"Crebo__c": "25604"}}`` in
JSON and a ``LearningProgram.Crebo__c`` column in Bulk 2.0 CSV.

"You can use external ID fields as a foreign key, which lets you create, update, or upsert
records ... by matching the parent record's external ID" — Insert or Update (Upsert) a Record
Using an External ID, REST API Developer Guide,
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm
and, for CSV, "RelationshipName.IndexedFieldName" column headers — Bulk API 2.0 Developer Guide,
Relationship Fields in a Header Row,
https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_csv_rel_field_header_row.htm
A polymorphic lookup (``Who``) needs ``attributes.type`` in JSON; its CSV form is not emulated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.emulator.org_schema import FieldDef, ObjectDef, Schema
from connector.emulator.wire import RecordError

# (object, field, value) → ids of live records of ``object`` whose external id matches.
Finder = Callable[[ObjectDef, str, Any], list[str]]


def relationship_field(obj: ObjectDef, rel: str) -> FieldDef | None:
    """The lookup whose relationship name is ``rel`` (``Account`` → ``AccountId``)."""
    for f in obj.fields.values():
        if f.type != "reference":
            continue
        name = f.name[:-2] if f.name.endswith("Id") else f.name.replace("__c", "__r")
        if name.lower() == rel.lower():
            return f
    return None


def _invalid(message: str, name: str) -> RecordError:
    return RecordError("INVALID_FIELD", message, [name])


def resolver(
    schema: Schema, obj: ObjectDef, f: FieldDef, column_field: str | None, find: Finder
) -> Callable[[Any], str]:
    """A converter from a parent reference to the parent's id.

    ``column_field`` is the external id named in a CSV header; JSON names it inside the value.
    Messages leave out the value (it may be a person's number).
    """

    def resolve(value: Any) -> str:
        if column_field is not None:
            parent_name = f.reference_to[0] if len(f.reference_to) == 1 else None
            ext, key = column_field, value
        else:
            if not isinstance(value, dict):
                raise _invalid(f"Cannot deserialize the value of {f.name}'s relationship", f.name)
            attrs = value.get("attributes")
            if not isinstance(attrs, dict):
                attrs = {}
            parent_name = attrs.get("type") or (
                f.reference_to[0] if len(f.reference_to) == 1 else None
            )
            keys = [k for k in value if k != "attributes"]
            if len(keys) != 1:
                raise _invalid(
                    f"A foreign key reference of {f.name} names exactly one external ID field",
                    f.name,
                )
            ext, key = keys[0], value[keys[0]]
        parent = schema.get(parent_name) if parent_name else None
        if parent is None or parent.name not in f.reference_to:
            raise _invalid(f"Polymorphic key {f.name} needs attributes.type", f.name)
        pf = parent.field(ext)
        if pf is None or not (pf.external_id or pf.name == "Id"):
            raise _invalid(
                f"Field {ext} is not an external ID or indexed field of {parent.name}", f.name
            )
        if key in (None, ""):
            raise _invalid(f"Foreign key external ID of {f.name} is empty", f.name)
        ids = find(parent, pf.name, key)
        if not ids:
            raise _invalid(
                f"Foreign key external ID: (value) not found for field {pf.name} in entity "
                f"{parent.name}",
                f.name,
            )
        if len(ids) > 1:
            # [unverified] code and wording for several parents with the same external id.
            raise RecordError(
                "DUPLICATE_EXTERNAL_ID",
                f"Foreign key external ID for field {pf.name} in entity {parent.name} matches "
                "more than one record",
                [f.name],
            )
        return ids[0]

    return resolve
