"""Field checks driven by describe data, the way Salesforce applies them on insert and update.

Messages deliberately leave out the offending value where it could be personal data (emails,
names, free text): Salesforce itself echoes values, but these messages end up in connector logs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from connector.emulator.ids import normalize_id, sf_datetime
from connector.emulator.org_schema import TEXT_TYPES, FieldDef, ObjectDef, Schema
from connector.emulator.refs import Finder, relationship_field, resolver
from connector.emulator.wire import RecordError

# The Email field type: the local part takes RFC 5322's atom characters and the dot, and — since
# Email Address Internationalization (EAI, API 49.0+; "We support the full range of characters as
# documented in the RFCs … EAI … allows use of non-Latin based characters in email addresses",
# help.salesforce.com article 000384328, and sales.emailadmin_eai_considerations.htm) — any
# non-ASCII character of RFC 6532 (UTF-8, no spaces or controls), so "zoë@example.nl" is saved as
# sent; the domain likewise in its Unicode (IDN) form. Spaces, a second "@" and a missing dot in
# the domain stay INVALID_EMAIL_ADDRESS.
_U = "\u00a1-\U0010ffff"  # non-ASCII, without the C1 controls and the no-break space
_EMAIL_RE = re.compile(
    rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~{_U}-]+@[A-Za-z0-9{_U}-]+(?:\.[A-Za-z0-9{_U}-]+)+$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
)
NULL_CSV = "#N/A"  # Bulk 2.0: the only way to clear a field from CSV (wire spec §5.1)

# Tuples, not ``str | int | float``: a union expression would build a new object on every call.
_SCALARS = (str, int, float)
_NUMBERS = (int, float)
_INT_RE = re.compile(r"[+-]?\d+")
_WRITE_OK, _UNKNOWN, _READ_ONLY = 0, 1, 2  # what a compiled plan does with a column
_NONE_KEEP, _NONE_FALSE, _NONE_MISSING = 0, 1, 2  # what a null does to a field
_MAX_PLANS = 4096

Converter = Callable[[Any], Any]
RefLookup = Callable[[str], "str | None"]  # id18 → object name of a live record, or None


def _type_error(f: FieldDef, value: Any) -> RecordError:
    shown = value if f.type in {"boolean", "int", "double", "date", "datetime"} else "(value)"
    return RecordError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        f"{f.label}: value not of required type: {shown}",
        [f.name],
    )


def parse_datetime(text: str) -> str | None:
    """Normalise an ISO-8601 datetime to Salesforce's ``...000+0000`` form, or None if invalid."""
    m = _DATETIME_RE.match(text)
    if not m:
        return None
    day, clock, frac, zone = m.groups()
    if len(clock) == 5:
        clock += ":00"
    zone = "+00:00" if zone in (None, "Z") else zone
    if len(zone) == 5:
        zone = zone[:3] + ":" + zone[3:]
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{(frac or '')[:7]}{zone}")
    except ValueError:
        return None
    return sf_datetime(moment.astimezone(UTC))


