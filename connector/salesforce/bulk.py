"""Bulk API 2.0 ingest jobs: CSV in, per-row results back in input order.

Our own calls (through ``SalesforceClient.request``) rather than ``sf.bulk2``: simple-salesforce
builds the CSV from ``set()`` of the keys and writes ``None`` as an empty cell, which Bulk 2.0
*ignores* on update — a field the privacy policy withholds would never be cleared. Here ``None``
(and ``""``) become ``#N/A``, which sets the field to null (wire spec §5.1, B2-csv); a key missing
from a row stays an empty cell and leaves the field as it is.

Result rows come back in no guaranteed order (B2-ok, B2-fail); they are matched to the input by
the key column (the external id for upsert, ``Id`` otherwise) as it was sent.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import IO, Any, Protocol, cast, runtime_checkable

from connector import errors
from connector.records import WriteResult
from connector.salesforce.client import SalesforceClient, scrub

CLEAR = "#N/A"
TERMINAL = {"JobComplete", "Failed", "Aborted"}
# One job's upload: "A request can provide CSV data that does not in total exceed 150 MB of
# base64 encoded content ... the data must be 100 MB or less" (B2-upload, B2-limits; wire spec
# §5.4). 100 MB read as decimal megabytes, less 1 MB of margin (simple-salesforce keeps the
# same margin): a chunk bigger than this is split by bytes into several jobs.
MAX_JOB_BYTES = 99_000_000
CSV_HEADERS = {"Content-Type": "text/csv; charset=UTF-8", "Accept": "application/json"}
RESULT_HEADERS = {"Accept": "text/csv; charset=UTF-8"}
# Rows per second assumed for a job's first poll only (a heuristic, not a documented rate: Bulk
# 2.0 processes a job in internal batches of 10,000 records, B2-limits, several in parallel).
ROWS_PER_SECOND = 10_000
NOT_SENT = WriteResult(ok=False, error_code="NOT_SENT", message="not sent; left pending")
STREAM_ATTEMPTS = 3  # reads of one result CSV whose connection broke part-way


@runtime_checkable
class KnownColumns(Protocol):
    """Rows that know their CSV columns (every key any row has), so a job reads them once: the
    engine's spooled rows (``connector/sync/spool.py``) are loaded from disk as they are read."""

    columns: list[str]


def cell(value: Any) -> str:
    """One CSV cell as Bulk 2.0 reads it: ``None``/``""`` clear the field (``#N/A``)."""
    if value is None or value == "":
        return CLEAR
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows → CSV text with LF line endings; a key absent from a row is an empty (ignored) cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row[c]) if c in row else "" for c in columns])
    return out.getvalue()


def csv_chunks(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    limit: int = MAX_JOB_BYTES,
    *,
    keys: tuple[str, list[str]] | None = None,
) -> Iterator[tuple[int, int, bytes]]:
    """Split rows into CSV uploads of at most ``limit`` bytes each (header included).

    Yields ``(start, end, csv_bytes)`` for ``rows[start:end]``; sized by bytes, never by a row
    count. A single row bigger than ``limit`` still goes alone (Salesforce then refuses it and
    the job's failure is reported for that row). ``keys=(column, out)``: each row's cell of
    that column is appended to ``out`` on the way (results are matched by it), so the rows are
    read once.

    An upload is held once: its lines go into one growing buffer whose bytes are handed over
    as they are (``BytesIO.getvalue`` of an unshared buffer is not a copy), and the generator
    keeps no reference while the caller runs the job (a list of line parts joined at the
    yield held a job's CSV twice, for as long as the job ran).
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    header = text.getvalue().encode("utf-8")
    out = [io.BytesIO()]  # a box: _taken swaps the buffer, so this frame keeps no reference
    out[0].write(header)
    size, start = len(header), 0
    index = -1
    for index, row in enumerate(rows):
        if keys is not None:
            keys[1].append(cell(row.get(keys[0])))
        text.seek(0)
        text.truncate()
        writer.writerow([cell(row[c]) if c in row else "" for c in columns])
        line = text.getvalue().encode("utf-8")
        if size + len(line) > limit and index > start:
            yield start, index, _taken(out)
            out[0].write(header)
            size, start = len(header), index
        out[0].write(line)
        size += len(line)
    if index + 1 > start:
        yield start, index + 1, _taken(out)


def _taken(box: list[io.BytesIO]) -> bytes:
    """The bytes of the buffer in ``box``, which gets a fresh one: the caller's, unshared."""
    data = box[0].getvalue()
    box[0] = io.BytesIO()
    return data


