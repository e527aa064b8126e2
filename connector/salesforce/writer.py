"""Writing to Salesforce: sObject Collections up to a threshold, Bulk API 2.0 above it.

Every write returns one ``WriteResult`` per input row, in input order. A record Salesforce
refused is a result (with its errorCode, message and fields), not an exception; the engine keeps
it as failed and sends it again on a later run. Transient failures are retried:

* whole calls (connection errors, 5xx) by the client, with exponential backoff and jitter;
* single records refused with ``UNABLE_TO_LOCK_ROW`` (trigger and roll-up contention, very common
  with EDA/NPSP, peers-and-pitfalls §3.5) here: only the locked records are sent again, in
  bounded rounds — through collections, or a smaller Bulk job if there are many.

When a write stops half-way (``errors.LimitReached``, or a call that keeps failing), the raised
exception carries ``.results``: the results so far in input order, ``NOT_SENT`` for the rest.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connector import errors
from connector.records import WriteResult
from connector.salesforce.bulk import BulkJob, redact
from connector.salesforce.client import SalesforceClient

log = logging.getLogger(__name__)

COLLECTION_LIMIT = 200  # records per sObject Collections call (SF-coll-*)
LOCKED = "UNABLE_TO_LOCK_ROW"
NOT_SENT = WriteResult(ok=False, error_code="NOT_SENT", message="not sent; left pending")


@dataclass(frozen=True)
class _Op:
    kind: str  # upsert | update | delete | hardDelete
    obj: str
    external_id_field: str | None = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class Writer:
    """Writes payloads to one org.

    Args:
        client: The authenticated client.
        bulk_threshold: With ``bulk=None``, more rows than this go through Bulk API 2.0.
        lock_attempts: Rounds of re-sending records refused with ``UNABLE_TO_LOCK_ROW``;
            default the client's ``max_retries``.
        sleep: Sleep function (tests pass a no-op).
        poll_initial: Seconds before the first Bulk job poll (doubles, up to 15 s).
        lock_backoff: Seconds before the first re-send of locked records (doubles per round).
    """

    def __init__(
        self,
        client: SalesforceClient,
        *,
        bulk_threshold: int = 2000,
        lock_attempts: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_initial: float = 0.5,
        lock_backoff: float = 0.5,
    ):
        self.client = client
        self.bulk_threshold = bulk_threshold
        self.lock_attempts = client.settings.max_retries if lock_attempts is None else lock_attempts
        self.sleep = sleep
        self.lock_backoff = lock_backoff
        self.bulk = BulkJob(client, sleep=sleep, poll_initial=poll_initial)
        self._calls_at_start = client.calls_made

    @property
    def api_calls(self) -> int:
        """API calls made through this writer's client since the writer was created."""
        return self.client.calls_made - self._calls_at_start

    # -- public operations ---------------------------------------------------------------

    def upsert(
        self,
        obj: str,
        external_id_field: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        bulk: bool | None = None,
    ) -> list[WriteResult]:
        """Create or update ``rows`` by their external id.

        Args:
            obj: sObject name, e.g. ``Contact``.
            external_id_field: The external-id field every row carries, e.g.
                ``SIS_Student_Number__c``.
            rows: Field → value; ``None`` clears a field, an absent key leaves it as it is.
            bulk: ``True`` Bulk API 2.0, ``False`` collections, ``None`` by ``bulk_threshold``.

        Returns:
            One result per row, in input order (``created`` tells insert from update).
        """
        for index, row in enumerate(rows):
            if row.get(external_id_field) in (None, ""):
                raise ValueError(f"row {index} has no {external_id_field}")
            if "Id" in row:
                raise ValueError(f"row {index}: an upsert by external id must not carry Id")
        return self._write(_Op("upsert", obj, external_id_field), rows, bulk)

    def update(
        self, obj: str, rows_with_Id: Sequence[Mapping[str, Any]], *, bulk: bool | None = None
    ) -> list[WriteResult]:
        """Update records by ``Id`` (each row carries ``Id``); see ``upsert`` for the rest."""
        for index, row in enumerate(rows_with_Id):
            if not row.get("Id"):
                raise ValueError(f"row {index} has no Id")
        return self._write(_Op("update", obj), rows_with_Id, bulk)

    def delete(
        self, obj: str, ids: Sequence[str], *, bulk: bool | None = None, hard: bool = False
    ) -> list[WriteResult]:
        """Delete records by Id; ``hard=True`` bypasses the recycle bin (Bulk ``hardDelete``).

        Hard delete exists only in the Bulk API (and needs the "Bulk API Hard Delete"
        permission), so ``hard=True`` always goes through Bulk API 2.0.
        """
        rows = [{"Id": str(i)} for i in ids]
        if hard:
            return self._write(_Op("hardDelete", obj), rows, True)
        return self._write(_Op("delete", obj), rows, bulk)

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Yield the records of a SOQL query page by page, without ``attributes``.

        Args:
            soql: The query; values in it are personal data and never logged.
            include_deleted: Use ``queryAll`` (soft-deleted rows too).
        """
        path = "queryAll/" if include_deleted else "query/"
        page = self.client.json("GET", path, params={"q": soql})
        while True:
            for record in page.get("records", []):
                yield _strip_attributes(record)
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.client.json("GET", next_url)

    # -- strategy ------------------------------------------------------------------------

    def _write(
        self, op: _Op, rows: Sequence[Mapping[str, Any]], bulk: bool | None
    ) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(rows)
        pending = list(range(len(rows)))
        use_bulk = len(rows) > self.bulk_threshold if bulk is None else bulk
        try:
            for attempt in range(self.lock_attempts + 1):
                if attempt:
                    # Exponential backoff with jitter, so that competing writers (triggers,
                    # roll-ups) get out of each other's way.
                    base = self.lock_backoff * 2 ** (attempt - 1)
                    self.sleep(min(30.0, base) + random.uniform(0, self.lock_backoff))
                    log.info(
                        "re-sending %d %s records refused with %s (round %d)",
                        len(pending),
                        op.obj,
                        LOCKED,
                        attempt,
                    )
                # Lock retries are few records: collections, unless there are many (or the
                # operation exists only in Bulk).
                if op.kind == "hardDelete" or (
                    use_bulk if attempt == 0 else len(pending) > self.bulk_threshold
                ):
                    self._bulk(op, rows, pending, results)
                else:
                    self._collections(op, rows, pending, results)
                pending = [i for i in pending if (r := results[i]) and r.error_code == LOCKED]
                if not pending:
                    break
        except errors.SalesforceError as exc:
            exc.results = [r or NOT_SENT for r in results]  # type: ignore[attr-defined]
            raise
        return [r or NOT_SENT for r in results]

    def _bulk(
        self,
        op: _Op,
        rows: Sequence[Mapping[str, Any]],
        indices: list[int],
        results: list[WriteResult | None],
    ) -> None:
        answer = self.bulk.run(
            op.obj,
            op.kind,
            [rows[i] for i in indices],
            external_id_field=op.external_id_field,
        )
        for index, result in zip(indices, answer, strict=True):
            results[index] = result

    def _collections(
        self,
        op: _Op,
        rows: Sequence[Mapping[str, Any]],
        indices: list[int],
        results: list[WriteResult | None],
    ) -> None:
        for start in range(0, len(indices), COLLECTION_LIMIT):
            chunk = indices[start : start + COLLECTION_LIMIT]
            try:
                answer = self._collection_call(op, [rows[i] for i in chunk])
            except errors.SalesforceError as exc:
                if exc.status != 400 or isinstance(exc, errors.Retriable):
                    raise
                # A request-level 400 (e.g. a field the org does not have): every record of
                # this call failed for the same reason; other chunks may still go through.
                for index in chunk:
                    results[index] = WriteResult(
                        ok=False, error_code=exc.code, message=redact(str(exc), rows[index])
                    )
                continue
            if not isinstance(answer, list) or len(answer) != len(chunk):
                raise errors.SalesforceError(
                    f"collections answered {len(answer or [])} results for {len(chunk)} records",
                    code="BAD_RESPONSE",
                )
            # Results come back in request order (SF-coll-create).
            for index, item in zip(chunk, answer, strict=True):
                results[index] = _collection_result(item, rows[index], op)

    def _collection_call(self, op: _Op, rows: list[Mapping[str, Any]]) -> Any:
        if op.kind == "delete":
            ids = ",".join(str(r["Id"]) for r in rows)
            return self.client.json(
                "DELETE", "composite/sobjects", params={"ids": ids, "allOrNone": "false"}
            )
        records = []
        for row in rows:
            record: dict[str, Any] = {"attributes": {"type": op.obj}}
            for name, value in row.items():
                # The collections docs spell the record id "id"; field names are
                # case-insensitive in Salesforce.
                record["id" if name == "Id" else name] = _jsonable(value)
            records.append(record)
        body = {"allOrNone": False, "records": records}
        if op.kind == "upsert":
            path = f"composite/sobjects/{op.obj}/{op.external_id_field}"
            return self.client.json("PATCH", path, json=body)
        return self.client.json("PATCH", "composite/sobjects", json=body)


def _collection_result(item: Mapping[str, Any], row: Mapping[str, Any], op: _Op) -> WriteResult:
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


def _strip_attributes(record: Any) -> Any:
    if isinstance(record, dict):
        return {k: _strip_attributes(v) for k, v in record.items() if k != "attributes"}
    if isinstance(record, list):
        return [_strip_attributes(v) for v in record]
    return record
