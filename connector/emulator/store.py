"""The org's records: in-memory indexes, a recycle bin and an append-only journal in DIR.

Records are dicts that are never mutated once stored (an update stores a new dict), so query
cursors keep a consistent snapshot and a rollback just puts the old dicts back.

Persistence: ``DIR/org.jsonl``, one JSON line per committed transaction (``{"p": [[object,
record], ...], "x": [purged ids]}``, or ``{"reset": true}``). It is replayed and compacted on
start-up; a line is written and flushed per request, so a killed emulator loses at most the
request in flight. Bulk jobs and query cursors are not persisted.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connector.emulator.ids import IdFactory
from connector.emulator.schema import ObjectDef, Schema

JOURNAL = "org.jsonl"


def index_key(value: Any, case_sensitive: bool) -> Any:
    """External-id match key: case-insensitive unless the field says otherwise."""
    return value.lower() if isinstance(value, str) and not case_sensitive else value


class Journal:
    """Append-only change log with compaction."""

    def __init__(self, directory: Path):
        self.path = directory / JOURNAL
        self._fh = None

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

    def rewrite(self, records: Iterator[tuple[str, dict[str, Any]]]) -> None:
        """Replace the journal by one snapshot of ``records`` (atomic rename)."""
        self.close()
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
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
        self.ops: list[list[Any]] = []  # ["p", obj, sparse record] | ["u", obj, id, changes]
        self._seen: set[str] = set()

    def touched(self, obj: str, rid: str, old: dict[str, Any] | None) -> None:
        """Remember the state of ``rid`` before this transaction first changed it."""
        if rid not in self._seen:
            self._seen.add(rid)
            self.undo.append((obj, rid, old))

    def commit(self) -> None:
        """Journal this transaction's changes as one line."""
        if self.ops:
            self.store.journal.append({"o": self.ops})
        self.undo, self.ops, self._seen = [], [], set()

    def rollback(self) -> None:
        """Put back every record as it was before this transaction."""
        for obj, rid, old in reversed(self.undo):
            self.store.restore(obj, rid, old)
        self.undo, self.ops, self._seen = [], [], set()


class Store:
    """Records by object and id, external-id indexes, and the journal. Callers hold ``lock``."""

    def __init__(self, schema: Schema, directory: Path):
        self.schema = schema
        self.lock = threading.RLock()
        self.ids = IdFactory()
        self.journal = Journal(directory)
        self.data: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in schema.objects}
        self.where: dict[str, str] = {}  # id → object name
        self.indexes: dict[tuple[str, str], dict[Any, set[str]]] = {}
        self.members: dict[tuple[str, str], str] = {}  # (CampaignId, person id) → member id
        self._load()

    # -- loading -----------------------------------------------------------------------------
    def _load(self) -> None:
        for entry in self.journal.replay():
            if entry.get("reset"):
                self._clear()
            for obj, rec in entry.get("p", []):
                if obj in self.data:
                    self.restore(obj, rec["Id"], {**self.schema.objects[obj].template, **rec})
            for op in entry.get("o", []):
                self._replay(op)
        for rid in self.where:
            self.ids.observe(rid)
        self.journal.rewrite(self.iter_all())

    def _replay(self, op: list[Any]) -> None:
        kind, obj = op[0], op[1]
        if obj not in self.data:
            return  # an object no longer in the schema
        if kind == "p":
            self.restore(obj, op[2]["Id"], {**self.schema.objects[obj].template, **op[2]})
        elif kind == "u" and op[2] in self.data[obj]:
            self.restore(obj, op[2], {**self.data[obj][op[2]], **op[3]})
        elif kind == "x":
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

    def reset(self) -> None:
        """Empty the org (journal included)."""
        self._clear()
        self.journal.append({"reset": True})
        self.journal.rewrite(iter(()))

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
        f = obj.fields[field]
        hits = self.indexes.get((obj.name, field), {}).get(index_key(value, f.case_sensitive))
        return sorted(hits) if hits else []

    def member_of(self, campaign_id: str | None, person_id: str | None) -> str | None:
        """Id of the live campaign member for (campaign, person), or None."""
        return self.members.get((campaign_id, person_id)) if campaign_id and person_id else None

    def counts(self) -> dict[str, int]:
        """Live records per object."""
        return {n: sum(1 for r in d.values() if not r["IsDeleted"]) for n, d in self.data.items()}

    # -- writes -------------------------------------------------------------------------------
    def _index(self, obj: str, rec: dict[str, Any], add: bool) -> None:
        if rec["IsDeleted"]:
            return
        rid = rec["Id"]
        for f in self.schema.objects[obj].external_ids:
            value = rec.get(f.name)
            if value is None:
                continue
            bucket = self.indexes.setdefault((obj, f.name), {})
            key = index_key(value, f.case_sensitive)
            if add:
                bucket.setdefault(key, set()).add(rid)
            else:
                ids = bucket.get(key)
                if ids:
                    ids.discard(rid)
                    if not ids:
                        del bucket[key]
        if obj == "CampaignMember":
            person = rec.get("ContactId") or rec.get("LeadId")
            if add:
                self.members[(rec["CampaignId"], person)] = rid
            else:
                self.members.pop((rec["CampaignId"], person), None)

    def restore(self, obj: str, rid: str, rec: dict[str, Any] | None) -> None:
        """Make ``rid`` be exactly ``rec`` (None: gone), keeping indexes in step."""
        old = self.data[obj].get(rid)
        if old is not None:
            self._index(obj, old, add=False)
        if rec is None:
            self.data[obj].pop(rid, None)
            self.where.pop(rid, None)
            return
        self.data[obj][rid] = rec
        self.where[rid] = obj
        self._index(obj, rec, add=True)

    def put(self, obj: str, rec: dict[str, Any], txn: Txn, op: list[Any] | None = None) -> None:
        """Store ``rec`` (new or replacing the record with the same Id) within ``txn``.

        ``op`` is the journal entry for the change (default: the whole record, nulls left out).
        """
        rid = rec["Id"]
        txn.touched(obj, rid, self.data[obj].get(rid))
        self.restore(obj, rid, rec)
        txn.ops.append(op or ["p", obj, {k: v for k, v in rec.items() if v is not None}])

    def purge(self, obj: str, rid: str, txn: Txn) -> None:
        """Remove a record for good (hard delete)."""
        txn.touched(obj, rid, self.data[obj].get(rid))
        self.restore(obj, rid, None)
        txn.ops.append(["x", obj, rid])
