"""Record operations shared by single-record REST, sObject Collections and Bulk 2.0.

Each function works on one record inside a caller's transaction and raises ``RecordError`` with
Salesforce's status code; the caller decides how to report it (HTTP 400 or a per-record result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.emulator.archive import ACTIVITY_OBJECTS, is_archived
from connector.emulator.cascade import Cascade
from connector.emulator.ids import USER_ID, normalize_id, sf_datetime
from connector.emulator.org_records import Store, Txn
from connector.emulator.org_schema import ObjectDef
from connector.emulator.person import PersonRules
from connector.emulator.validation import Validator, check_object_rules
from connector.emulator.wire import RecordError

_RESPONDED = {"Responded", "Attended"}
_NAMED = {"Contact", "Lead", "Individual"}


class Dml:
    """Insert / update / upsert / delete with validation, uniqueness and injected lock errors."""

    def __init__(self, store: Store, lock_fault: Callable[[], bool] = lambda: False):
        self.store = store
        self.validator = Validator(self._ref_target, self._find_parent, store.schema)
        self.lock_fault = lock_fault
        self.person = PersonRules(self)
        self.cascade = Cascade(store)
        # Objects whose writes need PersonRules (record types, person accounts): the others
        # skip it, so the hot path of a plain org is unchanged.
        self._ruled = {n for n, o in store.schema.objects.items() if o.record_types}
        if store.schema.person_accounts:
            self._ruled |= {"Account", "Contact"}

    def _ref_target(self, rid: str) -> str | None:
        if rid == USER_ID:
            return "User"
        return self.store.object_of(rid)

    def _find_parent(self, parent: ObjectDef, field: str, value: Any) -> list[str]:
        """Live ``parent`` records whose external id (or Id) ``field`` is ``value``."""
        value = self.validator.convert(parent, field, value)
        if field == "Id":
            rid = normalize_id(value)
            return [rid] if rid and self.store.object_of(rid) == parent.name else []
        return self.store.find(parent, field, value)

    def _maybe_lock(self, rid: str | None) -> None:
        if self.lock_fault():
            raise RecordError(
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access to this record or 1 records: "
                f"{rid or '(new record)'}",
                [],
            )

    def _check_unique(self, obj: ObjectDef, rec: dict[str, Any], changed: dict[str, Any]) -> None:
        for name in obj.unique_fields:
            if changed.get(name) is not None:
                others = [i for i in self.store.find(obj, name, changed[name]) if i != rec["Id"]]
                if others:
                    raise RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: "
                        f"{others[0]}",
                        [name],
                    )
        if obj.name == "CampaignMember":
            person = rec.get("ContactId") or rec.get("LeadId")
            other = self.store.member_of(rec.get("CampaignId"), person)
            if other and other != rec["Id"]:
                raise RecordError("DUPLICATE_VALUE", "Already a campaign member.", [])

    def _derive(self, obj: ObjectDef, rec: dict[str, Any]) -> None:
        # ``rec`` may be sparse (a new record without its nulls), hence ``get`` throughout.
        if obj.name in _NAMED and "Name" in obj.fields:
            first, last = rec.get("FirstName"), rec.get("LastName")
            rec["Name"] = f"{first} {last}" if first and last else (first or last or "")
        elif obj.name == "CampaignMember":
            rec["HasResponded"] = rec.get("Status") in _RESPONDED
        elif obj.name in ACTIVITY_OBJECTS and "IsArchived" in obj.fields:  # archive.py
            rec["IsArchived"] = is_archived(obj.name, rec)
        if "IsEmailBounced" in obj.fields:  # read-only; set by a bounce (objects_default.py)
            rec["IsEmailBounced"] = rec.get("EmailBouncedDate") is not None
        elif obj.name == "Account":
            self.person.derive_name(obj, rec)

    def create(
        self,
        obj: ObjectDef,
        raw: dict[str, Any],
        txn: Txn,
        *,
        csv: bool = False,
        preset: dict[str, Any] | None = None,
        skip: str = "",
    ) -> str:
        """Insert one record; returns its new id."""
        if raw.get("Id", raw.get("id")) not in (None, ""):
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "Record ID: cannot specify Id in an insert call",
                ["Id"],
            )
        values = self.validator.clean(obj, raw, creating=True, csv=csv, skip=skip, preset=preset)
        ruled = obj.name in self._ruled
        if ruled:
            self.person.before_create(obj, values)
        self._maybe_lock(None)
        now = sf_datetime()
        rid = self.store.ids.new(obj.key_prefix)
        # Build the record without its nulls first: that is also its journal entry, so the
        # (mostly empty) full record is never filtered again.
        sparse = {
            **obj.template_set,
            **values,
            "Id": rid,
            "IsDeleted": False,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "CreatedById": USER_ID,
            "LastModifiedById": USER_ID,
        }
        if "OwnerId" in obj.fields and sparse.get("OwnerId") is None:
            sparse["OwnerId"] = USER_ID
        self._derive(obj, sparse)
        rec = {**obj.template, **sparse}
        if None in sparse.values():  # a field cleared on insert: stored as null, not journalled
            sparse = {k: v for k, v in sparse.items() if v is not None}
        check_object_rules(obj, rec)
        self._check_unique(obj, rec, rec)
        self.store.insert(obj.name, rec, sparse, txn)
        if ruled:
            self.person.after_create(obj, rec, txn)
        return rid

    def live(self, obj: ObjectDef, rid_raw: Any, *, missing_status: int = 404) -> dict[str, Any]:
        """The live record ``rid_raw`` of ``obj``.

        Raises:
            RecordError: MALFORMED_ID (not an id of this object), ENTITY_IS_DELETED (in the
                recycle bin) or INVALID_CROSS_REFERENCE_KEY / NOT_FOUND (unknown id).
        """
        records = self.store.data[obj.name]
        # Stored ids are already in normal form, so a hit needs no normalising (the common
        # case: upserts pass the id they just found).
        rec = records.get(rid_raw) if type(rid_raw) is str else None
        if rec is None or rid_raw[:3] != obj.key_prefix:
            rid = normalize_id(rid_raw)
            if rid is None or rid[:3] != obj.key_prefix:
                raise RecordError(
                    "MALFORMED_ID",
                    f"{obj.label} ID: id value of incorrect type: {rid_raw}",
                    ["Id"],
                )
            rec = records.get(rid)
        if rec is None:
            if missing_status == 404:
                raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if rec["IsDeleted"]:
            # [unverified status] wire spec §6.4: 404 for a recycled record on REST.
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [], status=404)
        return rec

    def update(
        self,
        obj: ObjectDef,
        rid_raw: Any,
        raw: dict[str, Any],
        txn: Txn,
        *,
        csv: bool = False,
        missing_status: int = 404,
        skip: str = "",
    ) -> str:
        """Update one record by id; returns the id."""
        old = self.live(obj, rid_raw, missing_status=missing_status)
        values = self.validator.clean(obj, raw, creating=False, csv=csv, skip=skip)
        ruled = obj.name in self._ruled
        if ruled:
            self.person.before_update(obj, old, values)
        self._maybe_lock(old["Id"])
        now = sf_datetime()
        changes = {
            **values,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "LastModifiedById": USER_ID,
        }
        rec = {**old, **changes}
        self._derive(obj, rec)
        for derived in ("Name", "HasResponded", "IsEmailBounced", "IsArchived"):
            if derived in rec and rec[derived] != old[derived]:
                changes[derived] = rec[derived]
        check_object_rules(obj, rec)
        self._check_unique(obj, rec, values)
        self.store.change(obj.name, old, rec, changes, txn)
        if ruled:
            self.person.after_update(obj, rec, values, txn)
        return old["Id"]

    def upsert(
        self,
        obj: ObjectDef,
        field: str,
        value: Any,
        raw: dict[str, Any],
        txn: Txn,
        *,
        csv: bool = False,
    ) -> tuple[str, bool]:
        """Upsert one record by external id (or ``Id``); returns (id, created).

        Raises:
            RecordError: DUPLICATE_EXTERNAL_ID (status 300) when several records match.
        """
        if field == "Id":
            if value in (None, ""):
                return self.create(obj, raw, txn, csv=csv), True
            return self.update(obj, value, raw, txn, csv=csv, missing_status=400), False
        if value in (None, ""):
            raise RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{field}]", [field]
            )
        value = self.validator.convert(obj, field, value)
        skip = field.lower()
        matches = self.store.find(obj, field, value)
        if len(matches) > 1:
            raise RecordError(
                "DUPLICATE_EXTERNAL_ID",
                "A user-specified external ID matches more than one record during an upsert.",
                [field],
                status=300,
            )
        if matches:
            return self.update(obj, matches[0], raw, txn, csv=csv, skip=skip), False
        return self.create(obj, raw, txn, csv=csv, preset={field: value}, skip=skip), True

    def delete(
        self,
        rid_raw: Any,
        txn: Txn,
        *,
        obj: ObjectDef | None = None,
        hard: bool = False,
        missing_status: int = 404,
    ) -> str:
        """Move a record to the recycle bin (or purge it with ``hard``); returns the id."""
        rid = normalize_id(rid_raw)
        if obj is None:
            name = self.store.where.get(rid) if rid else None
            target = self.store.schema.by_prefix.get(rid[:3]) if rid else None
            obj = self.store.schema.objects[name] if name else target
            if obj is None:
                raise RecordError("MALFORMED_ID", f"malformed id {rid_raw}", [])
        rec = self.live(obj, rid_raw, missing_status=missing_status)
        if obj.name in self._ruled:
            self.person.before_delete(obj, rec)
        self._maybe_lock(rec["Id"])
        # Children by each lookup's delete constraint: cleared, deleted too, or a refusal.
        self.cascade.delete(obj, rec, txn, hard=hard)
        return rec["Id"]
