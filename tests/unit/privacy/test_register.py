"""The art. 30 register rendered from a project folder of YAML (through the real loader)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest

from connector.errors import UsageError
from connector.mapping import load_project
from connector.privacy.purposes import Duration
from connector.privacy.register import (
    build_register,
    duration_words,
    field_label,
    render_register,
)
from connector.privacy.register_formats import CSV_HEADER

DAY = date(2025, 3, 1)

PURPOSES = """\
controller: ROC Test & Co
dpo_contact: fg@roc-test.example
purposes:
  enrolment:
    description: Aanmelding en inschrijving <script>alert('x')</script>
    lawful_basis: legal_obligation
    legal_reference: WEB
    retention: {after: lifecycle_end, keep: P1M}
    data_subjects: [aanmelders, studenten]
    recipients: [Salesforce (verwerker), studentenbalie]
  visit:
    description: Open dagen
    lawful_basis: contract
    retention: {after: event_date, keep: P3M}
  news:
    description: Nieuwsbrief
    lawful_basis: consent
    consent: {field: nieuws, at: nieuws_op, source: nieuws_bron}
    retention: {after: consent_withdrawn, keep: P1M}
  phone:
    lawful_basis: consent
    consent: {field: bellen, at: bellen_op, by: bellen_door}
    min_age: 16
    retention: {after: consent_withdrawn, keep: P1M}
  planning:
    lawful_basis: public_task
  interest:
    lawful_basis: legitimate_interest
    retention: {after: last_seen, keep: P1Y6M}
"""

STUDENTS = """\
name: students
source: {kind: csv, path: data/studenten.csv, delimiter: ";", key: studentnummer}
target: {object: Contact, external_id: SIS_Student_Number__c}
lifecycle:
  from: status
  applied: [aangemeld]
  enrolled: [ingeschreven]
  ended: [uitgeschreven]
subject_birthdate: {from: geboortedatum, transform: ["date:%d-%m-%Y"]}
fields:
  SIS_Student_Number__c: {from: studentnummer, purposes: [enrolment]}
  LastName: {template: "{tussenvoegsel} {achternaam}", required: true, purposes: [enrolment]}
  FirstName: {from: roepnaam, purposes: [enrolment]}
  Email: {from: email, transform: [strip, lower, email], purposes: [enrolment, news]}
  MobilePhone: {from: mobiel, transform: [phone_e164], purposes: [phone]}
  Birthdate: {from: geboortedatum, transform: ["date:%d-%m-%Y"], purposes: [enrolment]}
  Study_Programme__c: {from: opleiding, purposes: [enrolment]}
"""

EVENTS = """\
name: events
source: {kind: csv, path: data/events.csv, key: evenement_id}
target: {object: Campaign, external_id: Event_Id__c}
fields:
  Event_Id__c: {from: evenement_id, purposes: [visit]}
  Name: {from: evenement_naam, purposes: [visit]}
  IsActive: {value: true, purposes: [visit]}
