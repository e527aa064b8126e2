"""Retention anchors kept in state beyond what a write records (issue 9.6, GDPR art. 5(1)(c),(e)).

- **Cleared fields** (:func:`clear_fields`): the purge cleared fields of a record that stays;
  their hashes become empty and their names are kept under ``PURGE_CLEARED``, so a later sync
  sends them again only for new source data (another source row than the one last written:
  ``connector.sync.plan``), not because a mapping edit changed the record hash.
- **Full exports** (:func:`export_mark`): the size and time of a mapping's last full export that
  passed the size guard (``min_export_ratio``), one ``meta`` row per mapping. A record whose
  ``last_seen`` lies before that time has left the export: its ``last_seen`` anchor counts, and
  it counts as ended (:mod:`connector.privacy.retention`). A truncated export moves neither.

Functions over a :class:`~connector.state.store.StateStore` (the same package), not a mixin:
nothing here is on a run's hot path. No personal value: keyed hashes, counts and times.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from connector.state import tables as s
from connector.state.db import guard, padded_chunks
from connector.state.rows import PURGE_CLEARED, purge_cleared

if TYPE_CHECKING:
    from connector.state.store import StateStore

_in: sa.BindParameter[Any] = sa.bindparam("hashes", expanding=True)


@dataclass(frozen=True, slots=True)
class ExportMark:
    """A full export that passed the size guard: its rows and the run's time."""

    rows: int
    at: datetime


def _meta_key(mapping: str) -> str:
    # meta.key is 64 characters; a mapping name may be 100.
    return "full_export:" + hashlib.sha256(mapping.encode()).hexdigest()[:40]


def clear_fields(store: StateStore, mapping: str, cleared: Mapping[str, Sequence[str]]) -> None:
    """Empty the field hashes of ``cleared`` (key hash → fields) after Salesforce cleared
    them and remember their names (``PURGE_CLEARED``); the whole-record hash stays, so an
    unchanged source row stays unchanged."""
    if not cleared:
        return
    t = s.synced
    read = sa.select(t.c.key_hash, t.c.field_hashes).where(
        t.c.mapping == mapping, t.c.key_hash.in_(_in)
    )
    write = (
        sa.update(t)
        .where(t.c.mapping == mapping, t.c.key_hash == sa.bindparam("k"))
        .values(field_hashes=sa.bindparam("h"))
    )
    with guard("clear fields"), store._db.writing() as conn:
        for chunk in padded_chunks(list(cleared)):
            params = []
            for key_hash, text in conn.execute(read, {"hashes": chunk}).all():
                hashes = json.loads(text)
                hashes.update((f, "") for f in cleared[key_hash])
                names = purge_cleared(hashes) | set(cleared[key_hash])
                hashes[PURGE_CLEARED] = ",".join(sorted(names))
                params.append({"k": key_hash, "h": json.dumps(hashes, separators=(",", ":"))})
            if params:
                conn.execute(write, params)


def purged_keys(store: StateStore, mapping: str, key_hashes: Sequence[str]) -> set[str]:
    """The key hashes of ``mapping`` among ``key_hashes`` that a purge (or an erasure that kept
    the row) marked deleted: their Salesforce record is gone on purpose."""
    t = s.synced
    q = sa.select(t.c.key_hash).where(
        t.c.mapping == mapping, t.c.key_hash.in_(_in), t.c.deleted_at.is_not(None)
    )
    out: set[str] = set()
    with guard("find purged parents"), store._db.reading() as conn:
        for chunk in padded_chunks(list(key_hashes)):
            out.update(conn.execute(q, {"hashes": chunk}).scalars())
    return out


def export_mark(store: StateStore, mapping: str) -> ExportMark | None:
    """The mapping's last full export that passed the size guard (None: none yet)."""
    m = s.meta
    q = sa.select(m.c.value).where(m.c.key == _meta_key(mapping))
    with guard("read export size"), store._db.reading() as conn:
        value = conn.execute(q).scalar()
    if value is None:
        return None
    rows, _, at = value.partition(" ")
    return ExportMark(int(rows), datetime.fromisoformat(at).astimezone(UTC))


def set_export_mark(store: StateStore, mapping: str, rows: int, at: datetime) -> None:
    """Remember a full export that passed the guard (its rows and the run's time)."""
    m = s.meta
    value = f"{rows} {at.astimezone(UTC).isoformat()}"
    write = sa.update(m).where(m.c.key == _meta_key(mapping)).values(value=value)
    with guard("remember export size"), store._db.writing() as conn:
        if not conn.execute(write).rowcount:
            conn.execute(sa.insert(m).values(key=_meta_key(mapping), value=value))


ENDED_BY_SOURCE = "deleted"  # synced.lifecycle of a record its source marked deleted


def anchor_end(store: StateStore, mapping: str, key_hashes: Sequence[str], at: datetime) -> None:
    """The source says these records are deleted (OneRoster ``tobedeleted``): their lifecycle
    ends at ``at`` (an end they already have stays), so ``lifecycle_end`` retention counts."""
    t = s.synced
    stmt = (
        sa.update(t)
        .where(t.c.mapping == mapping, t.c.key_hash.in_(_in), t.c.lifecycle_end_at.is_(None))
        .values(lifecycle=ENDED_BY_SOURCE, lifecycle_end_at=at)
    )
    with guard("anchor ends the source marked"), store._db.writing() as conn:
        for chunk in padded_chunks(list(key_hashes)):
            conn.execute(stmt, {"hashes": chunk})


def revive(store: StateStore, mapping: str, key_hashes: Sequence[str]) -> None:
    """Records a source marked deleted and now holds again: the end it anchored is lifted."""
    t = s.synced
    stmt = (
        sa.update(t)
        .where(t.c.mapping == mapping, t.c.key_hash.in_(_in), t.c.lifecycle == ENDED_BY_SOURCE)
        .values(lifecycle=None, lifecycle_end_at=None)
    )
    with guard("lift ends the source marked"), store._db.writing() as conn:
        for chunk in padded_chunks(list(key_hashes)):
            conn.execute(stmt, {"hashes": chunk})
