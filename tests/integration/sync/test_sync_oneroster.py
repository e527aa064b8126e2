"""The shipped OneRoster mappings on the real sample exports in ../shared/samples/oneroster."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "oneroster"


def point_at(project, sample: str) -> None:
    """Make the project's OneRoster mappings read a sample folder in place (never copied)."""
    for name in ("oneroster_users.yaml", "oneroster_enrollments.yaml"):
        path = project.folder / "mappings" / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("path: data/oneroster", f"path: {SAMPLES / sample}"))


@pytest.mark.parametrize(
    ("sample", "students", "tasks", "rejected"),
    [
        ("Test_full_data_set", 3, None, 0),
        ("Test_minimal_data_set", None, None, 0),
        ("v1p2_full_dataset", None, None, None),
        ("oneroster_test_data", None, None, None),
    ],
)
def test_real_oneroster_sets_sync(project, sample, students, tasks, rejected):
    assert (SAMPLES / sample).is_dir(), f"sample set missing: {SAMPLES / sample}"
    point_at(project, sample)
    report = project.run("oneroster")
    users = report.mappings["oneroster_users"]
    enrol = report.mappings["oneroster_enrollments"]
    assert not users.error, users.error
    assert users.failed == enrol.failed == 0, report.summary()
    if students is not None:
        assert users.created == students
    assert users.created >= 1
    if rejected is not None:
        assert users.rejected == rejected
    # Every reject names a file, a line and a reason, and carries no value.
    for r in users.rejects + enrol.rejects:
        assert r["file"] and r["line"] >= 1 and r["reason"]
    contacts = project.query("SELECT Id, SIS_Student_Number__c FROM Contact")
    assert len(contacts) == users.created
    # queryAll: the sample's enrolments are years old, and Salesforce archives closed Tasks
    # older than a year (plain query skips them; see docs/emulator.md).
    client = project.emulator.client()
    tasks_in_org = client.query_all("SELECT Id, WhoId FROM Task", include_deleted=True)["records"]
    assert len(tasks_in_org) == enrol.created
    ids = {c["Id"] for c in contacts}
    assert all(t["WhoId"] in ids for t in tasks_in_org)
    again = project.run("oneroster")
    assert again.totals()["created"] + again.totals()["updated"] == 0
