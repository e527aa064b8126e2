"""The state store: keyed hashes, Salesforce ids, field hashes, lifecycle dates, outbox, runs,
rejects, suppressions and the audit — never a personal value. See ``store.py`` for the tables."""

from __future__ import annotations

from connector.state.rows import (
    Anchor,
    AuditEntry,
    ExpiredRow,
    KnownRow,
    NewPerson,
    OutboxError,
    OutboxItem,
    OutboxRow,
    OutboxStatus,
    PersonMatches,
    PersonRow,
    PersonUpdate,
    RejectRow,
    RejectSummary,
    RunRow,
    RunStatus,
    SourceSeen,
    SyncedRow,
    SyncedUpdate,
)
from connector.state.store import StateStore, open_existing, open_store

__all__ = [
    "Anchor",
    "AuditEntry",
    "ExpiredRow",
    "KnownRow",
    "NewPerson",
    "OutboxError",
    "OutboxItem",
    "OutboxRow",
    "OutboxStatus",
    "PersonMatches",
    "PersonRow",
    "PersonUpdate",
    "RejectRow",
    "RejectSummary",
    "RunRow",
    "RunStatus",
    "SourceSeen",
    "StateStore",
    "SyncedRow",
    "SyncedUpdate",
    "open_existing",
    "open_store",
]
