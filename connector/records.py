"""Small immutable values that travel between the stages of a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: a file (or URL) and a 1-based line (or item) number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record as a source read it.

    ``fields`` maps source column names to values (strings from CSV; JSON values from JSON
    sources). ``deleted`` is set when the source says the record is gone (OneRoster delta
    ``tobedeleted``). ``key`` is the raw key value: personal data, never logged.
    ``signature``, when a source sets it, is text that determines ``fields`` exactly (a CSV
    source: its header and the row's raw cells); the engine hashes it to notice an unchanged
    row faster than by hashing ``fields`` (``connector/sync/fingerprint.py``).
    """

    key: str
    fields: Mapping[str, Any]
    origin: Origin
    deleted: bool = False
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that could not be used: where, which column, why. Never the value."""

    origin: Origin
    column: str
    reason: str
    mapping: str = ""

    def __str__(self) -> str:
        col = f" [{self.column}]" if self.column else ""
        return f"{self.origin}{col}: {self.reason}"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Salesforce's answer for one record of a write, in request order."""

    ok: bool
    sf_id: str | None = None
    created: bool = False
    error_code: str = ""
    message: str = ""
    fields: tuple[str, ...] = field(default_factory=tuple)
