"""A paged JSON HTTP API as a source (event platforms, registration tools).

Paging styles: ``page`` (page number + page size), ``offset`` (offset + limit), ``next_link``
(a next URL in the body or the ``Link: rel="next"`` header) and ``none``. Connection errors, 5xx
and 429 are retried with exponential backoff (honouring ``Retry-After``); any other 4xx stops
the read with a SourceError naming the URL path and status. Secrets come only from the
environment (``auth_env``) and never appear in messages: errors name the URL *path*, never the
query string or headers.

Credentials go only to the origin of ``url`` (scheme, host and port all equal): a ``next``
link or a redirect to any other origin gets no credential header (``auth_header``, and no
``Cookie`` header) — or, with ``cross_host: refuse``, stops the read with an InputError.
``requests`` itself drops only ``Authorization`` on a redirect to another host, never a custom
header, and it keeps credentials on an http → https change of the same host
(``Session.rebuild_auth``, https://requests.readthedocs.io/en/latest/api/#requests.Session.rebuild_auth).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Literal
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from connector.errors import InputError, SourceError
from connector.records import Origin, Reject, SourceRecord
from connector.sources.base import Source, SourceOptions, require_file
from connector.sources.jsonl import NameClash, RepeatedMembers, marking_members, record_from_object

MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0
DEFAULT_PORTS = {"http": 80, "https": 443}
CROSS_HOST = "a next link or redirect leads to another host (scheme, host or port differ)"


class _Paging(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoPaging(_Paging):
    """One request returns everything."""

    style: Literal["none"] = "none"


class PagePaging(_Paging):
    """``?page=N&page_size=S``; stops at a page shorter than ``page_size``."""

    style: Literal["page"] = "page"
    page_param: str = "page"
    size_param: str = "page_size"
    page_size: int = Field(default=100, ge=1)
    start: int = Field(default=1, ge=0)


class OffsetPaging(_Paging):
    """``?offset=O&limit=S``; stops at a page shorter than ``page_size``."""

    style: Literal["offset"] = "offset"
    offset_param: str = "offset"
    limit_param: str = "limit"
    page_size: int = Field(default=100, ge=1)


class NextLinkPaging(_Paging):
    """Follow ``next`` (a dotted JSON path in the body) or else the ``Link: rel="next"`` header."""

    style: Literal["next_link"] = "next_link"
    next: str | None = None


Paging = Annotated[
    NoPaging | PagePaging | OffsetPaging | NextLinkPaging, Field(discriminator="style")
]


class HttpOptions(SourceOptions):
    """Options of ``kind: http``.

    Attributes:
        url: the first page's URL (http or https).
        key: the key field of an item (dotted paths into nested objects allowed).
        items: dotted JSON path of the items array in a page (``data``, ``results``); default:
            the body itself, which must then be a list.
        paging: ``none`` | ``page`` | ``offset`` | ``next_link`` or an object with ``style`` and
            that style's parameters.
        params: extra query parameters sent with the first request.
        auth_header: the header carrying the credential (default ``Authorization``).
        auth_env: the environment variable holding that header's value (e.g. ``Bearer …``).
        timeout: seconds per request.
        max_pages: safety bound; more pages than this stop the read with an error rather than
            silently returning a partial set.
        ca_bundle: a CA file (relative to the project directory) to verify the server with.
        retries: attempts per request for connection errors, 5xx and 429.
        backoff: first backoff in seconds (doubles per attempt, at most 30 s).
        cross_host: ``drop`` (default): a next link or redirect to another scheme, host or
            port is followed without the credential header; ``refuse``: it stops the read
            with an InputError.
    """

    url: str
    items: str | None = None
    paging: Paging = NoPaging()
    params: dict[str, str | int] = Field(default_factory=dict)
    auth_header: str = "Authorization"
    auth_env: str | None = None
    timeout: float = Field(default=30.0, gt=0)
    max_pages: int = Field(default=1000, ge=1)
    ca_bundle: str | None = None
    retries: int = Field(default=5, ge=1, le=20)
    backoff: float = Field(default=1.0, ge=0)
    cross_host: Literal["drop", "refuse"] = "drop"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
            raise ValueError("url must be an absolute http(s) URL")
        return value

    @field_validator("paging", mode="before")
    @classmethod
    def _paging_shorthand(cls, value: object) -> object:
        return {"style": value} if isinstance(value, str) else value


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, the port made explicit for http and https."""
    parts: SplitResult = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


class _GuardedSession(requests.Session):
    """A session that keeps credential headers to one origin, also across redirects."""

    def __init__(self, home: tuple[str, str, int | None], secret_headers: set[str], refuse: bool):
        super().__init__()
        self.home, self.secret_headers, self.refuse = home, secret_headers, refuse
        self.where = "/"

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        """Called by requests for every redirect hop: strip or refuse off-origin credentials."""
        super().rebuild_auth(prepared_request, response)
        if origin(prepared_request.url or "") != self.home:
            if self.refuse:
                raise InputError(self.where, CROSS_HOST + " (cross_host: refuse)")
            for name in (*self.secret_headers, "Cookie"):
                prepared_request.headers.pop(name, None)


class _Transient(Exception):
    """A retriable HTTP status (5xx, 429) with the server's Retry-After, if any."""

    def __init__(self, status: int, retry_after: float | None):
        super().__init__(status)
        self.status, self.retry_after = status, retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def dig(body: object, path: str) -> object:
    """The value at a dotted path in nested dicts (None when any step is missing);
    :class:`NameClash` when a step's object names that member twice (which value is meant
    cannot be told)."""
    cur = body
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        if isinstance(cur, RepeatedMembers) and part in cur.repeated:
            raise NameClash(part)
        cur = cur.get(part)
    return cur


