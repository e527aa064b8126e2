"""Finding a person in Salesforce when local state does not know them (GDPR art. 15, 17, 21).

A lost or rebuilt state must not turn a data-subject request into "nothing found" while the
Contact is still in the org. Every mapping with an ``identity:`` (a person mapping) tells where
its records carry the person's identifiers:

- its external id, when the record key IS the student number or the e-mail address: a mapping
  that maps the external-id field sends the key as mapped (``SIS_Student_Number__c``), one that
  does not sends the keyed hash of the key (DESIGN §5, ``SIS_Sync_Key__c``);
- a target field mapped straight from the identity column (``Email: {from: email}``).

Each becomes a :class:`Probe`; :func:`find_in_salesforce` runs one SOQL query per object and
field with the values escaped by simple-salesforce's ``format_soql`` (quotes and backslashes,
Salesforce "Quoted String Escape Sequences", SOQL and SOSL Reference). Salesforce compares
strings in a WHERE clause case-insensitively, so an e-mail typed in capitals is found too.

Values of probes that are not keyed hashes are personal data: they live in memory only, are
never logged and never stored (``Probe.hashed`` says which ones may be kept in a request).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce import format_soql

from connector.errors import UsageError


@dataclass(frozen=True, slots=True)
class Probe:
    """One condition: records of ``object`` whose ``field`` equals ``value``.

    ``by`` is the identifier it came from (``student`` or ``email``); ``hashed`` is True when
    ``value`` is a keyed hash (a generated external id), which may be kept in local state.
    """

    mapping: str
    object: str
    field: str
    value: str
    by: str
    hashed: bool


@dataclass(frozen=True, slots=True)
class FoundRecord:
    """A person record found in Salesforce: its object, Id, how it was found, and the
    (mapping, key hash) of every mapping whose external id it carries."""

    object: str
    sf_id: str
    via: str
    keys: tuple[tuple[str, str], ...] = ()


def _single_key(source: Mapping[str, Any]) -> str | None:
    key = source.get("key")
    if isinstance(key, list):
        return key[0] if len(key) == 1 else None
    return key if isinstance(key, str) else None


def probes_for(
    project: Any,
    compiled: Mapping[str, Any],
    *,
    student_number: str | None = None,
    email: str | None = None,
) -> list[Probe]:
    """Where each person mapping's records carry the given identifiers (see module docstring).

    Args:
        project: The loaded project (``Project.mappings``).
        compiled: Mapping name → compiled mapping (for the key normalisation and key hash).
        student_number: The raw student number, if the request names one.
        email: The raw e-mail address, if the request names one.
    """
    out: dict[tuple[str, str, str], Probe] = {}
    for name, spec in project.mappings.items():
        ident = spec.identity
        if ident is None:
            continue
        obj, ext = spec.target.object, spec.target.external_id
        key_column = _single_key(spec.source)
        for by, raw, column in (
            ("student", student_number, ident.student_number),
            ("email", email, ident.email),
        ):
            if not raw or not raw.strip() or column is None:
                continue
            if key_column == column:
                key = compiled[name].normalise_key(raw)
                if key and ext in spec.fields:
                    probe = Probe(name, obj, ext, key, by, hashed=False)
                elif key:
                    probe = Probe(name, obj, ext, compiled[name].hash_key(key), by, hashed=True)
                else:
                    continue
                out.setdefault((obj, ext, probe.value), probe)
            value = raw.strip().lower() if by == "email" else raw.strip()
            for target, field_spec in spec.fields.items():
                if target != ext and getattr(field_spec, "from_", None) == column:
                    out.setdefault(
                        (obj, target, value), Probe(name, obj, target, value, by, hashed=False)
                    )
    return list(out.values())


def external_ids(project: Any) -> dict[str, list[tuple[str, str]]]:
    """Object → [(mapping, external-id field)] of every mapping (to lead a record to its key)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, spec in project.mappings.items():
        out.setdefault(spec.target.object, []).append((name, spec.target.external_id))
    return out


def _key_hashes(
    record: Mapping[str, Any],
    writers: Sequence[tuple[str, str]],
    project: Any,
    compiled: Mapping[str, Any],
) -> tuple[tuple[str, str], ...]:
    keys: list[tuple[str, str]] = []
    for mapping, ext in writers:
        value = record.get(ext)
        if not value:
            continue
        if ext in project.mappings[mapping].fields:  # mapped: the raw key
            c = compiled[mapping]
            keys.append((mapping, c.hash_key(c.normalise_key(str(value)))))
        else:  # generated: the keyed hash of the key itself
            keys.append((mapping, str(value)))
    return tuple(keys)


def find_in_salesforce(
    writer: Any,
    probes: Iterable[Probe],
    *,
    project: Any,
    compiled: Mapping[str, Any],
) -> list[FoundRecord]:
    """The person records in Salesforce that the probes find (queries only, one per field).

    Raises UsageError when e-mail probes find several records of one object: a shared family
    address would erase or export the wrong people, so the student number must decide (as
    :func:`connector.gdpr.erasure.find_person` does for local state).
    """
    by_field: dict[tuple[str, str], list[Probe]] = {}
    for p in probes:
        by_field.setdefault((p.object, p.field), []).append(p)
    writers = external_ids(project)
    found: dict[str, FoundRecord] = {}
    by_email: dict[str, set[str]] = {}
    for (obj, field), group in by_field.items():
        cols = ", ".join(dict.fromkeys(["Id", *(ext for _, ext in writers.get(obj, []))]))
        values = list(dict.fromkeys(p.value for p in group))
        # Names come from validated mappings; the values are escaped by format_soql.
        text = f"SELECT {cols} FROM {obj} WHERE {field} IN {{values}}"  # noqa: S608
        for rec in writer.query(format_soql(text, values=values)):
            sf_id = str(rec["Id"])
            if any(p.by == "email" for p in group):
                by_email.setdefault(obj, set()).add(sf_id)
            if sf_id not in found:
                keys = _key_hashes(rec, writers.get(obj, []), project, compiled)
                found[sf_id] = FoundRecord(obj, sf_id, f"{obj}.{field}", keys)
    for obj, ids in by_email.items():
        if len(ids) > 1:
            raise UsageError(
                f"the e-mail address belongs to {len(ids)} {obj} records in Salesforce; "
                "name the person with --student-number instead"
            )
    return list(found.values())
