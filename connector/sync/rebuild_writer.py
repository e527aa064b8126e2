"""The rebuild's writer: answers every write by reading the org, and never writes.

:class:`RebuildWriter` overrides :meth:`Writer._write`, the one method every write of a
:class:`~connector.salesforce.writer.Writer` goes through (collections, Bulk and asynchronous
submission alike), so nothing it is asked can reach Salesforce as a write. Upserts are answered
with one SOQL query per chunk of external ids, updates by Id the same way; deletes raise.

Values are compared as Salesforce stores them, per the object's describe (field ``type`` and
``scale``): dates and datetimes as instants (Salesforce keeps milliseconds), booleans (a cleared
checkbox is false), numbers at the field's scale, picklists case-insensitively (Salesforce matches
picklist values case-insensitively and stores the defined spelling), multi-select picklists as
sets, Ids by their case-sensitive 15-character form, and an empty string as null (Salesforce does
not store empty strings). Field names are case-insensitive (SOQL and the REST API).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from simple_salesforce import format_soql

from connector import errors
from connector.records import WriteResult
from connector.salesforce.client import SalesforceClient
from connector.salesforce.describe import Describer
from connector.salesforce.steps import Operation
from connector.salesforce.writer import NOT_SENT, Writer

DIFFERS = "REBUILD_DIFFERS"
NOT_IN_ORG = "REBUILD_NOT_IN_ORG"
AMBIGUOUS = "REBUILD_AMBIGUOUS"

# Query chunks: REST queries are GETs, and Salesforce answers 414 to a URI over 16,384 bytes
# (wire spec §4, SF-err: developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
# errorcodes.htm); the SOQL text limit of 100,000 characters is far above that. The wire spec
# advises at most 300-500 values per IN list; 500 keys also fit one result page (up to 2,000
# records, SF-query). Short keys (student numbers) go 500 a query, keyed hashes about 300.
MAX_IDS = 500
MAX_ENCODED = 12_000  # bytes of URL-encoded SOQL, leaving room for the path

_NUMBERS = {"double", "currency", "percent", "int", "long"}
_TEXT_ID = {"reference", "id"}
_NO_COLUMN = re.compile(r"No such column '([\w.]+)'")


class WriteRefused(RuntimeError):
    """A rebuild was asked to delete: it never writes, and never deletes above all."""


class RebuildWriter(Writer):
    """A writer that reads instead of writing (see the module docstring).

    Args:
        client: The authenticated client (API calls are counted as for any writer).
    """

    def __init__(self, client: SalesforceClient, **kwargs: Any):
        super().__init__(client, **kwargs)
        self.describer = Describer(client)
        self._describe_lock = threading.Lock()

    def _write(
        self, op: Operation, rows: Sequence[Mapping[str, Any]], bulk: bool | None
    ) -> list[WriteResult]:
        if op.kind not in ("upsert", "update"):
            raise WriteRefused(f"a state rebuild never writes: refused {op.kind} on {op.obj}")
        key = (op.external_id_field or "Id") if op.kind == "upsert" else "Id"
        results: list[WriteResult | None] = [None] * len(rows)
        try:
            types = self._types(op.obj)
            for chunk, soql in _chunks(op.obj, key, rows):
                try:
                    records = list(self.query(soql))
                except errors.SalesforceError as exc:
                    if exc.status != 400 or isinstance(exc, errors.Retriable):
                        raise
                    # A field the org does not have or lets us not read: every row of this
                    # chunk fails alike, as a write would have. Salesforce's message quotes the
                    # query, keys included: only a column it names is kept.
                    message = _column_message(str(exc))
                    for i in chunk:
                        results[i] = WriteResult(ok=False, error_code=exc.code, message=message)
                    continue
                found = _index(records, key)
                for i in chunk:
                    results[i] = _answer(rows[i], key, found, types, obj=op.obj)
        except errors.SalesforceError as exc:
            exc.results = [r or NOT_SENT for r in results]  # type: ignore[attr-defined]
            raise
        return [r or NOT_SENT for r in results]

    def _types(self, obj: str) -> dict[str, Mapping[str, Any]]:
        """Lower-case field name → describe entry (empty when the object cannot be described)."""
        with self._describe_lock:
            described = self.describer.fields(obj) or {}
        return {name.lower(): entry for name, entry in described.items()}


def _column_message(text: str) -> str:
    column = _NO_COLUMN.search(text)
    return f"no such column {column[1]}" if column else "the query was refused"


def _literal(value: Any) -> str:
    return format_soql("{}", value)


def _select_fields(key: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, str] = {"id": "Id", key.lower(): key}
    for row in rows:
        for name, value in row.items():
            if isinstance(value, Mapping):  # relationship syntax: {"Account__r": {"Ext__c": x}}
                for sub in value:
                    names.setdefault(f"{name}.{sub}".lower(), f"{name}.{sub}")
            else:
                names.setdefault(name.lower(), name)
    return list(names.values())


def _chunks(
    obj: str, key: str, rows: Sequence[Mapping[str, Any]]
) -> Iterator[tuple[list[int], str]]:
    """(row indices, SOQL) per query: at most :data:`MAX_IDS` keys and :data:`MAX_ENCODED`
    bytes of encoded SOQL each."""
    order = list(range(len(rows)))
    start = 0
    while start < len(order):
        indices: list[int] = []
        literals: list[str] = []
        fields = _select_fields(key, [rows[i] for i in order[start : start + MAX_IDS]])
        # Object and field names come from the validated mapping; values are escaped literals.
        head = f"SELECT {', '.join(fields)} FROM {obj} WHERE {key} IN ("  # noqa: S608
        size = len(quote(head + ")"))
        for i in order[start : start + MAX_IDS]:
            lit = _literal(str(rows[i][key]))
            cost = len(quote(lit)) + len(quote(", "))
            if indices and size + cost > MAX_ENCODED:
                break
            indices.append(i)
            literals.append(lit)
            size += cost
        start += len(indices)
        yield indices, head + ", ".join(literals) + ")"


def _id15(value: str) -> str:
    return value[:15] if len(value) in (15, 18) else value


def _index(records: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    """Records by key: an Id by its 15-character form; an external id case-insensitively
    (Salesforce matches text external ids so, unless the field is case-sensitive)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        lowered = {k.lower(): v for k, v in rec.items()}
        value = lowered.get(key.lower())
        if value is None:
            continue
        norm = _id15(str(value)) if key == "Id" else str(value).casefold()
        out.setdefault(norm, []).append(lowered)
    return out


