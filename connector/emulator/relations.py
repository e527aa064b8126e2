"""Relationship queries: child-to-parent paths (``Contact.Account.Name``) and parent-to-child
subqueries (``(SELECT Id FROM CampaignMembers)``), plus the column metadata of ``columns=true``.

The SOQL evaluator works on one object's flat records; this module adds, per record, the value
at the end of each relationship path (under the dotted name) before the evaluator runs, so WHERE,
ORDER BY and SELECT treat a path like any field, then nests the result as Salesforce does:
"the parent is a nested object with its own attributes; a null lookup gives null", and a
subquery gives ``{"totalSize", "done", "records"}`` or null when there are no children —
SOQL Relationship Queries, https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships.htm
"""

from __future__ import annotations

import dataclasses
from typing import Any

from connector.emulator.org_schema import FieldDef, ObjectDef, Schema
from connector.emulator.soql_ast import SoqlError, SoqlQuery

# Standard child relationship names (describe's childRelationships of a real org); custom
# lookups get the child's plural label + "__r", as Salesforce proposes when the field is made.
_STANDARD_CHILDREN = {
    ("Contact", "AccountId"): "Contacts",
    ("CampaignMember", "CampaignId"): "CampaignMembers",
    ("CampaignMember", "ContactId"): "CampaignMembers",
    ("CampaignMember", "LeadId"): "CampaignMembers",
    ("Task", "WhoId"): "Tasks",
    ("Task", "WhatId"): "Tasks",
    ("Event", "WhoId"): "Events",
    ("Event", "WhatId"): "Events",
    ("Campaign", "ParentId"): "ChildCampaigns",
    ("Contact", "IndividualId"): "Contacts",
    ("Lead", "IndividualId"): "Leads",
    ("ContactPointTypeConsent", "PartyId"): "ContactPointTypeConsents",
    ("ContactPointTypeConsent", "DataUsePurposeId"): "ContactPointTypeConsents",
}
_SYSTEM_LOOKUPS = {"OwnerId", "CreatedById", "LastModifiedById", "RecordTypeId"}


def relationship_name(f: FieldDef) -> str | None:
    """The child-to-parent relationship name of a lookup (``AccountId`` → ``Account``)."""
    if f.type != "reference":
        return None
    return f.name[:-2] if f.name.endswith("Id") else f.name.replace("__c", "__r")


def child_relationships(schema: Schema, parent: str) -> list[dict[str, Any]]:
    """Describe's ``childRelationships`` of ``parent``: every lookup that points at it."""
    out = []
    for child in schema.objects.values():
        for f in child.fields.values():
            if parent not in f.reference_to or f.name in _SYSTEM_LOOKUPS:
                continue
            name = f.child_relationship or _STANDARD_CHILDREN.get((child.name, f.name))
            if name is None:
                name = (child.label.replace(" ", "") + "s") + ("__r" if f.custom else "")
            out.append(
                {
                    "childSObject": child.name,
                    "field": f.name,
                    "relationshipName": name,
                    # What deleting the parent does (cascade.py applies it).
                    "cascadeDelete": f.delete_constraint == "Cascade",
                    "restrictedDelete": f.delete_constraint == "Restrict",
                    "deprecatedAndHidden": False,
                }
            )
    return out


def _bad_relationship(name: str) -> SoqlError:
    return SoqlError(
        "INVALID_FIELD",
        f"Didn't understand relationship '{name}' in field path. If you are attempting to use "
        "a custom relationship, be sure to append the '__r' after the custom relationship name. "
        "Please reference your WSDL or the describe call for the appropriate names.",
    )


@dataclasses.dataclass
class Path:
    """A resolved child-to-parent path: the lookups to follow and the field at the end."""

    name: str  # canonical dotted name, e.g. "Contact.Account.Name"
    steps: list[tuple[str, str, str]]  # (lookup field, relationship name, parent object)
    field: FieldDef


