"""The state store: keyed hashes, Salesforce ids, field hashes, lifecycle dates, outbox, runs,
rejects, suppressions and the audit — never a personal value. See ``store.py`` for the tables.

The row types load at once (plain dataclasses); the store and SQLAlchemy on first use (PEP 562),
so ``status`` over a SQLite state can read it without SQLAlchemy (``status_queries.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from connector.state.store import StateStore, open_existing, open_store, recovery_facts

_FROM_STORE = frozenset({"StateStore", "open_existing", "open_store", "recovery_facts"})


def __getattr__(name: str) -> Any:
    """The store's names, imported (with SQLAlchemy) on first use."""
    if name not in _FROM_STORE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("connector.state.store"), name)
    globals()[name] = value
    return value


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
    "recovery_facts",
]
