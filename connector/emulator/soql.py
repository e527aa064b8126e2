"""The emulator's SOQL subset: the public entry points :func:`parse` and :func:`execute`.

Pure code, no I/O. The HTTPS routes ``/query`` and ``/queryAll`` call :func:`parse` once per
request and :func:`execute` on the object's records. Callers import everything from here; the
pieces live beside it: ``soql_lexer.py`` (tokens), ``soql_parser.py`` (grammar),
``soql_ast.py`` (the query model, :class:`SoqlQuery`, :class:`SoqlError`), ``soql_eval.py``
(evaluation), ``soql_fields.py`` (comparison by field type) and ``soql_dates.py`` (TODAY,
LAST_N_DAYS:n ...).

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
from connector.emulator.soql_eval import execute
from connector.emulator.soql_parser import MAX_NESTING, MAX_OFFSET, parse

__all__ = [
    "MAX_NESTING",
    "MAX_OFFSET",
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
