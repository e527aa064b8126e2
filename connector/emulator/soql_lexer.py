"""The emulator's SOQL tokenizer: literals decoded (strings with Salesforce's escapes, dates).

Error messages name the row and column of the offending character, never a literal's value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from connector.emulator.soql_ast import SoqlError

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),:])
    """,
    re.VERBOSE | re.DOTALL,
)

# Backslash escapes Salesforce accepts inside quoted strings; anything else is an error.
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class Token:
    """One token; ``value`` holds a decoded literal, ``like`` a string's LIKE regex."""

    kind: str  # string | datetime | date | number | ident | op | punct | eof
    text: str
    pos: int
    value: Any = None
    like: str | None = None

    def upper(self) -> str:
        """An identifier in upper case (keywords are case-insensitive); '' for other tokens."""
        return self.text.upper() if self.kind == "ident" else ""


def row_col(text: str, pos: int) -> tuple[int, int]:
    """The 1-based (row, column) of offset ``pos`` in ``text``."""
    row = text.count("\n", 0, pos) + 1
    return row, pos - (text.rfind("\n", 0, pos) + 1) + 1


def malformed(text: str, pos: int, message: str) -> SoqlError:
    """A ``MALFORMED_QUERY`` error pointing at ``pos`` as Salesforce does (Row:n:Column:n)."""
    row, col = row_col(text, pos)
    return SoqlError("MALFORMED_QUERY", f"ERROR at Row:{row}:Column:{col}\n{message}")


def _decode_string(text: str, start: int, body: str) -> tuple[str, str]:
    """Return (value, LIKE regex) of a quoted string's body, resolving Salesforce's escapes.

    The regex is written for casefolded text, so LIKE ignores case exactly as ``=`` does.
    """
    value: list[str] = []
    regex: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            value.append(ch)
            regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch.casefold()))
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in "%_":
            # LIKE-only escapes: a literal wildcard character in a pattern. Outside LIKE the
            # character itself is meant (lenient; format_soql never sends it there).
            value.append(nxt)
            regex.append(re.escape(nxt.casefold()))
            i += 2
        elif nxt.lower() in _ESCAPES:
            decoded = _ESCAPES[nxt.lower()]  # \N, \R, \T, \B, \F are accepted too
            value.append(decoded)
            regex.append(re.escape(decoded.casefold()))
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            decoded = chr(int(body[i + 2 : i + 6], 16))
            value.append(decoded)
            regex.append(re.escape(decoded.casefold()))
            i += 6
        else:
            raise malformed(
                text, start + 1 + i, "Invalid string literal: illegal escape sequence in string"
            )
    return "".join(value), "".join(regex)


def _parse_datetime(text: str, pos: int, raw: str) -> datetime:
    if not raw.endswith("Z") and re.search(r"[+-]\d{2}:?\d{2}$", raw) is None:
        # Salesforce needs the zone: YYYY-MM-DDThh:mm:ss(Z|+hh:mm|-hh:mm).
        raise malformed(
            text, pos, "invalid datetime literal: a time zone (Z or +hh:mm) is required"
        )
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise malformed(text, pos, "invalid datetime literal") from None
    return parsed.astimezone(UTC)


def tokenize(text: str) -> list[Token]:
    """Split SOQL text into tokens (whitespace dropped, an ``eof`` token appended).

    Raises:
        SoqlError: MALFORMED_QUERY for a character no token can start with, an unterminated
            string or a bad escape / date.
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            if text[pos] == "'":
                raise malformed(text, pos, "unterminated string literal")
            raise malformed(text, pos, f"unexpected character: '{text[pos]}'")
        kind, raw = m.lastgroup or "", m.group()
        start, pos = pos, m.end()
        if kind == "ws":
            continue
        if kind == "string":
            value, like = _decode_string(text, start, raw[1:-1])
            tokens.append(Token(kind, raw, start, value, like))
        elif kind == "datetime":
            tokens.append(Token(kind, raw, start, _parse_datetime(text, start, raw)))
        elif kind == "date":
            try:
                tokens.append(Token(kind, raw, start, date.fromisoformat(raw)))
            except ValueError:
                raise malformed(text, start, "invalid date literal") from None
        elif kind == "number":
            is_int = re.fullmatch(r"[+-]?\d+", raw) is not None
            tokens.append(Token(kind, raw, start, int(raw) if is_int else float(raw)))
        else:
            tokens.append(Token(kind, raw, start))
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens
