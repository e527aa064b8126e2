"""Rendering an export (GDPR art. 15 and 20) as JSON (machine-readable, art. 20) or CSV (a
spreadsheet a privacy officer can hand over).

JSON keeps the keys docs/privacy.md promised since the first version (``salesforce`` per
mapping with ``fields`` and ``field_purposes``, ``campaign_memberships``, ``activities``,
``local_state``, ``explanation``, ``purposes``, ``controller``, ``dpo_contact``) and adds
``labels``, ``campaign_name``, ``consent_records`` and ``consents``.

CSV is one row per field of every record: ``section, object, record_id, field_label,
field_api_name, value, purposes, note``. It is written for spreadsheets:

- UTF-8 with a byte-order mark, so Excel reads accents right (without it Excel assumes the
  system's ANSI code page);
- RFC 4180 quoting (``csv`` module, ``excel`` dialect): a value holding a comma, quote or line
  break is quoted, so a multi-line description stays one cell;
- no formulas: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
  leading ``'`` (OWASP, *CSV Injection*), so a name a visitor typed as ``=HYPERLINK(...)`` is
  shown, never run. A phone number ``+31 6 …`` therefore reads ``'+31 6 …``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace

from connector.csv_cells import formula_safe
from connector.gdpr.export_model import (
    ConsentProof,
    Json,
    PersonExport,
    RecordExport,
    Section,
    Value,
)

CSV_COLUMNS = (
    "section",
    "object",
    "record_id",
    "field_label",
    "field_api_name",
    "value",
    "purposes",
    "note",
)
BOM = "\ufeff"
# OWASP CSV Injection: "Ensure that no cells begin with any of the following characters".
_PARENT_NAME = "Campaign.Name"


def _record_json(record: RecordExport) -> dict[str, Json]:
    out: dict[str, Json] = {
        "mapping": record.mapping,
        "object": record.object,
        "sf_id": record.sf_id,
        "exists": record.exists,
        "fields": dict(record.fields),
        "labels": dict(record.labels),
        "field_purposes": {f: list(p) for f, p in record.field_purposes.items()},
    }
    if record.section is Section.CAMPAIGN_MEMBERSHIP:
        out["campaign_name"] = record.fields.get(_PARENT_NAME)
    return out


def _consent_json(consent: ConsentProof) -> dict[str, Json]:
    return {
        "purpose": consent.purpose,
        "origin": str(consent.origin),
        "object": consent.object,
        "sf_id": consent.sf_id,
        "status": consent.status,
        "given_at": consent.given_at,
        "source": consent.source,
        "given_by": consent.given_by,
        "effective_from": consent.effective_from,
        "opt_out": consent.opt_out,
        "withdrawn_at": consent.withdrawn_at,
        "fields": dict(consent.fields),
    }


def to_json(export: PersonExport) -> dict[str, Json]:
    """The export as a JSON-ready dict (the ``--format json`` document)."""
    return {
        "generated_at": export.generated_at,
        "controller": export.controller,
        "dpo_contact": export.dpo_contact,
        "explanation": dict(export.explanation),
        "salesforce": [_record_json(r) for r in export.salesforce],
        "campaign_memberships": [_record_json(r) for r in export.campaign_memberships],
        "activities": [_record_json(r) for r in export.activities],
        "consent_records": [_record_json(r) for r in export.consent_records],
        "consents": [_consent_json(c) for c in export.consents],
        "local_state": export.local_state,
        "purposes": export.purposes,
        "notes": list(export.notes),
    }


def render_json(export: PersonExport) -> str:
    """``--format json``: indented UTF-8 JSON text."""
    return json.dumps(to_json(export), indent=2, ensure_ascii=False)


def safe_cell(value: Value) -> str:
    """A cell's text: empty for null, ``true``/``false`` for booleans, never a formula."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return formula_safe(text)


def _merged(records: list[RecordExport]) -> Iterator[tuple[RecordExport, list[str]]]:
    """Each Salesforce record once (several mappings may write one Contact), with the names of
    the mappings that write it."""
    seen: dict[tuple[str, str], tuple[RecordExport, list[str]]] = {}
    for record in records:
        key = (record.object, record.sf_id)
        if key in seen:
            first, names = seen[key]
            purposes = {f: list(p) for f, p in first.field_purposes.items()}
            for f, p in record.field_purposes.items():
                purposes[f] = list(dict.fromkeys([*purposes.get(f, []), *p]))
            seen[key] = (
                replace(first, field_purposes=purposes),
                [*names, record.mapping or ""],
            )
        else:
            seen[key] = (record, [record.mapping] if record.mapping else [])
    yield from seen.values()


