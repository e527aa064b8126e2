"""The parsed-query model of the emulator's SOQL subset (AST) and the error it raises.

``soql_parser.py`` builds these values, ``soql_eval.py`` evaluates them; ``soql.py`` re-exports
them as the public face.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class SoqlError(Exception):
    """A query Salesforce would refuse with HTTP 400.

    Attributes:
        code: the Salesforce ``errorCode``: ``MALFORMED_QUERY``, ``INVALID_FIELD`` or
            ``NUMBER_OUTSIDE_VALID_RANGE`` (OFFSET above 2,000).
        message: the Salesforce-like ``message`` for the error body.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ----------------------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Literal:
    """A value in a WHERE clause.

    ``kind`` is one of ``string``, ``number``, ``boolean``, ``null``, ``date`` (a
    :class:`datetime.date`), ``datetime`` (an aware UTC :class:`datetime.datetime`) or
    ``relative`` (``value`` = ``(NAME, n or None)``, e.g. ``("LAST_N_DAYS", 7)``). For strings,
    ``like`` holds the regular expression, over casefolded text, that the literal means as a
    LIKE pattern (escaped ``\\%`` and ``\\_`` are literal there, unescaped ones wildcards).
    """

    kind: str
    value: Any
    like: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Comparison:
    """``field op value`` with op one of ``= != < <= > >=`` (``<>`` is normalised to ``!=``)."""

    field: str
    op: str
    value: Literal


@dataclass(frozen=True)
class InList:
    """``field IN (...)`` or, with ``negated``, ``field NOT IN (...)``."""

    field: str
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    """``field LIKE 'pattern'`` (case-insensitive, ``%`` and ``_`` wildcards)."""

    field: str
    pattern: Literal


@dataclass(frozen=True)
class Not:
    """``NOT operand``."""

    operand: Any


@dataclass(frozen=True)
class And:
    """Every operand holds."""

    operands: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    """At least one operand holds."""

    operands: tuple[Any, ...]


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key. ``nulls_first`` already holds Salesforce's default when not given."""

    field: str
    descending: bool = False
    nulls_first: bool = True


@dataclass(frozen=True)
class SoqlQuery:
    """A parsed query.

    Attributes:
        sobject: the object name as written after FROM (the server resolves its casing).
        count: True for ``SELECT COUNT() FROM ...``.
        fields: the selected field names as written (empty for COUNT()); a child-to-parent
            field keeps its path (``Contact.Account.Name``).
        where: the condition tree (:class:`Comparison`, :class:`InList`, :class:`Like`,
            :class:`Not`, :class:`And`, :class:`Or`) or None.
        order_by: the ORDER BY keys, in order.
        limit: LIMIT n or None.
        offset: OFFSET n or None.
        positions: lower-cased field name → (row, column) of its first mention, for errors.
    """

    sobject: str
    count: bool
    fields: list[str]
    where: Any = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    positions: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)
    #: parent-to-child subqueries of the SELECT list, ``(SELECT ... FROM Relationship ...)``;
    #: their ``sobject`` is the child relationship name.
    subqueries: tuple[SoqlQuery, ...] = ()