def _answer(
    row: Mapping[str, Any],
    key: str,
    found: Mapping[str, list[dict[str, Any]]],
    types: Mapping[str, Mapping[str, Any]],
    *,
    obj: str = "",
) -> WriteResult:
    raw = str(row[key])
    candidates = found.get(_id15(raw) if key == "Id" else raw.casefold(), [])
    if len(candidates) > 1:  # a case-sensitive external id: only the exact spelling counts
        candidates = [c for c in candidates if str(c.get(key.lower())) == raw]
    if not candidates:
        return WriteResult(ok=False, error_code=NOT_IN_ORG, message="no record with this key")
    if len(candidates) > 1:
        return WriteResult(ok=False, error_code=AMBIGUOUS, message=f"several records by {key}")
    record = candidates[0]
    differing = differences(row, record, types, skip=key)
    sf_id = str(record.get("id"))
    if differing and obj == _CONSENT and _holds_this_consent(row, record, differing):
        differing = []
    if differing:
        return WriteResult(
            ok=False,
            sf_id=sf_id,
            error_code=DIFFERS,
            message="differs in the org: " + ", ".join(differing),
            fields=tuple(differing),
        )
    return WriteResult(ok=True, sf_id=sf_id, created=False)


# ContactPointTypeConsent (Salesforce's consent model, consent_records.py): one record per
# Contact and purpose, which two mappings may both write (a student who also answered an open
# day's registration). A run lets the latest capture stand (plan_consents), so the org may hold
# another mapping's proof; the rebuild may meet the older one first. An org record for the same
# party and purpose captured later than the proof this mapping would write is the person's later
# word: it matches (a rebuild never plans to replace a newer proof by an older one). With the same
# status, a capture at the same moment matches too.
# A record that differs in its dates alone (same status, source, party and purpose) is the same
# consent: an OptOut without a date of its own is dated by the first run that saw it, and a
# rebuild (later, with another clock) must not re-date it.
_CONSENT = "ContactPointTypeConsent"
_DATES = frozenset({"name", "capturedate", "effectivefrom"})
_PROOF_FIELDS = _DATES | {"capturesource", "consent_given_by__c"}
_STATUS = "privacyconsentstatus"


