"""Writing to Salesforce: sObject Collections up to a threshold, Bulk API 2.0 above it.

Every write returns one ``WriteResult`` per input row, in input order; ``WriteResult.status`` is
the typed outcome. A record Salesforce refused is a result (with its errorCode, message and
fields), not an exception; the engine keeps it as failed and sends it again on a later run.
Every write goes through :meth:`Writer._write`, the one choke point (a read-only subclass
overrides just that); the sending itself is a :class:`~connector.salesforce.steps.WriteStep`.

What the writer adds on top of a step:

* **Lock retries.** Records refused with ``UNABLE_TO_LOCK_ROW`` (trigger and roll-up contention,
  very common with EDA/NPSP, peers-and-pitfalls §3.5) are sent again alone, in bounded rounds —
  through collections, or a smaller Bulk job if there are many. Whole calls (connection errors,
  5xx) are retried by the client.
* **Replays that converge.** See :meth:`Writer._create_only_replay`.
* **Asynchronous Bulk jobs.** :meth:`Writer.submit` runs Bulk writes in worker threads (at most
  ``max_in_flight`` outstanding), so the engine keeps mapping while Salesforce works.

When a write stops half-way (``errors.LimitReached``, or a call that keeps failing), the raised
exception carries ``.results``: the results so far in input order, ``NOT_SENT`` for the rest.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Literal, overload

from connector import errors
from connector.records import WriteResult, WriteStatus
from connector.salesforce.bulk import NOT_SENT, BulkJob
from connector.salesforce.client import SalesforceClient
from connector.salesforce.describe import Describer
from connector.salesforce.query_batch import query_many
from connector.salesforce.steps import (
    COLLECTION_LIMIT,
    BulkStep,
    CollectionsStep,
    Operation,
    Row,
    WriteStep,
    attach_results,
    results_of,
)

log = logging.getLogger(__name__)

LOCKED = "UNABLE_TO_LOCK_ROW"
LOCK_BACKOFF = 0.5  # seconds before the first re-send of row-locked records
NOT_WRITABLE = "INVALID_FIELD_FOR_INSERT_UPDATE"
_Op = Operation  # the name subclasses of Writer used before the steps module existed

__all__ = ["COLLECTION_LIMIT", "LOCKED", "NOT_SENT", "NOT_WRITABLE", "Operation", "Writer"]


class Writer:
    """Writes payloads to one org.

    Args:
        client: The authenticated client.
        bulk_threshold: With ``bulk=None``, more rows than this go through Bulk API 2.0.
        batch_size: Records per sObject Collections call (``salesforce.batch_size``, ≤ 200).
        lock_attempts: Rounds of re-sending records refused with ``UNABLE_TO_LOCK_ROW``;
            default the client's ``max_retries``.
        sleep: Sleep function (tests pass a no-op).
        poll_initial: Seconds before the first Bulk job poll (doubles, up to 15 s).
        lock_backoff: Seconds before the first re-send of locked records (doubles per round);
            default :data:`LOCK_BACKOFF`.
        max_in_flight: Bulk writes from :meth:`submit` outstanding at once; ``submit`` blocks
            while this many are queued or running.
        calls_at_start: The client's call count :attr:`api_calls` counts from; default its
            count now (0: every call the client made, e.g. a check before the run).
    """

    def __init__(
        self,
        client: SalesforceClient,
        *,
        bulk_threshold: int = 2000,
        batch_size: int = COLLECTION_LIMIT,
        lock_attempts: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_initial: float = 0.5,
        lock_backoff: float | None = None,
        max_in_flight: int = 2,
        calls_at_start: int | None = None,
    ):
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.client = client
        self.bulk_threshold = bulk_threshold
        self.lock_attempts = client.settings.max_retries if lock_attempts is None else lock_attempts
        self.sleep = sleep
        self.lock_backoff = LOCK_BACKOFF if lock_backoff is None else lock_backoff
        self.bulk = BulkJob(client, sleep=sleep, poll_initial=poll_initial)
        self.collections_step: WriteStep = CollectionsStep(client, batch_size=batch_size)
        self.bulk_step: WriteStep = BulkStep(client, job=self.bulk)
        self.describer = Describer(client)
        self.max_in_flight = max_in_flight
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._pool: ThreadPoolExecutor | None = None
        self._pending: set[Future[list[WriteResult]]] = set()
        self._pending_lock = threading.Lock()
        # api_calls counts from here: the client's count now, or from what the caller says
        # the run made on it before (0: all of them).
        self._calls_at_start = client.calls_made if calls_at_start is None else calls_at_start

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
        return self._write(self._operation("upsert", obj, rows, external_id_field), rows, bulk)

    def update(
        self, obj: str, rows_with_Id: Sequence[Mapping[str, Any]], *, bulk: bool | None = None
    ) -> list[WriteResult]:
        """Update records by ``Id`` (each row carries ``Id``); see ``upsert`` for the rest."""
        return self._write(self._operation("update", obj, rows_with_Id, None), rows_with_Id, bulk)

    def delete(
        self, obj: str, ids: Sequence[str], *, bulk: bool | None = None, hard: bool = False
    ) -> list[WriteResult]:
        """Delete records by Id; ``hard=True`` bypasses the recycle bin (Bulk ``hardDelete``).

        Hard delete exists only in the Bulk API (and needs the "Bulk API Hard Delete"
        permission), so ``hard=True`` always goes through Bulk API 2.0.
        """
        rows = [{"Id": str(i)} for i in ids]
        if hard:
            return self._write(Operation("hardDelete", obj), rows, True)
        return self._write(Operation("delete", obj), rows, bulk)

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

    def query_many(
        self, soqls: Sequence[str], *, include_deleted: bool = False
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every record of several queries as ``(query index, record)``: up to five queries per
        API call (``/composite``, see :mod:`connector.salesforce.query_batch`)."""
        return query_many(self.client, soqls, include_deleted=include_deleted)

    # -- asynchronous submission ---------------------------------------------------------

    def submit(
        self,
        kind: Literal["upsert", "update"],
        obj: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str | None,
        bulk: bool,
    ) -> Future[list[WriteResult]]:
        """Start a write and return its future; the caller keeps working meanwhile.

        Collections writes (``bulk=False``) run here and now and return a completed future.
        Bulk writes run in a worker thread; at most ``max_in_flight`` are outstanding, and
        ``submit`` blocks until one finishes when that many are. Rows must not be changed
        after they are submitted.

        Args:
            kind: ``upsert`` (by ``external_id_field``) or ``update`` (rows carry ``Id``).
            obj: sObject name.
            rows: Payloads, as for :meth:`upsert` / :meth:`update`.
            external_id_field: The upsert key (``None`` for update).
            bulk: Bulk API 2.0 (``True``) or sObject Collections.

        Returns:
            A future of one result per row, in input order. On a stop it raises
            ``errors.LimitReached`` / ``errors.SalesforceError`` whose ``.results`` hold the
            results so far and ``NOT_SENT`` for the rest.

        Raises:
            ValueError: A row without its key (a programming error), at once.
        """
        op = self._operation(kind, obj, rows, external_id_field)
        if not bulk:
            done: Future[list[WriteResult]] = Future()
            try:
                done.set_result(self._write(op, rows, False))
            except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
                done.set_exception(exc)
            return done
        self._slots.acquire()  # blocks while max_in_flight writes are outstanding
        try:
            with self._pending_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        max_workers=self.max_in_flight, thread_name_prefix="sf-bulk"
                    )
                # A list is copied (the caller may reuse it); another sequence (the engine's
                # rows spooled on disk) is read as it is sent, never all at once.
                held = list(rows) if isinstance(rows, list) else rows
                future = self._pool.submit(self._write, op, held, True)
                self._pending.add(future)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._finished)
        return future

    def drain(self) -> None:
        """Wait until every submitted write has finished. Never raises (the futures do)."""
        with self._pending_lock:
            pending = list(self._pending)
        wait(pending)

    def close(self) -> None:
        """Wait for submitted writes, then stop the worker threads (a new submit restarts)."""
        self.drain()
        with self._pending_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _finished(self, future: Future[list[WriteResult]]) -> None:
        with self._pending_lock:
            self._pending.discard(future)
        self._slots.release()

    # -- strategy ------------------------------------------------------------------------

    def _operation(
        self, kind: str, obj: str, rows: Sequence[Mapping[str, Any]], external_id_field: str | None
    ) -> Operation:
        # Rows in memory are checked here; spooled rows (not a list or tuple) were planned
        # with their key and are not read from disk an extra time for it.
        checked = rows if isinstance(rows, list | tuple) else ()
        if kind == "upsert":
            if not external_id_field:
                raise ValueError("an upsert needs its external_id_field")
            for index, row in enumerate(checked):
                if row.get(external_id_field) in (None, ""):
                    raise ValueError(f"row {index} has no {external_id_field}")
                if "Id" in row:
                    raise ValueError(f"row {index}: an upsert by external id must not carry Id")
            return Operation("upsert", obj, external_id_field)
        if kind == "update":
            for index, row in enumerate(checked):
                if not row.get("Id"):
                    raise ValueError(f"row {index} has no Id")
            return Operation("update", obj)
        raise ValueError(f"unknown write kind {kind!r}")

    def _write(self, op: Operation, rows: Sequence[Row], bulk: bool | None) -> list[WriteResult]:
        """Send ``rows`` (the one choke point of every write); one result per row, in order."""
        results: list[WriteResult | None] = [None] * len(rows)
        use_bulk = len(rows) > self.bulk_threshold if bulk is None else bulk
        try:
            self._rounds(op, rows, list(range(len(rows))), results, use_bulk)
            replay = self._create_only_replay(op, rows, results)
            if replay:
                log.info(
                    "%d %s records exist already: sent again without their create-only fields",
                    len(replay),
                    op.obj,
                )
                again = _Replaced(rows, replay)
                many = len(replay) > self.bulk_threshold
                self._rounds(op, again, list(replay), results, use_bulk and many)
        except errors.SalesforceError as exc:
            attach_results(exc, results)
            raise
        return [r or NOT_SENT for r in results]

    def _rounds(
        self,
        op: Operation,
        rows: Sequence[Row],
        indices: list[int],
        results: list[WriteResult | None],
        use_bulk: bool,
    ) -> None:
        pending = indices
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
            bulk_now = use_bulk if attempt == 0 else len(pending) > self.bulk_threshold
            step = self.bulk_step if op.kind == "hardDelete" or bulk_now else self.collections_step
            self._send(step, op, rows, pending, results)
            pending = [i for i in pending if (r := results[i]) and r.error_code == LOCKED]
            if not pending:
                return

    @staticmethod
    def _send(
        step: WriteStep,
        op: Operation,
        rows: Sequence[Row],
        indices: list[int],
        results: list[WriteResult | None],
    ) -> None:
        # Every row (a first round): the rows themselves, not a list of them (spooled rows
        # are loaded as the step reads them).
        batch = rows if len(indices) == len(rows) else [rows[i] for i in indices]
        try:
            answer = step.run(op, batch)
        except errors.SalesforceError as exc:
            # Keep what landed; a row not sent this time keeps its earlier result, if any.
            for index, result in zip(indices, results_of(exc), strict=False):
                if result.status is not WriteStatus.NOT_SENT:
                    results[index] = result
            raise
        for index, result in zip(indices, answer, strict=True):
            results[index] = result

    def _create_only_replay(
        self, op: Operation, rows: Sequence[Row], results: list[WriteResult | None]
    ) -> dict[int, Row]:
        """Rows to send again without their create-only fields: index → stripped row.

        A replayed upsert (state lost, a SIGKILL between Salesforce's commit and ours, a client
        timeout) finds the record existing and becomes an update, and Salesforce refuses an
        update that carries a field it does not let an update change (describe
        ``createable: true, updateable: false``, e.g. CampaignMember.CampaignId/ContactId) with
        ``INVALID_FIELD_FOR_INSERT_UPDATE`` naming the field (SF-err; wire spec §2.2, §6.4).
        Such a row already has those fields (they were set on create) and they cannot differ:
        they are part of what identifies it. So the row is sent once more without them.

        Why after the error rather than a pre-query of existing external ids: the pre-query
        costs a call per batch on every run, the re-send one call per batch only on a replay,
        and a clean run pays nothing (not even the describe, which is made only here and
        cached). Only rows whose every refused field is create-only per describe qualify; any
        other refusal stays a failure.
        """
        if op.kind not in ("upsert", "update"):
            return {}
        suspects = [
            (i, r) for i, r in enumerate(results) if r and r.error_code == NOT_WRITABLE and r.fields
        ]
        if not suspects:
            return {}
        create_only = self.describer.create_only(op.obj)
        replay: dict[int, Row] = {}
        for index, result in suspects:
            if not {f.lower() for f in result.fields} <= create_only:
                continue
            row = rows[index]
            stripped = {k: v for k, v in row.items() if k.lower() not in create_only}
            if len(stripped) < len(row):
                replay[index] = stripped
        return replay


class _Replaced(Sequence[Row]):
    """``rows`` with some replaced (index → row): the create-only replay re-sends a few rows
    without copying them all."""

    def __init__(self, rows: Sequence[Row], replaced: dict[int, Row]):
        self.rows, self.replaced = rows, replaced

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | Sequence[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self.rows)
        row = self.replaced.get(index)
        return row if row is not None else self.rows[index]


def _strip_attributes(record: Any) -> Any:
    if isinstance(record, dict):
        return {k: _strip_attributes(v) for k, v in record.items() if k != "attributes"}
    if isinstance(record, list):
        return [_strip_attributes(v) for v in record]
    return record