def resolve_path(schema: Schema, obj: ObjectDef, dotted: str) -> Path:
    """Resolve ``Rel.Rel.Field`` from ``obj``; INVALID_FIELD for an unknown part."""
    *rels, last = dotted.split(".")
    steps, current, names = [], obj, []
    for rel in rels:
        lookup = next(
            (
                f
                for f in current.fields.values()
                if (relationship_name(f) or "").lower() == rel.lower()
            ),
            None,
        )
        parent = schema.get(lookup.reference_to[0]) if lookup and lookup.reference_to else None
        if lookup is None or parent is None:
            raise _bad_relationship(rel)
        name = relationship_name(lookup) or rel
        steps.append((lookup.name, name, parent.name))
        names.append(name)
        current = parent
    f = current.field(last)
    if f is None:
        raise SoqlError(
            "INVALID_FIELD",
            f"No such column '{last}' on entity '{current.name}'. If you are attempting to use "
            "a custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        )
    return Path(".".join([*names, f.name]), steps, f)


def query_paths(query: SoqlQuery) -> set[str]:
    """Every dotted field name the query mentions (SELECT, WHERE, ORDER BY)."""
    names = {n for n in query.fields if "." in n}
    names |= {item.field for item in query.order_by if "." in item.field}

    def walk(node: Any) -> None:
        if node is None:
            return
        if hasattr(node, "operands"):
            for op in node.operands:
                walk(op)
        elif hasattr(node, "operand"):
            walk(node.operand)
        elif "." in getattr(node, "field", ""):
            names.add(node.field)

    walk(query.where)
    return names


def follow(store: Any, rec: dict[str, Any], path: Path) -> tuple[bool, Any]:
    """(reached, value): the value at the end of ``path`` from ``rec``; reached is False when a
    lookup on the way is empty (the nested parent is then null)."""
    current = rec
    for lookup, _name, _parent in path.steps:
        rid = current.get(lookup)
        nxt = store.get(rid) if rid else None
        if nxt is None or nxt.get("IsDeleted"):
            return False, None
        current = nxt
    return True, current.get(path.field.name)


def nest(flat: dict[str, Any], paths: dict[str, Path], store: Any, rec: dict, version: str):
    """Turn dotted keys of one result row into nested parent objects with ``attributes``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        path = paths.get(key.lower())
        if path is None:
            out[key] = value
            continue
        node = out
        current: dict[str, Any] | None = rec
        for depth, (lookup, name, parent) in enumerate(path.steps):
            rid = current.get(lookup) if current is not None else None
            current = store.get(rid) if rid else None
            if current is None or current.get("IsDeleted"):
                node.setdefault(name, None)
                break
            child = node.get(name)
            if child is None:
                url = f"/services/data/{version}/sobjects/{parent}/{current['Id']}"
                child = node[name] = {"attributes": {"type": parent, "url": url}}
            node = child
            if depth == len(path.steps) - 1:
                node[path.field.name] = value
    return out


def column_metadata(schema: Schema, obj: ObjectDef, query: SoqlQuery) -> dict[str, Any]:
    """The ``columns=true`` answer of ``GET /query``: what each selected column is.

    Not in the REST reference; its shape is what real orgs send and what ``sf data query``
    reads (``columnName``, ``joinColumns`` for parents, ``aggregate`` for subqueries).
    """

    def column(
        f: FieldDef | None, name: str, *, aggregate: bool = False, joins: list | None = None
    ):
        typ = f.type if f else ""
        return {
            "aggregate": aggregate,
            "apexType": None if f is None else _APEX.get(typ, "String"),
            "booleanType": typ == "boolean",
            "columnName": name,
            "custom": bool(f and f.custom),
            "displayName": name,
            "foreignKeyName": None,
            "insertable": bool(f and f.createable),
            "joinColumns": joins or [],
            "numberType": typ in ("int", "double", "currency", "percent"),
            "textType": typ not in ("boolean", "int", "double", "currency", "percent"),
            "updatable": bool(f and f.updateable),
        }

    def columns_of(o: ObjectDef, q: SoqlQuery) -> list[dict[str, Any]]:
        cols: list[dict[str, Any]] = []
        for name in q.fields:
            if "." not in name:
                f = o.field(name)
                cols.append(column(f, f.name if f else name))
                continue
            path = resolve_path(schema, o, name)
            leaf = column(path.field, path.field.name)
            for _lookup, rel, _parent in reversed(path.steps):
                leaf = column(None, rel, joins=[leaf])
            cols.append(leaf)
        for sub in q.subqueries:
            child, _field, rel = resolve_child(schema, o, sub.sobject)
            cols.append(column(None, rel, aggregate=True, joins=columns_of(child, sub)))
        return cols

    return {
        "columnMetadata": columns_of(obj, query),
        "entityName": obj.name,
        "groupBy": False,
        "idSelected": any(n.lower() == "id" for n in query.fields),
        "keyPrefix": obj.key_prefix,
    }


_APEX = {
    "boolean": "Boolean",
    "int": "Integer",
    "double": "Double",
    "currency": "Decimal",
    "percent": "Decimal",
    "date": "Date",
    "datetime": "Datetime",
    "id": "Id",
    "reference": "Id",
}


def resolve_child(schema: Schema, obj: ObjectDef, rel: str) -> tuple[ObjectDef, str, str]:
    """(child object, lookup field, canonical name) of child relationship ``rel`` of ``obj``."""
    for entry in child_relationships(schema, obj.name):
        if entry["relationshipName"].lower() == rel.lower():
            child = schema.get(entry["childSObject"])
            if child is not None:
                return child, entry["field"], entry["relationshipName"]
    raise _bad_relationship(rel)


def run(
    schema: Schema,
    store: Any,
    query: SoqlQuery,
    obj: ObjectDef,
    records: list[dict[str, Any]],
    *,
    include_deleted: bool,
    version: str,
    nested: bool,
) -> list[dict[str, Any]]:
    """Run ``query`` over ``records`` of ``obj`` with its relationship paths and subqueries.

    ``nested`` (REST) nests parents and attaches subquery results; otherwise (Bulk 2.0 CSV)
    parent fields stay flat under their dotted names.
    """
    from connector.emulator import soql  # soql imports nothing of ours; kept local for clarity

    paths = {p.lower(): resolve_path(schema, obj, p) for p in query_paths(query)}
    describe = {n: {"name": n, "type": f.type} for n, f in obj.fields.items()}
    for path in paths.values():
        describe[path.name] = {"name": path.name, "type": path.field.type}
    if paths:
        records = [
            {**r, **{p.name: follow(store, r, p)[1] for p in paths.values()}} for r in records
        ]
    pairs = soql.execute(
        query,
        records,
        describe_fields=describe,
        include_deleted=include_deleted,
        with_source=True,
    )
    if query.count:
        return [row for row, _ in pairs]
    children = []
    for sub in query.subqueries:
        child, field, rel = resolve_child(schema, obj, sub.sobject)
        groups: dict[str, list[dict[str, Any]]] = {}
        for rec in store.records(child.name, include_deleted=include_deleted):
            if rec.get(field):
                groups.setdefault(rec[field], []).append(rec)
        children.append((sub, child, rel, groups))
    by_lower = {p.name.lower(): p for p in paths.values()}
    out = []
    for row, rec in pairs:
        if nested and by_lower:
            row = nest(row, by_lower, store, rec, version)
        for sub, child, rel, groups in children:
            kids = run(
                schema,
                store,
                sub,
                child,
                groups.get(rec["Id"], []),
                include_deleted=include_deleted,
                version=version,
                nested=True,
            )
            row[rel] = (
                {
                    "totalSize": len(kids),
                    "done": True,
                    "records": [
                        {"attributes": _attributes(child.name, kid, version), **kid} for kid in kids
                    ],
                }
                if kids
                else None
            )
        out.append(row)
    return out


def _attributes(obj: str, row: dict[str, Any], version: str) -> dict[str, str]:
    attrs = {"type": obj}
    if row.get("Id"):
        attrs["url"] = f"/services/data/{version}/sobjects/{obj}/{row['Id']}"
    return attrs
