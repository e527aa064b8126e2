"""The org's records: in-memory indexes, a recycle bin and an append-only journal in DIR.

Records are dicts that are never mutated once stored (an update stores a new dict), so query
cursors keep a consistent snapshot and a rollback just puts the old dicts back.

Persistence: ``DIR/org.jsonl``, one JSON line per committed transaction: ``{"o": [op, ...]}``
with ops ``["p", object, record]``, ``["u", object, id, changes]``, ``["x", object, id]`` and the
columnar forms ``["P", object, keys, [values, ...]]`` (new records sharing their keys) and
``["U", object, keys, [[id, *values], ...]]`` (changes sharing their keys), or ``{"reset": true}``;
the start-up snapshot is ``{"p": [[object, record], ...]}``. Stored records leave out nulls. The
journal is replayed and compacted on start-up; a line is written and flushed per request (per
10,000-row chunk for Bulk), so a killed emulator loses at most the request in flight. Consecutive
inserts and updates are journalled in columnar form because encoding one dict per record was the
largest single cost of a Bulk job. Bulk jobs and query cursors are not persisted.
"""

from __future__ import annotations

import gc
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from connector.emulator.ids import IdFactory, sf_datetime
from connector.emulator.org_schema import ObjectDef, Schema
from connector.emulator.userinfo import USER_RECORD

JOURNAL = "org.jsonl"


