"""The writer seam: one abstract write step, with a Bulk API 2.0 and an sObject Collections form.

Modelled on CumulusCI's data-load steps (``cumulusci/tasks/bulkdata/step.py``: one abstract DML
operation, a Bulk and a REST implementation, a typed status per record). Here a step takes an
:class:`Operation` and rows and returns one :class:`~connector.records.WriteResult` per row, in
input order; ``WriteResult.status`` is the typed outcome (CREATED / UPDATED / FAILED /
NOT_SENT). A record Salesforce refused is a result, not an exception. When a step stops
half-way (``errors.LimitReached``, or a call that keeps failing) it raises, and the exception's
``results`` hold the results so far with ``NOT_SENT`` for the rest.

Which step runs, lock retries and the create-only replay are the :class:`Writer`'s business
(``writer.py``); a step only sends.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from connector import errors
from connector.records import WriteResult
from connector.salesforce.bulk import NOT_SENT, BulkJob, redact
from connector.salesforce.client import SalesforceClient

OpKind = Literal["upsert", "update", "delete", "hardDelete"]
Row = Mapping[str, Any]
# Salesforce refuses more than 200 records per collections call (SF-coll-create, wire spec §3).
COLLECTION_LIMIT = 200
# salesforce.duplicate_rules → the REST header "Sforce-Duplicate-Rule-Header: allowSave=…"
# (API 52.0+, applied to create, update and upsert — Duplicate Rule Header, REST API Developer
# Guide, https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_duplicaterules.htm).
# Bulk API 2.0 documents no such header: duplicate rules there act as configured in the org.
DUPLICATE_RULE_HEADER = "Sforce-Duplicate-Rule-Header"


@dataclass(frozen=True)
class Operation:
    """What to do with the rows: the kind, the sObject and (upsert) the external-id field."""

    kind: OpKind
    obj: str
    external_id_field: str | None = None


def attach_results(exc: errors.SalesforceError, results: Sequence[WriteResult | None]) -> None:
    """Give a stopping exception the results so far (``NOT_SENT`` where there is none)."""
    exc.results = [r or NOT_SENT for r in results]  # type: ignore[attr-defined]


def results_of(exc: BaseException) -> list[WriteResult]:
    """The ``results`` a stopping exception carries (empty when it has none)."""
    found = getattr(exc, "results", None)
    return list(found) if isinstance(found, list) else []


class WriteStep(ABC):
    """One way of sending rows to Salesforce.

    Args:
        client: The authenticated client every call goes through (guard, refresh, retries).
    """

    name: str = "step"

    def __init__(self, client: SalesforceClient):
        self.client = client

    @abstractmethod
    def run(self, op: Operation, rows: Sequence[Row]) -> list[WriteResult]:
        """Send ``rows`` for ``op``; one result per row, in input order.

        Raises:
            errors.SalesforceError: The step stopped; ``.results`` holds what it got so far.
        """


class CollectionsStep(WriteStep):
    """sObject Collections, ``batch_size`` records per call (≤ 200), ``allOrNone: false``.

    One call per ``batch_size`` rows (SF-coll-create / SF-coll-upsert / SF-coll-delete).

    Args:
        client: The authenticated client.
        batch_size: Records per call, 1-200 (``salesforce.batch_size``).
    """

    name = "collections"

    def __init__(self, client: SalesforceClient, *, batch_size: int = COLLECTION_LIMIT):
        super().__init__(client)
        if not 1 <= batch_size <= COLLECTION_LIMIT:
            raise ValueError(f"batch_size must be 1-{COLLECTION_LIMIT}")
        self.batch_size = batch_size

    def run(self, op: Operation, rows: Sequence[Row]) -> list[WriteResult]:
        """Send ``rows`` in calls of ``batch_size``; see :meth:`WriteStep.run`."""
        results: list[WriteResult | None] = [None] * len(rows)
        try:
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                for offset, result in enumerate(self._chunk(op, chunk)):
                    results[start + offset] = result
        except errors.SalesforceError as exc:
            attach_results(exc, results)
            raise
        return [r or NOT_SENT for r in results]

    def _chunk(self, op: Operation, chunk: Sequence[Row]) -> list[WriteResult]:
        try:
            answer = self._call(op, chunk)
        except errors.SalesforceError as exc:
            if exc.status != 400 or isinstance(exc, errors.Retriable):
                raise
            # A request-level 400 (e.g. a field the org does not have): every record of this
            # call failed for the same reason; other chunks may still go through.
            return [
                WriteResult(ok=False, error_code=exc.code, message=redact(str(exc), row))
                for row in chunk
            ]
        if not isinstance(answer, list) or len(answer) != len(chunk):
            raise errors.SalesforceError(
                f"collections answered {len(answer or [])} results for {len(chunk)} records",
                code="BAD_RESPONSE",
            )
        # Results come back in request order (SF-coll-create).
        return [_collection_result(item, row, op) for item, row in zip(answer, chunk, strict=True)]

    def _call(self, op: Operation, rows: Sequence[Row]) -> Any:
        if op.kind == "delete":
            ids = ",".join(str(r["Id"]) for r in rows)
            return self.client.json(
                "DELETE", "composite/sobjects", params={"ids": ids, "allOrNone": "false"}
            )
        records = []
        for row in rows:
            record: dict[str, Any] = {"attributes": {"type": op.obj}}
            for name, value in row.items():
                if "." in name:
                    # A lookup by the parent's external id (``LearningProgram.Crebo__c``, the
                    # Bulk 2.0 header form) is a nested object in JSON:
                    # {"LearningProgram": {"Crebo__c": "25604"}} (SF-upsert, "using an
                    # external ID as a foreign key").
                    rel, _, ext = name.partition(".")
                    record[rel] = {ext: _jsonable(value)}
                    continue
                # The collections docs spell the record id "id"; field names are
                # case-insensitive in Salesforce.
                record["id" if name == "Id" else name] = _jsonable(value)
            records.append(record)
        body = {"allOrNone": False, "records": records}
        headers = duplicate_rule_headers(self.client)
        if op.kind == "upsert":
            path = f"composite/sobjects/{op.obj}/{op.external_id_field}"
            return self.client.json("PATCH", path, json=body, headers=headers)
        return self.client.json("PATCH", "composite/sobjects", json=body, headers=headers)


class BulkStep(WriteStep):
    """Bulk API 2.0: one ingest job per ≤ ``MAX_JOB_BYTES`` of CSV (see :class:`BulkJob`).

    Args:
        client: The authenticated client.
        job: The job runner (poll timing); default one on ``client``.
    """

    name = "bulk2"

    def __init__(self, client: SalesforceClient, *, job: BulkJob | None = None):
        super().__init__(client)
        self.job = job or BulkJob(client)

    def run(self, op: Operation, rows: Sequence[Row]) -> list[WriteResult]:
        """Send ``rows`` as Bulk 2.0 job(s); see :meth:`WriteStep.run`."""
        return self.job.run(op.obj, op.kind, rows, external_id_field=op.external_id_field)


def duplicate_rule_headers(client: SalesforceClient) -> dict[str, str]:
    """The duplicate-rule header of ``salesforce.duplicate_rules`` (``enforce``: allowSave=false,
    Salesforce's default, sent explicitly; ``allow_save``: save despite alert rules)."""
    mode = getattr(client.settings, "duplicate_rules", "enforce")
    allow = "true" if mode == "allow_save" else "false"
    return {DUPLICATE_RULE_HEADER: f"allowSave={allow}"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _collection_result(item: Mapping[str, Any], row: Row, op: Operation) -> WriteResult:
    sf_id = item.get("id") or (str(row["Id"]) if "Id" in row else None)
    if item.get("success"):
        return WriteResult(ok=True, sf_id=sf_id, created=bool(item.get("created", False)))
    problems = item.get("errors") or [{}]
    first = problems[0]
    fields: list[str] = []
    for problem in problems:
        fields.extend(f for f in problem.get("fields") or [] if f not in fields)
    message = "; ".join(str(p.get("message") or "") for p in problems if p.get("message"))
    return WriteResult(
        ok=False,
        sf_id=sf_id if op.kind != "upsert" else item.get("id"),
        error_code=str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN"),
        message=redact(message, row),
        fields=tuple(fields),
    )
