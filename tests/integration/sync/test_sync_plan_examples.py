"""`plan` (a dry run) shows non-personal values as they would be sent, personal ones masked."""

from __future__ import annotations

from syncfixtures import registration, student


def test_a_dry_run_shows_event_values_and_masks_a_students(project):
    project.write_students([student("100061", achternaam="Jansen")])
    project.write_registrations([registration("REG-1", "gast@mail.example")])
    report = project.run(dry_run=True)
    [event] = report.mappings["events"].examples
    assert event["fields"]["Name"] == "Open dag Utrecht 14 november"  # as it would be sent
    [member] = report.mappings["registrations"].examples
    assert member["fields"]["Status"] == "Attended"
    [pupil] = report.mappings["students"].examples
    assert pupil["fields"]["LastName"] != "Jansen" and "Jansen" not in str(report.to_json())