"""


@pytest.fixture
def project(tmp_path: Path):
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(PURPOSES, encoding="utf-8")
    (folder / "students.yaml").write_text(STUDENTS, encoding="utf-8")
    (folder / "events.yaml").write_text(EVENTS, encoding="utf-8")
    return load_project(folder)


BASIS_WORDS = [
    "Legal obligation (AVG art. 6(1)(c))",
    "Contract (AVG art. 6(1)(b))",
    "Consent (AVG art. 6(1)(a), art. 7)",
    "Public task (AVG art. 6(1)(e))",
    "Legitimate interest (AVG art. 6(1)(f))",
]
RETENTION_WORDS = [
    "1 month after the end of the enrolment",
    "3 months after the event date",
    "until consent is withdrawn",
    "1 year and 6 months after the source system last held the record",
    "missing: add retention: {after, keep} (purposes.planning.retention; AVG art. 5(1)(e)) "
    "to purposes.yaml",
]
FIELDS = ["SIS_Student_Number__c", "LastName", "FirstName", "Email", "MobilePhone", "Birthdate"]
LABELS = ["Last name", "First name", "Mobile phone", "Date of birth", "Study Programme"]


@pytest.mark.parametrize("fmt", ["md", "csv", "html"])
def test_every_format_holds_purposes_bases_retention_and_fields(project, fmt):
    text = render_register(project, fmt, generated_on=DAY)
    if fmt == "html":
        import html

        text = html.unescape(text)
    for purpose in ("enrolment", "visit", "news", "phone", "planning", "interest"):
        assert purpose in text
    for words in BASIS_WORDS + RETENTION_WORDS + FIELDS + LABELS:
        assert words in text, words
    assert "Consent required; under 16 a parent or guardian must give it (UAVG art. 5)" in text
    assert "timestamp from column nieuws_op" in text
    assert "form or channel from column nieuws_bron" in text
    assert "who gave it (self or parent) from column bellen_door" in text


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_document_parts(project, fmt):
    text = render_register(project, fmt, generated_on=DAY)
    for part in (
        "Record of processing activities",
        "fg@roc-test.example",
        "2025-03-01",
        "Never transferred",
        "UAVG art. 46",
        "AVG art. 9",
        "11-check",
        "Processor and transfers",
        "missing: add transfers: [{recipient, country, mechanism}] to purposes.yaml",
        "Read to apply the rules, not transferred",
        "geboortedatum",  # read for the age rule only... and also sent as Birthdate
        "status",  # lifecycle column, read but not sent
    ):
        assert part in text, part


def test_fields_are_grouped_per_mapping_with_their_source_columns(project):
    md = render_register(project, "md", generated_on=DAY)
    enrolment = md.split("## Purpose: enrolment")[1].split("## Purpose:")[0]
    assert "#### Mapping students (csv data/studenten.csv → Contact)" in enrolment
    assert "| LastName | Last name | tussenvoegsel, achternaam |" in enrolment
    assert "| Email | E-mail address | email |" in enrolment
    assert "MobilePhone" not in enrolment  # justified by `phone` only
    visit = md.split("## Purpose: visit")[1]
    assert "| IsActive | Active | (fixed value) |" in visit


def test_read_but_not_sent_lists_rule_columns_only(project):
    reg = build_register(project, generated_on=DAY)
    read = {(m, c) for m, c, _why in reg.read_not_sent}
    assert ("students", "status") in read
    assert ("students", "bellen_door") in read  # consent proof for `phone`, used by students
    assert ("students", "roepnaam") not in read  # sent as FirstName
    assert not any(m == "events" and c.startswith("bellen") for m, c in read)


def test_html_is_standalone_and_escaped(project):
    page = render_register(project, "html", generated_on=DAY)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "ROC Test &amp; Co" in page
    assert "<style>" in page and "@media print" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # no external assets
    assert "<link" not in page


def test_markdown_escapes_pipes_and_keeps_one_line_cells(project, tmp_path):
    folder = tmp_path / "m2"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(
        PURPOSES.replace("Open dagen", "Open | dagen\\n meeloop"), encoding="utf-8"
    )
    (folder / "events.yaml").write_text(EVENTS, encoding="utf-8")
    md = render_register(load_project(folder), "md", generated_on=DAY)
    assert "Open \\| dagen" in md


def test_csv_parses_with_the_expected_header(project):
    rows = list(csv.reader(io.StringIO(render_register(project, "csv", generated_on=DAY))))
    assert tuple(rows[0]) == CSV_HEADER
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    keyed = {(r["purpose"], r["mapping"], r["field"]): r for r in records}
    assert keyed[("enrolment", "students", "LastName")]["source_columns"] == (
        "tussenvoegsel, achternaam"
    )
    assert keyed[("news", "students", "Email")]["lawful_basis_words"] == BASIS_WORDS[2]
    assert keyed[("phone", "students", "MobilePhone")]["label"] == "Mobile phone"
    assert keyed[("visit", "events", "Name")]["retention"] == "3 months after the event date"
    # a purpose no mapping uses still has its row
    assert keyed[("planning", "", "")]["lawful_basis"] == "public_task"
    # one row per (purpose, mapping, field)
    assert len(keyed) == len(records)
    email_rows = [r for r in records if r["field"] == "Email"]
    assert {r["purpose"] for r in email_rows} == {"enrolment", "news"}


@pytest.mark.parametrize("fmt", ["md", "csv", "html"])
def test_output_is_deterministic(project, tmp_path, fmt):
    first = render_register(project, fmt, generated_on=DAY)
    # The same files written in another order load into the same register.
    folder = tmp_path / "again"
    folder.mkdir()
    (folder / "events.yaml").write_text(EVENTS, encoding="utf-8")
    (folder / "students.yaml").write_text(STUDENTS, encoding="utf-8")
    (folder / "purposes.yaml").write_text(PURPOSES, encoding="utf-8")
    assert render_register(load_project(folder), fmt, generated_on=DAY) == first
    assert render_register(project, fmt, generated_on=DAY) == first
    if fmt != "csv":  # the CSV is a table of rows; the date is on the documents
        assert render_register(project, fmt, generated_on=date(2025, 3, 2)) != first


def test_purposes_and_fields_are_sorted(project):
    reg = build_register(project, generated_on=DAY)
    names = [p.name for p in reg.purposes]
    assert names == sorted(names)
    for p in reg.purposes:
        keys = [(f.mapping, f.field) for f in p.fields]
        assert keys == sorted(keys)


def test_unknown_format_is_a_usage_error(project):
    with pytest.raises(UsageError):
        render_register(project, "pdf", generated_on=DAY)  # type: ignore[arg-type]


def test_default_date_is_today(project):
    assert re.search(r"\d{4}-\d{2}-\d{2}", render_register(project, "md"))


def test_art30_1_a_missing_dpo_is_called_out(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(
        PURPOSES.replace("dpo_contact: fg@roc-test.example\n", ""), encoding="utf-8"
    )
    (folder / "events.yaml").write_text(EVENTS, encoding="utf-8")
    assert "missing: add dpo: {name, contact} to purposes.yaml" in render_register(
        load_project(folder), "md", generated_on=DAY
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("P1M", "1 month"),
        ("P3M", "3 months"),
        ("P1Y", "1 year"),
        ("P2Y", "2 years"),
        ("P1Y6M", "1 year and 6 months"),
        ("P30D", "30 days"),
        ("P1D", "1 day"),
        ("P2W", "2 weeks"),
        ("P1W", "1 week"),
    ],
)
def test_duration_words(text, words):
    assert duration_words(Duration.parse(text)) == words


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("FirstName", "First name"),
        ("MobilePhone", "Mobile phone"),
        ("Birthdate", "Date of birth"),
        ("SIS_Student_Number__c", "SIS Student Number"),
        ("Consent_News_At__c", "Consent News At"),
        ("hed__Program__c", "Program"),
        ("OtherStreet", "Other Street"),
    ],
)
def test_field_labels(name, label):
    assert field_label(name) == label


def test_shipped_mappings_render(tmp_path):
    shipped = Path(__file__).resolve().parents[3] / "mappings"
    project = load_project(shipped)
    md = render_register(project, "md", generated_on=DAY)
    for name in project.purposes.purposes:
        assert f"## Purpose: {name}" in md
    assert "ROC Voorbeeld" in md


# -- art. 30(1) (a)-(g): every item present, or marked missing ---------------------------------

COMPLETE = """\
controller: {name: ROC Test & Co, contact: "privacy@roc-test.example, Stationsplein 1, Utrecht"}
dpo: {name: FG Janssen, contact: fg@roc-test.example}
transfers:
  - {recipient: Salesforce, country: US, mechanism: "EU-US Data Privacy Framework; SCCs in the DPA"}
