"""The Salesforce side: settings, OAuth token, client session, writer and describe checks.

::

    client = SalesforceClient(settings)            # token, limit guard, refresh-once, retries
    writer = Writer(client, bulk_threshold=settings.bulk_threshold)
    results = writer.upsert("Contact", "SIS_Student_Number__c", rows)   # list[WriteResult]
    future = writer.submit("upsert", "Contact", rows, external_id_field="SIS_Student_Number__c",
                           bulk=True)                 # a Bulk job in a worker thread
    writer.close()                                    # waits for every submitted write

The names below are loaded on first use (PEP 562): ``connector.config`` imports
``connector.salesforce.settings``, which runs this file, and ``status`` or ``--help`` must not pay
for simple-salesforce, requests, PyJWT and zeep (≈ 0.3 s CPU) that only a sync needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.salesforce.auth import Token, get_token
    from connector.salesforce.bulk import BulkJob
    from connector.salesforce.client import LimitGuard, SalesforceClient, parse_limit_info, scrub
    from connector.salesforce.describe import Describer
    from connector.salesforce.settings import SalesforceSettings
    from connector.salesforce.steps import BulkStep, CollectionsStep, Operation, WriteStep
    from connector.salesforce.writer import NOT_SENT, Writer

# name → the submodule that defines it
_LAZY = {
    "Token": "auth", "get_token": "auth", "BulkJob": "bulk", "LimitGuard": "client",
    "SalesforceClient": "client", "parse_limit_info": "client", "scrub": "client",
    "Describer": "describe", "SalesforceSettings": "settings", "BulkStep": "steps",
    "CollectionsStep": "steps", "Operation": "steps", "WriteStep": "steps", "NOT_SENT": "writer",
    "Writer": "writer",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def connect(settings: SalesforceSettings, client: SalesforceClient | None = None) -> Writer:
    """A writer on the configured org. Authenticates now: refused credentials are exit 2.

    ``client``: one this run logged in with already (the lost-state check,
    ``sync/recovery.py``); the writer's API calls then count the calls it made too."""
    from connector.salesforce.client import SalesforceClient
    from connector.salesforce.writer import Writer

    counted = None if client is None else 0
    client = client or SalesforceClient(settings)
    return Writer(
        client,
        bulk_threshold=settings.bulk_threshold,
        batch_size=settings.batch_size,
        calls_at_start=counted,
    )


__all__ = [
    "NOT_SENT",
    "BulkJob",
    "BulkStep",
    "CollectionsStep",
    "Describer",
    "LimitGuard",
    "Operation",
    "SalesforceClient",
    "SalesforceSettings",
    "Token",
    "WriteStep",
    "Writer",
    "connect",
    "get_token",
    "parse_limit_info",
    "scrub",
]
