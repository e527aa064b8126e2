"""The PersonContactId of person accounts sis-sync wrote (``synced.person_contact_id``).

A person account's upsert answers with the Account id only (the collections upsert result has
``id``, ``success``, ``created`` and ``errors`` — Upsert Records Using sObject Collections, REST
API Developer Guide,
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_upsert.htm;
Bulk 2.0's successfulResults add ``sf__Id``/``sf__Created``). Children that need a Contact
(CampaignMember.ContactId, Task.WhoId) take the person contact, so the engine reads it back once
per batch and keeps it here beside the Account's ``sf_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from connector.state import tables as s
from connector.state.db import Database, guard, rows_in

_in: sa.BindParameter[Any] = sa.bindparam("hashes", expanding=True)


class PersonContactsMixin:
    """Reads and writes ``synced.person_contact_id`` (a Salesforce id, never personal data)."""

    _db: Database

    def person_contact_ids(self, mapping: str, key_hashes: Sequence[str]) -> dict[str, str]:
        """Key hash → PersonContactId of ``mapping``'s live records, where known."""
        sql = (
            "SELECT key_hash, person_contact_id FROM synced WHERE mapping = ?"
            " AND person_contact_id IS NOT NULL AND deleted_at IS NULL AND key_hash {in}"
        )
        with guard("resolve person contacts"), self._db.reading() as conn:
            return dict(rows_in(conn, self._db.dialect, sql, key_hashes, mapping))

    def set_person_contact_ids(self, mapping: str, contacts: Mapping[str, str]) -> None:
        """Remember key hash → PersonContactId of records already in ``synced``."""
        if not contacts:
            return
        t = s.synced
        stmt = (
            sa.update(t)
            .where(t.c.mapping == sa.bindparam("m"), t.c.key_hash == sa.bindparam("k"))
            .values(person_contact_id=sa.bindparam("c"))
        )
        params = [{"m": mapping, "k": k, "c": c} for k, c in contacts.items()]
        with guard("record person contacts"), self._db.engine.begin() as conn:
            conn.execute(stmt, params)
