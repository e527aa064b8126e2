"""The pre-scan of a delimited text file, run by ``check()`` before anything is written.

One decode of the whole file (:func:`connector.sources.base.scan_decodable`) feeds two cheap
observers, so a nightly run pays one pass at C speed instead of a per-row cost:

- :class:`QuoteScan` finds an unterminated quote. Python's ``csv`` reader (like Excel) reads
  an opening quote that never closes as one field running to the end of the file: the rest of
  the export would silently be one ragged row. The engine streams and writes while reading,
  so this must be refused before the first row is read.
- :func:`~connector.sources.base.has_controls` tells whether any value may hold a control
  character; only then does ``read()`` look at the cells of each row.

Neither pass counts lines: only an error needs one, and a file that has an error is scanned
again, counting them, to name its line (counting in every chunk cost a 12 MB nightly ~55 ms,
two thirds of the pre-scan).

The result is kept with the file's size and modification time: ``read()`` reuses it when the
file is unchanged since ``check()`` and scans again otherwise.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from connector.errors import InputError
from connector.sources.base import has_controls, scan_decodable

UNTERMINATED = (
    "unterminated quote starting at line {line}: the rows after it would be read as one field"
)
# Refused before the end of the file (memory stays bounded): the quote may still close later,
# but the cell would be over the csv reader's limit either way.
TOO_LONG = (
    "unterminated quote starting at line {line}, or a quoted cell longer than {limit:,}"
    " characters (the CSV field size limit)"
)


def line_breaks(text: str, end: int, *, after_cr: bool = False) -> int:
    """Line breaks in ``text[:end]`` as ``csv``'s reader counts lines (``line_num``): a CR LF,
    a lone CR (an old Mac export) and a lone LF are one each. ``after_cr``: the text before
    ended with a CR, so a LF first is the second half of its break."""
    n = text.count("\n", 0, end) + text.count("\r", 0, end) - text.count("\r\n", 0, end)
    return n - 1 if after_cr and end and text[0] == "\n" else n


@lru_cache(maxsize=16)
def _settled(delimiter: str, quotechar: str, dense: bool) -> re.Pattern[str]:
    """A regex matching text that ends outside any quoted field, for ``csv``'s default dialect.

    It mirrors the reader's states (doublequote, no escapechar, not strict): a quote opens a
    quoted field only at the start of a field (after a delimiter, a line break or at the
    start of the text); inside, a doubled quote is a quote and anything else (line breaks
    too) is content; a quote elsewhere is an ordinary character. ``match().end()`` stops at
    the first opening quote that does not close, or that closes only after a line break and
    then runs on into the next field's text (``"Name 3,Utrecht⏎4,"Name 4"``: the reader takes
    the next row's opening quote as the closing one). A one-line ``"a"b`` stays accepted, as
    the reader accepts it.

    Two equivalent forms, for speed with the C regex engine (unrolled, possessive loops):
    ``dense`` matches field by field (~4 ms per MB when every field is quoted); the other
    skips whole stretches without a quote and looks behind each quote (~0.6 ms per MB when
    quotes are sparse, ~6 ms when dense).
    """
    q, d = re.escape(quotechar), re.escape(delimiter)
    sep = d + r"\r\n"
    # A quoted field's content: its first line, then any further lines without the delimiter.
    # A delimiter after a line break inside quotes means a stray quote swallowed whole rows
    # (a later row's stray quote "closing" it would glue them into one, with another row's
    # values): refused like a quote that never closes. A quoted address over two lines stays.
    body = (
        rf"[^{q}\r\n]*+(?:{q}{q}[^{q}\r\n]*+)*+"
        rf"(?:[\r\n]++[^{q}{d}\r\n]*+(?:{q}{q}[^{q}{d}\r\n]*+)*+)*+"
    )
    if dense:
        end = rf"(?:[{sep}]++|\Z)"  # a field ends at separators (empty fields too) or the end
        return re.compile(
            rf"(?:{q}{body}{q}{end}"  # a quoted field
            rf"|{q}[^{q}\r\n]*+(?:{q}{q}[^{q}\r\n]*+)*+{q}[^{sep}]*+{end}"  # "a"b, one line
            rf"|[^{q}{sep}][^{sep}]*+{end}"  # an unquoted field: its quotes are characters
            rf"|[{sep}]++)*+"
        )
    opens = rf"(?<![^{sep}]){q}"
    return re.compile(
        rf"(?:[^{q}]*+(?:{opens}{body}{q}(?=[{sep}]|\Z)"
        rf"|{opens}[^{q}\r\n]*+(?:{q}{q}[^{q}\r\n]*+)*+{q}"
        rf"|(?<=[^{sep}]){q}))*+[^{q}]*+"
    )


class QuoteScan:
    """Follows the quoting of a file fed chunk by chunk; raises on an unterminated quote.

    Only a short tail is carried between chunks: the text after the last field separator, or
    an open quoted field. A quoted field open for more raw characters than a cell within
    ``limit`` (``csv``'s field size limit, 131,072) can take is reported at once, so memory
    stays bounded; a shorter one over the limit is the reader's reject of its row.
    """

    #: a chunk with a quote per this many characters or fewer is matched field by field
    dense_every = 24

    def __init__(
        self, display: str, delimiter: str, quotechar: str, limit: int = 0, *, lines: bool = True
    ):
        self.display, self.quotechar = display, quotechar
        # False: no line counting (the error then names line 1): :func:`prescan` scans again
        # with it when a quote is open, so a file without one pays no line count at all.
        self.lines = lines
        self.failed = False  # an error was raised
        self.delimiter = delimiter
        self.patterns = (
            _settled(delimiter, quotechar, False),
            _settled(delimiter, quotechar, True),
        )
        self.limit = limit or csv.field_size_limit()
        # The raw text of a quoted cell is at most twice its characters plus the opening quote
        # (every character a doubled quote): an open cell longer than this is over the
        # reader's limit for certain, or unterminated. Refused then; below it, carried.
        self.longest = 2 * self.limit + 1
        self.carry = ""  # unsettled text; "x" stands for a field whose start was settled
        self.line = 1  # the line the carried text starts on
        self.after_cr = False  # the text counted so far ended with a CR

    def _count(self, buf: str, end: int) -> None:
        """Move :attr:`line` past ``buf[:end]`` (the text after what was counted so far)."""
        if end and self.lines:
            self.line += line_breaks(buf, end, after_cr=self.after_cr)
            self.after_cr = buf[end - 1] == "\r"

    def feed(self, text: str) -> None:
        """Take the next decoded chunk."""
        if not text:
            return
        buf = self.carry + text
        cut = max(buf.rfind(self.delimiter), buf.rfind("\n"), buf.rfind("\r")) + 1
        if cut == 0:  # one field longer than the chunk: keep its state, not its text
            self._tail(buf)
            return
        quotes = buf.count(self.quotechar, 0, cut)
        end = self._settled_end(buf, cut, quotes)
        if end == cut:  # the last separator lies outside quotes: a field starts after it
            self._count(buf, cut)
            self.carry = buf[cut:]
            return
        # An opening quote at `end` does not close before `cut`: carry the field.
        self._count(buf, end)
        if cut - end > self.longest:
            raise self._error(TOO_LONG)
        self.carry = buf[end:]

    def _settled_end(self, buf: str, cut: int, quotes: int) -> int:
        """How far ``buf[:cut]`` reads outside any open quoted field (``cut``: all of it)."""
        if not quotes:
            return cut
        # The patterns match the empty string at least, so there is always a match.
        match = self.patterns[quotes * self.dense_every >= cut].match(buf, 0, cut)
        return match.end() if match else 0

    def _tail(self, buf: str) -> None:
        if buf.startswith(self.quotechar) and self.carry != "x":
            if len(buf) > self.longest:
                raise self._error(TOO_LONG)
            self.carry = buf
        else:  # an unquoted field: any quote further on is an ordinary character
            self.carry = "x"

    def finish(self) -> None:
        """The end of the file: raise if a quoted field is still open."""
        buf = self.carry
        quotes = buf.count(self.quotechar)
        end = self._settled_end(buf, len(buf), quotes)
        if end < len(buf):
            self._count(buf, end)
            raise self._error()

    def _error(self, text: str = UNTERMINATED) -> InputError:
        self.failed = True
        message = text.format(line=self.line, limit=self.limit)
        return InputError(self.display, message, line=self.line)


@dataclass(frozen=True)
class Scan:
    """What the pre-scan found, and the file's ``(size, mtime_ns)`` when it ran."""

    stamp: tuple[int, int]
    controls: bool


def stamp(path: Path) -> tuple[int, int]:
    """The file's size and modification time (what tells a changed file)."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def prescan(
    path: Path, display: str, *, encoding: str, delimiter: str, quotechar: str = '"'
) -> Scan:
    """Decode the whole file once: refuse undecodable text and an unterminated quote, and
    note whether any control character occurs (InputError names file and line)."""
    before = stamp(path)
    quotes = QuoteScan(display, delimiter, quotechar, lines=False)
    controls = False

    def observe(text: str) -> None:
        nonlocal controls
        quotes.feed(text)
        controls = controls or has_controls(text)

    try:
        scan_decodable(path, encoding, display, observe=observe)
        quotes.finish()
    except InputError:
        if not quotes.failed:
            raise
        # A quote that never closes (rare): the file once more, its lines counted this time,
        # for the line the error names. Counting them on every pass cost a nightly ~20 ms of
        # 12 MB (three counts of each chunk).
        counted = QuoteScan(display, delimiter, quotechar)
        scan_decodable(path, encoding, display, observe=counted.feed)
        counted.finish()
        raise InputError(
            display, "unterminated quote (the file changed while it was read)"
        ) from None
    return Scan(before, controls)
