"""The emulator's SOQL parser: recursive descent over the tokens into the query model.

The grammar it accepts, and why mixed AND/OR/NOT need parentheses, is in ``soql.py``'s
docstring. Errors name positions, tokens and field names, never a literal's value.
"""

from __future__ import annotations

from typing import Any

from connector.emulator.soql_ast import (
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
)
from connector.emulator.soql_lexer import Token, malformed, row_col, tokenize

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


class _Parser:
    """One query's parse: a cursor over its tokens, the FROM object and field positions."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.sobject = ""
        self.positions: dict[str, tuple[int, int]] = {}
        self.depth = 0
        self.nested = False

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_word(self, *words: str) -> bool:
        return self.tok.upper() in words

    def at_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == ch

    def unexpected(self, tok: Token | None = None) -> SoqlError:
        tok = tok or self.tok
        if tok.kind in ("string", "number", "date", "datetime"):
            # Never echo a literal: it may be personal data.
            shown = f"<{tok.kind} literal>"
        else:
            shown = f"'{tok.text}'"
        return malformed(self.text, tok.pos, f"unexpected token: {shown}")

    def expect_word(self, word: str) -> Token:
        if not self.at_word(word):
            raise self.unexpected()
        return self.advance()

    def expect_punct(self, ch: str) -> Token:
        if not self.at_punct(ch):
            raise self.unexpected()
        return self.advance()

    # -- grammar
    def query(self, nested: bool = False) -> SoqlQuery:
        self.expect_word("SELECT")
        count, raw_fields, subqueries = self.select_list(nested)
        self.expect_word("FROM")
        obj = self.advance()
        if obj.kind != "ident" or "." in obj.text or obj.upper() in _CLAUSE_WORDS:
            raise self.unexpected(obj)
        self.sobject = obj.text
        fields = [self.field_name(tok) for tok in raw_fields]
        seen: set[str] = set()
        for tok, name in zip(raw_fields, fields, strict=True):
            if name.lower() in seen:
                raise malformed(self.text, tok.pos, f"duplicate field selected: {name}")
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
                row, col = row_col(self.text, tok.pos)
                raise SoqlError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"ERROR at Row:{row}:Column:{col}\nMaximum SOQL offset allowed is {MAX_OFFSET}",
                )
        if nested and self.at_punct(")"):
            pass  # the end of a subquery; the enclosing parser consumes the parenthesis
        elif self.tok.kind != "eof":
            if self.tok.upper() in _UNSUPPORTED_CLAUSES:
                raise malformed(
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
            subqueries=tuple(subqueries),
        )

    def subquery(self) -> SoqlQuery:
        """``(SELECT ... FROM ChildRelationship ...)`` in a SELECT list (one level deep).

        "In each specified relationship, no more than five levels can be specified in a
        child-to-parent relationship ... a parent-to-child relationship can be one level" —
        SOQL Relationship Queries, https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships_query_limits.htm
        """
        start = self.advance()  # "("
        if self.nested:
            raise malformed(self.text, start.pos, "nested subqueries are not supported")
        inner = _Parser(self.text)
        inner.tokens, inner.i, inner.nested = self.tokens, self.i, True
        query = inner.query(nested=True)
        self.i = inner.i
        self.expect_punct(")")
        return query

    def select_list(self, nested: bool = False) -> tuple[bool, list[Token], list[SoqlQuery]]:
        if self.at_word("COUNT") and self.tokens[self.i + 1].text == "(":
            self.advance()
            self.advance()
            if self.tok.kind == "eof":
                raise self.unexpected()
            if not self.at_punct(")"):
                raise malformed(
                    self.text,
                    self.tok.pos,
                    "aggregate functions other than COUNT() are not supported by the emulator",
                )
            self.advance()
            return True, [], []
        raw: list[Token] = []
        subs: list[SoqlQuery] = []
        while True:
            if self.at_punct("(") and self.tokens[self.i + 1].upper() == "SELECT":
                subs.append(self.subquery())
                if not self.at_punct(","):
                    return False, raw, subs
                self.advance()
                continue
            tok = self.advance()
            if tok.kind != "ident" or tok.upper() in _CLAUSE_WORDS:
                raise self.unexpected(tok)
            if self.at_punct("("):
                raise malformed(
                    self.text, tok.pos, f"function '{tok.text}' is not supported by the emulator"
                )
            raw.append(tok)
            if not self.at_punct(","):
                return False, raw, subs
            self.advance()

    def field_name(self, tok: Token) -> str:
        """Resolve a field token; ``Contact.Email`` on Contact is plain ``Email``."""
        if tok.kind != "ident" or tok.upper() in _CLAUSE_WORDS:
            raise self.unexpected(tok)
        name = tok.text
        if "." in name:
            # ``Contact.Email`` on Contact is plain ``Email``; any other prefix is a
            # child-to-parent relationship path, resolved against the schema when run.
            prefix, rest = name.split(".", 1)
            if prefix.lower() == self.sobject.lower():
                name = rest
            if name.count(".") > 5:
                raise malformed(self.text, tok.pos, "more than 5 levels of relationship")
        self.positions.setdefault(name.lower(), row_col(self.text, tok.pos))
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
                raise malformed(
                    self.text,
                    self.tok.pos,
                    "semi-join sub-selects are not supported by the emulator",
                )
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise malformed(self.text, self.tok.pos, "conditions are nested too deeply")
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
                raise malformed(
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
            raise malformed(
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
