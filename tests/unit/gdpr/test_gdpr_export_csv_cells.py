"""Export rendering (art. 20): formula-safe CSV cells (OWASP CSV Injection), one row per field,
each Salesforce record once, JSON keys kept."""

from __future__ import annotations

import csv
import io

import pytest

from connector.gdpr.export_formats import BOM, render_csv, safe_cell, to_json
from connector.gdpr.export_model import PersonExport, RecordExport, Section


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_starting_like_a_formula_gets_a_quote(start: str) -> None:
    assert safe_cell(f"{start}1+1") == f"'{start}1+1"


def test_plain_values_stay_and_booleans_and_nulls_read_as_words() -> None:
    assert safe_cell("Ermengarde") == "Ermengarde"
    assert safe_cell("a=b") == "a=b"
    assert safe_cell(True) == "true"
    assert safe_cell(None) == ""
    assert safe_cell(3) == "3"


def _export() -> PersonExport:
    contact = {"Id": "003A", "LastName": "=cmd|' /C calc'!A0", "Description": "twee\nregels"}
    labels = {"Id": "Contact ID", "LastName": "@Last Name", "Description": "Description"}
    return PersonExport(
        generated_at="2026-11-20T09:00:00+00:00",
        controller="ROC Voorbeeld",
        dpo_contact=None,
        explanation={
            "local_state.person": "p",
            "local_state.records": "r",
            "local_state.suppressed": "s",
        },
        salesforce=[
            RecordExport(
                Section.SALESFORCE,
                "Contact",
                "003A",
                contact,
                labels,
                "students",
                {"LastName": ["enrolment"]},
            ),
            RecordExport(
                Section.SALESFORCE,
                "Contact",
                "003A",
                contact,
                labels,
                "registrants",
                {"LastName": ["event_registration"]},
            ),
        ],
        campaign_memberships=[],
        activities=[],
        consent_records=[],
        consents=[],
        local_state={"person": None, "records": [], "suppressed": False},
        purposes={},
    )


def test_csv_has_each_record_once_with_the_purposes_of_every_mapping_and_no_formula() -> None:
    text = render_csv(_export())

    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    contact = [r for r in rows if r[2] == "003A"]
    assert [r[4] for r in contact] == ["Id", "LastName", "Description"]
    last = contact[1]
    assert last[3] == "'@Last Name" and last[5].startswith("'=cmd")
    assert last[6] == "enrolment, event_registration"
    assert contact[2][5] == "twee\nregels"
    assert not [c for r in rows for c in r if c.startswith(("=", "+", "-", "@", "\t", "\r"))]


def test_json_keeps_the_documented_keys_per_mapping() -> None:
    data = to_json(_export())

    assert {"salesforce", "campaign_memberships", "activities", "local_state", "explanation",
            "purposes", "controller", "dpo_contact", "generated_at"} <= set(data)  # fmt: skip
    assert [r["mapping"] for r in data["salesforce"]] == ["students", "registrants"]  # type: ignore[index]
