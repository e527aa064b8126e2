"""Small immutable values that travel between the stages of a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: a file (or URL) and a 1-based line (or item) number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def __reduce__(self) -> tuple[type[Origin], tuple[str, int]]:
        # Pickled with every spooled write (sync/spool.py): plainer than the dataclass state.
        return (Origin, (self.file, self.line))


class SourceRecord:
    """One record as a source read it.

    ``fields`` maps source column names to values (strings from CSV; JSON values from JSON
    sources). ``deleted`` is set when the source says the record is gone (OneRoster delta
    ``tobedeleted``). ``key`` is the raw key value: personal data, never logged.
    ``signature``, when a source sets it, is text that determines ``fields`` exactly (a CSV
    source: its header and the row's raw cells); the engine hashes it to notice an unchanged
    row faster than by hashing ``fields`` (``connector/sync/fingerprint.py``). It is kept in
    two parts, ``sig_head + sig_cells``: the head (a CSV file's header) is the same text for
    every row of a file, so a hasher absorbs it once per file, not once per row.

    A row source may build records with :meth:`from_row`: ``fields`` and ``origin`` are then
    made on first use. A nightly run recognises most rows by their signature and never looks
    at their fields, so it never pays for them. Treat records as immutable.
    """

    __slots__ = (
        "_at", "_cells", "_fields", "_header", "_origin", "deleted", "key", "sig_cells", "sig_head",
    )  # fmt: skip

    # Set only by from_row, and read only while ``_fields`` / ``_origin`` are still None.
    _header: list[str]
    _cells: list[str]
    _at: tuple[str, int]

    def __init__(
        self,
        key: str,
        fields: Mapping[str, Any],
        origin: Origin,
        deleted: bool = False,
        signature: str | None = None,
    ):
        self.key, self.deleted = key, deleted
        self.sig_head, self.sig_cells = "", signature
        self._fields: Mapping[str, Any] | None = fields
        self._origin: Origin | None = origin

    @classmethod
    def from_row(
        cls,
        key: str,
        header: list[str],
        cells: list[str],
        at: tuple[str, int],
        sig_cells: str | None = None,
        sig_head: str = "",
    ) -> SourceRecord:
        """A record of a text row: ``fields`` = header → cell (an empty cell is ``None``),
        ``origin`` = ``Origin(*at)``, both built when first read; its signature is
        ``sig_head + sig_cells`` (none when ``sig_cells`` is None)."""
        rec = cls.__new__(cls)
        rec.key, rec.deleted, rec.sig_head, rec.sig_cells = key, False, sig_head, sig_cells
        rec._fields = rec._origin = None
        rec._header, rec._cells, rec._at = header, cells, at
        return rec

    @property
    def signature(self) -> str | None:
        """The row's signature (see the class docstring), or None."""
        cells = self.sig_cells
        return None if cells is None else self.sig_head + cells

    @property
    def fields(self) -> Mapping[str, Any]:
        """Source column → value."""
        f = self._fields
        if f is None:
            cells = [v or None for v in self._cells]
            f = self._fields = dict(zip(self._header, cells, strict=True))
        return f

    @property
    def line(self) -> int:
        """The record's line (or item) number, without building its :class:`Origin`."""
        o = self._origin
        return self._at[1] if o is None else o.line

    @property
    def origin(self) -> Origin:
        """Where the record came from."""
        o = self._origin
        if o is None:
            o = self._origin = Origin(*self._at)
        return o

    def _astuple(self) -> tuple[Any, ...]:
        return (self.key, dict(self.fields), self.origin, self.deleted, self.signature)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not SourceRecord:
            return NotImplemented
        return self._astuple() == other._astuple()

    __hash__ = None  # type: ignore[assignment]  # mutable mapping inside, as with a dataclass

    def __repr__(self) -> str:
        return (
            f"SourceRecord(key={self.key!r}, fields={dict(self.fields)!r}, "
            f"origin={self.origin!r}, deleted={self.deleted!r}, signature={self.signature!r})"
        )


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


class WriteStatus(StrEnum):
    """What became of one record of a write (the writer seam's typed outcome)."""

    CREATED = "created"
    UPDATED = "updated"
    FAILED = "failed"  # Salesforce refused the record (error code, message, fields)
    NOT_SENT = "not_sent"  # never reached Salesforce (the run stopped): left pending


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Salesforce's answer for one record of a write, in request order."""

    ok: bool
    sf_id: str | None = None
    created: bool = False
    error_code: str = ""
    message: str = ""
    fields: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> WriteStatus:
        """The outcome as a :class:`WriteStatus`."""
        if self.ok:
            return WriteStatus.CREATED if self.created else WriteStatus.UPDATED
        if self.error_code == "NOT_SENT":
            return WriteStatus.NOT_SENT
        return WriteStatus.FAILED