def _converter(f: FieldDef, lookup: RefLookup) -> Converter:
    label, name = f.label, f.name
    if f.type in TEXT_TYPES:
        limit = f.length
        is_email = f.type == "email"
        allowed = set(f.picklist) if f.restricted else None

        def text(v: Any) -> Any:
            if type(v) is not str:
                if isinstance(v, bool) or not isinstance(v, _SCALARS):
                    raise _type_error(f, v)
                v = v if isinstance(v, str) else str(v)
            if limit and len(v) > limit:
                raise RecordError(
                    "STRING_TOO_LONG", f"{label}: data value too large (max length={limit})", [name]
                )
            if is_email and not _EMAIL_RE.match(v):
                raise RecordError(
                    "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address", [name]
                )
            if allowed is not None and v not in allowed:
                raise RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{label}: bad value for restricted picklist field: {v}",
                    [name],
                )
            return v

        return text
    if f.type == "boolean":

        def boolean(v: Any) -> bool:
            if isinstance(v, bool):
                return v
            if isinstance(v, str) and v.lower() in ("true", "false", "1", "0"):
                return v.lower() in ("true", "1")
            raise _type_error(f, v)

        return boolean
    if f.type == "int":

        def integer(v: Any) -> int:
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            if isinstance(v, float) and v.is_integer():
                return int(v)
            if isinstance(v, str) and _INT_RE.fullmatch(v.strip()):
                return int(v)
            raise _type_error(f, v)

        return integer
    if f.type in ("double", "currency", "percent"):

        def number(v: Any) -> float:
            if isinstance(v, _NUMBERS) and not isinstance(v, bool):
                return v
            try:
                return float(v) if isinstance(v, str) else _raise(_type_error(f, v))
            except ValueError:
                raise _type_error(f, v) from None

        return number
    if f.type == "date":

        def day(v: Any) -> str:
            if isinstance(v, str) and _DATE_RE.match(v):
                try:
                    return date.fromisoformat(v).isoformat()
                except ValueError:
                    pass
            raise _type_error(f, v)

        return day
    if f.type == "datetime":

        def moment(v: Any) -> str:
            out = parse_datetime(v) if isinstance(v, str) else None
            if out is None:
                raise _type_error(f, v)
            return out

        return moment
    if f.type == "reference":
        targets = set(f.reference_to)

        def reference(v: Any) -> str:
            rid = normalize_id(v)
            if rid is None:
                raise RecordError(
                    "MALFORMED_ID", f"{label}: id value of incorrect type: {v}", [name]
                )
            if lookup(rid) not in targets:
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name]
                )
            return rid

        return reference
    return lambda v: v


def _raise(exc: Exception) -> Any:
    raise exc


# One compiled step of ``Validator.clean``: (key in raw, field name, converter, what to do with
# the column, what a null does). Built once per (object, keys, creating, csv, skip).
_Step = tuple[str, str, Converter | None, int, int]