def index_key(value: Any, case_sensitive: bool) -> Any:
    """External-id match key: case-insensitive unless the field says otherwise."""
    return value.lower() if isinstance(value, str) and not case_sensitive else value


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector for one batch of record changes.

    A batch allocates tens of thousands of containers that never form cycles (records, result
    rows, journal rows); every few hundred allocations the collector would scan them, and its
    full passes over the whole org took a fifth of a Bulk job's time. Reference counting still
    frees everything; the collector runs again right after the batch. If something else has
    switched the collector off, it is left off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Journal:
    """Append-only change log with compaction."""

    def __init__(self, directory: Path):
        self.path = directory / JOURNAL
        self._fh: TextIO | None = None

    def replay(self) -> Iterator[dict[str, Any]]:
        """Every entry written so far, oldest first (a torn last line is ignored)."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    yield json.loads(line)
                except ValueError:
                    return

    def rewrite(self, records: Iterator[tuple[str, dict[str, Any]]], *, last_id: int = 0) -> None:
        """Replace the journal by one snapshot of ``records`` (atomic rename).

        ``last_id`` keeps the id counter: a hard-deleted record's id is not in the snapshot, and
        Salesforce never hands an id out twice.
        """
        self.close()
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            if last_id:
                fh.write(json.dumps({"n": last_id}) + "\n")
            batch: list[Any] = []
            for item in records:
                batch.append(item)
                if len(batch) >= 5000:
                    fh.write(json.dumps({"p": batch}) + "\n")
                    batch = []
            if batch:
                fh.write(json.dumps({"p": batch}) + "\n")
        os.replace(tmp, self.path)

    def append(self, entry: dict[str, Any]) -> None:
        """Write one entry and flush it to the OS."""
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Close the file handle (reopened on the next append)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class Txn:
    """Undo log and journal ops of one request; commit journals, rollback restores."""

    def __init__(self, store: Store):
        self.store = store
        self.undo: list[tuple[str, str, dict[str, Any] | None]] = []  # (object, id, old)
        self.ops: list[list[Any]] = []  # journal ops, see the module docstring
        self._seen: set[str] = set()
        self._group: list[Any] | None = None  # the columnar op consecutive changes extend

    def touched(self, obj: str, rid: str, old: dict[str, Any] | None) -> None:
        """Remember the state of ``rid`` before this transaction first changed it."""
        if rid not in self._seen:
            self._seen.add(rid)
            self.undo.append((obj, rid, old))

    def add(self, op: list[Any]) -> None:
        """Journal one op as it is."""
        self.ops.append(op)
        self._group = None

    def add_record(self, obj: str, sparse: dict[str, Any]) -> None:
        """Journal a new record (no null values), in a ``P`` op when the keys repeat."""
        keys = tuple(sparse)
        group = self._group
        if group is not None and group[0] == "P" and group[1] == obj and group[2] == keys:
            group[3].append(tuple(sparse.values()))
            return
        self._group = ["P", obj, keys, [tuple(sparse.values())]]
        self.ops.append(self._group)

    def add_changes(self, obj: str, rid: str, changes: dict[str, Any]) -> None:
        """Journal changed fields of ``rid``, in a ``U`` op when the keys repeat."""
        keys = tuple(changes)
        group = self._group
        if group is not None and group[0] == "U" and group[1] == obj and group[2] == keys:
            group[3].append((rid, *changes.values()))
            return
        self._group = ["U", obj, keys, [(rid, *changes.values())]]
        self.ops.append(self._group)

    def commit(self) -> None:
        """Journal this transaction's changes as one line.

        Inside an enclosing transaction (``Store.outer``: a ``/composite`` request with
        ``allOrNone``) the changes join that one instead, so it can still undo them.
        """
        outer = self.store.outer
        if outer is not None and outer is not self:
            for obj, rid, old in self.undo:
                outer.touched(obj, rid, old)
            for op in self.ops:
                outer.add(op)
            self.undo, self.ops, self._seen, self._group = [], [], set(), None
            return
        if self.ops:
            self.store.journal.append({"o": self.ops})
        self.undo, self.ops, self._seen, self._group = [], [], set(), None

    def rollback(self) -> None:
        """Put back every record as it was before this transaction."""
        for obj, rid, old in reversed(self.undo):
            self.store.restore(obj, rid, old)
        self.undo, self.ops, self._seen, self._group = [], [], set(), None


class Store:
    """Records by object and id, external-id indexes, and the journal. Callers hold ``lock``."""

    def __init__(self, schema: Schema, directory: Path):
        self.schema = schema
        self.lock = threading.RLock()
        self.ids = IdFactory()
        self.journal = Journal(directory)
        self.data: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in schema.objects}
        self.where: dict[str, str] = {}  # id → object name
        # (object, field) → match key → ids. Tuples, not sets: almost every key has one id, and
        # the garbage collector stops scanning a tuple of strings, but never a set.
        # (object, field) → value → ids of the live records holding it (an ordered set).
        self.indexes: dict[tuple[str, str], dict[Any, dict[str, None]]] = {}
        # (CampaignId, person id) → member id. Validation requires the person (ContactId or
        # LeadId), but a stored record is a plain dict, so the key's type admits None.
        self.members: dict[tuple[str, str | None], str] = {}
        self.outer: Txn | None = None  # an all-or-none request's transaction (see Txn.commit)
        # Per object: (field, case-sensitive) of every indexed field, looked up once. Lookups
        # are indexed too (ids: case-sensitive), so a delete finds its children (cascade.py).
        self._indexed = {
            n: [(f.name, f.case_sensitive) for f in o.external_ids]
            + [(name, True) for name in o.lookups]
            for n, o in schema.objects.items()
        }
        self._seed()
        self._load()

    # -- loading -----------------------------------------------------------------------------
    def _load(self) -> None:
        for entry in self.journal.replay():
            if entry.get("reset"):
                self._clear()
            if "n" in entry:
                self.ids.observe_counter(entry["n"])
            for obj, rec in entry.get("p", []):
                if obj in self.data:
                    self.restore(obj, rec["Id"], {**self.schema.objects[obj].template, **rec})
            for op in entry.get("o", []):
                self._replay(op)
        for rid in self.where:
            self.ids.observe(rid)
        self.journal.rewrite(self.iter_all(), last_id=self.ids.counter)

    def _replay(self, op: list[Any]) -> None:
        kind, obj = op[0], op[1]
        if obj not in self.data:
            return  # an object no longer in the schema
        records = self.data[obj]
        if kind == "p":
            self.restore(obj, op[2]["Id"], {**self.schema.objects[obj].template, **op[2]})
        elif kind == "P":
            template, keys = self.schema.objects[obj].template, op[2]
            for values in op[3]:
                rec = {**template, **dict(zip(keys, values, strict=True))}
                self.restore(obj, rec["Id"], rec)
        elif kind == "u" and op[2] in records:
            self.restore(obj, op[2], {**records[op[2]], **op[3]})
        elif kind == "U":
            keys = op[2]
            for rid, *values in op[3]:
                if rid in records:
                    self.restore(obj, rid, {**records[rid], **dict(zip(keys, values, strict=True))})
        elif kind == "x":
            self.ids.observe(op[2])  # gone for good, but its id is never handed out again
            self.restore(obj, op[2], None)

    def iter_all(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every stored record (recycle bin included) as (object, record)."""
        for obj, records in self.data.items():
            for rec in records.values():
                yield obj, {k: v for k, v in rec.items() if v is not None}

    def _clear(self) -> None:
        self.data = {n: {} for n in self.schema.objects}
        self.where.clear()
        self.indexes.clear()
        self.members.clear()
        self._seed()

    def _seed(self) -> None:
        """The org's running user and its record types: there, also right after a reset."""
        now = sf_datetime()
        system = {"IsDeleted": False, "CreatedDate": now, "LastModifiedDate": now}
        system |= {"SystemModstamp": now, "CreatedById": USER_RECORD["Id"]}
        system["LastModifiedById"] = USER_RECORD["Id"]
        user = self.schema.objects.get("User")
        if user is not None:
            self.restore("User", USER_RECORD["Id"], {**user.template, **system, **USER_RECORD})
        rt_obj = self.schema.objects.get("RecordType")
        if rt_obj is None:
            return
        for obj in self.schema.objects.values():
            for rt in obj.record_types:
                fields = {
                    "Id": rt["Id"],
                    "Name": rt["Name"],
                    "DeveloperName": rt["DeveloperName"],
                    "SobjectType": obj.name,
                    "IsPersonType": bool(rt.get("IsPersonType")),
                    "IsActive": True,
                }
                self.restore("RecordType", rt["Id"], {**rt_obj.template, **system, **fields})

    def reset(self) -> None:
        """Empty the org (journal included)."""
        self._clear()
        self.journal.append({"reset": True})
        self.journal.rewrite(iter(()), last_id=self.ids.counter)

    def close(self) -> None:
        """Release the journal file."""
        self.journal.close()

    # -- reads --------------------------------------------------------------------------------
    def get(self, rid: str) -> dict[str, Any] | None:
        """Record by 18-char id (deleted ones included), or None."""
        obj = self.where.get(rid)
        return self.data[obj].get(rid) if obj else None

    def object_of(self, rid: str) -> str | None:
        """Object name of a live (not deleted) record, or None."""
        obj = self.where.get(rid)
        if obj is None or self.data[obj][rid]["IsDeleted"]:
            return None
        return obj

    def records(self, obj: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """All records of one object."""
        values = self.data[obj].values()
        if include_deleted:
            return list(values)
        return [r for r in values if not r["IsDeleted"]]

    def find(self, obj: ObjectDef, field: str, value: Any) -> list[str]:
        """Ids of live records whose (external-id or unique) ``field`` equals ``value``."""
        if isinstance(value, str) and not obj.fields[field].case_sensitive:
            value = value.lower()  # index_key, inlined: upserts look up every row
        hits = self.indexes.get((obj.name, field), {}).get(value)
        return sorted(hits) if hits else []

    def children(self, obj: str, field: str, parent_id: str) -> tuple[str, ...]:
        """Ids of live ``obj`` records whose lookup ``field`` is ``parent_id``."""
        return tuple(self.indexes.get((obj, field), {}).get(parent_id, ()))

    def member_of(self, campaign_id: str | None, person_id: str | None) -> str | None:
        """Id of the live campaign member for (campaign, person), or None."""
        return self.members.get((campaign_id, person_id)) if campaign_id and person_id else None

    def counts(self) -> dict[str, int]:
        """Live records per object."""
        return {n: sum(1 for r in d.values() if not r["IsDeleted"]) for n, d in self.data.items()}

    # -- writes -------------------------------------------------------------------------------
    def _reindex(
        self, obj: str, rid: str, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        """Move ``rid`` in the indexes from ``old``'s values to ``new``'s (live records only)."""
        old = old if old is not None and not old["IsDeleted"] else None
        new = new if new is not None and not new["IsDeleted"] else None
        if old is None and new is None:
            return
        for name, case_sensitive in self._indexed[obj]:
            before = old.get(name) if old is not None else None
            after = new.get(name) if new is not None else None
            if before is after:
                continue  # an update that leaves this key alone (the usual case)
            if not case_sensitive:  # index_key, inlined
                if isinstance(before, str):
                    before = before.lower()
                if isinstance(after, str):
                    after = after.lower()
            bucket = self.indexes.get((obj, name))
            if bucket is None:
                bucket = self.indexes[(obj, name)] = {}
            # A bucket is an insertion-ordered set (dict keys): many records share a lookup
            # value (100,000 CampaignMembers of one Campaign, every consent of one purpose), so
            # adding and removing one id must not copy the others.
            if before is not None:
                ids = bucket.get(before)
                if ids is not None and rid in ids:
                    del ids[rid]
                    if not ids:
                        del bucket[before]
            if after is not None:
                ids = bucket.get(after)
                if ids is None:
                    bucket[after] = {rid: None}
                else:
                    ids[rid] = None
        if obj == "CampaignMember":
            if old is not None:
                self.members.pop(
                    (old["CampaignId"], old.get("ContactId") or old.get("LeadId")), None
                )
            if new is not None:
                self.members[(new["CampaignId"], new.get("ContactId") or new.get("LeadId"))] = rid

    def restore(self, obj: str, rid: str, rec: dict[str, Any] | None) -> None:
        """Make ``rid`` be exactly ``rec`` (None: gone), keeping indexes in step."""
        records = self.data[obj]
        self._reindex(obj, rid, records.get(rid), rec)
        if rec is None:
            records.pop(rid, None)
            self.where.pop(rid, None)
            return
        records[rid] = rec
        self.where[rid] = obj

    def put(self, obj: str, rec: dict[str, Any], txn: Txn, op: list[Any] | None = None) -> None:
        """Store ``rec`` (new or replacing the record with the same Id) within ``txn``.

        ``op`` is the journal entry for the change (default: the whole record, nulls left out).
        """
        rid = rec["Id"]
        txn.touched(obj, rid, self.data[obj].get(rid))
        self.restore(obj, rid, rec)
        if op is None:
            txn.add_record(obj, {k: v for k, v in rec.items() if v is not None})
        else:
            txn.add(op)

    def insert(self, obj: str, rec: dict[str, Any], sparse: dict[str, Any], txn: Txn) -> None:
        """Store the new record ``rec``; ``sparse`` is the same record without its nulls."""
        rid = rec["Id"]
        txn.touched(obj, rid, None)
        self.restore(obj, rid, rec)
        txn.add_record(obj, sparse)

    def change(
        self, obj: str, old: dict[str, Any], rec: dict[str, Any], changes: dict[str, Any], txn: Txn
    ) -> None:
        """Replace the stored ``old`` by ``rec``, which is ``old`` updated with ``changes``."""
        rid = old["Id"]
        txn.touched(obj, rid, old)
        self.restore(obj, rid, rec)
        txn.add_changes(obj, rid, changes)

    def purge(self, obj: str, rid: str, txn: Txn) -> None:
        """Remove a record for good (hard delete)."""
        txn.touched(obj, rid, self.data[obj].get(rid))
        self.restore(obj, rid, None)
        txn.add(["x", obj, rid])
