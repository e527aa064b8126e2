"""The record of processing activities (GDPR/AVG art. 30), generated from purposes + mappings.

Written for the privacy officer (FG), who reads the result, not the YAML: every purpose with its
lawful basis in words and the article it rests on, the data subjects, the Salesforce fields the
purpose justifies (with a human label and the source columns they come from), recipients,
retention in words, the consent and age rule, the proof kept, what is never transferred, the
transfer to Salesforce as processor, and an overview of the items of art. 30(1) (a)–(g) in which
an item purposes.yaml does not state reads "missing: add … to purposes.yaml", never a blank
(:mod:`connector.privacy.register_art30`).

:func:`build_register` turns a project into plain rows; :func:`render_register` prints them as
Markdown, CSV or a standalone HTML page. Output is sorted, so the same project and date always
give the same text. Nothing here reads data files: only names of columns and fields appear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from connector.clock import school_date
from connector.errors import UsageError
from connector.privacy.identifiers import looks_forbidden
from connector.privacy.person_objects import reached_objects
from connector.privacy.purposes import Duration, PurposeSpec
from connector.privacy.register_art30 import (
    Art30Item,
    TransferRow,
    art30_items,
    listed,
    measures_text,
    missing,
    party_text,
    transfer_rows,
    transfers_text,
)

if TYPE_CHECKING:
    from connector.mapping.models import FieldSpec, MappingSpec
    from connector.mapping.project import Project

Format = Literal["md", "csv", "html"]

BASIS_WORDS = {
    "contract": "Contract (AVG art. 6(1)(b))",
    "legal_obligation": "Legal obligation (AVG art. 6(1)(c))",
    "vital_interest": "Vital interests (AVG art. 6(1)(d))",
    "public_task": "Public task (AVG art. 6(1)(e))",
    "legitimate_interest": "Legitimate interest (AVG art. 6(1)(f))",
    "consent": "Consent (AVG art. 6(1)(a), art. 7)",
}
ANCHOR_WORDS = {
    "last_seen": "after the source system last held the record",
    "lifecycle_end": "after the end of the enrolment (or of an application that ended)",
    "event_date": "after the event date",
    "consent_withdrawn": "after consent is withdrawn",
}
# Labels of standard Salesforce fields; custom fields are de-underscored (_label).
LABELS = {
    "FirstName": "First name",
    "LastName": "Last name",
    "Name": "Name",
    "Email": "E-mail address",
    "MobilePhone": "Mobile phone",
    "Phone": "Phone",
    "HomePhone": "Home phone",
    "Birthdate": "Date of birth",
    "MailingStreet": "Street and house number",
    "MailingPostalCode": "Postcode",
    "MailingCity": "City",
    "MailingCountry": "Country",
    "Title": "Title",
    "Description": "Description (free text)",
    "HasOptedOutOfEmail": "E-mail opt-out",
    "DoNotCall": "Do not call",
    "LeadSource": "Lead source",
    "Type": "Type",
    "StartDate": "Start date",
    "EndDate": "End date",
    "IsActive": "Active",
    "Status": "Status",
    "Subject": "Subject",
    "ActivityDate": "Activity date",
    "Priority": "Priority",
    "WhoId": "Person (link to the Contact)",
    "WhatId": "Related record (link)",
    "CampaignId": "Campaign (link)",
    "ContactId": "Contact (link)",
    "AccountId": "Account (link)",
    "OwnerId": "Owner (staff member)",
}
SPECIAL_CATEGORIES = (
    "BSN (burgerservicenummer): may only be used where a law prescribes it (UAVG art. 46); a CRM "
    "is not such a use and consent does not change that.",
    "Onderwijsnummer: DUO's personal number in place of the BSN, treated the same way.",
    "Special categories of personal data (AVG art. 9): health (incl. allergies and dietary "
    "needs), racial or ethnic origin, religion or belief, political opinions, trade-union "
    "membership, sex life or sexual orientation, genetic and biometric data.",
    "Criminal convictions and offences (AVG art. 10).",
)
FORBIDDEN_RULE = (
    "The connector refuses, when the mappings are loaded, any source column or Salesforce field "
    "whose name denotes one of these, whatever a mapping says. As a second line, every value "
    "about to be sent is checked: a number that passes the BSN or onderwijsnummer 11-check is "
    "withheld in any field, also in free text."
)
PROCESSOR = (
    "Salesforce (Salesforce, Inc. and its group) processes the data as processor for the school "
    "(AVG art. 28), under the school's data processing agreement.",
)
BUILT_IN_MEASURES = (
    "Built into sis-sync (AVG art. 25, 32): only fields a purpose justifies are sent, over TLS; "
    "the connector's local state keeps keyed hashes, Salesforce ids and dates, not personal "
    "values; logs and reports name files, lines and fields, never values; BSN, onderwijsnummer "
    "and special categories are refused by name and by value."
)


@dataclass(frozen=True, order=True)
class FieldRow:
    """One Salesforce field a purpose justifies, as one mapping fills it."""

    mapping: str
    source: str
    object: str
    field: str
    label: str
    columns: str


@dataclass(frozen=True)
class PurposeRow:
    """One purpose (a row of the art. 30 record)."""

    name: str
    description: str
    basis: str
    basis_words: str
    legal_reference: str
    data_subjects: str
    recipients: str
    retention: str
    consent: str
    proof: str
    fields: tuple[FieldRow, ...]


@dataclass(frozen=True)
class Register:
    """Everything the rendered register shows."""

    controller: str  # the name (the HTML page's title)
    controller_text: str  # name — contact, or marked missing
    dpo_text: str
    generated_on: date
    purposes: tuple[PurposeRow, ...]
    refused_columns: tuple[tuple[str, str, str], ...]  # (mapping, column, reason)
    read_not_sent: tuple[tuple[str, str, str], ...]  # (mapping, column, why it is read)
    art30: tuple[Art30Item, ...] = ()
    transfers: tuple[TransferRow, ...] = ()  # as declared in purposes.yaml
    transfers_text: str = ""  # art. 30(1)(e) in one line, or marked missing
    security_measures: tuple[str, ...] = ()
    measures_text: str = ""  # art. 30(1)(g) in one line, or marked missing
    person_objects: tuple[str, ...] = ()  # what erasure and the purge reach (art. 17, 5(1)(e))
    special_categories: tuple[str, ...] = SPECIAL_CATEGORIES
    forbidden_rule: str = FORBIDDEN_RULE
    processor: tuple[str, ...] = PROCESSOR
    built_in_measures: str = BUILT_IN_MEASURES


def duration_words(d: Duration) -> str:
    """``P1Y3M`` → ``1 year and 3 months``; ``P2W`` → ``2 weeks``."""
    parts = []
    weeks_only = d.text.endswith("W") and "D" not in d.text and d.days % 7 == 0 and d.days
    for n, unit in ((d.years, "year"), (d.months, "month")):
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    if weeks_only:
        parts.append(f"{d.days // 7} week{'s' if d.days != 7 else ''}")
    elif d.days:
        parts.append(f"{d.days} day{'s' if d.days != 1 else ''}")
    return " and ".join(parts) if parts else "0 days"


def retention_words(purpose: PurposeSpec) -> str:
    """How long data kept for ``purpose`` may live, in words."""
    r = purpose.retention
    consent = purpose.lawful_basis == "consent"
    if r is None:
        if consent:
            return "until consent is withdrawn"
        return "no period set in purposes.yaml: the school must set one (AVG art. 5(1)(e))"
    words = f"{duration_words(r.duration)} {ANCHOR_WORDS[r.after]}"
    if consent and r.after == "consent_withdrawn":
        return f"until consent is withdrawn; removed {words}"
    return words


def consent_words(purpose: PurposeSpec) -> str:
    """Whether consent is needed, with the age rule (UAVG art. 5)."""
    if purpose.lawful_basis != "consent":
        return "Not needed (another lawful basis applies)"
    if purpose.min_age == 0:
        return "Consent required (no age rule)"
    return (
        f"Consent required; under {purpose.min_age} a parent or guardian must give it (UAVG art. 5)"
    )


def proof_words(purpose: PurposeSpec) -> str:
    """The proof of consent kept (AVG art. 7(1)): timestamp and the source columns."""
    c = purpose.consent
    if c is None:
        return "—"
    parts = [f"yes/no from column {c.field}", f"timestamp from column {c.at}"]
    if c.by:
        parts.append(f"who gave it (self or parent) from column {c.by}")
    if c.source:
        parts.append(f"form or channel from column {c.source}")
    return "; ".join(parts) + ". A consent without a timestamp counts as no consent."


def field_label(name: str) -> str:
    """A human label: the table above for standard fields, else the de-underscored name."""
    if name in LABELS:
        return LABELS[name]
    base = name
    if base.endswith("__c"):
        base = base[:-3]
        if "__" in base:  # managed-package namespace prefix
            base = base.split("__", 1)[1]
    else:
        base = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base)
    words = base.replace("_", " ").split()
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else name


def _columns(spec: FieldSpec) -> str:
    if spec.ref is not None:
        return f"{', '.join(spec.ref.columns)} (link to mapping {spec.ref.mapping})"
    if spec.origin == "value":
        return "(fixed value)"
    cols = spec.columns()
    if spec.fallback:
        return f"{cols[0]} (else {cols[1]})"
    return ", ".join(cols)


def _source(mapping: MappingSpec) -> str:
    where = mapping.source.get("path") or mapping.source.get("url") or ""
    text = f"{mapping.source_kind} {where}".strip()
    return f"{text} → {mapping.target.object}"


# Where a person mapping's consent and its proof go when the org models consent (the consent
# stage writes a ContactPointTypeConsent per person and purpose, connector/sync/consent_stage.py).
CONSENT_RECORD = "ContactPointTypeConsent"
CONSENT_RECORD_FIELDS = (
    ("PrivacyConsentStatus", "field"),
    ("CaptureDate", "at"),
    ("CaptureSource", "source"),
    ("Consent_Given_By__c", "by"),
)


def _writes_consent_records(m: MappingSpec) -> bool:
    """A person mapping on Contact or person accounts: its consents become consent records."""
    person_object = m.target.object == "Contact" or m.target.person_account
    return m.identity is not None and bool(person_object)


def consent_record_rows(pname: str, p: PurposeSpec, mname: str, m: MappingSpec) -> list[FieldRow]:
    """The consent record fields a person mapping fills for consent purpose ``pname`` (the
    org's consent model): status, capture date, capture source, given by."""
    used = {q for f in m.fields.values() for q in f.purposes}
    if p.consent is None or pname not in used or not _writes_consent_records(m):
        return []
    rows = []
    for field, attr in CONSENT_RECORD_FIELDS:
        column = getattr(p.consent, attr)
        if column:
            label = f"{field_label(field)} (consent record, where the org models consent)"
            rows.append(FieldRow(mname, _source(m), CONSENT_RECORD, field, label, column))
    return rows


def _read_not_sent(name: str, m: MappingSpec, purposes: dict[str, PurposeSpec]) -> list:
    sent = {c for f in m.fields.values() for c in f.columns()}
    why: dict[str, str] = {}
    for column in m.key_columns:
        why.setdefault(column, "record key (kept only as a keyed hash)")
    if m.identity is not None:
        for id_column in (m.identity.student_number, m.identity.email):
            if id_column:
                why.setdefault(id_column, "matching the person (kept only as a keyed hash)")
    if m.lifecycle is not None and m.lifecycle.from_:
        why.setdefault(m.lifecycle.from_, "lifecycle phase (which purposes hold)")
    if m.lifecycle is not None and m.lifecycle.date is not None:
        why.setdefault(m.lifecycle.date.from_, "lifecycle date (retention)")
    if m.subject_birthdate is not None:
        why.setdefault(m.subject_birthdate.from_, "age rule for consent (UAVG art. 5)")
    if m.event_date is not None:
        why.setdefault(m.event_date.from_, "event date (retention)")
    used = {p for f in m.fields.values() for p in f.purposes}
    for pname, p in sorted(purposes.items()):
        if p.consent is not None and pname in used and not _writes_consent_records(m):
            for c_column in (p.consent.field, p.consent.at, p.consent.by, p.consent.source):
                if c_column:
                    why.setdefault(c_column, f"consent for {pname} and its proof (AVG art. 7(1))")
    return [(name, c, w) for c, w in why.items() if c not in sent]


def build_register(project: Project, *, generated_on: date | None = None) -> Register:
    """The register's content as plain, sorted rows.

    Args:
        project: A loaded project (purposes.yaml plus mappings).
        generated_on: The date printed on the register; default today in Europe/Amsterdam.
    """
    spec = project.purposes
    day = generated_on or school_date()
    rows = []
    for pname in sorted(spec.purposes):
        p = spec.purposes[pname]
        fields = sorted(
            FieldRow(
                mapping=mname,
                source=_source(m),
                object=m.target.object,
                field=fname,
                label=field_label(fname),
                columns=_columns(f),
            )
            for mname, m in project.mappings.items()
            for fname, f in m.fields.items()
            if pname in f.purposes
        )
        fields += sorted(
            row
            for mname, m in project.mappings.items()
            for row in consent_record_rows(pname, p, mname, m)
        )
        declared = p.model_fields_set
        retention = retention_words(p)
        if p.retention is None and p.lawful_basis != "consent":
            retention = missing(
                f"retention: {{after, keep}} (purposes.{pname}.retention; AVG art. 5(1)(e))"
            )
        rows.append(
            PurposeRow(
                name=pname,
                description=" ".join(p.description.split())
                or missing(f"a description (purposes.{pname}.description)"),
                basis=p.lawful_basis,
                basis_words=BASIS_WORDS.get(p.lawful_basis, p.lawful_basis),
                legal_reference=p.legal_reference or "",
                data_subjects=listed(
                    p.data_subjects, "data_subjects" in declared, "data_subjects", pname
                ),
                recipients=listed(p.recipients, "recipients" in declared, "recipients", pname),
                retention=retention,
                consent=consent_words(p),
                proof=proof_words(p),
                fields=tuple(fields),
            )
        )
    from connector.mapping.checks import mapping_columns  # the mapping package imports us

    refused = []
    read_only = []
    for mname in sorted(project.mappings):
        m = project.mappings[mname]
        for column in sorted({c for _path, c in mapping_columns(m)}):
            reason = looks_forbidden(column)
            if reason:
                refused.append((mname, column, reason))
        read_only.extend(sorted(_read_not_sent(mname, m, spec.purposes), key=lambda r: r[1]))
    texts = {
        r.name: {
            "description": r.description,
            "data_subjects": r.data_subjects,
            "recipients": r.recipients,
            "retention": r.retention,
        }
        for r in rows
    }
    return Register(
        controller=spec.controller_party.name,
        controller_text=party_text(spec.controller_party, "controller"),
        dpo_text=party_text(spec.dpo_party, "dpo"),
        generated_on=day,
        purposes=tuple(rows),
        refused_columns=tuple(refused),
        read_not_sent=tuple(read_only),
        art30=art30_items(spec, texts),
        transfers=transfer_rows(spec),
        transfers_text=transfers_text(spec),
        security_measures=tuple(spec.security_measures or ()),
        measures_text=measures_text(spec),
        person_objects=tuple(reached_objects(m.target.object for m in project.mappings.values())),
    )


def render_register(project: Project, fmt: Format, *, generated_on: date | None = None) -> str:
    """The art. 30 record of processing activities of ``project`` as ``md``, ``csv`` or ``html``.

    Args:
        project: A loaded project (``connector.mapping.load_project``).
        fmt: ``md`` (Markdown headings and tables), ``csv`` (one row per purpose, mapping and
            field) or ``html`` (a standalone, printable page).
        generated_on: The date printed on the register; default today (Europe/Amsterdam).

    Raises:
        UsageError: an unknown format.
    """
    from connector.privacy.register_formats import render_csv, render_html, render_markdown

    register = build_register(project, generated_on=generated_on)
    if fmt == "md":
        return render_markdown(register)
    if fmt == "csv":
        return render_csv(register)
    if fmt == "html":
        return render_html(register)
    raise UsageError(f"unknown register format {fmt!r}; use md, csv or html")


__all__ = [
    "BASIS_WORDS",
    "Art30Item",
    "FieldRow",
    "PurposeRow",
    "Register",
    "build_register",
    "consent_words",
    "duration_words",
    "field_label",
    "render_register",
    "retention_words",
]