def _record_rows(records: list[RecordExport]) -> Iterator[list[Value]]:
    for record, mappings in _merged(records):
        section, obj, rid = str(record.section), record.object, record.sf_id
        written = f"written by mapping {', '.join(mappings)}" if mappings else ""
        if not record.exists:
            yield [section, obj, rid, "", "", "", "", "no longer in Salesforce"]
            continue
        for api, value in record.fields.items():
            purposes = ", ".join(record.field_purposes.get(api, []))
            label = record.labels.get(api, api)
            yield [section, obj, rid, label, api, value, purposes, written if purposes else ""]


def _consent_rows(consents: list[ConsentProof]) -> Iterator[list[Value]]:
    for c in consents:
        parts: list[tuple[str, Value]] = [
            ("status", c.status),
            ("given_at", c.given_at),
            ("source", c.source),
            ("given_by", c.given_by),
            ("effective_from", c.effective_from),
            ("opt_out", c.opt_out),
            ("withdrawn_at", c.withdrawn_at),
        ]
        for role, value in parts:
            api = c.fields.get(role, "local state" if role == "withdrawn_at" else "")
            if value is None and not api:
                continue
            label = f"{c.purpose}: {role.replace('_', ' ')}"
            yield ["consent", c.object, c.sf_id, label, api, value, c.purpose, str(c.origin)]


def _flat(prefix: str, value: Json) -> Iterator[tuple[str, Value]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat(f"{prefix}.{key}" if prefix else key, inner)
    elif isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            yield prefix, ", ".join("" if v is None else str(v) for v in value)
        else:
            for i, inner in enumerate(value, 1):
                yield from _flat(f"{prefix}[{i}]", inner)
    else:
        yield prefix, value


def _leaf(value: Json) -> Value:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def _state_rows(export: PersonExport) -> Iterator[list[Value]]:
    """Local state, each block's explanation on its first row only (a readable sheet)."""
    state, note = export.local_state, export.explanation
    blocks: list[tuple[str, Value, Json, str]] = [
        ("person", "", state.get("person"), note["local_state.person"])
    ]
    records = state.get("records")
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict):
            blocks.append(
                ("record", _leaf(record.get("sf_id")), record, note["local_state.records"])
            )
    withdrawals = state.get("withdrawals")
    for row in withdrawals if isinstance(withdrawals, list) else []:
        if isinstance(row, dict):
            blocks.append(("withdrawal", "", row, note["local_state.withdrawals"]))
    blocks.append(("", "", {"suppressed": state.get("suppressed")}, note["local_state.suppressed"]))
    for obj, rid, block, text in blocks:
        if block is None:
            yield ["local_state", obj, rid, "", "", "", "", "not known to local state"]
            continue
        for i, (key, value) in enumerate(_flat("", block)):
            yield ["local_state", obj, rid, key, key, value, "", "" if i else text]


def csv_rows(export: PersonExport) -> Iterator[list[Value]]:
    """The CSV's rows after the header, unescaped (see :func:`render_csv`)."""
    yield ["about", "", "", "generated at", "generated_at", export.generated_at, "", ""]
    yield ["about", "", "", "controller", "controller", export.controller, "", ""]
    yield ["about", "", "", "DPO contact", "dpo_contact", export.dpo_contact, "", ""]
    for note in export.notes:
        yield ["about", "", "", "note", "notes", note, "", ""]
    yield from _record_rows(export.salesforce)
    yield from _record_rows(export.campaign_memberships)
    yield from _record_rows(export.activities)
    yield from _record_rows(export.consent_records)
    yield from _consent_rows(export.consents)
    yield from _state_rows(export)
    for name, purpose in export.purposes.items():
        for key, value in _flat("", purpose):
            yield ["purpose", name, "", key, key, value, name, ""]
    for key, text in export.explanation.items():
        yield ["explanation", "", "", key, key, text, "", ""]


def render_csv(export: PersonExport) -> str:
    """``--format csv``: BOM, header, one row per field; every cell formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel")
    writer.writerow(CSV_COLUMNS)
    for row in csv_rows(export):
        writer.writerow([safe_cell(v) for v in row])
    return BOM + buffer.getvalue()
