"""The parsed-query model (AST) and its evaluation over plain-dict records.

The grammar and the public entry points are in ``soql.py``, which re-exports what is here.

The WHERE tree is compiled once per query into nested Python closures, so each record costs a
few function calls rather than a walk over the tree. Comparison follows the field's describe
type, as Salesforce does:

* text types (string, email, phone, picklist, textarea, url, ...): case-insensitive for every
  operator, LIKE included; an empty string counts as null (Salesforce stores "" as null).
* id / reference: the first 15 characters compare case-sensitively, so a 15-character id finds
  the record whose 18-character id starts with it (Salesforce accepts both forms).
* numbers (int, double, currency, percent): numerically.
* boolean: a checkbox is never null in Salesforce, so null means false ("WHERE f = null is
  equivalent to WHERE f = false").
* date / datetime: as dates / as UTC instants. A date field takes ``YYYY-MM-DD`` literals, a
  datetime field ``YYYY-MM-DDThh:mm:ssZ`` literals; the other form is refused with Salesforce's
  "must be of type ..." message. Relative literals (TODAY, LAST_N_DAYS:n) are ranges: ``=`` is
  "inside", ``<`` "before the start", ``>`` "after the end".

Nulls take part in comparisons as ordinary values, as in SOQL (not SQL's three-valued logic):
``Email != 'x'`` and ``Email NOT IN ('x')`` match records without an e-mail address, while
``<``, ``>``, LIKE never match a null.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
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
        fields: the selected field names as written (empty for COUNT()).
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


Predicate = Callable[[dict], bool]

_NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
_ID_TYPES = frozenset({"id", "reference"})
_RANGE_OPS = frozenset({"<", "<=", ">", ">="})


# ------------------------------------------------------------------------------ normalisation


def _norm_text(v: Any) -> Any:
    if v is None or v == "":
        return None
    return (v if isinstance(v, str) else str(v)).casefold()


def _norm_id(v: Any) -> Any:
    if v is None or v == "":
        return None
    s = str(v)
    return s[:15] if len(s) in (15, 18) else s


def _norm_number(v: Any) -> Any:
    if v is None or v == "" or isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _norm_bool(v: Any) -> bool:
    return bool(v) and v != "false"


def _norm_date(v: Any) -> date | None:
    if v is None or v == "":
        return None
    if isinstance(v, date):
        return v.date() if isinstance(v, datetime) else v
    try:
        return date.fromisoformat(str(v)[:10])
    except ValueError:
        return None  # not a date: behaves like an empty field


def _norm_datetime(v: Any) -> datetime | None:
    if v is None or v == "":
        return None
    try:
        parsed = v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class _Field:
    """A resolved field: canonical name, describe type and how its values compare."""

    def __init__(self, name: str, sf_type: str):
        self.name = name
        self.type = sf_type
        if sf_type in _NUMBER_TYPES:
            self.category, self.norm = "number", _norm_number
        elif sf_type == "boolean":
            self.category, self.norm = "boolean", _norm_bool
        elif sf_type == "date":
            self.category, self.norm = "date", _norm_date
        elif sf_type == "datetime":
            self.category, self.norm = "datetime", _norm_datetime
        elif sf_type in _ID_TYPES:
            self.category, self.norm = "text", _norm_id
        else:
            self.category, self.norm = "text", _norm_text

    def literal(self, lit: Literal) -> Any:
        """Normalise a literal for this field, refusing a literal of the wrong type."""
        if lit.kind == "null":
            return self.norm(None)
        wanted = {"text": "string", "number": "number", "boolean": "boolean"}.get(
            self.category, self.category
        )
        if lit.kind != wanted:
            type_name = {"datetime": "dateTime", "id": "id", "reference": "id"}.get(
                self.type, "string" if self.category == "text" else self.type
            )
            quoted = "should" if self.category == "text" else "should not"
            raise SoqlError(
                "MALFORMED_QUERY",
                f"value of filter criterion for field '{self.name}' must be of type "
                f"{type_name} and {quoted} be enclosed in quotes",
            )
        return self.norm(lit.value)


class _Schema:
    def __init__(self, query: SoqlQuery, describe_fields: dict[str, dict]):
        self.query = query
        self.by_lower: dict[str, _Field] = {}
        for key, entry in describe_fields.items():
            name = entry.get("name", key)
            self.by_lower[name.lower()] = _Field(name, str(entry.get("type", "string")).lower())
        # Every Salesforce object has IsDeleted; a describe fixture that leaves it out still
        # lets queryAll filter on it.
        self.by_lower.setdefault("isdeleted", _Field("IsDeleted", "boolean"))

    def field(self, name: str) -> _Field:
        found = self.by_lower.get(name.lower())
        if found is None:
            row, col = self.query.positions.get(name.lower(), (1, 1))
            raise SoqlError(
                "INVALID_FIELD",
                f"ERROR at Row:{row}:Column:{col}\nNo such column '{name}' on entity "
                f"'{self.query.sobject}'. If you are attempting to use a custom field, be sure "
                "to append the '__c' after the custom field name. Please reference your WSDL "
                "or the describe call for the appropriate names.",
            )
        return found


# ------------------------------------------------------------------------------ date literals


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def relative_range(name: str, n: int | None, today: date) -> tuple[date, date]:
    """The half-open day range ``[start, end)`` a relative date literal stands for.

    Weeks start on Sunday (the en_US locale); quarters are calendar quarters. Salesforce's
    LAST_N_DAYS:n and LAST_90_DAYS include today; NEXT_N_DAYS:n and NEXT_90_DAYS start tomorrow.
    """
    n = n or 0
    one = timedelta(days=1)
    week = today - timedelta(days=(today.weekday() + 1) % 7)
    month = today.replace(day=1)
    quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    year = date(today.year, 1, 1)
    ranges: dict[str, tuple[date, date]] = {
        "YESTERDAY": (today - one, today),
        "TODAY": (today, today + one),
        "TOMORROW": (today + one, today + 2 * one),
        "LAST_WEEK": (week - 7 * one, week),
        "THIS_WEEK": (week, week + 7 * one),
        "NEXT_WEEK": (week + 7 * one, week + 14 * one),
        "LAST_MONTH": (_add_months(month, -1), month),
        "THIS_MONTH": (month, _add_months(month, 1)),
        "NEXT_MONTH": (_add_months(month, 1), _add_months(month, 2)),
        "LAST_QUARTER": (_add_months(quarter, -3), quarter),
        "THIS_QUARTER": (quarter, _add_months(quarter, 3)),
        "NEXT_QUARTER": (_add_months(quarter, 3), _add_months(quarter, 6)),
        "LAST_YEAR": (_add_months(year, -12), year),
        "THIS_YEAR": (year, _add_months(year, 12)),
        "NEXT_YEAR": (_add_months(year, 12), _add_months(year, 24)),
        "LAST_90_DAYS": (today - 90 * one, today + one),
        "NEXT_90_DAYS": (today + one, today + 91 * one),
        "LAST_N_DAYS": (today - n * one, today + one),
        "NEXT_N_DAYS": (today + one, today + (n + 1) * one),
        "N_DAYS_AGO": (today - n * one, today - (n - 1) * one),
        "LAST_N_WEEKS": (week - 7 * n * one, week),
        "NEXT_N_WEEKS": (week + 7 * one, week + 7 * (n + 1) * one),
        "LAST_N_MONTHS": (_add_months(month, -n), month),
        "NEXT_N_MONTHS": (_add_months(month, 1), _add_months(month, n + 1)),
        "LAST_N_YEARS": (_add_months(year, -12 * n), year),
        "NEXT_N_YEARS": (_add_months(year, 12), _add_months(year, 12 * (n + 1))),
    }
    return ranges[name]


def _range_for(fld: _Field, lit: Literal, today: date) -> tuple[Any, Any]:
    if fld.category not in ("date", "datetime"):
        raise SoqlError(
            "MALFORMED_QUERY",
            f"date literal {lit.value[0]} is only valid on a date or dateTime field, "
            f"not on '{fld.name}'",
        )
    start, end = relative_range(lit.value[0], lit.value[1], today)
    if fld.category == "datetime":
        return datetime.combine(start, time(), UTC), datetime.combine(end, time(), UTC)
    return start, end


# --------------------------------------------------------------------------------- compiling


def _compare(fld: _Field, op: str, lit: Literal, today: date) -> Predicate:
    name, norm = fld.name, fld.norm
    if lit.kind == "relative":
        start, end = _range_for(fld, lit, today)
        inside = {
            "=": lambda v: v is not None and start <= v < end,
            "!=": lambda v: v is None or not start <= v < end,
            "<": lambda v: v is not None and v < start,
            "<=": lambda v: v is not None and v < end,
            ">": lambda v: v is not None and v >= end,
            ">=": lambda v: v is not None and v >= start,
        }[op]
        return lambda r: inside(norm(r.get(name)))
    if fld.category == "boolean" and op in _RANGE_OPS:
        raise SoqlError("MALFORMED_QUERY", f"invalid operator on boolean field '{name}': {op}")
    want = fld.literal(lit)
    if op == "=":
        return lambda r: norm(r.get(name)) == want
    if op == "!=":
        return lambda r: norm(r.get(name)) != want
    if want is None:
        return lambda r: False  # nothing is smaller or larger than null
    check: Callable[[Any], bool] = {
        "<": lambda v: v < want,
        "<=": lambda v: v <= want,
        ">": lambda v: v > want,
        ">=": lambda v: v >= want,
    }[op]

    def ranged(r: dict) -> bool:
        v = norm(r.get(name))
        return v is not None and check(v)

    return ranged


def _in_list(fld: _Field, node: InList, today: date) -> Predicate:
    name, norm = fld.name, fld.norm
    values = frozenset(fld.literal(lit) for lit in node.values if lit.kind != "relative")
    ranges = [_range_for(fld, lit, today) for lit in node.values if lit.kind == "relative"]

    def member(r: dict) -> bool:
        v = norm(r.get(name))
        if v in values:
            return True
        return v is not None and any(start <= v < end for start, end in ranges)

    if node.negated:
        return lambda r: not member(r)
    return member


def _like(fld: _Field, node: Like) -> Predicate:
    if fld.category != "text":
        raise SoqlError(
            "MALFORMED_QUERY",
            f"invalid operator on field '{fld.name}': LIKE is only valid on text fields",
        )
    name = fld.name
    match = re.compile(node.pattern.like or "", re.IGNORECASE | re.DOTALL).fullmatch

    def like(r: dict) -> bool:
        v = r.get(name)
        return v is not None and v != "" and match(str(v).casefold()) is not None

    return like


def compile_where(node: Any, schema: _Schema, today: date) -> Predicate:
    """Turn a WHERE tree into one predicate over records (resolving and type-checking fields)."""
    if isinstance(node, Comparison):
        return _compare(schema.field(node.field), node.op, node.value, today)
    if isinstance(node, InList):
        return _in_list(schema.field(node.field), node, today)
    if isinstance(node, Like):
        return _like(schema.field(node.field), node)
    if isinstance(node, Not):
        inner = compile_where(node.operand, schema, today)
        return lambda r: not inner(r)
    if isinstance(node, And | Or):
        preds = [compile_where(op, schema, today) for op in node.operands]
        if isinstance(node, And):
            return lambda r: all(p(r) for p in preds)
        return lambda r: any(p(r) for p in preds)
    raise TypeError(f"not a SOQL condition node: {type(node).__name__}")


# ------------------------------------------------------------------------------------ running


def _sort(rows: list[dict], query: SoqlQuery, schema: _Schema) -> list[dict]:
    # Stable sorts from the last key to the first give a multi-key order with mixed directions.
    for item in reversed(query.order_by):
        fld = schema.field(item.field)
        norm = _norm_text if fld.category == "text" else fld.norm  # ids sort as text too
        keyed = [(norm(r.get(fld.name)), r) for r in rows]
        nulls = [r for k, r in keyed if k is None]
        present = [(k, r) for k, r in keyed if k is not None]
        present.sort(key=lambda kr: kr[0], reverse=item.descending)
        ordered = [r for _, r in present]
        rows = nulls + ordered if item.nulls_first else ordered + nulls
    return rows


def run(
    query: SoqlQuery,
    records: Iterable[dict],
    *,
    describe_fields: dict[str, dict],
    include_deleted: bool = False,
    now: datetime | None = None,
) -> list[dict]:
    """Evaluate ``query`` over ``records`` (documented at ``connector.emulator.soql.execute``)."""
    schema = _Schema(query, describe_fields)
    selected = [schema.field(name) for name in query.fields]
    for item in query.order_by:
        schema.field(item.field)  # unknown ORDER BY fields fail before any work
    moment = now or datetime.now(UTC)
    today = (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()
    predicate = compile_where(query.where, schema, today) if query.where is not None else None

    if include_deleted:
        candidates: Iterable[dict] = records
    else:
        candidates = (r for r in records if not r.get("IsDeleted"))
    matched = [r for r in candidates if predicate(r)] if predicate else list(candidates)
    if query.order_by:
        matched = _sort(matched, query, schema)
    start = query.offset or 0
    stop = start + query.limit if query.limit is not None else None
    matched = matched[start:stop]
    if query.count:
        return [{} for _ in matched]
    return [
        {
            f.name: (_norm_bool(r.get(f.name)) if f.category == "boolean" else r.get(f.name))
            for f in selected
        }
        for r in matched
    ]
