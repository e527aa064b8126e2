"""The emulator's routes: which handler answers which method and path, and how it is counted.

Each route is (method, path regex, stats name, handler, kind). ``kind`` says what the request
needs before the handler runs: ``api`` a valid token (and it counts against the daily API
limit), ``identity`` a valid token as a header or ``?oauth_token=`` (not counted), ``login``
nothing (it hands out or revokes tokens), ``open`` nothing (the version list), ``control``
nothing (the test-control endpoints under ``/__emulator__``). Handlers take
``(app, request, **path_groups)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from connector.emulator import bulk, collections, composite, control, rest, userinfo
from connector.emulator.wire import ApiError, Response

Handler = Callable[..., Response]
_V = r"/services/data/(?P<version>v\d+\.\d+)"
# (method, regex, stats name, handler, kind) — kind: "api" (token, counted), "login", "control"
ROUTES: list[tuple[str, str, str, Handler, str]] = [
    ("POST", r"/services/oauth2/token", "POST oauth2/token", lambda a, r: a.token(r), "login"),
    ("POST", r"/services/Soap/u/(?P<soap>[\d.]+)(?:/.*)?", "POST Soap/u", userinfo.soap, "login"),
    ("POST", r"/services/oauth2/revoke", "POST oauth2/revoke", userinfo.revoke, "login"),
    ("GET", r"/services/oauth2/revoke", "GET oauth2/revoke", userinfo.revoke, "login"),
    ("GET", r"/services/oauth2/userinfo", "GET oauth2/userinfo", userinfo.userinfo, "identity"),
    ("POST", r"/services/oauth2/userinfo", "POST oauth2/userinfo", userinfo.userinfo, "identity"),
    ("GET", r"/id/(?P<org>\w+)/(?P<user>\w+)", "GET id", userinfo.identity, "identity"),
    ("POST", r"/__emulator__/reset", "control", control.reset, "control"),
    ("POST", r"/__emulator__/faults", "control", control.faults, "control"),
    ("GET", r"/__emulator__/stats", "control", control.stats, "control"),
    ("GET", r"/services/data", "GET versions", userinfo.versions, "open"),
    ("GET", _V, "GET resources", rest.resources, "api"),
    ("GET", _V + r"/sobjects", "GET sobjects", rest.describe_global, "api"),
    (
        "GET",
        _V + r"/sobjects/(?P<obj>\w+)/describe",
        "GET sobjects/{O}/describe",
        rest.describe,
        "api",
    ),
    ("GET", _V + r"/sobjects/(?P<obj>\w+)", "GET sobjects/{O}", rest.metadata, "api"),
    ("POST", _V + r"/sobjects/(?P<obj>\w+)", "POST sobjects/{O}", rest.create, "api"),
    (
        "GET",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<rid>[^/]+)",
        "GET sobjects/{O}/{id}",
        rest.get,
        "api",
    ),
    (
        "PATCH",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<rid>[^/]+)",
        "PATCH sobjects/{O}/{id}",
        rest.update,
        "api",
    ),
    (
        "DELETE",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<rid>[^/]+)",
        "DELETE sobjects/{O}/{id}",
        rest.delete,
        "api",
    ),
    (
        "GET",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<field>\w+)/(?P<value>.+)",
        "GET sobjects/{O}/{field}/{value}",
        rest.get_by_external_id,
        "api",
    ),
    (
        "PATCH",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<field>\w+)/(?P<value>.+)",
        "PATCH sobjects/{O}/{field}/{value}",
        rest.upsert,
        "api",
    ),
    ("GET", _V + r"/query", "GET query", rest.query, "api"),
    ("GET", _V + r"/queryAll", "GET queryAll", rest.query_all, "api"),
    ("GET", _V + r"/query/(?P<locator>[^/]+)", "GET query/{locator}", rest.query_more, "api"),
    (
        "GET",
        _V + r"/queryAll/(?P<locator>[^/]+)",
        "GET queryAll/{locator}",
        rest.query_all_more,
        "api",
    ),
    ("GET", _V + r"/limits", "GET limits", rest.limits, "api"),
    ("POST", _V + r"/composite/sobjects", "POST composite/sobjects", collections.create, "api"),
    (
        "GET",
        _V + r"/composite/sobjects/(?P<obj>\w+)",
        "GET composite/sobjects/{O}",
        collections.retrieve,
        "api",
    ),
    (
        "POST",
        _V + r"/composite/sobjects/(?P<obj>\w+)",
        "POST composite/sobjects/{O}",
        collections.retrieve,
        "api",
    ),
    ("POST", _V + r"/composite", "POST composite", composite.composite, "api"),
    (
        "POST",
        _V + r"/composite/tree/(?P<obj>\w+)",
        "POST composite/tree/{O}",
        composite.tree,
        "api",
    ),
    ("PATCH", _V + r"/composite/sobjects", "PATCH composite/sobjects", collections.update, "api"),
    ("DELETE", _V + r"/composite/sobjects", "DELETE composite/sobjects", collections.delete, "api"),
    (
        "PATCH",
        _V + r"/composite/sobjects/(?P<obj>\w+)/(?P<field>\w+)",
        "PATCH composite/sobjects/{O}/{field}",
        collections.upsert,
        "api",
    ),
    ("POST", _V + r"/jobs/ingest", "POST jobs/ingest", bulk.create_job, "api"),
    ("GET", _V + r"/jobs/ingest", "GET jobs/ingest", bulk.list_jobs, "api"),
    ("GET", _V + r"/jobs/ingest/(?P<job_id>\w+)", "GET jobs/ingest/{id}", bulk.get_job, "api"),
    (
        "PATCH",
        _V + r"/jobs/ingest/(?P<job_id>\w+)",
        "PATCH jobs/ingest/{id}",
        bulk.change_job,
        "api",
    ),
    (
        "DELETE",
        _V + r"/jobs/ingest/(?P<job_id>\w+)",
        "DELETE jobs/ingest/{id}",
        bulk.delete_job,
        "api",
    ),
    (
        "PUT",
        _V + r"/jobs/ingest/(?P<job_id>\w+)/batches",
        "PUT jobs/ingest/{id}/batches",
        bulk.upload,
        "api",
    ),
    (
        "GET",
        _V + r"/jobs/ingest/(?P<job_id>\w+)/(?P<which>(?i:successfulResults|failedResults|"
        r"unprocessedRecords))",
        "GET jobs/ingest/{id}/results",
        bulk.results,
        "api",
    ),
    ("POST", _V + r"/jobs/query", "POST jobs/query", bulk.create_query_job, "api"),
    (
        "GET",
        _V + r"/jobs/query",
        "GET jobs/query",
        partial(bulk.list_jobs, kind="query"),
        "api",
    ),
    (
        "GET",
        _V + r"/jobs/query/(?P<job_id>\w+)",
        "GET jobs/query/{id}",
        partial(bulk.get_job, kind="query"),
        "api",
    ),
    (
        "PATCH",
        _V + r"/jobs/query/(?P<job_id>\w+)",
        "PATCH jobs/query/{id}",
        partial(bulk.change_job, kind="query"),
        "api",
    ),
    (
        "DELETE",
        _V + r"/jobs/query/(?P<job_id>\w+)",
        "DELETE jobs/query/{id}",
        partial(bulk.delete_job, kind="query"),
        "api",
    ),
    (
        "GET",
        _V + r"/jobs/query/(?P<job_id>\w+)/results",
        "GET jobs/query/{id}/results",
        bulk.query_results,
        "api",
    ),
]
_COMPILED = [(m, re.compile(p + "$"), n, h, k) for m, p, n, h, k in ROUTES]


def match_route(method: str, path: str) -> tuple[str, Handler, str, dict[str, str]]:
    """The route for ``method`` and ``path``: (stats name, handler, kind, path groups).

    Raises:
        ApiError: 405 METHOD_NOT_ALLOWED when the path exists for other methods, else 404.
    """
    path_matched = False
    for m, rx, name, handler, kind in _COMPILED:
        match = rx.match(path)
        if match:
            path_matched = True
            if m == method:
                return name, handler, kind, match.groupdict()
    if path_matched:
        raise ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,POST,DELETE,PUT",
        )
    raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
