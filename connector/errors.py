"""The error tree. Every error the connector raises on purpose is one of these.

::

    ConnectorError
    ├── UsageError            → exit 2: nothing was written
    │   ├── ConfigError        sync.yaml / environment / secrets
    │   ├── MappingError       mapping or purposes file (carries every problem: file, line, key)
    │   ├── UnknownPluginError a source or transform name nobody registered (lists the known ones)
    │   └── InputError         a whole input file is unusable (missing key column, undecodable)
    └── RunError              → exit 1: the run went ahead but not everything landed
        ├── SourceError        reading a source failed half-way
        ├── SalesforceError    Salesforce refused or could not be reached (carries the errorCode)
        │   ├── LimitReached   the daily API share is used up; the rest stays pending
        │   └── RetriableSalesforceError   a transient failure (retried)
        │       └── SalesforceUnreachable  → exit 3: still failing after the retries
        │                                  (connection, TLS, 5xx); ``cause`` says it in words
        ├── StateError         the state store failed
        └── LockedError        another run of the same job holds the lock
    PluginError               → exit 70: a source plugin raised something it should not (a bug)

Marker mixin ``Retriable``: raised for a transient condition (connection error, 5xx,
UNABLE_TO_LOCK_ROW); the retry policy retries exactly these, except ``SalesforceUnreachable``,
which is what is left once the retries are used up.

Exit codes: 0 all synced, 1 the run finished with record-level problems, 2 configuration or
input, 3 Salesforce could not be reached or kept failing (the run is recorded as failed), 70
(sysexits' EX_SOFTWARE) a bug: a plugin's or the connector's unexpected exception (DESIGN §4:
"anything else is a bug").

Messages never carry personal values: they name files, lines, fields, Salesforce error codes and
keyed hashes, never the data itself.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConnectorError(Exception):
    """Base of every deliberate error. ``exit_code`` tells the CLI how to end."""

    exit_code = 1


class UsageError(ConnectorError):
    """The command, configuration or input is wrong; nothing has been written."""

    exit_code = 2


class ConfigError(UsageError):
    """sync.yaml, the environment or a secret file is wrong or missing."""


@dataclass(frozen=True)
class Problem:
    """One problem in a file: where it is and what is wrong (never the offending value)."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class MappingError(UsageError):
    """One or more problems in mapping or purposes files, all reported at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UnknownPluginError(UsageError):
    """A source kind or transform name that no installed package registers."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(self.known)}")


class InputError(UsageError):
    """A whole input file cannot be used (missing key column, undecodable, unreadable)."""

    def __init__(self, file: str, message: str, *, line: int | None = None, column: str = ""):
        self.file, self.line, self.column = file, line, column
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {column + ': ' if column else ''}{message}")


class RunError(ConnectorError):
    """The run went ahead but something failed; the report says what."""

    exit_code = 1


class Retriable:
    """Marker: the condition is transient and the operation may be tried again."""


class SourceError(RunError):
    """Reading a source failed part-way."""


class SalesforceError(RunError):
    """Salesforce refused a request or could not be reached.

    ``code`` is Salesforce's errorCode (e.g. ``INVALID_SESSION_ID``) or an HTTP status; the
    message is Salesforce's own text, which names fields but not values.
    """

    # Why it could not be reached, in words (set on connection and 5xx failures; see
    # SalesforceUnreachable).
    cause: str = ""

    def __init__(self, message: str, *, code: str = "", status: int | None = None):
        self.code, self.status = code, status
        super().__init__(f"{code}: {message}" if code else message)


class RetriableSalesforceError(SalesforceError, Retriable):
    """A transient Salesforce condition: 5xx, connection error, UNABLE_TO_LOCK_ROW."""


class LimitReached(SalesforceError):
    """The configured share of the daily API allocation is used; remaining work stays pending."""


class StateError(RunError):
    """The state store failed. ``damaged``: SQLite's reason when the file is no database any
    more (``file is not a database`` …), else ""."""

    def __init__(self, message: str, *, damaged: str = ""):
        super().__init__(message)
        self.damaged = damaged


# SQLite's words for a file that is no database (any more): sqlite.org/rescode.html SQLITE_NOTADB,
# SQLITE_CORRUPT.
DAMAGED = ("file is not a database", "database disk image is malformed")
RECOVER = (
    "the state file is damaged: move it aside and rebuild it from the org with "
    "`sis-sync state rebuild` (docs/recovery.md)"
)


class StateDamaged(StateError):
    """The SQLite state file is not a database any more (truncated, overwritten): exit 2.

    Found when the store opens, before anything is written; the message names the file and
    the way back (move it aside, ``sis-sync state rebuild``: docs/recovery.md).
    """

    exit_code = 2

    @classmethod
    def of(cls, path: object, detail: str) -> StateDamaged:
        """The refusal of the state file at ``path``, with SQLite's ``detail`` and the way
        back (one wording for every command that opens it)."""
        return cls(f"state store {path}: {detail} — {RECOVER}", damaged=detail)


class LockedError(RunError):
    """Another run of the same job holds the run lock."""


class SalesforceUnreachable(RetriableSalesforceError):
    """Salesforce could not be reached or kept failing after the retries: exit 3.

    Raised for connection and TLS failures and for 5xx answers once the client's retries are used
    up (not for a record Salesforce refused: that is a result, exit 1). ``cause`` says what went
    wrong in words an admin can act on (e.g. "TLS: certificate verify failed for
    https://127.0.0.1:8443 — is ca_bundle the emulator's ca.pem?"); it names the host, never a
    path with values or a query string. It keeps the last failure's ``code`` and ``status``.
    """

    exit_code = 3

    def __init__(self, cause: str, *, code: str = "UNREACHABLE", status: int | None = None):
        super().__init__(cause, code=code, status=status)
        self.cause = cause
        self.run_id: int | None = None  # the failed run recorded in the state, once it is
        self.args = (f"Salesforce could not be reached: {cause}",)

    def __str__(self) -> str:
        return str(self.args[0])


# DESIGN §4 keeps 0-3 for outcomes an admin acts on (records, configuration, Salesforce); "anything
# else is a bug". A bug gets sysexits' EX_SOFTWARE, so cron and CI tell it apart from those.
BUG_EXIT = 70


class PluginError(ConnectorError):
    """A source plugin raised an exception that is not part of its contract (not an InputError,
    SourceError …): a bug in the plugin. The message names the plugin and the exception type,
    never the exception's text, which may quote a value (``KeyError('0612345678')``)."""

    exit_code = BUG_EXIT
    # A run stopped by it is recorded (state, status, /healthz) with its message as the cause;
    # the prefix tells that cause apart from an input error or an unreachable Salesforce.
    PREFIX = "source plugin "

    def __init__(self, kind: str, exc: BaseException):
        self.kind, self.exc_type = kind, type(exc).__name__
        super().__init__(f"{self.PREFIX}{kind} failed ({self.exc_type})")
