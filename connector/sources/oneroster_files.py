"""The files of a OneRoster CSV export folder: manifest.csv, entity tables and ISO date checks.

Used by :mod:`connector.sources.oneroster`; the tolerance rules (typo'd header names, empty
trailing header names, no guessing of day/month order) are described there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from connector.errors import InputError
from connector.sources.base import NUL_REASON, require_file, scrub_cells
from connector.sources.csv import Malformed, Rows, iter_rows, read_header
from connector.sources.prescan import prescan

MODES = ("bulk", "delta", "absent")
HEADER_ALIASES = {
    "dataLastModified": "dateLastModified",
    "prefferedGivenName": "preferredGivenName",
    "prefferedMiddleName": "preferredMiddleName",
    "prefferedFamilyName": "preferredFamilyName",
}
DATE_COLUMNS = frozenset({"startDate", "endDate", "beginDate", "birthDate"})
DATETIME_COLUMNS = frozenset({"dateLastModified"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# dateTime per spec is ISO 8601 UTC; real exports also put a bare date here, which is unambiguous.
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
NON_ISO_DATE = "date not in ISO 8601 (YYYY-MM-DD); refusing to guess day/month order"

Row = dict[str, Any]
#: A row refused on one column: ``(column, reason)``.
Bad = tuple[str, str]


@dataclass(frozen=True)
class Manifest:
    """manifest.csv: the OneRoster version and each file's mode (bulk | delta | absent)."""

    version: str
    modes: dict[str, str]

    def mode(self, entity: str) -> str:
        """The declared mode; a blank or missing entry counts as ``absent``."""
        return self.modes.get(entity, "") or "absent"


def read_manifest(folder: Path, display: str, encoding: str) -> Manifest:
    """Parse manifest.csv (``propertyName,value``); InputError when missing or malformed."""
    path = folder / "manifest.csv"
    require_file(path, display)
    # The entity files' safeguards (decodable, no unterminated quote, cells within the field
    # limit): an unterminated quote swallowed the rest of the manifest, and a cell over the
    # limit stopped the run with the csv module's own error (exit 70).
    prescan(path, display, encoding=encoding, delimiter=",")
    props: dict[str, str] = {}
    rows = iter_rows(path, display, encoding=encoding, delimiter=",")
    with closing(rows):
        first = next(rows, None)
        header = [] if first is None or isinstance(first[1], Malformed) else first[1]
        if [h.strip() for h in header[:2]] != ["propertyName", "value"]:
            raise InputError(display, "header must be propertyName,value", line=1)
        for line, row in rows:
            if isinstance(row, Malformed):
                raise InputError(display, f"cannot be read: {row.reason}", line=line)
            if row and row[0].strip():
                props[row[0].strip()] = row[1].strip() if len(row) > 1 else ""
    modes = {k[5:]: v.lower() for k, v in props.items() if k.startswith("file.")}
    return Manifest(props.get("oneroster.version", ""), modes)


def find_file(folder: Path, entity: str) -> Path | None:
    """``<entity>.csv`` in the folder, matching the name case-insensitively as a fallback."""
    exact = folder / f"{entity}.csv"
    if exact.is_file():
        return exact
    wanted = f"{entity}.csv".lower()
    return next((p for p in folder.iterdir() if p.name.lower() == wanted and p.is_file()), None)


def date_problem(value: str, column: str) -> str:
    """'' when ``value`` is a valid ISO date (or dateTime for dateLastModified), else a reason."""
    pattern = _DATETIME if column in DATETIME_COLUMNS else _DATE
    if not pattern.fullmatch(value):
        return NON_ISO_DATE
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return "not a valid calendar date"
    return ""


def split_list(value: str | None) -> list[str]:
    """A OneRoster list cell (``"a,b"``) as stripped, non-empty items."""
    return [p.strip() for p in value.split(",") if p.strip()] if value else []


class Table:
    """One OneRoster CSV file: header checked, rows as dicts with physical line numbers."""

    def __init__(self, path: Path, display: str, encoding: str):
        self.path, self.display, self.encoding = path, display, encoding

    def scan(self) -> None:
        """The pre-scan (``check()``): decodable, no unterminated quote (InputError)."""
        prescan(self.path, self.display, encoding=self.encoding, delimiter=",")

    def rows(self) -> Iterator[tuple[int, Row | str | Bad]]:
        """``(line, fields)`` per row, ``(line, reason)`` for a malformed or ragged row, or
        ``(line, (column, reason))`` for a row refused on one column (a NUL character, a cell
        over the CSV field size limit).

        Control characters follow the rule of :mod:`connector.sources.base`.
        """
        raw = iter_rows(self.path, self.display, encoding=self.encoding, delimiter=",")
        with closing(raw):
            header = self.header_from(raw)
            named = [(i, h) for i, h in enumerate(header) if h]
            need = named[-1][0] + 1 if named else 0  # cells up to the last named column
            width = len(header)
            for line, row in raw:
                if isinstance(row, Malformed):
                    # On its column when the reader's error names a cell (one over the limit).
                    yield line, row.reason if row.cell is None else (row.column(header), row.reason)
                elif not any(row):
                    continue
                elif len(row) < need or (len(row) > width and any(row[width:])):
                    yield line, f"row has {len(row)} cells, header has {len(named)} columns"
                elif isinstance(clean := scrub_cells(row), int):
                    yield line, (header[clean] if clean < width else "", NUL_REASON)
                else:
                    yield (
                        line,
                        {h: (clean[i] or None) if i < len(clean) else None for i, h in named},
                    )

    def header_from(self, raw: Rows) -> list[str]:
        """The header from the first row of ``raw`` (InputError when there is none)."""
        return read_header(raw, self.display, drop_empty=True, aliases=HEADER_ALIASES)

    def header(self) -> list[str]:
        """The header names (empty names kept as ``""``)."""
        raw = iter_rows(self.path, self.display, encoding=self.encoding, delimiter=",")
        with closing(raw):
            return self.header_from(raw)
