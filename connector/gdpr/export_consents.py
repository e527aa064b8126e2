"""The person's consents with their proof (GDPR art. 7(1)), from what Salesforce holds.

Two places hold a consent, and the export shows both:

- the fields a mapping writes from the consent columns purposes.yaml names (``consent: {field,
  at, source, by}``): flag, date, source and who gave it, on the person's own record, plus the
  purpose's ``opt_out`` field and the withdrawal date local state recorded;
- Salesforce's consent model (``ContactPointTypeConsent`` with its ``DataUsePurpose``), when the
  org has it: status OptIn/OptOut, ``CaptureDate``, ``CaptureSource``, ``EffectiveFrom`` and
  ``Consent_Given_By__c``.

Pure: records in, :class:`~connector.gdpr.export_model.ConsentProof` out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from connector.gdpr.export_model import ConsentOrigin, ConsentProof, RecordExport

# Consent parts: the ConsentSpec attribute naming the source column, per role.
_ROLES = (("status", "field"), ("given_at", "at"), ("source", "source"), ("given_by", "by"))


def consents_from_fields(
    purposes: Mapping[str, object],
    mappings: Mapping[str, object],
    records: Sequence[RecordExport],
    withdrawn: Mapping[tuple[str, str], Mapping[str, datetime]],
) -> list[ConsentProof]:
    """Consents held in mapped fields of the person's records.

    Args:
        purposes: Purpose name → PurposeSpec (only those with a ``consent`` block count).
        mappings: Mapping name → MappingSpec.
        records: The person's records read back (``mapping`` set).
        withdrawn: (mapping, Salesforce id) → purpose → withdrawal time, from local state.
    """
    out: dict[tuple[str, str], ConsentProof] = {}
    for record in records:
        spec = mappings.get(record.mapping or "")
        if spec is None or not record.exists:
            continue
        by_column: dict[str, str] = {}
        for target, fs in spec.fields.items():  # type: ignore[attr-defined]
            if fs.from_:
                by_column.setdefault(fs.from_, target)
        for name, purpose in purposes.items():
            consent = purpose.consent  # type: ignore[attr-defined]
            if consent is None or (name, record.sf_id) in out:
                continue
            where = {
                role: by_column[col]
                for role, attr in _ROLES
                if (col := getattr(consent, attr)) and col in by_column
            }
            if "status" not in where:
                continue  # this mapping does not carry the consent
            if consent.opt_out and consent.opt_out in record.fields:
                where["opt_out"] = consent.opt_out
            when = withdrawn.get((record.mapping or "", record.sf_id), {}).get(name)
            values = {role: record.fields.get(api) for role, api in where.items()}
            out[(name, record.sf_id)] = ConsentProof(
                purpose=name,
                origin=ConsentOrigin.FIELDS,
                object=record.object,
                sf_id=record.sf_id,
                status=values.get("status"),
                given_at=values.get("given_at"),
                source=values.get("source"),
                given_by=values.get("given_by"),
                opt_out=values.get("opt_out"),
                withdrawn_at=None if when is None else when.isoformat(),
                fields=where,
            )
    for record in records:  # withdrawals of purposes no mapped field carries (e.g. phone)
        for name, when in withdrawn.get((record.mapping or "", record.sf_id), {}).items():
            if (name, record.sf_id) not in out:
                out[(name, record.sf_id)] = ConsentProof(
                    purpose=name,
                    origin=ConsentOrigin.LOCAL_STATE,
                    object=record.object,
                    sf_id=record.sf_id,
                    status="withdrawn",
                    withdrawn_at=when.isoformat(),
                )
    return list(out.values())


# ContactPointTypeConsent fields per role (Object Reference, ContactPointTypeConsent;
# Consent_Given_By__c is the custom field the README tells an admin to create).
_RECORD_FIELDS = {
    "status": "PrivacyConsentStatus",
    "given_at": "CaptureDate",
    "source": "CaptureSource",
    "given_by": "Consent_Given_By__c",
    "effective_from": "EffectiveFrom",
}


def consents_from_records(records: Iterable[RecordExport]) -> list[ConsentProof]:
    """Consents held as ContactPointTypeConsent records (purpose by its DataUsePurpose name)."""
    out = []
    for record in records:
        if record.object != "ContactPointTypeConsent":
            continue
        where = {role: api for role, api in _RECORD_FIELDS.items() if api in record.fields}
        purpose = record.fields.get("DataUsePurpose.Name") or record.fields.get("Name")
        out.append(
            ConsentProof(
                purpose=str(purpose or ""),
                origin=ConsentOrigin.CONSENT_RECORD,
                object=record.object,
                sf_id=record.sf_id,
                status=record.fields.get("PrivacyConsentStatus"),
                given_at=record.fields.get("CaptureDate"),
                source=record.fields.get("CaptureSource"),
                given_by=record.fields.get("Consent_Given_By__c"),
                effective_from=record.fields.get("EffectiveFrom"),
                fields=where,
            )
        )
    return out
