"""Single-record sObject REST, describe, query/queryAll and limits (wire spec §2, §4, §6.1)."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus

from connector.emulator import relations, soql
from connector.emulator.archive import ACTIVITY_OBJECTS
from connector.emulator.org_schema import ObjectDef
from connector.emulator.userinfo import identity_url
from connector.emulator.wire import (
    ApiError,
    RecordError,
    Response,
    json_response,
    not_found,
)

if TYPE_CHECKING:
    from connector.emulator.server import App, Request

MAX_PAGE = 2000
MAX_CURSORS = 100


def parse_json(body: bytes) -> Any:
    """The request body as JSON, or Salesforce's 400 JSON_PARSER_ERROR."""
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        # Only a JSONDecodeError (a ValueError) knows where the body went wrong.
        where = (
            f" at [line:{exc.lineno}, column:{exc.colno}]"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise ApiError(
            400, "JSON_PARSER_ERROR", f"Unexpected character in JSON body{where}"
        ) from None


def sobject(app: App, name: str) -> ObjectDef:
    """The object named in the URL, or 404 NOT_FOUND."""
    obj = app.schema.get(name)
    if obj is None:
        raise not_found()
    return obj


def record_url(version: str, obj: str, rid: str) -> str:
    """The ``attributes.url`` of a record."""
    return f"/services/data/{version}/sobjects/{obj}/{rid}"


def render(
    version: str, obj: str, rec: dict[str, Any], fields: list[str] | None = None
) -> dict[str, Any]:
    """A record as GET returns it: ``attributes`` first, then every (or the asked) field."""
    out: dict[str, Any] = {"attributes": {"type": obj, "url": record_url(version, obj, rec["Id"])}}
    if fields:
        out.update((f, rec.get(f)) for f in fields)
    else:
        out.update(rec)
    return out


def _body_dict(req: Request) -> dict[str, Any]:
    body = parse_json(req.body)
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of sObject from a non-object JSON value",
        )
    return body


# -- describe / limits ------------------------------------------------------------------------
def resources(app: App, req: Request) -> Response:
    """``GET /services/data/vXX.X``: the resource directory."""
    base = f"/services/data/{req.version}"
    out = {
        k: f"{base}/{k}" for k in ("sobjects", "query", "queryAll", "composite", "jobs", "limits")
    }
    # jsforce's identity() follows this URL; on the emulator's own host, never login.salesforce.
    out["identity"] = identity_url(app)
    return json_response(200, out)


def describe_global(app: App, req: Request) -> Response:
    """``GET /sobjects``."""
    return json_response(
        200,
        {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [o.summary(req.version) for o in app.schema.objects.values()],
        },
    )


def describe(app: App, req: Request, obj: str) -> Response:
    """``GET /sobjects/{O}/describe``."""
    o = sobject(app, obj)
    children = relations.child_relationships(app.schema, o.name)
    return json_response(200, o.describe(req.version, children))


def metadata(app: App, req: Request, obj: str) -> Response:
    """``GET /sobjects/{O}``: basic info."""
    return json_response(
        200, {"objectDescribe": sobject(app, obj).summary(req.version), "recentItems": []}
    )


def limits(app: App, req: Request) -> Response:
    """``GET /limits``."""
    return json_response(200, app.limits.body())


# -- single records ---------------------------------------------------------------------------
def create(app: App, req: Request, obj: str) -> Response:
    """``POST /sobjects/{O}`` → 201 SaveResult."""
    o = sobject(app, obj)
    body = _body_dict(req)
    with app.store.lock:
        rid = app.single(lambda txn: app.dml.create(o, body, txn))
    return json_response(201, {"id": rid, "success": True, "errors": []})


def get(app: App, req: Request, obj: str, rid: str) -> Response:
    """``GET /sobjects/{O}/{id}`` (``?fields=a,b`` optional)."""
    o = sobject(app, obj)
    fields = _fields_param(o, req)
    with app.store.lock:
        try:
            rec = app.dml.live(o, rid)
        except RecordError as exc:
            if exc.code == "MALFORMED_ID":
                raise exc.as_api_error() from None
            raise not_found() from None
    return json_response(200, render(req.version, o.name, rec, fields))


