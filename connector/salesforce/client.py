"""One authenticated Salesforce session: simple-salesforce in direct mode, plus what it lacks.

simple-salesforce has no retry for 5xx or lock errors, refreshes a session either never (direct
mode) or without bound (``SFType`` calls, SS-804), and does not parse ``Sforce-Limit-Info`` on Bulk
calls (wire spec §1.4, §6). This client adds, for every call it makes:

* a limit guard: before each call, stop with ``errors.LimitReached`` once the configured share of
  the daily API allocation is used;
* a response hook that reads ``Sforce-Limit-Info: api-usage=N/M`` from every response and counts
  the calls;
* one token refresh per call on 401 ``INVALID_SESSION_ID``, then one retry of that call;
* bounded retries with exponential backoff and jitter on connection errors and 5xx.

All calls go through ``Salesforce._call_salesforce`` (the ``restful`` path), never through
``SFType``.

Thread safety: the writer runs Bulk jobs in worker threads while the engine keeps writing
through collections, so one client serves several threads. The counters are updated under a
lock, a token refresh happens once for all threads that saw the same expired token (the others
retry with the new one), and the ``requests`` session is shared: its connection pool is
thread-safe, and nothing here changes the session's settings after start-up.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from connector import errors
from connector.salesforce.auth import TLS_VERIFY, Token, describe_failure, get_token, origin
from connector.salesforce.settings import SalesforceSettings

if TYPE_CHECKING:
    # simple-salesforce, requests and tenacity are imported where a session is made: with them
    # come zeep, lxml and urllib3 (~0.5 s), which `sis-sync status` and `--help` do not need.
    import requests
    import simple_salesforce
    from simple_salesforce.exceptions import SalesforceError as SimpleSalesforceError
    from tenacity.wait import wait_base

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_USAGE = re.compile(r"(?<![\w-])api-usage=(\d+)/(\d+)")
# Salesforce messages that quote the offending value; the value is cut out before the message
# goes anywhere (a log, a report, an exception).
_VALUE_IN_MESSAGE = re.compile(
    r"(?P<head>(?:invalid email address|data value too large|bad value for [\w ]+field|"
    r"invalid (?:id|date|number|boolean)[\w ]*|value not of required type|"
    r"id value of incorrect type)\s*:\s*)(?P<value>.+?)(?P<tail>\s*\(max length=\d+\)|$)",
    re.IGNORECASE,
)


def scrub(message: str) -> str:
    """Cut personal values that Salesforce quotes in some error messages.

    ``STRING_TOO_LONG`` says "data value too large: <value> (max length=80)" and
    ``INVALID_EMAIL_ADDRESS`` "invalid email address: <value>"; keep the words, drop the value.
    """
    return _VALUE_IN_MESSAGE.sub(lambda m: f"{m['head']}<value>{m['tail']}", message)


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """``"api-usage=18/5000; per-app-api-usage=…"`` → ``(18, 5000)``; ``None`` if absent."""
    match = _USAGE.search(header or "")
    return (int(match[1]), int(match[2])) if match else None


def error_parts(content: Any, status: int | None = None) -> tuple[str, str]:
    """(errorCode, message) from a simple-salesforce exception's ``content``."""
    first = content[0] if isinstance(content, list) and content else content
    if isinstance(first, dict):
        code = str(first.get("errorCode") or first.get("statusCode") or first.get("error") or "")
        message = str(first.get("message") or first.get("error_description") or "")
        return code or f"HTTP_{status}", scrub(message)[:500]
    return f"HTTP_{status}", ""


def _retry_this(exc: BaseException) -> bool:
    return isinstance(exc, errors.RetriableSalesforceError) and not isinstance(
        exc, errors.SalesforceUnreachable
    )


class LimitGuard:
    """Stops a run before it uses more than its share of the daily API allocation.

    Args:
        share: Fraction of the daily allocation (0 < share ≤ 1) this connector may use.
    """

    def __init__(self, share: float):
        self.share = share

    def check(self, used: int | None, maximum: int | None) -> None:
        """Raise ``errors.LimitReached`` when ``used ≥ share × maximum``; unknown usage passes."""
        if used is None or not maximum:
            return
        if used >= self.share * maximum:
            raise errors.LimitReached(
                f"{used} of {maximum} daily API calls used; this connector may use "
                f"{self.share:.0%}, the rest stays pending",
                code="DAILY_API_SHARE",
            )


