"""Composite (``/composite``, subrequests with ``@{ref}`` references) and sObject Tree
(``/composite/tree/{Object}``).

Both count as one API call, however many subrequests or records they carry: "The entire series
of requests counts as a single call toward your API limits" — Send Multiple Requests Using
Composite, https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-composite-post.html
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from connector.emulator.org_records import Txn
from connector.emulator.rest import parse_json, sobject
from connector.emulator.userinfo import check_version
from connector.emulator.wire import ApiError, RecordError, Response, json_response

if TYPE_CHECKING:
    from connector.emulator.server import App, Request

# "You can have up to 25 subrequests in a single call. Up to 5 of these subrequests can be
# sObject Collections or query operations" (Composite guide, above).
MAX_SUBREQUESTS = 25
MAX_QUERIES = 5
_REF = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_VERSIONED = re.compile(r"^/services/data/(v\d+\.\d+)(/.*)?$")
_HALTED = {
    "errorCode": "PROCESSING_HALTED",
    "message": "The transaction was rolled back since another operation in the same "
    "transaction failed.",
}


def _lookup(ref: str, path: str, results: dict[str, Any]) -> Any:
    if ref not in results:
        raise KeyError(ref)
    value = results[ref]
    for part in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        name, index = part
        if name:
            if not isinstance(value, dict) or name not in value:
                raise KeyError(ref + path)
            value = value[name]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise KeyError(ref + path)
            value = value[int(index)]
    return value


def _resolve(value: Any, results: dict[str, Any]) -> Any:
    """Replace ``@{ref.path}`` in every string of ``value`` by the referenced response value."""
    if isinstance(value, dict):
        return {k: _resolve(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, results) for v in value]
    if not isinstance(value, str) or "@{" not in value:
        return value
    whole = _REF.fullmatch(value)
    if whole:  # a value that is only a reference keeps the referenced value's JSON type
        return _lookup(whole.group(1), whole.group(2), results)
    return _REF.sub(lambda m: str(_lookup(m.group(1), m.group(2), results)), value)


def _subrequest(app: App, req: Request, sub: dict[str, Any], body: Any) -> Response:
    # Imported here: the route table and the server import this module.
    from connector.emulator.routes import match_route
    from connector.emulator.server import Request as SubRequest

    method = str(sub["method"]).upper()
    path, _, qs = str(sub["url"]).partition("?")
    path = path.rstrip("/") or "/"
    name, handler, kind, groups = match_route(method, path)
    version = groups.pop("version", None)
    if kind != "api" or version is None or name.startswith(("POST composite", "PATCH jobs")):
        raise ApiError(400, "INVALID_API_INPUT", f"Resource not supported in composite: {path}")
    check_version(version)
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {k.lower(): str(v) for k, v in (sub.get("httpHeaders") or {}).items()}
    inner = SubRequest(method, path, parse_qs(qs, keep_blank_values=True), headers, raw, version)
    return handler(app, inner, **groups)


def _validate(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected an object with a compositeRequest array")
    subs = body["compositeRequest"]
    if not subs or len(subs) > MAX_SUBREQUESTS:
        raise ApiError(
            400,
            "INVALID_API_INPUT",
            f"A composite request takes 1 to {MAX_SUBREQUESTS} subrequests",
        )
    seen: set[str] = set()
    queries = 0
    for sub in subs:
        if not isinstance(sub, dict) or not all(
            isinstance(sub.get(k), str) and sub.get(k) for k in ("method", "url", "referenceId")
        ):
            # "if a subrequest is missing the required referenceId field this is treated as
            # request error" (Handle Errors with Composite Resources, Salesforce blog, 2017).
            raise ApiError(
                400, "JSON_PARSER_ERROR", "Each subrequest needs method, url and referenceId"
            )
        if sub["referenceId"] in seen:
            raise ApiError(400, "INVALID_API_INPUT", "Duplicate referenceId in the request")
        seen.add(sub["referenceId"])
        match = _VERSIONED.match(sub["url"].partition("?")[0])
        tail = (match.group(2) or "") if match else ""
        if tail.startswith(("/query", "/queryAll", "/composite/sobjects")):
            queries += 1
    if queries > MAX_QUERIES:
        raise ApiError(
            400,
            "INVALID_API_INPUT",
            f"At most {MAX_QUERIES} subrequests may be queries or sObject Collections",
        )
    return subs, bool(body.get("allOrNone", False))


def composite(app: App, req: Request) -> Response:
    """``POST /composite``: subrequests in order, each seeing the results of earlier ones.

    With ``allOrNone`` the first failure rolls everything back and every subrequest answers
    400 ``PROCESSING_HALTED``; without it a subrequest whose reference cannot be resolved (its
    source failed) fails alone (Composite guide, above).
    """
    subs, all_or_none = _validate(parse_json(req.body))
    results: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    failed = False
    with app.store.lock:
        outer = Txn(app.store) if all_or_none else None
        app.store.outer = outer
        try:
            for sub in subs:
                ref = sub["referenceId"]
                if failed and all_or_none:
                    out.append(_entry(400, [_HALTED], ref))
                    continue
                try:
                    sub = {**sub, "url": _resolve(sub["url"], results)}
                    body = _resolve(sub.get("body"), results)
                except KeyError as exc:
                    failed = True
                    out.append(_entry(400, [_halted_ref(exc.args[0])], ref))
                    continue
                try:
                    resp = _subrequest(app, req, sub, body)
                except ApiError as exc:
                    resp = json_response(exc.status, exc.body())
                except RecordError as exc:
                    resp = json_response(exc.status, exc.as_api_error().body())
                payload = json.loads(resp.body) if resp.body else None
                entry = _entry(resp.status, payload, ref)
                if resp.status == 201 and isinstance(payload, dict) and payload.get("id"):
                    entry["httpHeaders"] = {"Location": _location(sub["url"], payload["id"])}
                out.append(entry)
                if resp.status >= 400:
                    failed = True
                else:
                    results[ref] = payload
            if outer is not None:
                if failed:
                    outer.rollback()
                    out = [
                        e
                        if e["httpStatusCode"] >= 400
                        else _entry(400, [_HALTED], e["referenceId"])
                        for e in out
                    ]
                else:
                    app.store.outer = None
                    outer.commit()
        finally:
            app.store.outer = None
    return json_response(200, {"compositeResponse": out})


def _entry(status: int, body: Any, ref: str) -> dict[str, Any]:
    return {"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": ref}


def _halted_ref(missing: str) -> dict[str, str]:
    ref = missing.split(".")[0].split("[")[0]
    # [unverified] exact wording; the code and the naming of the reference are Salesforce's.
    return {
        "errorCode": "PROCESSING_HALTED",
        "message": f"Invalid reference specified. No value for {missing} found in {ref}. "
        f"Provided referenceId ('{ref}') of the composite sub-request doesn't exist or caused "
        "an error.",
    }


def _location(url: str, rid: str) -> str:
    path = url.partition("?")[0].rstrip("/")
    return f"{path}/{rid}" if "/sobjects/" in path else path


# -- sObject Tree -----------------------------------------------------------------------------
# "The request can contain up to 200 records in total ... up to five levels deep" — Create
# Nested Records, https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobject_tree.htm
MAX_TREE_RECORDS = 200
MAX_TREE_DEPTH = 5


def _children(app: App, parent: str) -> dict[str, tuple[str, str]]:
    """Child relationship name (lower case) → (child object, lookup field) for ``parent``."""
    from connector.emulator.relations import child_relationships

    return {
        r["relationshipName"].lower(): (r["childSObject"], r["field"])
        for r in child_relationships(app.schema, parent)
    }


def tree(app: App, req: Request, obj: str) -> Response:
    """``POST /composite/tree/{O}``: records with nested children, created all or none.

    201 ``{"hasErrors": false, "results": [{"referenceId", "id"}]}``; on any failure nothing
    is created and 400 ``{"hasErrors": true, "results": [{"referenceId", "errors"}]}``.
    """
    o = sobject(app, obj)
    body = parse_json(req.body)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected an object with a records array")
    # (referenceId, object, field values, lookup field to the parent, index of the parent)
    flat: list[tuple[str, str, dict[str, Any], str | None, int | None]] = []
    refs: set[str] = set()

    def walk(name: str, records: list[Any], parent: int | None, field: str | None, depth: int):
        if depth > MAX_TREE_DEPTH:
            raise ApiError(400, "INVALID_API_INPUT", f"More than {MAX_TREE_DEPTH} levels")
        rels = _children(app, name)
        for rec in records:
            attrs = rec.get("attributes") if isinstance(rec, dict) else None
            if not isinstance(attrs, dict):
                attrs = {}  # no referenceId: refused below
            ref = attrs.get("referenceId")
            if not ref or attrs.get("type", "").lower() != name.lower():
                raise ApiError(
                    400, "INVALID_INPUT", "Each record needs attributes with type and referenceId"
                )
            if ref in refs:
                raise ApiError(400, "INVALID_INPUT", f"Duplicate ReferenceId provided: {ref}")
            refs.add(ref)
            values: dict[str, Any] = {}
            nested: list[tuple[str, str, list[Any]]] = []
            for key, value in rec.items():
                if key == "attributes":
                    continue
                rel = rels.get(key.lower())
                if rel is not None and isinstance(value, dict):
                    nested.append((rel[0], rel[1], value.get("records") or []))
                else:
                    values[key] = value
            index = len(flat)
            flat.append((ref, name, values, field, parent))
            if len(flat) > MAX_TREE_RECORDS:
                raise ApiError(
                    400, "INVALID_API_INPUT", f"More than {MAX_TREE_RECORDS} records in the tree"
                )
            for child, child_field, child_records in nested:
                walk(child, child_records, index, child_field, depth + 1)

    walk(o.name, body["records"], None, None, 1)
    ids: list[str] = []
    errors: list[dict[str, Any]] = []
    with app.store.lock:
        txn = Txn(app.store)
        for ref, name, values, field, parent in flat:
            parent_id = ids[parent] if field and parent is not None else None
            preset = {field: parent_id} if field and parent_id is not None else {}
            try:
                target = app.schema.get(name)
                if target is None:
                    raise RecordError("INVALID_TYPE", "sObject type is not supported.")
                if parent_id == "":
                    ids.append("")  # the parent failed: its error is reported, not this one's
                    continue
                ids.append(app.dml.create(target, {**values, **preset}, txn))
                continue
            except RecordError as exc:
                errors.append({"referenceId": ref, "errors": [exc.as_result()]})
            ids.append("")
        if errors:
            txn.rollback()
            return json_response(400, {"hasErrors": True, "results": errors})
        txn.commit()
    results = [{"referenceId": f[0], "id": rid} for f, rid in zip(flat, ids, strict=True)]
    return json_response(201, {"hasErrors": False, "results": results})
