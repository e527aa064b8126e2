"""Which cell of a CSV record is over the ``csv`` field size limit, and where the record ends.

Python's ``csv`` reader refuses a cell longer than ``csv.field_size_limit()`` (131,072
characters) with "field larger than field limit" and says no more; it then goes on at the next
physical line — inside the cell, if the cell is quoted over several lines. :class:`LongCells`
gives :func:`connector.sources.csv.iter_rows` the column for the reject and the line to go on
after.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import IO


class LongCells:
    """Which cell of a record is longer than the ``csv`` field size limit (the reader's error
    does not say), and where the record ends. Reads the file a second time, forward only: the
    records it is asked about come in order, so a file with many such rows is read once more,
    not once a row. Jumps from separator to separator (``re``, ``str.find``), so a 10 MB cell
    is not a 10-million-step loop.
    """

    def __init__(self, path: Path, encoding: str, delimiter: str, quotechar: str):
        self.path, self.encoding = path, encoding
        self.delimiter, self.quotechar = delimiter, quotechar
        d = re.escape(delimiter)
        self._unquoted_end = re.compile(rf"[{d}\r\n]")
        self._fh: IO[str] | None = None
        self._line = 1  # the physical line readline() returns next

    def find(self, line: int) -> tuple[int, int] | None:
        """The 0-based cell over the limit of the record starting at physical ``line``, and
        the record's last physical line; None when no cell is (another error)."""
        if self._fh is None:
            self._fh = self.path.open(encoding=self.encoding, errors="replace", newline="")
        if line < self._line:
            return None  # asked out of order: not what the reader does
        while self._line < line:
            if not self._next_line():
                return None
        cell = self._scan(csv.field_size_limit())
        return None if cell is None else (cell, self._line - 1)

    def _scan(self, limit: int) -> int | None:
        """Read one record to its end; the first cell longer than ``limit``, or None."""
        # The reader's states (non-strict dialect): a cell starts quoted or not; in a quoted
        # cell a doubled quote is one character and a single one closes the quotes, after
        # which characters up to the separator still belong to the cell.
        q = self.quotechar
        cell, length, fresh, quoted, over = 0, 0, True, False, None
        text, pos = self._next_line(), 0
        while text:
            if pos >= len(text):  # only inside quotes: a line break is part of the cell
                text, pos = self._next_line(), 0
                continue
            if quoted:
                end = text.find(q, pos)
                if end < 0:
                    length += len(text) - pos
                    pos = len(text)
                elif text.startswith(q, end + 1):
                    length += end - pos + 1
                    pos = end + 2
                else:
                    length += end - pos
                    pos, quoted = end + 1, False
            elif fresh and text.startswith(q, pos):
                pos, quoted, fresh = pos + 1, True, False
                continue
            else:
                m = self._unquoted_end.search(text, pos)
                end = m.start() if m else len(text)
                length += end - pos
                if over is None and length > limit:
                    over = cell
                if m is None or text[end] != self.delimiter:
                    break  # a line break outside quotes, or the end of the file: record ends
                cell, length, fresh, pos = cell + 1, 0, True, end + 1
                continue
            fresh = False
            if over is None and length > limit:
                over = cell
        return over

    def _next_line(self) -> str:
        assert self._fh is not None
        text = self._fh.readline()
        if text:
            self._line += 1
        return text

    def close(self) -> None:
        """Close the second handle, if one was opened."""
        if self._fh is not None:
            self._fh.close()
