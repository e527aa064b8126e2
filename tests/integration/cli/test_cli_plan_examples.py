"""`plan` that checks a mapping: which example values are shown as sent and which are masked
(connector/plan_examples.py), and the word about a generated external id in `validate`."""

from __future__ import annotations

from pathlib import Path

import yaml
from relfixtures import CliProject

from connector.mapping.loader import load_project
from connector.plan_examples import (
    example_values,
    generated_external_id_notes,
    shown_fields,
)

SHIPPED = Path(__file__).resolve().parents[3] / "connector" / "defaults" / "project" / "mappings"


def _project():
    return load_project(SHIPPED)


def test_events_are_shown_as_they_would_be_sent():
    project = _project()
    shown = shown_fields(project, "events")
    assert set(project.mappings["events"].fields) <= shown  # name, type, dates of the event
    row = {"Name": "Open dag Techniek", "StartDate": "2026-11-14", "IsActive": True, "Id": "x"}
    assert example_values(row, shown) == {
        "IsActive": True,
        "Name": "Open dag Techniek",
        "StartDate": "2026-11-14",
    }


def test_picklists_constants_event_dates_and_event_refs_shown_persons_masked():
    project = _project()
    members = shown_fields(project, "registrations")
    assert "Status" in members and "CampaignId" in members  # map transform; ref to an event
    assert "ContactId" not in members  # a reference to a person
    tasks = shown_fields(project, "registration_tasks")
    assert {"ActivityDate", "Status", "Priority", "WhatId"} <= tasks
    assert "WhoId" not in tasks and "Subject" not in tasks  # a template: masked
    students = shown_fields(project, "students")
    assert "Lifecycle_Status__c" in students and "Consent_News__c" in students  # map tables
    for personal in ("LastName", "FirstName", "Email", "MobilePhone", "Birthdate",
                     "MailingStreet", "MailingPostalCode", "SIS_Student_Number__c"):  # fmt: skip
        assert personal not in students, personal


def test_a_student_example_masks_every_personal_value_and_shows_the_rest():
    project = _project()
    row = {
        "LastName": "van der Vries",
        "Email": "sanne.devries@mail.example",
        "Birthdate": "2004-03-14",
        "SIS_Student_Number__c": "100001",
        "Lifecycle_Status__c": "Ingeschreven",
        "HasOptedOutOfEmail": True,
        "Phone": None,
    }
    got = example_values(row, shown_fields(project, "students"))
    assert got["Lifecycle_Status__c"] == "Ingeschreven"
    assert got["HasOptedOutOfEmail"] is True  # a boolean, whatever the field
    assert got["Phone"] is None
    text = repr(got)
    for value in ("Vries", "sanne", "devries", "2004", "100001"):
        assert value not in text, value
    assert got["LastName"] == "v***" and got["Email"] == "s***@m***"


def test_a_map_followed_by_another_transform_is_masked(tmp_path):
    folder = tmp_path / "mappings"
    folder.mkdir()
    for f in SHIPPED.iterdir():
        folder.joinpath(f.name).write_bytes(f.read_bytes())
    path = folder / "students.yaml"
    doc = yaml.safe_load(path.read_text("utf-8"))
    doc["fields"]["Lifecycle_Status__c"]["transform"].append("upper")
    path.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    assert "Lifecycle_Status__c" not in shown_fields(load_project(folder), "students")


def test_notes_name_every_mapping_whose_external_id_gets_the_keyed_hash():
    notes = generated_external_id_notes(_project())
    named = {n.split(":", 1)[0] for n in notes}
    assert {"registrants", "registrations", "registration_tasks"} <= named
    assert "students" not in named and "events" not in named  # they map their external id


def test_validate_says_in_words_that_designs_example_gets_hashes(project: CliProject, tmp_path):
    folder = tmp_path / "school"
    bare = {k: None for k in project.env}
    assert project.cli("init", str(folder), cwd=tmp_path, **bare).returncode == 0
    students = folder / "mappings" / "students.yaml"
    # DESIGN §5's example: external_id SIS_Student_Number__c, but no field maps it
    doc = yaml.safe_load(students.read_text("utf-8"))
    del doc["fields"]["SIS_Student_Number__c"]
    students.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    done = project.cli("validate", cwd=folder, **bare)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("note: students:")]
    assert len(lines) == 1, done.stdout
    assert "SIS_Student_Number__c will hold the keyed hash of the key" in lines[0]
    assert "{from: studentnummer" in lines[0]
    # The shipped student_number_format now exempts nothing: a warning, not exit 2.
    assert "warning: students: student_number_format:" in done.stdout


def test_plan_says_it_too(project: CliProject, tmp_path):
    folder = tmp_path / "school"
    assert project.cli("init", str(folder), "--sample-data", cwd=tmp_path).returncode == 0
    students = folder / "mappings" / "students.yaml"
    doc = yaml.safe_load(students.read_text("utf-8"))
    del doc["fields"]["SIS_Student_Number__c"]
    students.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    done = project.cli("plan", "students", cwd=folder)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    notes = [ln for ln in done.stdout.splitlines() if ln.startswith("note: students:")]
    assert len(notes) == 1 and "keyed hash of the key" in notes[0], done.stdout
