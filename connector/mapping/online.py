"""``validate --online`` for targeting the org's own data model: lookups, record types and
person accounts, checked against the org's describe and its RecordType records.

Problems name the mapping file, the line and the key, like the offline loader; nothing is
written. Describe entries: ``type`` ``reference`` with ``referenceTo``, and ``externalId`` /
``idLookup`` (DescribeFieldResult, SOAP API Developer Guide,
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm).
"""

from __future__ import annotations

from pathlib import Path

from connector.errors import Problem
from connector.mapping.models import MappingSpec
from connector.salesforce.describe import Describer
from connector.salesforce.record_types import RecordTypes


def _lines(path: Path | None) -> dict[tuple[str | int, ...], int]:
    from connector.mapping.loader import parse_yaml

    if path is None:
        return {}
    doc = parse_yaml(path.read_text(encoding="utf-8-sig"), str(path), [])
    return doc.lines if doc is not None else {}


def check_org_model(
    spec: MappingSpec,
    path: Path | None,
    shown: str,
    describer: Describer,
    record_types: RecordTypes,
) -> list[Problem]:
    """What the org lacks for ``spec``'s lookups, record type and person accounts."""
    lines = _lines(path)
    problems: list[Problem] = []

    def add(key: tuple[str, ...], message: str) -> None:
        line = next((lines[key[:n]] for n in range(len(key), 0, -1) if key[:n] in lines), None)
        problems.append(Problem(shown, line, ".".join(key), message))

    target = spec.target
    described = describer.fields(target.object) or {}
    by_lower = {n.lower(): e for n, e in described.items()}
    for name, f in spec.fields.items():
        if f.lookup is None:
            continue
        entry = by_lower.get(name.lower())
        parent = f.lookup.object
        if entry is None:
            add(("fields", name, "lookup"), f"{target.object}.{name}: no such field in the org")
        elif entry.get("type") != "reference" or parent not in (entry.get("referenceTo") or []):
            add(
                ("fields", name, "lookup"),
                f"{target.object}.{name}: not a lookup to {parent} in the org",
            )
        parent_fields = describer.fields(parent)
        if parent_fields is None:
            add(("fields", name, "lookup", "object"), f"{parent}: no such object in the org")
            continue
        ext = {n.lower(): e for n, e in parent_fields.items()}.get(f.lookup.external_id.lower())
        if ext is None:
            add(
                ("fields", name, "lookup", "external_id"),
                f"{parent}.{f.lookup.external_id}: no such field in the org",
            )
        elif not (ext.get("externalId") or ext.get("idLookup")):
            add(
                ("fields", name, "lookup", "external_id"),
                f"{parent}.{f.lookup.external_id}: not an external id field",
            )
    if target.record_type or target.person_account:
        found = record_types.resolve(
            target.object, target.record_type, person=target.person_account
        )
        if found is None and target.record_type:
            kind = "person-account record type" if target.person_account else "record type"
            add(
                ("target", "record_type"),
                f"{target.object} has no {kind} {target.record_type} in the org",
            )
        elif found is None:
            add(
                ("target", "person_account"),
                "the org has no person-account record type (person accounts are not enabled)",
            )
    return problems
