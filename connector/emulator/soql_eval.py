"""The parsed-query model (AST) and its evaluation over plain-dict records.

The grammar is in ``soql_parser.py``, the query model in ``soql_ast.py``; ``soql.py`` re-exports
:func:`execute` with them as the public face. How values of each type compare is in
``soql_fields.py``, the ranges of relative date literals in ``soql_dates.py``.

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
from datetime import UTC, date, datetime, time
from typing import Any

from connector.emulator.soql_ast import (
    And,
    Comparison,
    InList,
    Like,
    Literal,
    Not,
    Or,
    SoqlError,
    SoqlQuery,
)
from connector.emulator.soql_dates import relative_range
from connector.emulator.soql_fields import Field, Schema, norm_bool, norm_text

Predicate = Callable[[dict], bool]

_RANGE_OPS = frozenset({"<", "<=", ">", ">="})


# ------------------------------------------------------------------------------ date literals


def _range_for(fld: Field, lit: Literal, today: date) -> tuple[Any, Any]:
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


def _compare(fld: Field, op: str, lit: Literal, today: date) -> Predicate:
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


def _in_list(fld: Field, node: InList, today: date) -> Predicate:
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


def _like(fld: Field, node: Like) -> Predicate:
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


def compile_where(node: Any, schema: Schema, today: date) -> Predicate:
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


def _sort(rows: list[dict], query: SoqlQuery, schema: Schema) -> list[dict]:
    # Stable sorts from the last key to the first give a multi-key order with mixed directions.
    for item in reversed(query.order_by):
        fld = schema.field(item.field)
        norm = norm_text if fld.category == "text" else fld.norm  # ids sort as text too
        keyed = [(norm(r.get(fld.name)), r) for r in rows]
        nulls = [r for k, r in keyed if k is None]
        present = [(k, r) for k, r in keyed if k is not None]
        present.sort(key=lambda kr: kr[0], reverse=item.descending)
        ordered = [r for _, r in present]
        rows = nulls + ordered if item.nulls_first else ordered + nulls
    return rows


def execute(
    query: SoqlQuery,
    records: Iterable[dict],
    *,
    describe_fields: dict[str, dict],
    include_deleted: bool = False,
    now: datetime | None = None,
    with_source: bool = False,
) -> list[Any]:
    """Run a parsed query over one object's records.

    Args:
        query: from :func:`connector.emulator.soql.parse`.
        records: the object's records, plain dicts keyed by canonical field name.
        describe_fields: canonical field name → describe entry (at least ``name`` and ``type``).
        include_deleted: True for ``/queryAll``; otherwise rows with ``IsDeleted`` true are
            skipped before the WHERE clause is applied (so ``IsDeleted = true`` finds nothing).
        now: the moment relative date literals (TODAY, LAST_N_DAYS:n) are computed from;
            default the current UTC time. The emulator's user lives in UTC.
        with_source: return ``(row, record)`` pairs, so relationship queries can follow the
            lookups of the record a row came from.

    Returns:
        The matching rows after ORDER BY, OFFSET and LIMIT, each a new dict of the selected
        fields under their describe (canonical) names, without ``attributes``. For
        ``SELECT COUNT()`` one empty dict per counted record: ``len(result)`` is the
        ``totalSize`` and the response's ``records`` list stays empty.

    Raises:
        SoqlError: ``INVALID_FIELD`` for a field the describe does not know, ``MALFORMED_QUERY``
            for a value of the wrong type for its field or an operator the field type refuses.
    """
    schema = Schema(query, describe_fields)
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
        return [({}, r) if with_source else {} for r in matched]
    rows = [
        {
            f.name: (norm_bool(r.get(f.name)) if f.category == "boolean" else r.get(f.name))
            for f in selected
        }
        for r in matched
    ]
    return list(zip(rows, matched, strict=True)) if with_source else rows
