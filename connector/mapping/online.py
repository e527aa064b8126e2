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


class _Where:
    """Problems of one mapping file, each with the line of its key (the nearest key above)."""

    def __init__(self, path: Path | None, shown: str):
        self.lines = _lines(path)
        self.shown = shown
        self.problems: list[Problem] = []

    def add(self, key: tuple[str, ...], message: str) -> None:
        lines = self.lines
        line = next((lines[key[:n]] for n in range(len(key), 0, -1) if key[:n] in lines), None)
        problem = Problem(self.shown, line, ".".join(key), message)
        if problem not in self.problems:  # one line per problem, however many checks find it
            self.problems.append(problem)


def check_fields(
    spec: MappingSpec, path: Path | None, shown: str, describer: Describer
) -> list[Problem]:
    """Every mapped field exists in the org and can be written, each problem with its line.

    A lookup field the org lacks is named by :func:`check_org_model` (with the lookup's key),
    so it is not reported here a second time.
    """
    where = _Where(path, shown)
    target = spec.target
    refs = [f for f, fs in spec.fields.items() if fs.ref is not None]
    plain = [f for f in spec.fields if f not in refs]
    found = describer.check(target.object, plain, external_id_field=target.external_id)
    # References such as CampaignMember.CampaignId are create-only in Salesforce: the
    # connector sends them when it creates the record and never changes them afterwards.
    found += describer.check(target.object, refs, update=False)
    lookups = {n.lower() for n, fs in spec.fields.items() if fs.lookup is not None}
    for message in found:
        subject, _, what = message.partition(": ")
        _, dot, name = subject.partition(".")
        if not dot:  # "Obj: no such object in the org"
            where.add(("target", "object"), message)
        elif name.lower() in lookups and what == "no such field":
            continue  # check_org_model says it, at the lookup
        elif name in spec.fields:
            where.add(("fields", name), message)
        else:  # the upsert key no field maps
            where.add(("target", "external_id"), message)
    return where.problems


def record_type_problems(
    spec: MappingSpec, path: Path | None, shown: str, record_types: RecordTypes
) -> list[Problem]:
    """The record type (or person-account type) ``spec`` names that the org lacks.

    ``run`` asks this for every mapping of the job before it writes anything (a configuration
    error: exit 2), ``validate --online`` as part of :func:`check_org_model`.
    """
    where = _Where(path, shown)
    target = spec.target
    if not (target.record_type or target.person_account):
        return []
    found = record_types.resolve(target.object, target.record_type, person=target.person_account)
    if found is None and target.record_type:
        kind = "person-account record type" if target.person_account else "record type"
        where.add(
            ("target", "record_type"),
            f"{target.object} has no {kind} {target.record_type} in the org",
        )
    elif found is None:
        where.add(
            ("target", "person_account"),
            "the org has no person-account record type (person accounts are not enabled)",
        )
    return where.problems


def check_org_model(
    spec: MappingSpec,
    path: Path | None,
    shown: str,
    describer: Describer,
    record_types: RecordTypes,
) -> list[Problem]:
    """What the org lacks for ``spec``'s lookups, record type and person accounts."""
    where = _Where(path, shown)
    add = where.add
    target = spec.target
    described = describer.fields(target.object)
    if described is None:
        return record_type_problems(spec, path, shown, record_types)  # check_fields says it
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
    return where.problems + record_type_problems(spec, path, shown, record_types)
