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


def test_plan_counts_what_the_run_then_does(project):
    # A registrant who shares a planned student's e-mail is that student's Contact: the plan
    # counts an update for it, as the run does, not a second create.
    students = [student(f"10007{i}") for i in range(3)]
    project.write_students(students)
    project.write_registrations(
        [registration("REG-1", students[0]["email"]), registration("REG-2", "gast@mail.example")]
    )
    planned = project.run(dry_run=True)
    done = project.run()
    for name in ("students", "events", "registrants", "registrations", "registration_tasks"):
        p, r = planned.mappings[name], done.mappings[name]
        assert (p.created, p.updated) == (r.created, r.updated), name
    assert (done.mappings["registrants"].created, done.mappings["registrants"].updated) == (1, 1)
