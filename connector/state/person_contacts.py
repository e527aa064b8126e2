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
from connector.state.db import Database, chunks, guard

_in: sa.BindParameter[Any] = sa.bindparam("hashes", expanding=True)


class PersonContactsMixin:
    """Reads and writes ``synced.person_contact_id`` (a Salesforce id, never personal data)."""

    _db: Database

    def person_contact_ids(self, mapping: str, key_hashes: Sequence[str]) -> dict[str, str]:
        """Key hash → PersonContactId of ``mapping``'s live records, where known."""
        t = s.synced
        q = sa.select(t.c.key_hash, t.c.person_contact_id).where(
            t.c.mapping == mapping,
            t.c.key_hash.in_(_in),
            t.c.person_contact_id.is_not(None),
            t.c.deleted_at.is_(None),
        )
        out: dict[str, str] = {}
        with guard("resolve person contacts"), self._db.engine.connect() as conn:
            for chunk in chunks(key_hashes):
                out.update(
                    (r.key_hash, r.person_contact_id) for r in conn.execute(q, {"hashes": chunk})
                )
        return out

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