def _fields_param(o: ObjectDef, req: Request) -> list[str] | None:
    raw = req.query.get("fields", [""])[0]
    if not raw:
        return None
    out = []
    for name in raw.split(","):
        f = o.field(name.strip())
        if f is None:
            raise ApiError(
                400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{o.name}'"
            )
        out.append(f.name)
    return out


def update(app: App, req: Request, obj: str, rid: str) -> Response:
    """``PATCH /sobjects/{O}/{id}`` → 204."""
    o = sobject(app, obj)
    body = _body_dict(req)
    with app.store.lock:
        app.single(lambda txn: app.dml.update(o, rid, body, txn))
    return Response(204)


def delete(app: App, req: Request, obj: str, rid: str) -> Response:
    """``DELETE /sobjects/{O}/{id}`` → 204 (record goes to the recycle bin)."""
    o = sobject(app, obj)
    with app.store.lock:
        app.single(lambda txn: app.dml.delete(rid, txn, obj=o))
    return Response(204)


def _ext_field(o: ObjectDef, name: str, *, for_get: bool) -> str:
    f = o.field(name)
    if f is None or not (f.external_id or f.name == "Id" or (for_get and f.type == "email")):
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {name}",
        )
    return f.name


def get_by_external_id(app: App, req: Request, obj: str, field: str, value: str) -> Response:
    """``GET /sobjects/{O}/{Field}/{value}``: 200 record, 300 several, 404 none."""
    o = sobject(app, obj)
    name = _ext_field(o, field, for_get=True)
    value = unquote_plus(value)  # the client sends quote_plus(value) here (wire spec §2)
    with app.store.lock:
        try:
            key = app.dml.validator.convert(o, name, value)
        except RecordError:
            raise not_found() from None
        if name == "Id":
            rec = app.store.get(key)
            ids = [key] if rec is not None and not rec["IsDeleted"] else []
        else:
            ids = app.store.find(o, name, key)
        if not ids:
            raise not_found()
        if len(ids) > 1:
            return json_response(300, [record_url(req.version, o.name, i) for i in ids])
        rec = app.store.get(ids[0])
        if rec is None:  # not reached: ids holds live records, read under this lock
            raise not_found()
    return json_response(200, render(req.version, o.name, rec, _fields_param(o, req)))


def upsert(app: App, req: Request, obj: str, field: str, value: str) -> Response:
    """``PATCH /sobjects/{O}/{Field}/{value}``: 201 created, 200 updated, 300 several."""
    o = sobject(app, obj)
    name = _ext_field(o, field, for_get=False)
    value = unquote(value)  # the client does not quote upsert values; requests %-encodes some
    body = _body_dict(req)
    with app.store.lock:
        try:
            rid, created = app.single(lambda txn: app.dml.upsert(o, name, value, body, txn))
        except ApiError as exc:
            if exc.status != 300:
                raise
            ids = app.store.find(o, name, app.dml.validator.convert(o, name, value))
            return json_response(300, [record_url(req.version, o.name, i) for i in ids])
    if not created and float(req.version[1:]) < 46.0:
        return Response(204)  # before API 46.0 an update answered 204 without a body
    return json_response(
        201 if created else 200, {"id": rid, "success": True, "errors": [], "created": created}
    )


# -- query ------------------------------------------------------------------------------------
class Cursors:
    """Open query results, by locator (oldest dropped beyond MAX_CURSORS)."""

    def __init__(self) -> None:
        self.open: OrderedDict[str, tuple[list[dict[str, Any]], str]] = OrderedDict()

    def add(self, locator: str, rows: list[dict[str, Any]], route: str) -> None:
        """Keep ``rows`` for later pages."""
        self.open[locator] = (rows, route)
        while len(self.open) > MAX_CURSORS:
            self.open.popitem(last=False)


def _page_size(req: Request) -> int:
    opt = req.headers.get("sforce-query-options", "")
    for part in opt.split(","):
        key, _, val = part.partition("=")
        if key.strip().lower() == "batchsize" and val.strip().isdigit():
            return max(200, min(MAX_PAGE, int(val)))
    return MAX_PAGE


