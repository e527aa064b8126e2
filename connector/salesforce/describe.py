"""Field checks against the org's describe data, for ``sis-sync validate``.

One describe call per object, cached for the life of the ``Describer`` (thread-safe: the writer
asks from its Bulk worker threads too). Problems are collected
and returned, never raised one at a time, so that an admin sees every missing or read-only field
of every mapping at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from connector import errors
from connector.salesforce.client import SalesforceClient


class Describer:
    """Cached ``GET sobjects/{obj}/describe``.

    Args:
        client: The authenticated client.
    """

    def __init__(self, client: SalesforceClient):
        self.client = client
        self._cache: dict[str, dict[str, dict[str, Any]] | None] = {}
        self._lock = threading.Lock()

    def fields(self, obj: str) -> dict[str, dict[str, Any]] | None:
        """Field name → describe entry for ``obj``; ``None`` if the org has no such object."""
        with self._lock:
            return self._fields_locked(obj)

    def _fields_locked(self, obj: str) -> dict[str, dict[str, Any]] | None:
        if obj not in self._cache:
            try:
                answer = self.client.json("GET", f"sobjects/{obj}/describe")
            except errors.SalesforceError as exc:
                if exc.status != 404:
                    raise
                answer = None
            self._cache[obj] = {f["name"]: f for f in answer.get("fields", [])} if answer else None
        return self._cache[obj]

    def create_only(self, obj: str) -> frozenset[str]:
        """Lower-case names of the fields Salesforce sets on create but never lets an update
        change (describe ``createable: true``, ``updateable: false``), e.g.
        ``CampaignMember.CampaignId``/``ContactId``/``LeadId`` (SF-describe, DescribeFieldResult;
        wire spec §2.3, §7). Empty for an unknown object."""
        return frozenset(
            name.lower()
            for name, entry in (self.fields(obj) or {}).items()
            if entry.get("createable") and not entry.get("updateable")
        )

    def field_names(self, obj: str) -> set[str]:
        """The object's field names (empty if the object does not exist)."""
        return set(self.fields(obj) or {})

    def check(
        self,
        obj: str,
        fields: Iterable[str],
        *,
        external_id_field: str | None = None,
        create: bool = True,
        update: bool = True,
    ) -> list[str]:
        """Problems with writing ``fields`` to ``obj``; empty when everything is writable.

        Args:
            obj: sObject name.
            fields: Target field names of a mapping.
            external_id_field: The upsert key, which must be an external-id (or idLookup) field.
            create: The mapping creates records (fields must be createable).
            update: The mapping updates records (fields must be updateable).

        Returns:
            Messages naming object and field (never values).
        """
        described = self.fields(obj)
        if described is None:
            return [f"{obj}: no such object in the org"]
        # Salesforce field names are case-insensitive.
        by_lower = {name.lower(): entry for name, entry in described.items()}
        problems: list[str] = []
        wanted = list(dict.fromkeys(fields))
        if external_id_field and external_id_field not in wanted:
            wanted.append(external_id_field)
        for name in wanted:
            entry = by_lower.get(name.lower())
            if entry is None:
                problems.append(f"{obj}.{name}: no such field")
                continue
            if create and not entry.get("createable", False):
                problems.append(f"{obj}.{name}: not createable")
            if update and not entry.get("updateable", False) and name != external_id_field:
                problems.append(f"{obj}.{name}: not updateable")
            if name == external_id_field and not (entry.get("externalId") or entry.get("idLookup")):
                problems.append(f"{obj}.{name}: not an external id field")
        return problems