security_measures: [TLS 1.2+ to Salesforce, keyed hashes in local state, access by role]
purposes:
  enrolment:
    description: Aanmelding en inschrijving
    lawful_basis: legal_obligation
    retention: {after: lifecycle_end, keep: P1M}
    data_subjects: [aanmelders, studenten]
    recipients: [Salesforce (verwerker), studentenbalie]
  news:
    description: Nieuwsbrief
    lawful_basis: consent
    consent: {field: nieuws, at: nieuws_op, source: nieuws_bron}
    retention: {after: consent_withdrawn, keep: P1M}
    data_subjects: [aankomende studenten]
    recipients: [Salesforce (verwerker)]
  planning:
    description: Planning van evenementen
    lawful_basis: public_task
    retention: {after: event_date, keep: P2Y}
    data_subjects: []
    recipients: [afdeling voorlichting]
"""
BARE = """\
controller: ROC Kaal
purposes:
  enrolment: {lawful_basis: legal_obligation}
"""


def _render(tmp_path: Path, purposes: str, fmt: str) -> str:
    folder = tmp_path / f"art30-{fmt}-{abs(hash(purposes))}"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(purposes, encoding="utf-8")
    text = render_register(load_project(folder), fmt, generated_on=DAY)
    if fmt == "html":
        import html

        text = html.unescape(text)
    return text


@pytest.mark.parametrize("fmt", ["md", "csv", "html"])
def test_art30_1_no_item_is_blank_once_purposes_yaml_states_them(tmp_path, fmt):
    text = _render(tmp_path, COMPLETE, fmt)
    assert "missing:" not in text
    for part in (
        "privacy@roc-test.example, Stationsplein 1, Utrecht",  # (a) controller contact
        "FG Janssen",  # (a) DPO
        "fg@roc-test.example",
        "Aanmelding en inschrijving",  # (b)
        "aanmelders, studenten",  # (c)
        "none (declared empty in purposes.yaml)",  # (c) stated as none
        "Salesforce (verwerker), studentenbalie",  # (d)
        "EU-US Data Privacy Framework; SCCs in the DPA",  # (e)
        "US",
        "1 month after the end of the enrolment",  # (f)
        "keyed hashes in local state",  # (g)
        "TLS 1.2+ to Salesforce",
    ):
        assert part in text, part
    if fmt != "csv":
        for letter in "abcdefg":
            assert f"({letter})" in text, letter


ART30_MISSING = [
    ("a", "missing: add controller: {name, contact} (the contact) to purposes.yaml"),
    ("a", "missing: add dpo: {name, contact} to purposes.yaml"),
    ("b", "missing: add a description (purposes.enrolment.description) to purposes.yaml"),
    ("c", "missing: add data_subjects (purposes.enrolment.data_subjects) to purposes.yaml"),
    ("d", "missing: add recipients (purposes.enrolment.recipients) to purposes.yaml"),
    ("e", "missing: add transfers: [{recipient, country, mechanism}] to purposes.yaml"),
    ("f", "missing: add retention: {after, keep} (purposes.enrolment.retention;"),
    ("g", "missing: add security_measures: [...] to purposes.yaml"),
]


@pytest.mark.parametrize("fmt", ["md", "csv", "html"])
@pytest.mark.parametrize(("letter", "words"), ART30_MISSING)
def test_art30_1_an_item_purposes_yaml_omits_is_marked_missing(tmp_path, fmt, letter, words):
    text = _render(tmp_path, BARE, fmt)
    assert words in text
    assert "ROC Kaal" in text  # controller: NAME (a string) keeps working


def test_art30_1_the_overview_marks_each_missing_letter(tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(BARE, encoding="utf-8")
    reg = build_register(load_project(folder), generated_on=DAY)
    assert [i.letter for i in reg.art30] == list("aabcdefg")
    assert all(i.missing for i in reg.art30)
    (folder / "purposes.yaml").write_text(COMPLETE, encoding="utf-8")
    reg = build_register(load_project(folder), generated_on=DAY)
    assert not [i for i in reg.art30 if i.missing]
    page = render_register(load_project(folder), "html", generated_on=DAY)
    assert 'class="missing"' not in page


def test_art30_1_e_no_transfer_declared_as_none(tmp_path):
    text = _render(tmp_path, BARE.replace("purposes:", "transfers: []\npurposes:"), "md")
    assert "none: no recipient outside the EEA (declared in purposes.yaml)" in text


def test_art30_1_a_the_older_dpo_contact_still_shows(tmp_path):
    text = _render(
        tmp_path, BARE.replace("purposes:", "dpo_contact: fg@kaal.example\npurposes:"), "md"
    )
    assert "fg@kaal.example" in text
    assert "missing: add dpo:" not in text


def test_art30_1_html_highlights_what_is_missing(tmp_path):
    folder = tmp_path / "hl"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(BARE, encoding="utf-8")
    page = render_register(load_project(folder), "html", generated_on=DAY)
    assert '<td class="missing">missing: add dpo:' in page
    assert '<p class="missing">missing: add transfers:' in page


def test_art30_1_the_shipped_purposes_leave_no_item_missing():
    shipped = Path(__file__).resolve().parents[3] / "mappings"
    for fmt in ("md", "csv", "html"):
        text = render_register(load_project(shipped), fmt, generated_on=DAY)
        assert "missing:" not in text, fmt


def test_art30_1_g_security_measures_are_listed_in_their_own_section(tmp_path):
    md = _render(tmp_path, COMPLETE, "md").split("## Security measures")[1]
    assert "- TLS 1.2+ to Salesforce\n- keyed hashes in local state\n- access by role\n" in md
    page = _render(tmp_path, COMPLETE, "html").split("<h2>Security measures")[1]
    assert "<li>keyed hashes in local state</li>" in page


@pytest.mark.parametrize(
    ("model", "present", "absent"),
    [
        ("project", {"Contact", "CampaignMember", "Task", "Individual"}, {"LearnerProgram"}),
        (
            "education-cloud",
            {"Account", "LearnerProgram", "IndividualApplication", "ContactProfile"},
            {"hed__Affiliation__c", "hed__Program_Enrollment__c"},
        ),
        (
            "eda",
            # Account: EDA's Administrative Account, deleted with the person.
            {"Contact", "Account", "hed__Affiliation__c", "hed__Program_Enrollment__c"},
            {"LearnerProgram", "IndividualApplication", "ContactProfile"},
        ),
    ],
)
def test_art30_the_register_names_the_objects_erasure_and_the_purge_reach(
    model: str, present: set[str], absent: set[str]
) -> None:
    folder = Path(__file__).resolve().parents[3] / "connector" / "defaults" / model / "mappings"
    project = load_project(folder)
    md = render_register(project, "md", generated_on=DAY)
    section = md.split("## Where a person's data is held")[1].split("\n## ")[0]
    listed = {line[2:].replace("\\", "") for line in section.splitlines() if line.startswith("- ")}
    assert present <= listed
    assert not absent & listed
    assert "Campaign" not in listed  # an event is nobody's personal data
    html = render_register(project, "html", generated_on=DAY)
    assert all(f"<li>{o}</li>" in html for o in present)
    rows = list(csv.DictReader(io.StringIO(render_register(project, "csv", generated_on=DAY))))
    assert all(o in rows[0]["objects_erasure_and_purge_reach"] for o in present)


def test_validate_warns_when_the_register_would_leave_transfers_blank(project):
    from connector.mapping.checks import register_warnings

    # This file declares no `transfers:`: the register marks art. 30(1)(e) missing.
    [warning] = register_warnings(project.purposes)
    assert "transfers:" in warning and "30(1)(e)" in warning
    # Declared (here: none outside the EEA), nothing to warn about; the shipped file declares it.
    declared = project.purposes.model_copy(update={"transfers": []})
    assert register_warnings(declared) == []
    shipped = load_project(Path(__file__).resolve().parents[3] / "mappings")
    assert register_warnings(shipped.purposes) == []


def test_markdown_and_csv_carry_no_html_and_no_formula(project, tmp_path):
    # Found attacking issue 8: `register --format md` copied the controller's <img onerror> and
    # the purposes' HTML as is, and `--format csv` began a cell with =HYPERLINK(…).
    folder = tmp_path / "m3"
    folder.mkdir()
    text = PURPOSES.replace("Open dagen", '=HYPERLINK("http://evil.example","x")')
    (folder / "purposes.yaml").write_text(text, encoding="utf-8")
    (folder / "events.yaml").write_text(EVENTS, encoding="utf-8")
    loaded = load_project(folder)
    md = render_register(loaded, "md", generated_on=DAY)
    assert "<script>" not in md and "&lt;script&gt;" in md
    rows = list(csv.reader(io.StringIO(render_register(loaded, "csv", generated_on=DAY))))
    cells = [c for r in rows for c in r]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    assert any(c.startswith("'=HYPERLINK(") for c in cells)


def test_a_person_mappings_consent_proof_is_listed_as_transferred_to_the_consent_record():
    """The shipped students mapping's phone consent and its proof reach Salesforce on the
    consent record (status, capture date and source, given by): a privacy officer's review
    found the register listing them as "read, not transferred"."""
    from connector.commands.mapping import DEFAULTS

    reg = build_register(load_project(DEFAULTS / "mappings"), generated_on=DAY)
    phone = next(p for p in reg.purposes if p.name == "phone_contact")
    consent = {
        (f.mapping, f.field, f.columns)
        for f in phone.fields
        if f.object == "ContactPointTypeConsent"
    }
    assert consent == {
        ("students", "PrivacyConsentStatus", "toestemming_bellen"),
        ("students", "CaptureDate", "toestemming_bellen_op"),
        ("students", "CaptureSource", "toestemming_bellen_bron"),
        ("students", "Consent_Given_By__c", "toestemming_bellen_door"),
    }
    read = {(m, c) for m, c, _why in reg.read_not_sent}
    assert not {c for m, c in read if m == "students" and c.startswith("toestemming_")}
    assert ("students", "status_datum") in read  # still read to apply the rules only