class Validator:
    """Turns a raw JSON/CSV record into clean, typed values for one object, or a RecordError."""

    def __init__(self, lookup: RefLookup, find: Finder | None = None, schema: Schema | None = None):
        self._lookup = lookup
        self._find = find  # parent references by external id (refs.py), when given
        self._schema = schema
        self._cache: dict[tuple[str, str], Converter] = {}
        self._plans: dict[tuple[Any, ...], list[_Step]] = {}

    def _conv(self, obj: ObjectDef, f: FieldDef) -> Converter:
        key = (obj.name, f.name)
        conv = self._cache.get(key)
        if conv is None:
            conv = self._cache[key] = _converter(f, self._lookup)
        return conv

    def convert(self, obj: ObjectDef, name: str, value: Any) -> Any:
        """Check and normalise one value of field ``name`` (e.g. an external id from a URL)."""
        f = obj.field(name)
        if f is None:
            raise RecordError(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", [name]
            )
        return self._conv(obj, f)(value)

    def _plan(
        self, obj: ObjectDef, keys: tuple[str, ...], creating: bool, skip: str
    ) -> list[_Step]:
        """The per-key decisions of ``clean`` that depend only on the keys, made once."""
        steps: list[_Step] = []
        for key in keys:
            lower = key.lower()
            if lower in ("attributes", "id") or lower == skip:
                continue
            f = obj.by_lower.get(lower)
            if f is None:
                steps.append(self._reference_step(obj, key, creating))
                continue
            writable = f.createable if creating else f.updateable
            if f.type == "boolean":
                on_none = _NONE_FALSE  # Salesforce stores a cleared checkbox as false
            elif not f.nillable and not (creating and f.defaulted):
                on_none = _NONE_MISSING
            else:
                on_none = _NONE_KEEP
            steps.append(
                (key, f.name, self._conv(obj, f), _WRITE_OK if writable else _READ_ONLY, on_none)
            )
        return steps

    def _reference_step(self, obj: ObjectDef, key: str, creating: bool) -> _Step:
        """``Rel`` (JSON, the value names the external id) or ``Rel.ExtId`` (CSV header)."""
        rel, _, ext = key.partition(".")
        f = relationship_field(obj, rel) if self._find and self._schema else None
        if f is None or "." in ext:
            return (key, key, None, _UNKNOWN, _NONE_KEEP)
        conv = resolver(self._schema, obj, f, ext or None, self._find)  # type: ignore[arg-type]
        writable = f.createable if creating else f.updateable
        on_none = _NONE_MISSING if not f.nillable else _NONE_KEEP
        return (key, f.name, conv, _WRITE_OK if writable else _READ_ONLY, on_none)

    def known_column(self, obj: ObjectDef, name: str) -> str | None:
        """The canonical name of a Bulk CSV column: a field, or ``Rel.ExtId`` as sent."""
        f = obj.field(name)
        if f is not None:
            return f.name
        rel, _, ext = name.partition(".")
        if ext and "." not in ext and relationship_field(obj, rel) is not None:
            return name
        return None

    def clean(
        self,
        obj: ObjectDef,
        raw: dict[str, Any],
        *,
        creating: bool,
        csv: bool = False,
        skip: str = "",
        preset: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Validate ``raw`` (field → value) for an insert (``creating``) or an update.

        ``csv``: values come from a Bulk CSV — empty means "leave alone", ``#N/A`` means null.
        ``attributes``, ``Id`` (the caller checks it) and ``skip`` (lower-case name of an
        external id the caller takes from the URL) are left out. Keys are checked in order, so
        the first problem found is the one reported.

        Raises:
            RecordError: the first problem found, with Salesforce's status code.
        """
        # Bulk rows and collection records of one request share their keys, so the per-key
        # lookups (case-insensitive name, writability, null rule, converter) are compiled once.
        keys = tuple(raw)
        plan_key = (obj.name, keys, creating, skip)
        plan = self._plans.get(plan_key)
        if plan is None:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[plan_key] = self._plan(obj, keys, creating, skip)
        out: dict[str, Any] = dict(preset) if preset else {}
        for key, name, conv, mode, on_none in plan:
            if mode == _UNKNOWN:
                raise self._step_error(obj, key, name, mode, creating)
            value = raw[key]
            if csv:
                if value == "":
                    continue  # an empty cell leaves the field alone, even a read-only one
                if value == NULL_CSV:
                    value = None
            if mode:
                raise self._step_error(obj, key, name, mode, creating)
            if value is None:
                if on_none == _NONE_FALSE:
                    value = False
                elif on_none == _NONE_MISSING:
                    raise RecordError(
                        "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name]
                    )
                out[name] = value
                continue
            out[name] = conv(value)  # type: ignore[misc]  # None only for unknown keys
        if creating:
            missing = [n for n in obj.required if out.get(n) is None]
            if missing:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
        return out

    @staticmethod
    def _step_error(obj: ObjectDef, key: str, name: str, mode: int, creating: bool) -> RecordError:
        if mode == _UNKNOWN:
            return RecordError(
                "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key]
            )
        verb = "create" if creating else "update"
        return RecordError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to {verb} fields: {name}. Please check the security settings of "
            "this field and verify that it is read/write for your profile or permission "
            "set.",
            [name],
        )


def check_object_rules(obj: ObjectDef, rec: dict[str, Any]) -> None:
    """Cross-field rules of some standard objects, applied to the merged record.

    Raises:
        RecordError: REQUIRED_FIELD_MISSING for Event duration and CampaignMember person.
    """
    if obj.name == "Event" and not rec.get("IsAllDayEvent"):
        if rec.get("DurationInMinutes") is None and rec.get("EndDateTime") is None:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [DurationInMinutes]",
                ["DurationInMinutes"],
            )
    elif obj.name == "CampaignMember" and not rec.get("ContactId") and not rec.get("LeadId"):
        raise RecordError(
            "REQUIRED_FIELD_MISSING", "Required fields are missing: [ContactId]", ["ContactId"]
        )
