"""The emulator's SOQL subset: tokenizer, recursive-descent parser and the public entry points.

Pure code, no I/O. The HTTPS routes ``/query`` and ``/queryAll`` call :func:`parse` once per
request and :func:`execute` on the object's records. The query model (AST, :class:`SoqlQuery`,
:class:`SoqlError`) and its evaluation live in ``soql_eval.py``; this module re-exports them,
so callers import everything from here.

Supported (everything else is refused with ``MALFORMED_QUERY``, as Salesforce refuses what it
does not understand)::

    SELECT f1, f2 | COUNT() FROM Obj
      [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

    cond    := NOT operand | operand (AND operand)* | operand (OR operand)*
    operand := '(' cond ')' | field op value | field [NOT] IN '(' value, ... ')' | field LIKE 'pat'

Salesforce requires parentheses whenever AND, OR and NOT are mixed ("Client applications must
specify parentheses when nesting operators"); ``a AND b OR c`` and ``a AND NOT b`` are refused
with ``unexpected token: 'OR'`` / ``'NOT'`` exactly as a real org does, so a query that works
here also works there. Keywords, field and object names are case-insensitive.

Error messages name positions, tokens and field names but never echo a literal's value (a
WHERE clause of a sync carries e-mail addresses and student numbers); real Salesforce also
echoes the query text, which the emulator deliberately leaves out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from connector.emulator.soql_eval import (
    And,
    Comparison,
    InList,
    Like,
    Literal,
    Not,
    Or,
    OrderItem,
    SoqlError,
    SoqlQuery,
    run,
)

__all__ = [
    "And",
    "Comparison",
    "InList",
    "Like",
    "Literal",
    "Not",
    "Or",
    "OrderItem",
    "SoqlError",
    "SoqlQuery",
    "execute",
    "parse",
]

#: Salesforce refuses OFFSET above 2,000 with NUMBER_OUTSIDE_VALID_RANGE
#: ("Maximum SOQL offset allowed is 2000"); the emulator raises the same code at parse time.
MAX_OFFSET = 2000

#: Parenthesis depth the emulator accepts (keeps Python's recursion limit out of reach).
MAX_NESTING = 100

# Relative date literals that stand alone (TODAY) and those that take ``:n`` (LAST_N_DAYS:7).
RANGE_LITERALS = frozenset(
    {
        "YESTERDAY", "TODAY", "TOMORROW",
        "LAST_WEEK", "THIS_WEEK", "NEXT_WEEK",
        "LAST_MONTH", "THIS_MONTH", "NEXT_MONTH",
        "LAST_QUARTER", "THIS_QUARTER", "NEXT_QUARTER",
        "LAST_YEAR", "THIS_YEAR", "NEXT_YEAR",
        "LAST_90_DAYS", "NEXT_90_DAYS",
    }
)  # fmt: skip
N_LITERALS = frozenset(
    {
        "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO",
        "LAST_N_WEEKS", "NEXT_N_WEEKS",
        "LAST_N_MONTHS", "NEXT_N_MONTHS",
        "LAST_N_YEARS", "NEXT_N_YEARS",
    }
)  # fmt: skip

# SOQL's reserved words (plus the clause words): never a field or object name.
_CLAUSE_WORDS = frozenset(
    {
        "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES",
        "LAST", "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
        "ORDER", "BY", "OFFSET", "TRUE", "FALSE",
    }
)  # fmt: skip
_UNSUPPORTED_CLAUSES = frozenset({"GROUP", "HAVING", "WITH", "FOR", "USING", "UPDATE", "ALL"})


# ----------------------------------------------------------------------------------- tokenizer

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
class _Token:
    kind: str  # string | datetime | date | number | ident | op | punct | eof
    text: str
    pos: int
    value: Any = None
    like: str | None = None

    def upper(self) -> str:
        return self.text.upper() if self.kind == "ident" else ""


def _row_col(text: str, pos: int) -> tuple[int, int]:
    row = text.count("\n", 0, pos) + 1
    return row, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _malformed(text: str, pos: int, message: str) -> SoqlError:
    row, col = _row_col(text, pos)
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
            raise _malformed(
                text, start + 1 + i, "Invalid string literal: illegal escape sequence in string"
            )
    return "".join(value), "".join(regex)


def _parse_datetime(text: str, pos: int, raw: str) -> datetime:
    if not raw.endswith("Z") and re.search(r"[+-]\d{2}:?\d{2}$", raw) is None:
        # Salesforce needs the zone: YYYY-MM-DDThh:mm:ss(Z|+hh:mm|-hh:mm).
        raise _malformed(
            text, pos, "invalid datetime literal: a time zone (Z or +hh:mm) is required"
        )
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _malformed(text, pos, "invalid datetime literal") from None
    return parsed.astimezone(UTC)


def tokenize(text: str) -> list[_Token]:
    """Split SOQL text into tokens (whitespace dropped, an ``eof`` token appended).

    Raises:
        SoqlError: MALFORMED_QUERY for a character no token can start with, an unterminated
            string or a bad escape / date.
    """
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            if text[pos] == "'":
                raise _malformed(text, pos, "unterminated string literal")
            raise _malformed(text, pos, f"unexpected character: '{text[pos]}'")
        kind, raw = m.lastgroup or "", m.group()
        start, pos = pos, m.end()
        if kind == "ws":
            continue
        if kind == "string":
            value, like = _decode_string(text, start, raw[1:-1])
            tokens.append(_Token(kind, raw, start, value, like))
        elif kind == "datetime":
            tokens.append(_Token(kind, raw, start, _parse_datetime(text, start, raw)))
        elif kind == "date":
            try:
                tokens.append(_Token(kind, raw, start, date.fromisoformat(raw)))
            except ValueError:
                raise _malformed(text, start, "invalid date literal") from None
        elif kind == "number":
            is_int = re.fullmatch(r"[+-]?\d+", raw) is not None
            tokens.append(_Token(kind, raw, start, int(raw) if is_int else float(raw)))
        else:
            tokens.append(_Token(kind, raw, start))
    tokens.append(_Token("eof", "<EOF>", len(text)))
    return tokens


# -------------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.sobject = ""
        self.positions: dict[str, tuple[int, int]] = {}
        self.depth = 0

    # -- token helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_word(self, *words: str) -> bool:
        return self.tok.upper() in words

    def at_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == ch

    def unexpected(self, tok: _Token | None = None) -> SoqlError:
        tok = tok or self.tok
        if tok.kind in ("string", "number", "date", "datetime"):
            # Never echo a literal: it may be personal data.
            shown = f"<{tok.kind} literal>"
        else:
            shown = f"'{tok.text}'"
        return _malformed(self.text, tok.pos, f"unexpected token: {shown}")

    def expect_word(self, word: str) -> _Token:
        if not self.at_word(word):
            raise self.unexpected()
        return self.advance()

    def expect_punct(self, ch: str) -> _Token:
        if not self.at_punct(ch):
            raise self.unexpected()
        return self.advance()

    # -- grammar
    def query(self) -> SoqlQuery:
        self.expect_word("SELECT")
        count, raw_fields = self.select_list()
        self.expect_word("FROM")
        obj = self.advance()
        if obj.kind != "ident" or "." in obj.text or obj.upper() in _CLAUSE_WORDS:
            raise self.unexpected(obj)
        self.sobject = obj.text
        fields = [self.field_name(tok) for tok in raw_fields]
        seen: set[str] = set()
        for tok, name in zip(raw_fields, fields, strict=True):
            if name.lower() in seen:
                raise _malformed(self.text, tok.pos, f"duplicate field selected: {name}")
            seen.add(name.lower())
        where = None
        if self.at_word("WHERE"):
            self.advance()
            where = self.condition()
        order_by: tuple[OrderItem, ...] = ()
        if self.at_word("ORDER"):
            self.advance()
            self.expect_word("BY")
            order_by = self.order_list()
        limit = offset = None
        if self.at_word("LIMIT"):
            self.advance()
            limit = self.non_negative_int()
        if self.at_word("OFFSET"):
            self.advance()
            tok = self.tok
            offset = self.non_negative_int()
            if offset > MAX_OFFSET:
                row, col = _row_col(self.text, tok.pos)
                raise SoqlError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"ERROR at Row:{row}:Column:{col}\nMaximum SOQL offset allowed is {MAX_OFFSET}",
                )
        if self.tok.kind != "eof":
            if self.tok.upper() in _UNSUPPORTED_CLAUSES:
                raise _malformed(
                    self.text,
                    self.tok.pos,
                    f"unexpected token: '{self.tok.text}' (not supported by the emulator)",
                )
            raise self.unexpected()
        return SoqlQuery(
            sobject=self.sobject,
            count=count,
            fields=fields,
            where=where,
            order_by=order_by,
            limit=limit,
            offset=offset,
            positions=self.positions,
        )

    def select_list(self) -> tuple[bool, list[_Token]]:
        if self.at_word("COUNT") and self.tokens[self.i + 1].text == "(":
            self.advance()
            self.advance()
            if self.tok.kind == "eof":
                raise self.unexpected()
            if not self.at_punct(")"):
                raise _malformed(
                    self.text,
                    self.tok.pos,
                    "aggregate functions other than COUNT() are not supported by the emulator",
                )
            self.advance()
            return True, []
        raw: list[_Token] = []
        while True:
            tok = self.advance()
            if tok.kind != "ident" or tok.upper() in _CLAUSE_WORDS:
                raise self.unexpected(tok)
            if self.at_punct("("):
                raise _malformed(
                    self.text, tok.pos, f"function '{tok.text}' is not supported by the emulator"
                )
            raw.append(tok)
            if not self.at_punct(","):
                return False, raw
            self.advance()

    def field_name(self, tok: _Token) -> str:
        """Resolve a field token; ``Contact.Email`` on Contact is plain ``Email``."""
        if tok.kind != "ident" or tok.upper() in _CLAUSE_WORDS:
            raise self.unexpected(tok)
        name = tok.text
        if "." in name:
            prefix, rest = name.split(".", 1)
            if prefix.lower() != self.sobject.lower() or "." in rest:
                raise _malformed(
                    self.text,
                    tok.pos,
                    f"relationship field '{name}' is not supported by the emulator; "
                    "select the lookup Id field and query the parent object",
                )
            name = rest
        self.positions.setdefault(name.lower(), _row_col(self.text, tok.pos))
        return name

    def non_negative_int(self) -> int:
        tok = self.advance()
        if tok.kind != "number" or not isinstance(tok.value, int) or tok.value < 0:
            raise self.unexpected(tok)
        return tok.value

    def condition(self) -> Any:
        if self.at_word("NOT"):
            self.advance()
            node = Not(self.operand())
            if self.at_word("AND", "OR"):
                raise self.unexpected()  # Salesforce: parentheses required when mixing
            return node
        first = self.operand()
        if not self.at_word("AND", "OR"):
            return first
        joiner = self.tok.upper()
        items = [first]
        while self.at_word(joiner):
            self.advance()
            if self.at_word("NOT"):
                raise self.unexpected()  # `a AND NOT b` needs `a AND (NOT b)` in SOQL
            items.append(self.operand())
        if self.at_word("AND", "OR"):
            raise self.unexpected()  # mixed AND/OR without parentheses
        return And(tuple(items)) if joiner == "AND" else Or(tuple(items))

    def operand(self) -> Any:
        if self.at_punct("("):
            self.advance()
            if self.at_word("SELECT"):
                raise _malformed(
                    self.text,
                    self.tok.pos,
                    "semi-join sub-selects are not supported by the emulator",
                )
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise _malformed(self.text, self.tok.pos, "conditions are nested too deeply")
            node = self.condition()
            self.expect_punct(")")
            self.depth -= 1
            return node
        name = self.field_name(self.advance())
        if self.at_word("IN"):
            self.advance()
            return InList(name, self.value_list())
        if self.at_word("NOT"):
            self.advance()
            self.expect_word("IN")
            return InList(name, self.value_list(), negated=True)
        if self.at_word("LIKE"):
            self.advance()
            tok = self.tok
            if tok.kind != "string":
                raise self.unexpected()
            self.advance()
            return Like(name, Literal("string", tok.value, tok.like))
        if self.tok.kind != "op":
            if self.at_word("INCLUDES", "EXCLUDES"):
                raise _malformed(
                    self.text,
                    self.tok.pos,
                    f"{self.tok.text.upper()} is not supported by the emulator",
                )
            raise self.unexpected()
        op = self.advance().text
        return Comparison(name, "!=" if op == "<>" else op, self.value())

    def value_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        if self.at_word("SELECT"):
            raise _malformed(
                self.text, self.tok.pos, "semi-join sub-selects are not supported by the emulator"
            )
        values = [self.value()]
        while self.at_punct(","):
            self.advance()
            values.append(self.value())
        self.expect_punct(")")
        return tuple(values)

    def value(self) -> Literal:
        tok = self.advance()
        if tok.kind in ("string", "number", "date", "datetime"):
            return Literal(tok.kind, tok.value, tok.like)
        word = tok.upper()
        if word in ("TRUE", "FALSE"):
            return Literal("boolean", word == "TRUE")
        if word == "NULL":
            return Literal("null", None)
        if word in RANGE_LITERALS:
            return Literal("relative", (word, None))
        if word in N_LITERALS:
            self.expect_punct(":")
            n_tok = self.advance()
            if n_tok.kind != "number" or not isinstance(n_tok.value, int) or n_tok.value < 0:
                raise self.unexpected(n_tok)
            return Literal("relative", (word, n_tok.value))
        raise self.unexpected(tok)

    def order_list(self) -> tuple[OrderItem, ...]:
        items = []
        while True:
            name = self.field_name(self.advance())
            descending = False
            if self.at_word("ASC", "DESC"):
                descending = self.advance().upper() == "DESC"
            # Salesforce sorts nulls as the lowest value: first for ASC, last for DESC, unless
            # NULLS FIRST/LAST says otherwise ("By default, null values are sorted first").
            nulls_first = not descending
            if self.at_word("NULLS"):
                self.advance()
                if not self.at_word("FIRST", "LAST"):
                    raise self.unexpected()
                nulls_first = self.advance().upper() == "FIRST"
            items.append(OrderItem(name, descending, nulls_first))
            if not self.at_punct(","):
                return tuple(items)
            self.advance()


def parse(text: str) -> SoqlQuery:
    """Parse one SOQL query of the supported subset.

    Args:
        text: the SOQL text as received in ``?q=``.

    Returns:
        The parsed query.

    Raises:
        SoqlError: ``MALFORMED_QUERY`` for syntax Salesforce refuses or the emulator does not
            support; ``NUMBER_OUTSIDE_VALID_RANGE`` for OFFSET above 2,000.
    """
    return _Parser(text).query()


def execute(
    query: SoqlQuery,
    records: Iterable[dict],
    *,
    describe_fields: dict[str, dict],
    include_deleted: bool = False,
    now: datetime | None = None,
) -> list[dict]:
    """Run a parsed query over one object's records.

    Args:
        query: from :func:`parse`.
        records: the object's records, plain dicts keyed by canonical field name.
        describe_fields: canonical field name → describe entry (at least ``name`` and ``type``).
        include_deleted: True for ``/queryAll``; otherwise rows with ``IsDeleted`` true are
            skipped before the WHERE clause is applied (so ``IsDeleted = true`` finds nothing).
        now: the moment relative date literals (TODAY, LAST_N_DAYS:n) are computed from;
            default the current UTC time. The emulator's user lives in UTC.

    Returns:
        The matching rows after ORDER BY, OFFSET and LIMIT, each a new dict of the selected
        fields under their describe (canonical) names, without ``attributes``. For
        ``SELECT COUNT()`` one empty dict per counted record: ``len(result)`` is the
        ``totalSize`` and the response's ``records`` list stays empty.

    Raises:
        SoqlError: ``INVALID_FIELD`` for a field the describe does not know, ``MALFORMED_QUERY``
            for a value of the wrong type for its field or an operator the field type refuses.
    """
    return run(
        query,
        records,
        describe_fields=describe_fields,
        include_deleted=include_deleted,
        now=now,
    )