def columns_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every key of every row, in order of first appearance (stable, unlike ``set()``)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def parse_error(text: str) -> tuple[str, str, tuple[str, ...]]:
    """``"CODE:message:Field1,Field2 --"`` → (code, message, fields) (sf__Error, B2-fail)."""
    code, _, rest = text.strip().partition(":")
    rest = rest.strip().removesuffix("--").rstrip()
    message, _, field_text = rest.rpartition(":") if ":" in rest else (rest, "", "")
    fields = tuple(f.strip() for f in field_text.split(",") if f.strip())
    return code.strip(), message.strip(), fields


class BulkJob:
    """Run Bulk 2.0 ingest jobs and return one ``WriteResult`` per row, in input order.

    Args:
        client: The authenticated client.
        sleep: Sleep function (tests pass a no-op).
        poll_initial: Seconds before the first status poll; doubles up to ``poll_max``. Half a
            second: a job of a few thousand rows is often done in a second or two, and the
            doubling keeps a long job at a handful of polls (each poll is an API call).
        poll_max: Longest wait between polls.
        timeout: Seconds after which an unfinished job is aborted.
        max_job_bytes: Most bytes of CSV (header included) per job; tests lower it.
    """

    def __init__(
        self,
        client: SalesforceClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_initial: float = 0.5,
        poll_max: float = 15.0,
        timeout: float = 3600.0,
        max_job_bytes: int = MAX_JOB_BYTES,
    ):
        self.client = client
        self.sleep = sleep
        self.poll_initial, self.poll_max, self.timeout = poll_initial, poll_max, timeout
        self.max_job_bytes = max_job_bytes
        # Rows a second this org processed in the last finished job (None: no job yet).
        self.rate: float | None = None

    def run(
        self,
        obj: str,
        operation: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str | None = None,
    ) -> list[WriteResult]:
        """Write ``rows`` with one job per ≤ ``MAX_JOB_BYTES`` of CSV, one job after another.

        API calls per job: create 1 + upload 1 + close 1 + polls (≥ 1: the first after
        :meth:`first_poll`, then when the job's progress says it should be done, else each
        time the time waited has grown by half, each wait at most ``poll_max``: typically 2-3
        polls) + ``successfulResults`` 1
        (skipped for update and delete when nothing failed: the Ids are known) +
        ``failedResults`` 1 (only when the job reports failed records). Rows in neither result
        of a job that did not complete are marked unprocessed without downloading
        ``unprocessedrecords``. A clean upsert job is therefore 4 calls + its polls.

        Args:
            obj: sObject name.
            operation: ``upsert``, ``update``, ``delete`` or ``hardDelete``.
            rows: Payloads; update/delete rows carry ``Id``.
            external_id_field: The upsert key.

        Returns:
            One result per row, in input order.

        Raises:
            errors.SalesforceError: A job stopped; ``.results`` holds the results of the jobs
                that finished, ``NOT_SENT`` for the rest.
        """
        key = (external_id_field if operation == "upsert" else "Id") or "Id"
        if operation in ("delete", "hardDelete"):
            columns = ["Id"]
        elif isinstance(rows, KnownColumns):
            columns = list(rows.columns)
        else:
            columns = columns_of(rows)
        results: list[WriteResult] = []
        cells: list[str] = []
        try:
            for start, end, data in csv_chunks(
                rows, columns, self.max_job_bytes, keys=(key, cells)
            ):
                part = rows[start:end]
                part_keys = cells[: end - start]
                del cells[: end - start]  # in place: the generator appends to this list
                upload = [data]
                del data  # _job lets go of the CSV once it is uploaded (Upload)
                results += self._job(
                    obj, operation, part, part_keys, upload, external_id_field, key
                )
        except errors.SalesforceError as exc:
            done = results + [NOT_SENT] * (len(rows) - len(results))
            exc.results = done  # type: ignore[attr-defined]
            raise
        return results

    def _job(
        self,
        obj: str,
        operation: str,
        rows: Sequence[Mapping[str, Any]],
        keys: list[str],
        upload: list[bytes],
        external_id_field: str | None,
        key: str,
    ) -> list[WriteResult]:
        """One job. ``upload`` holds its CSV and is emptied once Salesforce has it: the bytes
        (up to ``max_job_bytes``) are not kept while the job runs and its results are read."""
        body: dict[str, Any] = {
            "object": obj,
            "operation": operation,
            "contentType": "CSV",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
        if operation == "upsert":
            body["externalIdFieldName"] = external_id_field
        job_id = self.client.json("POST", "jobs/ingest", json=body)["id"]
        try:
            self.client.request(
                "PUT", f"jobs/ingest/{job_id}/batches", data=upload[0], headers=CSV_HEADERS
            )
            upload.clear()
            self.client.request("PATCH", f"jobs/ingest/{job_id}", json={"state": "UploadComplete"})
            info = self._wait(job_id, len(rows))
        except BaseException:
            self._abort(job_id)
            raise
        return self._results(job_id, info, operation, rows, keys, key)

    def first_poll(self, rows: int) -> float:
        """Seconds before a job's first poll, at most ``poll_max``. A poll costs an API call,
        and a big job polled after half a second is only ever InProgress; a small one is still
        polled early. Before any job finished: ``poll_initial`` plus a second per
        ``ROWS_PER_SECOND`` rows; after: the time the org took per row in its last job
        (:meth:`learn`), at least ``poll_initial`` — the last job of a load is what a run
        waits for, and a guess that is seconds too long is seconds of every first load."""
        if self.rate:
            return min(self.poll_max, max(self.poll_initial, rows / self.rate))
        return min(self.poll_max, self.poll_initial + rows / ROWS_PER_SECOND)

    def learn(self, info: Mapping[str, Any]) -> None:
        """Remember the org's pace from a finished job's info: ``numberRecordsProcessed`` over
        ``totalProcessingTime`` (milliseconds, B2 job info). Jobs too small to time well
        (under 1,000 rows or 100 ms) teach nothing."""
        try:
            processed = int(info.get("numberRecordsProcessed") or 0)
            ms = float(info.get("totalProcessingTime") or 0)
        except (TypeError, ValueError):
            return
        if processed >= 1_000 and ms >= 100:
            self.rate = processed / (ms / 1000)

    def _wait(self, job_id: str, rows: int) -> dict[str, Any]:
        # Each poll is an API call. After the first, the job's own progress
        # (numberRecordsProcessed, B2-states / job info) says when it should be done; without
        # progress the waits grow geometrically.
        start = time.monotonic()
        delay, deadline = self.first_poll(rows), start + self.timeout
        while True:
            self.sleep(delay)
            info = self.client.json("GET", f"jobs/ingest/{job_id}")
            if info.get("state") in TERMINAL:
                if info.get("state") == "JobComplete":
                    self.learn(info)
                return info
            now = time.monotonic()
            if now > deadline:
                raise errors.RetriableSalesforceError(
                    f"bulk job {job_id} not finished after {self.timeout:.0f} s",
                    code="BULK_TIMEOUT",
                )
            processed = int(info.get("numberRecordsProcessed") or 0)
            if processed >= rows:
                # Every record counted, the state not terminal yet: it is about to be.
                delay = self.poll_initial
            elif processed > 0:
                remaining = (rows - processed) * (now - start) / processed
                delay = min(self.poll_max, max(self.poll_initial, remaining * 1.1))
            else:
                # Next poll when the time waited so far has grown by half: a job is noticed at
                # most 50 % after it ended, with about log1.5(T / first) + 1 polls.
                delay = min(self.poll_max, max(self.poll_initial, (now - start) / 2))

    def _abort(self, job_id: str) -> None:
        # Best effort: the original failure is the one worth reporting.
        with contextlib.suppress(errors.SalesforceError):
            self.client.request("PATCH", f"jobs/ingest/{job_id}", json={"state": "Aborted"})

    def _csv(self, job_id: str, kind: str) -> Iterator[dict[str, str]]:
        """The rows of a job's result CSV, read from the wire as they are parsed.

        Streamed: a result row echoes every column sent (B2-ok), so a 50,000-row job's results
        are ~50 MB of text, which was held twice (bytes, then text) at the peak of a Bulk load.
        A connection lost part-way is asked again (as the client retries a call), skipping the
        rows already read: the results of a finished job do not change.
        """
        import requests
        import urllib3

        done = 0
        for attempt in range(1, STREAM_ATTEMPTS + 1):
            response = self.client.request(
                "GET", f"jobs/ingest/{job_id}/{kind}", headers=RESULT_HEADERS, stream=True
            )
            try:
                response.raw.decode_content = True  # gzip, as requests would undo it
                # urllib3 closes the stream at its end, and TextIOWrapper then reads a closed
                # file instead of the end (urllib3 docs, "Using io Wrappers with Response
                # Content": set auto_close to False).
                response.raw.auto_close = False
                raw = cast("IO[bytes]", response.raw)  # urllib3's HTTPResponse is an io stream
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                for index, row in enumerate(csv.DictReader(text)):
                    if index >= done:
                        done += 1
                        yield row
                return
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
                if attempt == STREAM_ATTEMPTS:
                    raise errors.RetriableSalesforceError(
                        f"reading the {kind} of a Bulk job failed {attempt} times",
                        code="BULK_RESULTS_LOST",
                    ) from None
            finally:
                response.close()

    def _results(
        self,
        job_id: str,
        info: Mapping[str, Any],
        operation: str,
        rows: Sequence[Mapping[str, Any]],
        keys: Sequence[str],
        key: str,
    ) -> list[WriteResult]:
        """One result per row of a finished job. ``keys``: each row's cell of the ``key``
        column as sent; ``rows`` are read only to redact the message of a failed row."""
        state = info.get("state")
        failed_count = int(info.get("numberRecordsFailed") or 0)
        processed = int(info.get("numberRecordsProcessed") or 0)
        complete = state == "JobComplete" and processed >= len(rows)
        if complete and failed_count == 0 and operation != "upsert":
            # Nothing failed and the Ids are known already: save the result calls.
            return [WriteResult(ok=True, sf_id=value) for value in keys]

        # Key value → row index; a key sent twice (rare) queues its further rows in `again`.
        # A deque per key cost 600 bytes a row on a 50,000-row job.
        waiting: dict[str, int] = {}
        again: dict[str, deque[int]] = defaultdict(deque)
        for index, value in enumerate(keys):
            if value in waiting:
                again[value].append(index)
            else:
                waiting[value] = index
        results: list[WriteResult | None] = [None] * len(rows)

        def take(value: str) -> int | None:
            at = waiting.pop(value, None)
            if at is not None and again.get(value):
                waiting[value] = again[value].popleft()
            return at

        def claim(echo: Mapping[str, str]) -> int | None:
            at = take(echo.get(key, ""))
            return at if at is not None else take(echo.get("sf__Id", ""))

        for echo in self._csv(job_id, "successfulResults"):
            if (at := claim(echo)) is not None:
                created = echo.get("sf__Created", "").lower() == "true"
                sf_id = echo.get("sf__Id") or None
                results[at] = WriteResult(ok=True, sf_id=sf_id, created=created)
        if failed_count:
            for echo in self._csv(job_id, "failedResults"):
                if (at := claim(echo)) is not None:
                    code, message, fields = parse_error(echo.get("sf__Error", ""))
                    results[at] = WriteResult(
                        ok=False,
                        sf_id=echo.get("sf__Id") or None,
                        error_code=code,
                        message=redact(message, rows[at]),
                        fields=fields,
                    )
        if not complete:
            # Rows of an aborted or failed job that never ran: left pending for the next run.
            code = "BULK_JOB_FAILED" if state == "Failed" else "BULK_UNPROCESSED"
            message = scrub(str(info.get("errorMessage") or f"bulk job ended {state}"))[:300]
            for index, result in enumerate(results):
                if result is None:
                    results[index] = WriteResult(ok=False, error_code=code, message=message)
        return [
            r or WriteResult(ok=False, error_code="BULK_NO_RESULT", message="no result row")
            for r in results
        ]


def redact(message: str, row: Mapping[str, Any]) -> str:
    """Salesforce's message with the row's own values cut out (some messages quote them)."""
    message = scrub(message)
    for field_name, value in row.items():
        text = cell(value) if value is not None else ""
        if field_name != "Id" and len(text) >= 3 and text in message:
            message = message.replace(text, "<value>")
    return message[:500]
