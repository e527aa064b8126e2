"""Bulk API 2.0: ingest jobs (insert, upsert, update, delete, hardDelete) and query jobs.

States progress Open → UploadComplete → InProgress → JobComplete | Failed (or Aborted). Rows are
processed in a background thread in chunks of 10,000 (Salesforce's internal batch size), each
chunk in its own transaction so REST calls interleave. The first poll after processing always
reports InProgress, so a client's polling loop is exercised deterministically.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connector.emulator import relations
from connector.emulator.ids import USER_ID, sf_datetime
from connector.emulator.org_records import Txn, gc_paused
from connector.emulator.rest import parse_json, run_query
from connector.emulator.wire import CSV_TYPE, ApiError, RecordError, Response, json_response

if TYPE_CHECKING:
    from connector.emulator.server import App, Request

OPERATIONS = {"insert", "upsert", "update", "delete", "hardDelete"}
DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "SEMICOLON": ";",
    "PIPE": "|",
    "CARET": "^",
    "BACKQUOTE": "`",
}
CHUNK = 10_000
TERMINAL = {"JobComplete", "Failed", "Aborted"}


@dataclass
class Job:
    """One Bulk 2.0 job and its results."""

    id: str
    operation: str
    object: str
    external_id: str | None
    delimiter: str
    line_ending: str
    version: str
    kind: str = "ingest"
    state: str = "Open"
    created: str = field(default_factory=sf_datetime)
    modstamp: str = field(default_factory=sf_datetime)
    uploads: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    # Result rows are tuples: the garbage collector stops scanning a tuple of strings, never a
    # list, and a big job keeps 100,000s of them.
    ok: list[Sequence[str]] = field(default_factory=list)
    failed: list[Sequence[str]] = field(default_factory=list)
    unprocessed: list[Sequence[str]] = field(default_factory=list)
    error: str | None = None
    processed_any: bool = False
    shown_in_progress: bool = False
    abort: threading.Event = field(default_factory=threading.Event)
    query: str = ""
    rows: list[list[str]] = field(default_factory=list)
    # Processing clock (time.monotonic): started when processing picks the job up (parsing
    # its CSV included), ended when processing stops, however it ends; totalProcessingTime
    # reports the difference in milliseconds.
    started: float | None = None
    ended: float | None = None

    def processing_ms(self) -> int:
        """Milliseconds spent processing so far (B2 job info ``totalProcessingTime``)."""
        if self.started is None:
            return 0
        return round(1000 * ((self.ended or time.monotonic()) - self.started))

    def info(self, *, poll: bool = False) -> dict[str, Any]:
        """The job JSON; a ``poll`` may report InProgress once before a terminal state."""
        state = self.state
        if (
            poll
            and state in ("JobComplete", "Failed")
            and self.processed_any
            and not self.shown_in_progress
        ):
            self.shown_in_progress = True
            state = "InProgress"
        elif poll and state == "InProgress":
            self.shown_in_progress = True
        base = f"services/data/{self.version}/jobs/{self.kind}/{self.id}"
        ms = self.processing_ms()
        out: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": USER_ID,
            "createdDate": self.created,
            "systemModstamp": self.modstamp,
            "state": state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version[1:]),
            "lineEnding": self.line_ending,
            "columnDelimiter": next(k for k, v in DELIMITERS.items() if v == self.delimiter),
            "jobType": "V2Ingest" if self.kind == "ingest" else "V2Query",
            "retries": 0,
            # Real figures, as Salesforce reports them: the time the job has been processed
            # (no trigger or flow runs here, so all of it is API time and none Apex time).
            "totalProcessingTime": ms,
            "apiActiveProcessingTime": ms,
            "apexProcessingTime": 0,
        }
        if self.kind == "ingest":
            out["contentUrl"] = f"{base}/batches"
            out["externalIdFieldName"] = self.external_id
            # Progress while InProgress (records done so far), as Salesforce's count grows
            # while a job runs (B2-states / job info).
            out["numberRecordsProcessed"] = len(self.ok) + len(self.failed)
            out["numberRecordsFailed"] = len(self.failed)
        else:
            out["query"] = self.query
            out["numberRecordsProcessed"] = len(self.rows)
        if state == "Failed" and self.error:
            out["errorMessage"] = self.error
        return out


def _job(app: App, job_id: str, kind: str = "ingest") -> Job:
    job = app.jobs.get(job_id)
    if job is None or job.kind != kind:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return job


def create_job(app: App, req: Request) -> Response:
    """``POST /jobs/ingest`` → 200 job (state Open)."""
    body = parse_json(req.body)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    op = body.get("operation")
    o = app.schema.get(str(body.get("object", "")))
    if op not in OPERATIONS:
        raise ApiError(400, "INVALIDJOB", f"Invalid operation: {op}")
    if o is None:
        raise ApiError(400, "INVALIDJOB", f"Unable to find object: {body.get('object')}")
    ext = None
    if op == "upsert":
        f = o.field(str(body.get("externalIdFieldName") or ""))
        if f is None or not (f.external_id or f.name == "Id"):
            raise ApiError(
                400, "INVALIDJOB", "External ID field does not exist or is not an external ID field"
            )
        ext = f.name
    delim = DELIMITERS.get(body.get("columnDelimiter", "COMMA"))
    ending = body.get("lineEnding", "LF")
    if delim is None or ending not in ("LF", "CRLF") or body.get("contentType", "CSV") != "CSV":
        raise ApiError(400, "INVALIDJOB", "Invalid columnDelimiter, lineEnding or contentType")
    job = Job(app.store.ids.new("750"), op, o.name, ext, delim, ending, req.version)
    app.jobs[job.id] = job
    return json_response(200, job.info())


def upload(app: App, req: Request, job_id: str) -> Response:
    """``PUT /jobs/ingest/{id}/batches`` → 201 (only while Open)."""
    job = _job(app, job_id)
    if job.state != "Open":
        raise ApiError(409, "INVALIDJOBSTATE", f"Job is not open for uploads: {job.state}")
    job.uploads.append(req.body)
    return Response(201)


def list_jobs(app: App, req: Request, kind: str = "ingest") -> Response:
    """``GET /jobs/ingest``."""
    jobs = [j.info() for j in app.jobs.values() if j.kind == kind]
    return json_response(200, {"done": True, "records": jobs, "nextRecordsUrl": None})


def get_job(app: App, req: Request, job_id: str, kind: str = "ingest") -> Response:
    """``GET /jobs/ingest/{id}``."""
    return json_response(200, _job(app, job_id, kind).info(poll=True))


def change_job(app: App, req: Request, job_id: str, kind: str = "ingest") -> Response:
    """``PATCH /jobs/ingest/{id}``: ``UploadComplete`` starts processing; ``Aborted`` stops."""
    job = _job(app, job_id, kind)
    body = parse_json(req.body)
    target = body.get("state") if isinstance(body, dict) else None
    if target == "UploadComplete" and job.state == "Open" and kind == "ingest":
        job.state = "UploadComplete"
        job.modstamp = sf_datetime()
        info = job.info()
        threading.Thread(
            target=_process, args=(app, job), daemon=True, name=f"bulk-{job.id}"
        ).start()
        return json_response(200, info)
    if target == "Aborted" and job.state not in TERMINAL:
        job.abort.set()
        job.state, job.modstamp = "Aborted", sf_datetime()
        return json_response(200, job.info())
    raise ApiError(400, "INVALIDJOBSTATE", f"Cannot change job state from {job.state} to {target}")


def delete_job(app: App, req: Request, job_id: str, kind: str = "ingest") -> Response:
    """``DELETE /jobs/ingest/{id}`` → 204 (terminal jobs only)."""
    job = _job(app, job_id, kind)
    if job.state not in TERMINAL and kind == "ingest":
        raise ApiError(400, "INVALIDJOBSTATE", "Job must be closed or aborted to be deleted")
    del app.jobs[job_id]
    return Response(204)


def _error_text(exc: RecordError) -> str:
    return f"{exc.code}:{exc.message}:{','.join(exc.fields)} --"


class LineEndingError(ValueError):
    """Data whose line ends differ from the job's ``lineEnding``: the job fails with
    Salesforce's ``ClientInputError``, though the upload was accepted (Bulk API 2.0 Developer
    Guide, "Line Ending Header": the job's lineEnding must match the file's)."""


def _check_line_ending(blob: bytes, ending: str) -> None:
    """The header line's end tells the file's (a CR inside a quoted value is content)."""
    first = blob.find(b"\n")
    if first < 0:
        return
    crlf = first > 0 and blob[first - 1 : first] == b"\r"
    if crlf != (ending == "CRLF"):
        raise LineEndingError(
            f"ClientInputError : LineEnding is invalid on user data. Current LineEnding "
            f"setting is {ending}"
        )


def _parse(job: Job) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for blob in job.uploads:
        _check_line_ending(blob, job.line_ending)
        reader = csv.reader(io.StringIO(blob.decode("utf-8-sig")), delimiter=job.delimiter)
        header = next(reader, None)
        if header is None:
            continue
        if job.header and header != job.header:
            raise ValueError("InvalidBatch : all uploads of a job must have the same header")
        job.header = header
        rows.extend(tuple(r) for r in reader if r)  # tuples: see Job.ok
    return rows


def _process(app: App, job: Job) -> None:
    """Process an uploaded job (its own thread), timing it for ``totalProcessingTime``."""
    job.started = time.monotonic()
    try:
        _run(app, job)
    finally:
        job.ended = time.monotonic()


def _run(app: App, job: Job) -> None:
    o = app.schema.objects[job.object]
    try:
        rows = _parse(job)
    except LineEndingError as exc:
        job.state, job.error = "Failed", str(exc)
        return
    except (UnicodeDecodeError, csv.Error, ValueError) as exc:
        job.state, job.error = "Failed", f"InvalidBatch : {type(exc).__name__}"
        return
    cols = []
    for name in job.header:
        col = app.dml.validator.known_column(o, name.strip())  # a field or Rel.ExternalId
        if col is None:
            job.state, job.error = "Failed", f"InvalidBatch : Field name not found : {name}"
            return
        cols.append(col)
    if job.operation in ("delete", "hardDelete") and cols != ["Id"]:
        job.state, job.error = "Failed", "InvalidBatch : The delete file must contain only Id"
        return
    if job.state == "Aborted":
        return
    job.state = "InProgress"
    width = len(cols)
    for start in range(0, len(rows), CHUNK):
        if job.abort.is_set():
            job.unprocessed.extend(rows[start:])
            return
        with app.store.lock, gc_paused():
            txn = Txn(app.store)
            for row in rows[start : start + CHUNK]:
                _row(app, job, o, cols, width, row, txn)
            txn.commit()
        job.processed_any = True
    job.processed_any = True
    if not job.abort.is_set():
        job.state, job.modstamp = "JobComplete", sf_datetime()


def _row(
    app: App, job: Job, o: Any, cols: list[str], width: int, row: Sequence[str], txn: Txn
) -> None:
    dml = app.dml
    try:
        if len(row) != width:
            raise RecordError("INVALID_FIELD", "Wrong number of columns in this row", [])
        raw = dict(zip(cols, row, strict=True))
        op = job.operation
        if op == "insert":
            rid, created = dml.create(o, raw, txn, csv=True), True
        elif op == "update":
            rid, created = (
                dml.update(o, raw.get("Id"), raw, txn, csv=True, missing_status=400),
                False,
            )
        elif op == "upsert":
            ext = job.external_id
            if ext is None:  # create_job names the field of every upsert job
                raise RecordError("INVALID_FIELD", "This upsert job has no external ID field", [])
            rid, created = dml.upsert(o, ext, raw.get(ext), raw, txn, csv=True)
        else:
            rid, created = (
                dml.delete(raw["Id"], txn, obj=o, hard=op == "hardDelete", missing_status=400),
                False,
            )
    except RecordError as exc:
        rid_known = raw.get("Id", "") if job.operation != "insert" and len(row) == width else ""
        job.failed.append((rid_known or "", _error_text(exc), *row))
        return
    job.ok.append((rid, "true" if created else "false", *row))


def results(app: App, req: Request, job_id: str, which: str) -> Response:
    """``GET .../successfulResults|failedResults|unprocessedrecords`` → CSV."""
    job = _job(app, job_id)
    which = which.lower()
    rows: Sequence[Sequence[str]]
    if which == "successfulresults":
        header, rows = ["sf__Id", "sf__Created", *job.header], job.ok
    elif which == "failedresults":
        header, rows = ["sf__Id", "sf__Error", *job.header], job.failed
    else:
        header, rows = list(job.header), job.unprocessed
        if job.state == "Aborted" and not job.processed_any and not rows:
            rows = _parse(job)
            header = list(job.header)
    if job.state not in TERMINAL:
        raise ApiError(400, "INVALIDJOBSTATE", "Job is not finished")
    return _csv(job, header, rows)


def _csv(
    job: Job, header: list[str], rows: Sequence[Sequence[Any]], extra: dict[str, str] | None = None
) -> Response:
    buf = io.StringIO()
    end = "\r\n" if job.line_ending == "CRLF" else "\n"
    writer = csv.writer(buf, delimiter=job.delimiter, quoting=csv.QUOTE_ALL, lineterminator=end)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return Response(200, buf.getvalue().encode(), CSV_TYPE + "; charset=UTF-8", extra or {})


# -- query jobs -------------------------------------------------------------------------------
def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def create_query_job(app: App, req: Request) -> Response:
    """``POST /jobs/query``: runs the query at once; results are paged by locator."""
    body = parse_json(req.body)
    if not isinstance(body, dict) or body.get("operation") not in ("query", "queryAll"):
        raise ApiError(400, "INVALIDJOB", "operation must be query or queryAll")
    text = str(body.get("query", ""))
    if "(" in text and text.upper().replace(" ", "").count("(SELECT"):
        # "Bulk API 2.0 doesn't support ... parent-to-child relationship queries (nested
        # SOQL)" [unverified: wording of the error]; child-to-parent fields are fine.
        raise ApiError(400, "API_ERROR", "Parent-to-child subqueries are not supported by Bulk API")
    parsed, o, found = run_query(
        app,
        text,
        include_deleted=body["operation"] == "queryAll",
        version=req.version,
        nested=False,
    )
    delim = DELIMITERS.get(body.get("columnDelimiter", "COMMA"), ",")
    job = Job(
        app.store.ids.new("750"),
        body["operation"],
        o.name,
        None,
        delim,
        body.get("lineEnding", "LF"),
        req.version,
        kind="query",
        query=text,
        state="JobComplete",
        processed_any=True,
    )
    job.header = [
        (f.name if (f := o.field(n)) else relations.resolve_path(app.schema, o, n).name)
        for n in parsed.fields
    ]
    job.rows = [[_csv_value(r.get(h)) for h in job.header] for r in found]
    app.jobs[job.id] = job
    info = job.info()
    info["state"] = "UploadComplete"
    return json_response(200, info)


def query_results(app: App, req: Request, job_id: str) -> Response:
    """``GET /jobs/query/{id}/results?maxRecords=&locator=`` → CSV + Sforce-Locator."""
    job = _job(app, job_id, "query")
    start = int(req.query.get("locator", ["0"])[0] or 0)
    size = int(req.query.get("maxRecords", ["50000"])[0] or 50000)
    page = job.rows[start : start + size]
    nxt = str(start + size) if start + size < len(job.rows) else "null"
    return _csv(
        job, job.header, page, {"Sforce-Locator": nxt, "Sforce-NumberOfRecords": str(len(page))}
    )
