"""How the emulator's SOQL compares a field's values: normalisation by describe type.

Text types compare case-insensitively with "" as null, ids on their first 15 characters,
numbers numerically, checkboxes with null as false, dates as dates and datetimes as UTC
instants (the full rules are in ``soql_eval.py``'s docstring).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from connector.emulator.soql_ast import Literal, SoqlError, SoqlQuery

_NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
_ID_TYPES = frozenset({"id", "reference"})


def norm_text(v: Any) -> Any:
    """A text value casefolded; empty → None (Salesforce stores "" as null)."""
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


def norm_bool(v: Any) -> bool:
    """A checkbox value: null (and the text "false") is false."""
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


class Field:
    """A resolved field: canonical name, describe type and how its values compare."""

    def __init__(self, name: str, sf_type: str):
        self.name = name
        self.type = sf_type
        if sf_type in _NUMBER_TYPES:
            self.category, self.norm = "number", _norm_number
        elif sf_type == "boolean":
            self.category, self.norm = "boolean", norm_bool
        elif sf_type == "date":
            self.category, self.norm = "date", _norm_date
        elif sf_type == "datetime":
            self.category, self.norm = "datetime", _norm_datetime
        elif sf_type in _ID_TYPES:
            self.category, self.norm = "text", _norm_id
        else:
            self.category, self.norm = "text", norm_text

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


class Schema:
    """The queried object's fields by lower-cased name, for one query (``IsDeleted`` always)."""

    def __init__(self, query: SoqlQuery, describe_fields: dict[str, dict]):
        self.query = query
        self.by_lower: dict[str, Field] = {}
        for key, entry in describe_fields.items():
            name = entry.get("name", key)
            self.by_lower[name.lower()] = Field(name, str(entry.get("type", "string")).lower())
        # Every Salesforce object has IsDeleted; a describe fixture that leaves it out still
        # lets queryAll filter on it.
        self.by_lower.setdefault("isdeleted", Field("IsDeleted", "boolean"))

    def field(self, name: str) -> Field:
        """The field ``name`` (any case); ``INVALID_FIELD`` at its position when unknown."""
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