def default_retry_wait() -> wait_base:
    """The wait between retries of one call: exponential from 0.5 s up to 30 s, plus up to 1 s
    of jitter so that parallel writers do not retry in step (a row lock is held by another
    transaction for a moment; a 503 is an overloaded instance)."""
    from tenacity import wait_exponential, wait_random

    return wait_exponential(multiplier=0.5, max=30) + wait_random(0, 1)


class SalesforceClient:
    """An authenticated session with a limit guard, one refresh per call and bounded retries.

    Args:
        settings: The ``salesforce:`` settings.
        session: A ``requests.Session`` to use (tests); default a new one.
        retry_wait: tenacity wait strategy between retries (tests pass ``wait_none()``).

    Attributes:
        sf: The ``simple_salesforce.Salesforce`` object (direct mode) for the current token.
        api_used: Daily API calls used, from the last ``Sforce-Limit-Info`` (``None`` until seen).
        api_max: Daily API allocation, from the same header.
        calls_made: API calls this client sent (REST and Bulk; token requests not included).
        auth_calls: Token requests this client sent.
        refreshes: Token refreshes after ``INVALID_SESSION_ID``.
        unreachable: The last ``SalesforceUnreachable`` raised (the retries ran out), if any.
    """

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        session: requests.Session | None = None,
        retry_wait: wait_base | None = None,
    ):
        import requests

        self.settings = settings
        self.session = session or requests.Session()
        if settings.ca_bundle is not None:
            if (problem := settings.ca_bundle_problem()) is not None:
                raise errors.ConfigError(problem)  # requests: a bare OSError (exit 70)
            # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment override session.verify
            # unless trust_env is off (wire spec §0).
            self.session.verify = str(settings.ca_bundle)
            self.session.trust_env = False
        self.session.hooks["response"].append(self._on_response)
        self.guard = LimitGuard(settings.daily_api_share)
        self.retry_wait = retry_wait or default_retry_wait()
        self.api_used: int | None = None
        self.api_max: int | None = None
        self.calls_made = 0
        self.auth_calls = 0
        self.refreshes = 0
        self.unreachable: errors.SalesforceUnreachable | None = None
        self._count_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._token: Token = self._with_retries(self._fetch_token)
        self.sf = self._make_sf(self._token)

    def __repr__(self) -> str:
        return (
            f"SalesforceClient(instance={self.instance_url!r}, auth={self.settings.auth!r}, "
            f"calls_made={self.calls_made}, api_used={self.api_used}, api_max={self.api_max})"
        )

    @property
    def instance_url(self) -> str:
        """``https://host[:port]`` of the org."""
        return self._token.instance_url

    @property
    def user_id(self) -> str:
        """The Id of the user the client acts as (the integration user; "" if unknown)."""
        return self._token.user_id

    @property
    def base_url(self) -> str:
        """``https://host/services/data/vNN.N/``."""
        return str(self.sf.base_url)

    # -- calls ---------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one API call, guarded, refreshed once on an expired session, retried if transient.

        Args:
            method: HTTP method.
            path: Relative to ``base_url`` (``"composite/sobjects"``), or an absolute path on the
                instance (``"/services/data/v59.0/query/01g…"``, as in ``nextRecordsUrl``).
            **kwargs: Passed to ``requests`` (``json``, ``params``, ``data``, ``headers``).

        Returns:
            The response (status < 300).

        Raises:
            errors.LimitReached: The daily API share is used up (before the call, or a 403
                ``REQUEST_LIMIT_EXCEEDED`` for the daily total).
            errors.RetriableSalesforceError: Still failing transiently after the retries.
            errors.SalesforceError: Salesforce refused the call (its errorCode in ``.code``).
        """
        kwargs.setdefault("timeout", self.settings.timeout)
        return self._with_retries(lambda: self._send(method, path, kwargs))

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like ``request`` but returns the parsed JSON body (``None`` for an empty body)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> requests.Response:
        import requests
        from simple_salesforce.exceptions import SalesforceError as SimpleSalesforceError
        from simple_salesforce.exceptions import SalesforceExpiredSession

        url = self.instance_url + path if path.startswith("/") else self.base_url + path
        name = urlsplit(url).path  # never the query string: SOQL can hold values
        refreshed = False
        while True:
            self.guard.check(self.api_used, self.api_max)
            sf = self.sf  # the session this attempt uses; another thread may refresh meanwhile
            try:
                response: requests.Response = sf._call_salesforce(method, url, name=name, **kwargs)
                return response
            except SalesforceExpiredSession as exc:
                code, message = error_parts(exc.content, exc.status)
                if code != "INVALID_SESSION_ID" or refreshed:
                    raise errors.SalesforceError(message, code=code, status=exc.status) from None
                # Once per call: a token that is rejected right after a refresh means the
                # credentials or the org are wrong, and looping would only burn logins.
                log.info("session expired on %s; getting a new token", name)
                refreshed = True
                self._refresh_unless_done(sf)
            except SimpleSalesforceError as exc:
                raise self._translate(exc) from None
            except requests.RequestException as exc:
                failure = errors.RetriableSalesforceError(
                    f"{method} {name} failed: {type(exc).__name__}", code="CONNECTION_ERROR"
                )
                failure.cause = describe_failure(exc, url, ca_bundle=self.settings.ca_bundle)
                if failure.cause.startswith(TLS_VERIFY):  # a retry cannot make it verify
                    raise errors.SalesforceUnreachable(
                        failure.cause, code="TLS_VERIFY_FAILED"
                    ) from None
                raise failure from None

    def refresh(self) -> None:
        """Get a new token and point simple-salesforce at it."""
        with self._refresh_lock:
            self._refresh_locked()

    def _refresh_unless_done(self, expired: simple_salesforce.Salesforce) -> None:
        # Threads that failed with the same expired session refresh it once: the first one
        # gets the token, the others find ``self.sf`` already replaced and just retry.
        with self._refresh_lock:
            if self.sf is expired:
                self._refresh_locked()

    def _refresh_locked(self) -> None:
        token = self._with_retries(self._fetch_token)
        self._token, self.sf = token, self._make_sf(token)
        self.refreshes += 1

    def _translate(self, exc: SimpleSalesforceError) -> errors.SalesforceError:
        from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceRefusedRequest

        code, message = error_parts(exc.content, exc.status)
        status = exc.status
        if isinstance(exc, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
            if "concurrent" in message.lower():
                # Too many long-running requests at once: wait and try again.
                return errors.RetriableSalesforceError(message, code=code, status=status)
            return errors.LimitReached(message or "daily API limit exceeded", code=code)
        if code == "UNABLE_TO_LOCK_ROW" or (
            isinstance(exc, SalesforceGeneralError) and status is not None and status >= 500
        ):
            return errors.RetriableSalesforceError(message, code=code, status=status)
        return errors.SalesforceError(message, code=code, status=status)

    def _with_retries(self, fn: Callable[[], _T]) -> _T:
        """``fn()``, retried on transient failures; once the retries are used up, a connection,
        TLS or 5xx failure becomes ``errors.SalesforceUnreachable`` (exit 3) with its cause."""
        from tenacity import Retrying, retry_if_exception, stop_after_attempt

        attempts = self.settings.max_retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=self.retry_wait,
            # An inner call (a token refresh inside a call) that already gave up is not retried
            # again by the outer one: that would multiply the waits.
            retry=retry_if_exception(_retry_this),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "transient Salesforce failure (%s), attempt %d; retrying",
                getattr(state.outcome.exception(), "code", "?") if state.outcome else "?",
                state.attempt_number,
            ),
        )
        try:
            return retrying(fn)
        except errors.SalesforceUnreachable as exc:
            self.unreachable = exc  # the run is recorded as failed with this cause
            raise
        except errors.RetriableSalesforceError as exc:
            if exc.code != "CONNECTION_ERROR" and not (exc.status and exc.status >= 500):
                raise  # UNABLE_TO_LOCK_ROW, concurrent-request limits: not about reachability
            cause = exc.cause or f"{origin(self.settings.url)} answered HTTP {exc.status}"
            if exc.code != "CONNECTION_ERROR":
                code = f" ({exc.code})" if exc.code and exc.code != f"HTTP_{exc.status}" else ""
                cause += f"{code} {attempts} times in a row — is Salesforce down?"
            unreachable = errors.SalesforceUnreachable(cause, code=exc.code, status=exc.status)
            self.unreachable = unreachable  # the run is recorded as failed with this cause
            raise unreachable from None

    # -- plumbing ------------------------------------------------------------------------

    def _fetch_token(self) -> Token:
        return get_token(self.settings, session=self.session)

    def _make_sf(self, token: Token) -> simple_salesforce.Salesforce:
        import simple_salesforce

        return simple_salesforce.Salesforce(
            session_id=token.access_token,
            instance_url=token.instance_url,
            session=self.session,
            version=self.settings.api_version,
        )

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/services/oauth2/" in urlsplit(response.url).path:
            with self._count_lock:
                self.auth_calls += 1
            return
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        with self._count_lock:
            self.calls_made += 1
            if usage:
                self.api_used, self.api_max = usage