class HttpSource(Source):
    """Items of a paged JSON API; each item (a JSON object) is one record."""

    kind = "http"
    Options = HttpOptions

    options: HttpOptions
    #: how to wait between attempts; tests replace it to record waits instead of sleeping.
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    @property
    def where(self) -> str:
        """The URL path: what origins and errors name (no host secrets, no query string)."""
        return urlsplit(self.options.url).path or "/"

    def check(self) -> None:
        """No request: the credential variable is set and the CA bundle exists."""
        o = self.options
        if o.auth_env and not self.env.get(o.auth_env):
            raise InputError(self.where, f"environment variable {o.auth_env} is not set")
        if o.ca_bundle:
            require_file(self.resolve(o.ca_bundle), o.ca_bundle)

    def _headers(self) -> dict[str, str]:
        o = self.options
        headers: dict[str, str] = {}
        if o.auth_env:
            value = self.env.get(o.auth_env)
            if not value:
                raise InputError(self.where, f"environment variable {o.auth_env} is not set")
            headers[o.auth_header] = value
        return headers

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER)
        return min(self.options.backoff * 2 ** (state.attempt_number - 1), MAX_BACKOFF)

    def _get(
        self, session: requests.Session, url: str, params: Mapping[str, str | int] | None, page: int
    ) -> requests.Response:
        o = self.options
        headers = self._headers() if origin(url) == origin(o.url) else None
        if headers is None and o.cross_host == "refuse":
            raise InputError(self.where, CROSS_HOST + " (cross_host: refuse)")
        verify: bool | str = str(self.resolve(o.ca_bundle)) if o.ca_bundle else True
        retrying = Retrying(
            stop=stop_after_attempt(o.retries),
            wait=self._wait,
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout, _Transient)),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    resp = session.get(
                        url, params=params, headers=headers, timeout=o.timeout, verify=verify
                    )
                    if resp.status_code == 429 or resp.status_code >= 500:
                        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                        raise _Transient(resp.status_code, retry_after)
        except _Transient as exc:
            raise SourceError(
                f"{self.where}: HTTP {exc.status} on page {page} after {o.retries} attempts"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            # The exception text can carry the full URL (query string); name only its type.
            raise SourceError(
                f"{self.where}: {type(exc).__name__} on page {page} after {o.retries} attempts"
            ) from None
        if resp.status_code >= 400:
            raise SourceError(f"{self.where}: HTTP {resp.status_code} on page {page}")
        return resp

    def _items(self, body: object, page: int) -> list[object]:
        path = self.options.items
        items = body if path is None else dig(body, path)
        if not isinstance(items, list):
            what = "the response body" if path is None else f"`items: {path}`"
            raise SourceError(f"{self.where}: {what} is not a list on page {page}")
        return items

    def _pages(self, session: requests.Session) -> Iterator[tuple[int, list[object]]]:
        """Yield ``(page_number, items)`` per fetched page, following the paging style."""
        o, paging = self.options, self.options.paging
        url: str | None = o.url
        params: dict[str, str | int] | None = dict(o.params)
        counter = paging.start if isinstance(paging, PagePaging) else 0
        page = 0
        while url is not None:
            if page >= o.max_pages:
                raise SourceError(
                    f"{self.where}: more than max_pages={o.max_pages} pages; raise max_pages"
                )
            page += 1
            if isinstance(paging, PagePaging) and params is not None:
                params |= {paging.page_param: counter, paging.size_param: paging.page_size}
            elif isinstance(paging, OffsetPaging) and params is not None:
                params |= {paging.offset_param: counter, paging.limit_param: paging.page_size}
            resp = self._get(session, url, params, page)
            try:
                # A repeated member name marks its object (the record is rejected, not the page).
                body = resp.json(object_pairs_hook=marking_members)
            except (ValueError, RecursionError):  # RecursionError: nested too deeply
                raise SourceError(f"{self.where}: response is not JSON on page {page}") from None
            try:
                items = self._items(body, page)
                nxt = (
                    dig(body, paging.next)
                    if isinstance(paging, NextLinkPaging) and paging.next
                    else None
                )
            except NameClash as clash:  # the envelope itself: which list or link is meant?
                raise SourceError(
                    f"{self.where}: the response on page {page} names `{clash.name}` twice"
                ) from None
            yield page, items
            if isinstance(paging, NoPaging):
                url = None
            elif isinstance(paging, PagePaging | OffsetPaging):
                if len(items) < paging.page_size:
                    url = None
                counter += 1 if isinstance(paging, PagePaging) else len(items)
            else:
                if not nxt:
                    nxt = resp.links.get("next", {}).get("url")
                # The next link carries its own query string; relative links resolve
                # against the page that gave them.
                url = urljoin(resp.url or url, nxt) if isinstance(nxt, str) and nxt else None
                params = None

    def read(self) -> Iterator[SourceRecord | Reject]:
        """Fetch page after page and yield each item as a record (origin: URL path, item no.)."""
        o = self.options
        key_cols = o.key_columns
        secret = {o.auth_header} if o.auth_env else set()
        with _GuardedSession(origin(o.url), secret, o.cross_host == "refuse") as session:
            # Credentials are passed per request (for the home origin only), never set on
            # the session: a next link to another host must not carry them.
            session.headers["Accept"] = "application/json"
            session.where = self.where
            index = 0
            for _page, items in self._pages(session):
                for item in items:
                    index += 1
                    yield record_from_object(
                        item, Origin(self.where, index), key_cols, self.read_columns
                    )