def _holds_this_consent(
    row: Mapping[str, Any], record: Mapping[str, Any], differing: Sequence[str]
) -> bool:
    fields = {name.lower() for name in differing}
    if fields <= _DATES:
        return True
    if not fields <= _PROOF_FIELDS | {_STATUS}:
        return False  # another party, purpose or contact point: the difference is real
    try:
        sent = _norm(row.get("CaptureDate"), "datetime", None)
        held = _norm(record.get("capturedate"), "datetime", None)
    except (ValueError, TypeError):
        return False
    if sent is None or held is None:
        return False
    return held > sent or (held == sent and _STATUS not in fields)


def differences(
    row: Mapping[str, Any],
    record: Mapping[str, Any],
    types: Mapping[str, Mapping[str, Any]],
    *,
    skip: str = "",
) -> list[str]:
    """Fields of ``row`` whose value differs from the org ``record`` (its keys lower-case).

    Args:
        row: What a run would send: field → value (``None`` clears).
        record: The org's record from SOQL, with lower-case keys.
        types: Lower-case field name → describe entry of the object (may be empty).
        skip: The key the record was found by (equal by construction).
    """
    out: list[str] = []
    for name, value in row.items():
        if name == "Id" or name == skip:
            continue
        if isinstance(value, Mapping):
            parent = _parent(record, name)
            if any(not _equal(v, parent.get(k.lower()), None) for k, v in value.items()):
                out.append(name)
            continue
        if "." in name:
            # A lookup by the parent's external id in the Bulk header form the planner sends
            # (``LearningProgramPlan.Crebo__c``): SOQL answers the relationship as a nested
            # record, {"LearningProgramPlan": {"Crebo__c": "25604"}} (SF-query).
            rel, _, ext = name.partition(".")
            if not _equal(value, _parent(record, rel).get(ext.lower()), None):
                out.append(name)
            continue
        if not _equal(value, record.get(name.lower()), types.get(name.lower())):
            out.append(name)
    return out


def _parent(record: Mapping[str, Any], relationship: str) -> dict[str, Any]:
    """The related record SOQL nested under ``relationship`` (lower-case keys; empty if none)."""
    held = record.get(relationship.lower())
    return {k.lower(): v for k, v in held.items()} if isinstance(held, Mapping) else {}


def _equal(sent: Any, held: Any, describe: Mapping[str, Any] | None) -> bool:
    kind = str((describe or {}).get("type") or _kind_of(sent))
    scale = (describe or {}).get("scale")
    try:
        return _norm(sent, kind, scale) == _norm(held, kind, scale)
    except (ValueError, TypeError, InvalidOperation):
        return False  # unparsable on one side: not provably equal, so the next run writes it


def _kind_of(value: Any) -> str:
    """A describe type guessed from the value a run would send (no describe available)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, int | float | Decimal):
        return "double"
    return "string"


def _norm(value: Any, kind: str, scale: Any) -> Any:
    if value is None or value == "":
        return False if kind == "boolean" else None
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1")
    if kind == "date":
        return value if type(value) is date else date.fromisoformat(str(value)[:10])
    if kind == "datetime":
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        return dt.replace(microsecond=dt.microsecond // 1000 * 1000)  # Salesforce keeps ms
    if kind in _NUMBERS:
        number = Decimal(str(value))
        if isinstance(scale, int):
            number = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        return number
    if kind == "picklist":
        return str(value).casefold()
    if kind == "multipicklist":
        return frozenset(v.strip().casefold() for v in str(value).split(";") if v.strip())
    if kind in _TEXT_ID:
        return _id15(str(value))
    return str(value)
