"""The record of processing activities (GDPR/AVG art. 30), generated from purposes + mappings.

Written for the privacy officer (FG), who reads the result, not the YAML: every purpose with its
lawful basis in words and the article it rests on, the data subjects, the Salesforce fields the
purpose justifies (with a human label and the source columns they come from), recipients,
retention in words, the consent and age rule, the proof kept, what is never transferred, and
the transfer to Salesforce as processor.

:func:`build_register` turns a project into plain rows; :func:`render_register` prints them as
Markdown, CSV or a standalone HTML page. Output is sorted, so the same project and date always
give the same text. Nothing here reads data files: only names of columns and fields appear.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from connector.errors import UsageError
from connector.privacy.identifiers import looks_forbidden
from connector.privacy.purposes import Duration, PurposeSpec

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
TRANSFERS = (
    "Salesforce (Salesforce, Inc. and its group) processes the data as processor for the school "
    "(AVG art. 28), under the school's data processing agreement.",
    "Hosting region of the Salesforce org and transfers outside the EEA (AVG art. 44-49, e.g. "
    "EU-US Data Privacy Framework or standard contractual clauses): ______ "
    "(to be completed by the school).",
    "Security (AVG art. 30(1)(g), 32): only fields a purpose justifies are sent, over TLS; the "
    "connector's local state keeps keyed hashes, Salesforce ids and dates, not personal values; "
    "logs and reports name files, lines and fields, never values.",
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

    controller: str
    dpo_contact: str
    generated_on: date
    purposes: tuple[PurposeRow, ...]
    refused_columns: tuple[tuple[str, str, str], ...]  # (mapping, column, reason)
    read_not_sent: tuple[tuple[str, str, str], ...]  # (mapping, column, why it is read)
    special_categories: tuple[str, ...] = SPECIAL_CATEGORIES
    forbidden_rule: str = FORBIDDEN_RULE
    transfers: tuple[str, ...] = TRANSFERS


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


def _read_not_sent(name: str, m: MappingSpec, purposes: dict[str, PurposeSpec]) -> list:
    sent = {c for f in m.fields.values() for c in f.columns()}
    why: dict[str, str] = {}
    for column in m.key_columns:
        why.setdefault(column, "record key (kept only as a keyed hash)")
    if m.identity is not None:
        for column in (m.identity.student_number, m.identity.email):
            if column:
                why.setdefault(column, "matching the person (kept only as a keyed hash)")
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
        if p.consent is not None and pname in used:
            for column in (p.consent.field, p.consent.at, p.consent.by, p.consent.source):
                if column:
                    why.setdefault(column, f"consent for {pname} and its proof (AVG art. 7(1))")
    return [(name, c, w) for c, w in why.items() if c not in sent]


def build_register(project: Project, *, generated_on: date | None = None) -> Register:
    """The register's content as plain, sorted rows.

    Args:
        project: A loaded project (purposes.yaml plus mappings).
        generated_on: The date printed on the register; default today in Europe/Amsterdam.
    """
    spec = project.purposes
    day = generated_on or datetime.now(ZoneInfo("Europe/Amsterdam")).date()
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
        rows.append(
            PurposeRow(
                name=pname,
                description=" ".join(p.description.split()),
                basis=p.lawful_basis,
                basis_words=BASIS_WORDS.get(p.lawful_basis, p.lawful_basis),
                legal_reference=p.legal_reference or "",
                data_subjects=", ".join(p.data_subjects) or "—",
                recipients=", ".join(p.recipients) or "—",
                retention=retention_words(p),
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
    return Register(
        controller=spec.controller,
        dpo_contact=spec.dpo_contact or "not set (add dpo_contact to purposes.yaml)",
        generated_on=day,
        purposes=tuple(rows),
        refused_columns=tuple(refused),
        read_not_sent=tuple(read_only),
    )


def _per_mapping(fields: tuple[FieldRow, ...]) -> list[tuple[tuple[str, str], list[FieldRow]]]:
    return [(k, list(g)) for k, g in groupby(fields, key=lambda f: (f.mapping, f.source))]


# -- Markdown --------------------------------------------------------------------------------


def _md(text: str) -> str:
    """A table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def render_markdown(reg: Register) -> str:
    """The register as Markdown: headings, a property table per purpose, a field table."""
    out = [
        "# Record of processing activities (AVG/GDPR art. 30)",
        "",
        f"- **Controller:** {_md(reg.controller)}",
        f"- **Data protection officer (FG):** {_md(reg.dpo_contact)}",
        f"- **Generated on:** {reg.generated_on.isoformat()} by sis-sync from purposes.yaml "
        "and the mappings",
        "",
    ]
    for p in reg.purposes:
        out += [f"## Purpose: {_md(p.name)}", "", _md(p.description) or "_(no description)_", ""]
        out += ["| | |", "|---|---|"]
        props = [
            ("Lawful basis", p.basis_words),
            ("Legal reference", p.legal_reference or "—"),
            ("Data subjects", p.data_subjects),
            ("Recipients", p.recipients),
            ("Retention", p.retention),
            ("Consent", p.consent),
            ("Proof of consent kept", p.proof),
        ]
        out += [f"| {k} | {_md(v)} |" for k, v in props]
        out += ["", "### Categories of personal data (Salesforce fields)", ""]
        if not p.fields:
            out += ["No Salesforce field is sent for this purpose by the current mappings.", ""]
            continue
        for (mapping, source), rows in _per_mapping(p.fields):
            out += [f"#### Mapping {_md(mapping)} ({_md(source)})", ""]
            out += ["| Field | Label | Source columns |", "|---|---|---|"]
            out += [f"| {_md(f.field)} | {_md(f.label)} | {_md(f.columns)} |" for f in rows]
            out.append("")
    out += ["## Read to apply the rules, not transferred", ""]
    if reg.read_not_sent:
        out += ["| Mapping | Column | Why it is read |", "|---|---|---|"]
        out += [f"| {_md(m)} | {_md(c)} | {_md(w)} |" for m, c, w in reg.read_not_sent]
    else:
        out.append("Nothing.")
    out += ["", "## Never transferred", ""]
    out += [f"- {_md(s)}" for s in reg.special_categories]
    out += ["", _md(reg.forbidden_rule), ""]
    out += _refused_lines(reg, bullet="- ")
    out += ["", "## Processor and transfers", ""]
    out += [f"- {_md(t)}" for t in reg.transfers]
    return "\n".join(out) + "\n"


