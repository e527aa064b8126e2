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

Each record found says which mappings it belongs to (those whose probe matched it, and a mapping
with a generated external id that equals the key hash of the record's own identity value), so
an export credits the record to them and lists their field purposes; and it carries the keyed
hashes of every identity value it holds (the e-mail address on a Contact found by student
number, and the other way round), normalised as the sync normalises them, so an erasure with a
lost state tombstones the identifiers a later sync would send the person by (GDPR art. 17, 19).

Values of probes that are not keyed hashes, and the identity values read from the records, are
personal data: they live in memory only, are never logged and never stored (``Probe.hashed``
says which ones may be kept in a request; records carry only keyed hashes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from simple_salesforce import format_soql

from connector.errors import UsageError
from connector.hashing import KeyHasher
from connector.mapping.carriers import held_identities, identity_fields, key_hash_of, single_key


@dataclass(frozen=True, slots=True)
class Probe:
    """One condition: records of ``object`` whose ``field`` equals ``value``.

    ``mappings`` are the person mappings whose records carry the identifier there (several
    mappings may map one field from their identity column); ``by`` is the identifier it came
    from (``student`` or ``email``); ``hashed`` is True when ``value`` is a keyed hash (a
    generated external id), which may be kept in local state.
    """

    mappings: tuple[str, ...]
    object: str
    field: str
    value: str
    by: str
    hashed: bool


@dataclass(frozen=True, slots=True)
class FoundRecord:
    """A person record found in Salesforce.

    ``via`` says how it was found (``Object.Field``); ``keys`` are the (mapping, key hash) of
    every mapping whose external id it carries; ``mappings`` the person mappings that matched
    it (see the module docstring); ``identities`` the (hash, kind) of the identifiers it
    holds: ``student`` and ``email`` identity hashes and ``key`` hashes of the mappings keyed
    by an identity column, for the tombstones of an erasure.
    """

    object: str
    sf_id: str
    via: str
    keys: tuple[tuple[str, str], ...] = ()
    mappings: tuple[str, ...] = ()
    identities: tuple[tuple[str, str], ...] = ()


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
        key_column = single_key(spec.source)
        for by, raw, column in (
            ("student", student_number, ident.student_number),
            ("email", email, ident.email),
        ):
            if not raw or not raw.strip() or column is None:
                continue
            if key_column == column:
                key = compiled[name].normalise_key(raw)
                if key and ext in spec.fields:
                    _add(out, Probe((name,), obj, ext, key, by, hashed=False))
                elif key:
                    _add(out, Probe((name,), obj, ext, compiled[name].hash_key(key), by, True))
                else:
                    continue
            value = raw.strip().lower() if by == "email" else raw.strip()
            for target, field_spec in spec.fields.items():
                if getattr(field_spec, "from_", None) == column:
                    _add(out, Probe((name,), obj, target, value, by, hashed=False))
    return list(out.values())


def _add(out: dict[tuple[str, str, str], Probe], probe: Probe) -> None:
    """One probe per (object, field, value), naming every mapping that carries it there."""
    key = (probe.object, probe.field, probe.value)
    had = out.get(key)
    if had is None:
        out[key] = probe
    elif probe.mappings[0] not in had.mappings:
        out[key] = Probe((*had.mappings, *probe.mappings), *key, had.by, had.hashed)


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
        key_hash = key_hash_of(project.mappings[mapping], compiled[mapping], value)
        if key_hash:
            keys.append((mapping, key_hash))
    return tuple(keys)


def _matched(value: Any, probe: Probe) -> bool:
    # Salesforce compares strings in a WHERE clause case-insensitively (see module docstring).
    return value is not None and str(value).strip().casefold() == probe.value.casefold()


def find_in_salesforce(
    writer: Any,
    probes: Iterable[Probe],
    *,
    project: Any,
    compiled: Mapping[str, Any],
    hasher: KeyHasher,
) -> list[FoundRecord]:
    """The person records in Salesforce that the probes find (queries only, one per field),
    with the mappings that matched each and the hashes of the identifiers each holds.

    Raises UsageError when e-mail probes find several records of one object: a shared family
    address would erase or export the wrong people, so the student number must decide (as
    :func:`connector.gdpr.erasure.find_person` does for local state).
    """
    by_field: dict[tuple[str, str], list[Probe]] = {}
    for p in probes:
        by_field.setdefault((p.object, p.field), []).append(p)
    writers = external_ids(project)
    idents = identity_fields(project)
    found: dict[str, FoundRecord] = {}
    by_email: dict[str, set[str]] = {}
    for (obj, field), group in by_field.items():
        read = [ext for _, ext in writers.get(obj, [])] + [f.field for f in idents.get(obj, [])]
        cols = ", ".join(dict.fromkeys(["Id", field, *read]))
        values = list(dict.fromkeys(p.value for p in group))
        # Names come from validated mappings; the values are escaped by format_soql.
        text = f"SELECT {cols} FROM {obj} WHERE {field} IN {{values}}"  # noqa: S608
        for rec in writer.query(format_soql(text, values=values)):
            sf_id = str(rec["Id"])
            if any(p.by == "email" for p in group):
                by_email.setdefault(obj, set()).add(sf_id)
            # The probes this record matched (all of them if the comparison cannot tell).
            hits = [p for p in group if _matched(rec.get(field), p)] or group
            matched = [m for p in hits for m in p.mappings]
            had = found.get(sf_id)
            if had is not None:
                mappings = tuple(dict.fromkeys([*had.mappings, *matched]))
                found[sf_id] = replace(had, mappings=mappings)
                continue
            keys = _key_hashes(rec, writers.get(obj, []), project, compiled)
            held = held_identities(rec, idents.get(obj, []), compiled, hasher)
            # A generated external id equal to the key hash of the record's own identity value:
            # that mapping wrote the record (a student who registered as a visitor first).
            matched += [m for m, kh in keys if held.get(kh) == "key"]
            found[sf_id] = FoundRecord(
                obj, sf_id, f"{obj}.{field}", keys,
                tuple(dict.fromkeys(matched)), tuple(held.items()),
            )  # fmt: skip
    for obj, ids in by_email.items():
        if len(ids) > 1:
            raise UsageError(
                f"the e-mail address belongs to {len(ids)} {obj} records in Salesforce; "
                "name the person with --student-number instead"
            )
    return list(found.values())
