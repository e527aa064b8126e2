"""What deleting a record does to the records that look it up.

Per lookup field (``FieldDef.delete_constraint``), as Salesforce documents it for
``CustomField.deleteConstraint`` (Metadata API Developer Guide,
https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/customfield.htm):
- ``SetNull`` (a lookup's default): the child stays, its lookup is cleared;
- ``Restrict``: the parent cannot be deleted while a child points at it (DELETE_FAILED);
- ``Cascade`` (what a master-detail field does): the child is deleted with the parent.
Cascaded children go to the recycle bin with the parent (or are purged with it on a hard delete),
so ``queryAll`` shows them with ``IsDeleted`` true. The whole tree is checked before anything
changes: one Restrict anywhere refuses the delete and leaves every record as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connector.emulator.ids import sf_datetime
from connector.emulator.wire import RecordError

if TYPE_CHECKING:
    from connector.emulator.org_records import Store, Txn
    from connector.emulator.org_schema import ObjectDef, Schema


def child_lookups(schema: Schema) -> dict[str, list[tuple[ObjectDef, str, str]]]:
    """Parent object → [(child object, lookup field, delete constraint)]."""
    out: dict[str, list[tuple[ObjectDef, str, str]]] = {}
    for child in schema.objects.values():
        for name in child.lookups:
            f = child.fields[name]
            for parent in f.reference_to:
                out.setdefault(parent, []).append((child, name, f.delete_constraint))
    return out


class Cascade:
    """Applies delete constraints; the store indexes every lookup (``Store.children``)."""

    def __init__(self, store: Store):
        self.store = store
        self.children = child_lookups(store.schema)

    def plan(
        self, obj: ObjectDef, rec: dict[str, Any]
    ) -> tuple[list[tuple[ObjectDef, dict[str, Any]]], list[tuple[ObjectDef, str, str]]]:
        """(records to delete, parent first; lookups to clear as (object, id, field)).

        Raises:
            RecordError: DELETE_FAILED when a Restrict lookup points into the tree.
        """
        doomed: list[tuple[ObjectDef, dict[str, Any]]] = []
        seen: set[str] = set()
        clears: list[tuple[ObjectDef, str, str]] = []
        stack = [(obj, rec)]
        while stack:
            o, r = stack.pop()
            if r["Id"] in seen:
                continue
            seen.add(r["Id"])
            doomed.append((o, r))
            for child, field, constraint in self.children.get(o.name, ()):
                for cid in self.store.children(child.name, field, r["Id"]):
                    crec = self.store.data[child.name][cid]
                    if constraint == "Restrict":
                        # [unverified] wording; Salesforce names the records, which can be
                        # personal data: the emulator names the object and field only.
                        raise RecordError(
                            "DELETE_FAILED",
                            f"Your attempt to delete this {o.label} could not be completed "
                            f"because it is associated with {child.label} records "
                            f"({child.name}.{field}).",
                            [],
                        )
                    if constraint == "Cascade":
                        stack.append((child, crec))
                    else:
                        clears.append((child, cid, field))
        return doomed, [c for c in clears if c[1] not in seen]

    def delete(self, obj: ObjectDef, rec: dict[str, Any], txn: Txn, *, hard: bool) -> None:
        """Delete ``rec`` and apply every delete constraint below it, in one transaction."""
        doomed, clears = self.plan(obj, rec)
        now = sf_datetime()
        for child, cid, field in clears:
            old = self.store.data[child.name][cid]
            if old.get(field) is None:
                continue
            changes: dict[str, Any] = {field: None, "LastModifiedDate": now, "SystemModstamp": now}
            self.store.change(child.name, old, {**old, **changes}, changes, txn)
        for o, r in doomed:
            current = self.store.data[o.name].get(r["Id"])
            if current is None or current["IsDeleted"]:
                continue
            if hard:
                self.store.purge(o.name, r["Id"], txn)
            else:
                changes = {"IsDeleted": True, "LastModifiedDate": now, "SystemModstamp": now}
                self.store.change(o.name, current, {**current, **changes}, changes, txn)
