"""The Salesforce side: settings, OAuth token, client session, writer and describe checks.

::

    client = SalesforceClient(settings)            # token, limit guard, refresh-once, retries
    writer = Writer(client, bulk_threshold=settings.bulk_threshold)
    results = writer.upsert("Contact", "SIS_Student_Number__c", rows)   # list[WriteResult]
    future = writer.submit("upsert", "Contact", rows, external_id_field="SIS_Student_Number__c",
                           bulk=True)                 # a Bulk job in a worker thread
    writer.close()                                    # waits for every submitted write
"""

from __future__ import annotations

from connector.salesforce.auth import Token, get_token
from connector.salesforce.bulk import BulkJob
from connector.salesforce.client import LimitGuard, SalesforceClient, parse_limit_info, scrub
from connector.salesforce.describe import Describer
from connector.salesforce.settings import SalesforceSettings
from connector.salesforce.steps import BulkStep, CollectionsStep, Operation, WriteStep
from connector.salesforce.writer import NOT_SENT, Writer


def connect(settings: SalesforceSettings) -> Writer:
    """A writer on the configured org. Authenticates now: refused credentials are exit 2."""
    client = SalesforceClient(settings)
    return Writer(client, bulk_threshold=settings.bulk_threshold, batch_size=settings.batch_size)


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
