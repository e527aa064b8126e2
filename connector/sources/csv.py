"""Delimited text files (CSV, the `;`-separated files Dutch Excel writes) as a source.

The hot path: ``csv.reader`` plus a header zip, no per-row validation model. Line numbers are
physical lines of the file (a quoted field spanning lines moves the next row down), taken from
``csv.reader.line_num`` so a reject points at the line an editor shows.

Broken and hostile input (see docs/sources.md, "Hostile and broken input"):

- an empty file (not even a header line) is an InputError naming the file; a file with only a
  header line reads zero rows without error (the run report warns about an empty export);
- an unterminated quote is an InputError from ``check()`` ("unterminated quote starting at
  line N"): the reader would otherwise read the rest of the file as one field;
- control characters follow the rule of :mod:`connector.sources.base`: a NUL rejects the row
  (file, line, column), the others are removed from the value;
- a cell longer than the ``csv`` module's field size limit (131,072 characters) rejects its row
  with file, line and column (the reader does not say which cell: ``long_cells.py`` finds it).

The row helpers here (:func:`iter_rows`, :func:`read_header`, :func:`parse_header`,
:func:`sniff_delimiter`) are shared with the OneRoster source.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Collection, Generator, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from connector.errors import InputError, SourceError
from connector.records import Origin, Reject, SourceRecord
from connector.sources.base import (
    NUL_REASON,
    FileSource,
    SourceOptions,
    build_key,
    check_encoding,
    empty_key,
    require_file,
    scrub_cells,
)
from connector.sources.long_cells import LongCells
from connector.sources.prescan import Scan, prescan, stamp

SNIFF_CANDIDATES = (",", ";")
_LINE_END = re.compile(r"\r\n?|\n")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Malformed:
    """A record the CSV reader refused: why, and the 0-based cell it broke on when known."""

    reason: str
    cell: int | None = None

    def column(self, header: list[str]) -> str:
        """The header name of the cell it broke on; its position when the header names no
        such column (an unnamed or extra cell); ``""`` when the cell is unknown."""
        if self.cell is None:
            return ""
        named = header[self.cell] if self.cell < len(header) else ""
        return named or f"column {self.cell + 1} (no header name)"


Rows = Generator[tuple[int, list[str]] | tuple[int, Malformed], None, None]


class CsvOptions(SourceOptions):
    """Options of ``kind: csv``.

    Attributes:
        path: the file, relative to the project directory.
        key: the key column, or a list of columns for a composite key.
        delimiter: ``,`` ``;`` ``\\t`` or ``|``; default: sniffed between ``,`` and ``;``
            from the header line.
        encoding: default ``utf-8-sig`` (UTF-8, a BOM is dropped); ``cp1252``/``latin-1``
            for older Windows exports.
        quotechar: the quote character (default ``"``).
        skip_blank_lines: skip rows whose cells are all empty (default true).
    """

    path: str
    delimiter: Literal[",", ";", "\t", "|"] | None = None
    encoding: str = "utf-8-sig"
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    skip_blank_lines: bool = True

    _check_encoding = field_validator("encoding")(check_encoding)

    @field_validator("quotechar")
    @classmethod
    def _not_a_line_break(cls, value: str) -> str:
        # A line break as the quote would make every record end where the reader does not.
        if value in "\r\n":
            raise ValueError("a line break cannot be the quote character")
        return value


def sniff_delimiter(first_line: str, candidates: tuple[str, ...] = SNIFF_CANDIDATES) -> str:
    """The candidate that splits the header line into the most columns (ties → the first).

    A header is short and has no embedded delimiters in practice, so parsing it once per
    candidate is more predictable than ``csv.Sniffer`` on a single line.
    """
    best, best_n = candidates[0], 0
    for cand in candidates:
        try:
            n = len(next(csv.reader([first_line], delimiter=cand), []))
        except csv.Error:  # e.g. a "cell" over the field size limit: not this delimiter
            n = 0
        if n > best_n:
            best, best_n = cand, n
    return best


def first_line(path: Path, encoding: str) -> str:
    """The first physical line of the file, decoded leniently (BOM dropped for utf-8-sig).

    Only for sniffing the delimiter: bytes are read up to the first newline so an undecodable
    byte further on does not matter here (``check()`` scans the whole file for that).
    """
    with path.open("rb") as fh:
        raw = fh.readline(1 << 20)
    # A file with CR line ends (old Mac exports) has no LF: the csv reader ends a line at CR.
    return _LINE_END.split(raw.decode(encoding, errors="replace"), maxsplit=1)[0]


def iter_rows(
    path: Path, display: str, *, encoding: str, delimiter: str, quotechar: str = '"'
) -> Rows:
    """Yield ``(start_line, cells)`` per CSV record, header first.

    A malformed record yields ``(line, Malformed)`` instead of cells and reading goes on.
    Undecodable text half-way raises SourceError with the line (``check()`` normally refuses
    such a file before anything is written).
    """
    long_cells = LongCells(path, encoding, delimiter, quotechar)
    with path.open(encoding=encoding, newline="") as fh, closing(long_cells):
        reader = csv.reader(fh, delimiter=delimiter, quotechar=quotechar)
        base = 0  # physical lines read by the readers before this one
        start = 1
        while True:
            # A for loop over the reader (not next() per row): the hot path of every file
            # source. After a malformed record reading resumes with a new reader.
            try:
                for row in reader:
                    yield start, row
                    start = base + reader.line_num + 1
                return
            except csv.Error as exc:
                read = base + reader.line_num  # the reader drops the rest of the line it failed on
                found = long_cells.find(start)
                if found is None:
                    yield start, Malformed(f"malformed CSV: {exc}")
                else:
                    cell, last = found
                    limit = csv.field_size_limit()
                    yield start, Malformed(f"cell longer than {limit:,} characters", cell)
                    # A quoted cell over several lines: the reader would go on inside it and
                    # read its lines as rows. Skip to the end of the record.
                    while read < last and fh.readline():
                        read += 1
                base, start = read, read + 1
                reader = csv.reader(fh, delimiter=delimiter, quotechar=quotechar)
            except UnicodeDecodeError:
                raise SourceError(
                    f"{display}:{base + reader.line_num + 1}: not valid {encoding}"
                ) from None


def parse_header(
    cells: list[str],
    display: str,
    *,
    drop_empty: bool = False,
    aliases: Mapping[str, str] | None = None,
) -> list[str]:
    """Header names stripped (and renamed through ``aliases``); InputError on a duplicate.

    With ``drop_empty`` an empty header name is kept as ``""`` (its cells are ignored by the
    caller) instead of being an error. Control characters follow the rule of
    :mod:`connector.sources.base`: removed, and a NUL is an InputError.
    """
    names: list[str] = []
    seen: dict[str, int] = {}
    scrubbed = scrub_cells(cells)
    if isinstance(scrubbed, int):
        raise InputError(display, f"header column {scrubbed + 1} holds a NUL character", line=1)
    for i, raw in enumerate(scrubbed, start=1):
        name = raw.strip()
        if aliases and name in aliases and aliases[name] not in cells:
            name = aliases[name]
        if not name:
            if drop_empty:
                names.append("")
                continue
            raise InputError(display, f"header column {i} has no name", line=1)
        if name in seen:
            # By position, never by its text: in an export without a header line, line 1 is
            # a person's row, and two equal cells (a phone number twice) would show it.
            raise InputError(
                display, f"header columns {seen[name]} and {i} have the same name", line=1
            )
        seen[name] = i
        names.append(name)
    return names


def read_header(
    rows: Iterator[tuple[int, list[str]] | tuple[int, Malformed]],
    display: str,
    *,
    drop_empty: bool = False,
    aliases: Mapping[str, str] | None = None,
) -> list[str]:
    """The header names from the first row :func:`iter_rows` yields (see :func:`parse_header`).

    Raises:
        InputError: ``empty file: no header line`` when the file holds nothing (blank lines at
            most); ``no header line`` when its first record is malformed or has no cells
            (with ``drop_empty``: no non-empty cell).
    """
    first = next(rows, None)
    if first is None:
        raise InputError(display, "empty file: no header line")
    cells = first[1]
    if isinstance(cells, Malformed):
        where = f" (column {cells.cell + 1})" if cells.cell is not None else ""
        raise InputError(display, f"the header line cannot be read{where}: {cells.reason}", line=1)
    if not (any(cells) if drop_empty else cells):
        raise InputError(display, "no header line", line=1)
    return parse_header(cells, display, drop_empty=drop_empty, aliases=aliases)


def key_indices(header: list[str], columns: list[str], display: str) -> list[int]:
    """Positions of the key columns; InputError naming the first one missing."""
    out = []
    for col in columns:
        if col not in header:
            raise InputError(display, "key column not in the header", line=1, column=col)
        out.append(header.index(col))
    return out


def require_in_header(header: Collection[str], columns: Collection[str], display: str) -> None:
    """InputError naming the first of ``columns`` (the mapping reads them) not in ``header``:
    a column renamed or left out of an export would read as empty on every row and clear its
    field in Salesforce for everyone."""
    for column in columns:
        if column not in header:
            raise InputError(
                display,
                "a column the mapping reads is not in the header (renamed, or left out "
                "of the export? an empty column would clear its field in Salesforce)",
                line=1,
                column=column,
            )


class CsvSource(FileSource):
    """A delimited text file with a header line; one record per row.

    Values are strings; an empty cell is ``None``. A row with more or fewer cells than the
    header is rejected with its line, as is a row with an empty key or a NUL character.

    Empty and header-only files: a file with nothing in it (not even a header line) is an
    InputError naming the file; a file with a header line and no rows reads zero records
    without error (the run report warns about an empty export).
    """

    kind = "csv"
    Options = CsvOptions

    options: CsvOptions
    _scan: Scan | None = None
    _header: list[str] | None = None  # read by check()

    def _layout(self) -> tuple[str, str]:
        name = self.display_name(self.path)
        require_file(self.path, name)
        delimiter = self.options.delimiter or sniff_delimiter(
            first_line(self.path, self.options.encoding)
        )
        return name, delimiter

    def _prescan(self, name: str, delimiter: str) -> Scan:
        """The pre-scan of the file; reused when the file is unchanged since it ran."""
        scan = self._scan
        if scan is None or scan.stamp != stamp(self.path):
            o = self.options
            scan = self._scan = prescan(
                self.path, name, encoding=o.encoding, delimiter=delimiter, quotechar=o.quotechar
            )
        return scan

    def check(self) -> None:
        """File readable and not empty, whole file decodable, no unterminated quote, header
        unique and holding the key column(s)."""
        name, delimiter = self._layout()
        self._prescan(name, delimiter)
        o = self.options
        rows = iter_rows(
            self.path, name, encoding=o.encoding, delimiter=delimiter, quotechar=o.quotechar
        )
        with closing(rows):
            self._header = read_header(rows, name)
            key_indices(self._header, o.key_columns, name)

    def require_columns(self, columns: Collection[str]) -> None:
        """Every column the mapping reads is in the header :meth:`check` read (InputError);
        :meth:`read` checks them again on the header it reads (the file may have changed)."""
        super().require_columns(columns)
        if self._header is not None:
            require_in_header(self._header, self.read_columns, self.display_name(self.path))

    def read(self) -> Iterator[SourceRecord | Reject]:
        """Stream the rows as SourceRecords (Rejects for ragged rows, empty keys and NULs).

        Raises InputError before the first row when the file changed since ``check()`` and
        is now unusable (the pre-scan runs again, and the header must still hold the key and
        every column the mapping reads).
        """
        o = self.options
        name, delimiter = self._layout()
        controls = self._prescan(name, delimiter).controls
        rows = iter_rows(
            self.path, name, encoding=o.encoding, delimiter=delimiter, quotechar=o.quotechar
        )
        with closing(rows):
            header = read_header(rows, name)
            key_cols = o.key_columns
            kidx = key_indices(header, key_cols, name)
            require_in_header(header, self.read_columns, name)
            width = len(header)
            skip_blank = o.skip_blank_lines
            single = kidx[0] if len(kidx) == 1 else None
            # The header in every row's signature: a renamed column maps otherwise.
            from_row = SourceRecord.from_row
            head = "\x1f".join(header) + "\x1e"
            seps = width - 1
            scrubbed_rows, first_scrubbed = 0, 0
            for line, row in rows:
                if isinstance(row, Malformed):
                    yield Reject(Origin(name, line), row.column(header), row.reason)
                    continue
                if skip_blank and not any(row):
                    continue
                if len(row) != width:
                    yield Reject(
                        Origin(name, line), "", f"row has {len(row)} cells, header has {width}"
                    )
                    continue
                if controls:  # only files the pre-scan found a control character in
                    clean = scrub_cells(row)
                    if isinstance(clean, int):
                        yield Reject(Origin(name, line), header[clean], NUL_REASON)
                        continue
                    if clean is not row:
                        scrubbed_rows += 1
                        first_scrubbed = first_scrubbed or line
                        row = clean
                if single is not None:
                    key: str | None = row[single].strip()
                    bad = key_cols[0] if not key else ""
                else:
                    key, bad = build_key([row[i] for i in kidx], key_cols)
                if bad or key is None:
                    yield empty_key(Origin(name, line), bad)
                    continue
                cells = "\x1f".join(row)
                # A cell holding the separator itself would make two rows look alike: such a
                # row gets no signature (it is hashed from its fields instead).
                sig = cells if cells.count("\x1f") == seps else None
                yield from_row(key, header, row, (name, line), sig, head)
            if scrubbed_rows:
                log.warning(
                    "%s: control characters removed from %d rows (first at line %d)",
                    name, scrubbed_rows, first_scrubbed,
                )  # fmt: skip