def _refused_lines(reg: Register, *, bullet: str) -> list[str]:
    if not reg.refused_columns:
        return [
            "None of the columns the mappings read is such a column (the loader refuses them; "
            "columns a source holds but no mapping names are never read)."
        ]
    lines = ["Columns named in the mappings that are refused:"]
    lines += [f"{bullet}{m}: {c} — {r}" for m, c, r in reg.refused_columns]
    return lines


# -- CSV -------------------------------------------------------------------------------------

CSV_HEADER = (
    "purpose",
    "description",
    "lawful_basis",
    "lawful_basis_words",
    "legal_reference",
    "data_subjects",
    "recipients",
    "retention",
    "consent",
    "proof_of_consent",
    "mapping",
    "source",
    "object",
    "field",
    "label",
    "source_columns",
)


def render_csv(reg: Register) -> str:
    """One row per (purpose, mapping, field); a purpose without fields gets one row of its own."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for p in reg.purposes:
        head = [
            p.name,
            p.description,
            p.basis,
            p.basis_words,
            p.legal_reference,
            p.data_subjects,
            p.recipients,
            p.retention,
            p.consent,
            p.proof,
        ]
        if not p.fields:
            writer.writerow([*head, "", "", "", "", "", ""])
        for f in p.fields:
            writer.writerow([*head, f.mapping, f.source, f.object, f.field, f.label, f.columns])
    return buf.getvalue()


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;
max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #999}
h3{font-size:1rem}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}table.props th{width:14rem}.blank{background:#fff8d0}
section{page-break-inside:avoid}
@media print{body{margin:0;max-width:none;font-size:11px}h2{page-break-after:avoid}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(reg: Register) -> str:
    """A standalone, printable page: inline CSS, no scripts, every text escaped."""
    title = f"Record of processing activities — {reg.controller}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        "<h1>Record of processing activities (AVG/GDPR art. 30)</h1>",
        '<table class="props">',
        f"<tr><th>Controller</th><td>{_e(reg.controller)}</td></tr>",
        f"<tr><th>Data protection officer (FG)</th><td>{_e(reg.dpo_contact)}</td></tr>",
        f"<tr><th>Generated on</th><td>{reg.generated_on.isoformat()} by sis-sync from "
        "purposes.yaml and the mappings</td></tr>",
        "</table>",
    ]
    for p in reg.purposes:
        out.append(f'<section id="purpose-{_e(p.name)}"><h2>Purpose: {_e(p.name)}</h2>')
        out.append(f"<p>{_e(p.description)}</p>" if p.description else "")
        out.append('<table class="props">')
        for k, v in (
            ("Lawful basis", p.basis_words),
            ("Legal reference", p.legal_reference or "—"),
            ("Data subjects", p.data_subjects),
            ("Recipients", p.recipients),
            ("Retention", p.retention),
            ("Consent", p.consent),
            ("Proof of consent kept", p.proof),
        ):
            out.append(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>")
        out.append("</table><h3>Categories of personal data (Salesforce fields)</h3>")
        if p.fields:
            for (mapping, source), rows in _per_mapping(p.fields):
                out.append(f"<h4>Mapping {_e(mapping)} ({_e(source)})</h4>")
                out.append("<table><tr><th>Field</th><th>Label</th><th>Source columns</th></tr>")
                out += [
                    f"<tr><td>{_e(f.field)}</td><td>{_e(f.label)}</td><td>{_e(f.columns)}</td></tr>"
                    for f in rows
                ]
                out.append("</table>")
        else:
            out.append(
                "<p>No Salesforce field is sent for this purpose by the current mappings.</p>"
            )
        out.append("</section>")
    out.append("<section><h2>Read to apply the rules, not transferred</h2>")
    if reg.read_not_sent:
        out.append("<table><tr><th>Mapping</th><th>Column</th><th>Why it is read</th></tr>")
        out += [
            f"<tr><td>{_e(m)}</td><td>{_e(c)}</td><td>{_e(w)}</td></tr>"
            for m, c, w in reg.read_not_sent
        ]
        out.append("</table>")
    else:
        out.append("<p>Nothing.</p>")
    out.append("</section><section><h2>Never transferred</h2><ul>")
    out += [f"<li>{_e(s)}</li>" for s in reg.special_categories]
    out.append(f"</ul><p>{_e(reg.forbidden_rule)}</p>")
    refused = _refused_lines(reg, bullet="")
    out.append(f"<p>{_e(refused[0])}</p>")
    if len(refused) > 1:
        out.append("<ul>" + "".join(f"<li>{_e(line)}</li>" for line in refused[1:]) + "</ul>")
    out.append("</section><section><h2>Processor and transfers</h2><ul>")
    for t in reg.transfers:
        css = ' class="blank"' if "______" in t else ""
        out.append(f"<li{css}>{_e(t)}</li>")
    out.append("</ul></section></body></html>")
    return "\n".join(line for line in out if line) + "\n"


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
    "CSV_HEADER",
    "FieldRow",
    "PurposeRow",
    "Register",
    "build_register",
    "consent_words",
    "duration_words",
    "field_label",
    "render_csv",
    "render_html",
    "render_markdown",
    "render_register",
    "retention_words",
]
