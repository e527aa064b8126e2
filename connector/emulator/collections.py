"""sObject Collections: create / update / upsert / delete of up to 200 records (wire spec §3),
and retrieve by ids.

HTTP 200 whenever the request is well formed; per-record results in request order; with
``allOrNone`` any failure rolls the whole request back and the other records get
ALL_OR_NONE_OPERATION_ROLLED_BACK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connector.emulator.ids import normalize_id
from connector.emulator.org_records import Txn, gc_paused
from connector.emulator.rest import parse_json, render, sobject
from connector.emulator.wire import ApiError, RecordError, Response, json_response, record_error

if TYPE_CHECKING:
    from connector.emulator.server import App, Request

MAX_RECORDS = 200
ROLLED_BACK = record_error(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
)


def _request_body(req: Request) -> tuple[list[dict[str, Any]], bool]:
    body = parse_json(req.body)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected an object with a records array")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    for rec in records:
        if (
            not isinstance(rec, dict)
            or not isinstance(rec.get("attributes"), dict)
            or not rec["attributes"].get("type")
        ):
            raise ApiError(400, "INVALID_FIELD", "No SObject Type defined in the request")
    return records, bool(body.get("allOrNone", False))


def _run(
    app: App,
    items: list[Any],
    op: Callable[[Any, Txn], dict[str, Any]],
    all_or_none: bool,
    *,
    upsert: bool = False,
) -> Response:
    results: list[dict[str, Any]] = []
    with app.store.lock, gc_paused():
        txn = Txn(app.store)
        for item in items:
            try:
                results.append({**op(item, txn), "success": True, "errors": []})
            except RecordError as exc:
                failed: dict[str, Any] = {"id": None, "success": False, "errors": [exc.as_result()]}
                if upsert:
                    failed["created"] = False
                results.append(failed)
        if all_or_none and any(not r["success"] for r in results):
            txn.rollback()
            results = [
                r
                if not r["success"]
                else {
                    **r,
                    "id": None,
                    "success": False,
                    "errors": [ROLLED_BACK],
                    **({"created": False} if "created" in r else {}),
                }
                for r in results
            ]
        else:
            txn.commit()
    return json_response(200, results)


def create(app: App, req: Request) -> Response:
    """``POST /composite/sobjects``: insert (types may be mixed)."""
    records, aon = _request_body(req)

    def op(rec: dict[str, Any], txn: Txn) -> dict[str, Any]:
        o = app.schema.get(rec["attributes"]["type"])
        if o is None:
            raise RecordError("INVALID_TYPE", "sObject type is not supported.")
        return {"id": app.dml.create(o, rec, txn)}

    return _run(app, records, op, aon)


def update(app: App, req: Request) -> Response:
    """``PATCH /composite/sobjects``: update by ``id``."""
    records, aon = _request_body(req)

    def op(rec: dict[str, Any], txn: Txn) -> dict[str, Any]:
        o = app.schema.get(rec["attributes"]["type"])
        if o is None:
            raise RecordError("INVALID_TYPE", "sObject type is not supported.")
        rid = rec.get("id", rec.get("Id"))
        if not rid:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        return {"id": app.dml.update(o, rid, rec, txn, missing_status=400)}

    return _run(app, records, op, aon)


def upsert(app: App, req: Request, obj: str, field: str) -> Response:
    """``PATCH /composite/sobjects/{O}/{Field}``: upsert by external id."""
    o = sobject(app, obj)
    f = o.field(field)
    if f is None or not (f.external_id or f.name == "Id"):
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"Provided external ID field does not exist or is not accessible: {field}",
        )
    records, aon = _request_body(req)
    name, lower = f.name, f.name.lower()

    def ext_value(rec: dict[str, Any]) -> Any:
        # The first key that names the field in any letter case (found once per record).
        for k, v in rec.items():
            if k == name or k.lower() == lower:
                return v
        return None

    values = [ext_value(rec) for rec in records]
    seen: dict[Any, int] = {}
    for key in values:  # the same key twice in one request fails both records
        if isinstance(key, str):
            key = key if f.case_sensitive else key.lower()
        if key not in (None, ""):
            seen[key] = seen.get(key, 0) + 1

    def op(item: tuple[dict[str, Any], Any], txn: Txn) -> dict[str, Any]:
        rec, value = item
        if app.schema.get(rec["attributes"]["type"]) is not o:
            raise RecordError(
                "INVALID_TYPE",
                "The SObject type in the record does not match the type in the request URI",
                [],
            )
        key = value if not isinstance(value, str) or f.case_sensitive else value.lower()
        if value not in (None, "") and seen.get(key, 0) > 1:
            raise RecordError(
                "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {name}", [name]
            )
        try:
            rid, created = app.dml.upsert(o, name, value, rec, txn)
        except RecordError as exc:
            exc.status = 400
            raise
        return {"id": rid, "created": created}

    return _run(app, list(zip(records, values, strict=True)), op, aon, upsert=True)


def delete(app: App, req: Request) -> Response:
    """``DELETE /composite/sobjects?ids=a,b&allOrNone=false``."""
    ids = [i for i in req.query.get("ids", [""])[0].split(",") if i]
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > MAX_RECORDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "More than 200 ids in the request")
    aon = req.query.get("allOrNone", ["false"])[0].lower() == "true"

    def op(rid: str, txn: Txn) -> dict[str, Any]:
        return {"id": app.dml.delete(rid, txn, missing_status=400)}

    return _run(app, ids, op, aon)


# "Use a POST request with sObject Collections to get a list of records of the same object
# type ... up to 2,000 records" — sObject Collections Retrieve,
# https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_retrieve.htm
MAX_RETRIEVE_POST = 2000
MAX_RETRIEVE_GET = 200  # [unverified] the GET form is bounded by the URL; 200 as for writes


def retrieve(app: App, req: Request, obj: str) -> Response:
    """``GET /composite/sobjects/{O}?ids=&fields=`` and ``POST`` with ``{"ids", "fields"}``.

    Records come back in the order of ``ids``; an id that names no live record of ``O`` gives
    ``null`` in its place (sObject Collections Retrieve, above).
    """
    o = sobject(app, obj)
    if req.method == "POST":
        body = parse_json(req.body)
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected an object with ids and fields")
        ids, fields, limit = body.get("ids"), body.get("fields"), MAX_RETRIEVE_POST
    else:
        ids = [i for i in req.query.get("ids", [""])[0].split(",") if i]
        fields = [f for f in req.query.get("fields", [""])[0].split(",") if f]
        limit = MAX_RETRIEVE_GET
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "MISSING_ARGUMENT", "ids parameter is required")
    if not isinstance(fields, list) or not fields:
        raise ApiError(400, "MISSING_ARGUMENT", "fields parameter is required")
    if len(ids) > limit:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", f"More than {limit} ids in the request")
    names = []
    for name in fields:
        f = o.field(str(name).strip())
        if f is None:
            raise ApiError(
                400, "INVALID_FIELD", f"No such column '{str(name).strip()}' on entity '{o.name}'"
            )
        names.append(f.name)
    out: list[dict[str, Any] | None] = []
    with app.store.lock:
        for raw in ids:
            rid = normalize_id(raw.strip())
            if rid is None:
                raise ApiError(400, "MALFORMED_ID", "malformed id")  # [unverified] wording
            rec = app.store.get(rid)
            if rec is None or rec["IsDeleted"] or app.store.where.get(rid) != o.name:
                out.append(None)
            else:
                out.append(render(req.version, o.name, rec, names))
    return json_response(200, out)