def _page(
    app: App,
    req: Request,
    rows: list[dict[str, Any]],
    start: int,
    locator: str,
    route: str,
    total: int,
) -> Response:
    size = _page_size(req)
    end = start + size
    body: dict[str, Any] = {
        "totalSize": total,
        "done": end >= len(rows),
        "records": rows[start:end],
    }
    if end < len(rows):
        body["nextRecordsUrl"] = f"/services/data/{req.version}/{route}/{locator}-{end}"
    return json_response(200, body)


def run_query(
    app: App, text: str, *, include_deleted: bool, version: str = "v59.0", nested: bool = True
) -> tuple[soql.SoqlQuery, ObjectDef, list[dict]]:
    """Parse and run SOQL ``text`` over the store (REST query and Bulk query jobs).

    Returns:
        The parsed query, the queried object and the result rows: relationship paths nested
        (``nested``, REST) or flat under their dotted names (Bulk 2.0 CSV), subqueries attached.

    Raises:
        ApiError: 400 with the SOQL error's code, or INVALID_TYPE for an unknown object.
    """
    try:
        parsed = soql.parse(text)
    except soql.SoqlError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    o = app.schema.get(parsed.sobject)
    if o is None:
        raise ApiError(400, "INVALID_TYPE", f"sObject type '{parsed.sobject}' is not supported.")
    try:
        with app.store.lock:
            records = app.store.records(o.name, include_deleted=include_deleted)
            if not include_deleted and o.name in ACTIVITY_OBJECTS:
                # query() leaves archived activities out; queryAll() returns them (archive.py).
                records = [r for r in records if not r.get("IsArchived")]
            rows = relations.run(
                app.schema,
                app.store,
                parsed,
                o,
                records,
                include_deleted=include_deleted,
                version=version,
                nested=nested,
            )
    except soql.SoqlError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    return parsed, o, rows


def query(app: App, req: Request, route: str = "query") -> Response:
    """``GET /query?q=`` and ``/queryAll?q=`` (queryAll includes the recycle bin).

    ``&columns=true`` answers the selected columns' metadata instead of rows (what
    ``sf data query`` asks for to lay out its table).
    """
    text = req.query.get("q", [""])[0]
    if req.query.get("columns", [""])[0].lower() == "true":
        try:
            parsed = soql.parse(text)
            o = app.schema.get(parsed.sobject)
            if o is None:
                raise ApiError(
                    400, "INVALID_TYPE", f"sObject type '{parsed.sobject}' is not supported."
                )
            return json_response(200, relations.column_metadata(app.schema, o, parsed))
        except soql.SoqlError as exc:
            raise ApiError(400, exc.code, exc.message) from None
    parsed, o, rows = run_query(app, text, include_deleted=route == "queryAll", version=req.version)
    if parsed.count:
        return json_response(200, {"totalSize": len(rows), "done": True, "records": []})
    out = []
    for row in rows:
        attrs: dict[str, Any] = {"type": o.name}
        if row.get("Id"):
            attrs["url"] = record_url(req.version, o.name, row["Id"])
        out.append({"attributes": attrs, **row})
    locator = app.store.ids.new("01g")
    app.cursors.add(locator, out, route)
    return _page(app, req, out, 0, locator, route, len(out))


def query_all(app: App, req: Request) -> Response:
    """``GET /queryAll?q=``."""
    return query(app, req, route="queryAll")


def query_more(app: App, req: Request, locator: str, route: str = "query") -> Response:
    """``GET /query/{locator}-{offset}``: the next page of an open query."""
    loc, _, start = locator.partition("-")
    cursor = app.cursors.open.get(loc)
    if cursor is None or not start.isdigit():
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    rows, _ = cursor
    return _page(app, req, rows, int(start), loc, route, len(rows))


def query_all_more(app: App, req: Request, locator: str) -> Response:
    """``GET /queryAll/{locator}-{offset}``."""
    return query_more(app, req, locator, route="queryAll")
