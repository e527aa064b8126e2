"""Where a mapping's records carry their key and their person's identifiers in Salesforce.

Two commands find sis-sync's records in the org without local state: a data-subject request
after a lost state (:mod:`connector.gdpr.person_lookup`) and ``state rebuild`` looking for the
records the exports no longer hold (:mod:`connector.sync.rebuild_adopt`). Both read the same
facts of a mapping, kept here:

- its **external id** carries the record key: as mapped (``SIS_Student_Number__c:
  {from: studentnummer}`` when ``studentnummer`` is the key), or, when the mapping does not map
  the field, as the keyed hash of the key (DESIGN §5, ``SIS_Sync_Key__c``);
- a target field mapped straight from an ``identity:`` column carries that identifier
  (``Email: {from: email}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.hashing import KeyHasher
from connector.mapping.compile import identity_hashes
from connector.mapping.transforms import TransformError


def single_key(source: Mapping[str, Any]) -> str | None:
    """The source column of a one-column record key (None for a composite key)."""
    key = source.get("key")
    if isinstance(key, list):
        return key[0] if len(key) == 1 else None
    return key if isinstance(key, str) else None


def key_in_external_id(spec: Any) -> bool:
    """Whether the external id of ``spec``'s records gives back their record key: a generated
    one (the key hash itself), or one mapped straight from the one key column."""
    ext = spec.target.external_id
    if ext not in spec.fields:
        return True
    column = single_key(spec.source)
    return column is not None and getattr(spec.fields[ext], "from_", None) == column


def key_hash_of(spec: Any, compiled: Any, value: object) -> str | None:
    """The record key hash a mapping stored for the record whose external id holds ``value``
    (None when the value is not a key this mapping could have sent)."""
    text = str(value)
    if spec.target.external_id not in spec.fields:  # generated: the keyed hash of the key
        return text
    try:
        key = compiled.normalise_key(text)
    except TransformError:
        return None
    return compiled.hash_key(key) if key else None


@dataclass(frozen=True, slots=True)
class IdentityField:
    """A field where a person mapping's records carry an identifier: ``kind`` (``student`` or
    ``email``), read from the mapping's identity ``column``; ``keyed`` when the mapping's
    record key is that column (its key hash is then derived from the value too)."""

    mapping: str
    kind: str
    column: str
    field: str
    keyed: bool


def identity_fields(project: Any) -> dict[str, list[IdentityField]]:
    """Object → the fields each person mapping writes from its identity columns."""
    out: dict[str, list[IdentityField]] = {}
    for name, spec in project.mappings.items():
        ident = spec.identity
        if ident is None:
            continue
        key_column = single_key(spec.source)
        for kind, column in (("student", ident.student_number), ("email", ident.email)):
            if column is None:
                continue
            for target, field_spec in spec.fields.items():
                if getattr(field_spec, "from_", None) == column:
                    out.setdefault(spec.target.object, []).append(
                        IdentityField(name, kind, column, target, key_column == column)
                    )
    return out


def held_identities(
    record: Mapping[str, Any],
    fields: Sequence[IdentityField],
    compiled: Mapping[str, Any],
    hasher: KeyHasher,
) -> dict[str, str]:
    """Hash → kind of the identifiers ``record`` holds, normalised as the sync normalises the
    identity columns (:func:`~connector.mapping.compile.identity_hashes`) and record keys
    (the mapping's ``key_transform``). The values themselves are dropped here."""
    out: dict[str, str] = {}
    for f in fields:
        value = record.get(f.field)
        if value is None or not str(value).strip():
            continue
        text = str(value)
        student, email = identity_hashes(
            hasher, text if f.kind == "student" else None, text if f.kind == "email" else None
        )
        for h, kind in ((student, "student"), (email, "email")):
            if h:
                out.setdefault(h, kind)
        if f.keyed:
            c = compiled[f.mapping]
            try:
                key = c.normalise_key(text)
            except TransformError:
                continue  # not a key this mapping could have sent
            if key:
                out.setdefault(c.hash_key(key), "key")
    return out
