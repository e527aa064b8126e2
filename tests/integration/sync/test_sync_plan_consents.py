"""`sis-sync plan` counts the consent model's records as the run that follows writes them
(issue #12: plan's counts = the run's counts), against the emulator's org, which has
Salesforce's consent objects: Individuals and ContactPointTypeConsents, created and updated."""

from __future__ import annotations

from syncfixtures import SyncProject, registration, student

from connector.report import RunReport


def _counts(report: RunReport) -> dict[str, tuple[int, int]]:
    return {
        name: (m.created, m.updated)
        for name, m in report.mappings.items()
        if m.created or m.updated
    }


def _plan_then_run(project: SyncProject) -> tuple[dict, dict]:
    before = project.api_calls()
    plan = project.run(dry_run=True)
    assert project.api_calls() == before  # a plan asks nothing of Salesforce
    run = project.run()
    assert run.exit_code() == 0, run.summary()
    return _counts(plan), _counts(run)


def test_plan_counts_the_consent_records_a_first_run_creates(project: SyncProject) -> None:
    project.write_students([student("610001"), student("610002", toestemming_nieuws="nee")])
    project.write_registrations([registration("R-610001", "bezoeker@voorbeeld.example")])

    planned, ran = _plan_then_run(project)

    assert planned == ran
    assert ran["consent:individual"] == (3, 0)  # two students, one visitor
    assert ran["consent:recruitment_news"] == (3, 0)  # OptIn, OptOut ("nee"), OptOut
    assert ran["consent:phone_contact"] == (2, 0)


def test_plan_counts_a_withdrawal_as_an_update_and_an_unchanged_rerun_as_nothing(
    project: SyncProject,
) -> None:
    project.write_students([student("610003")])
    assert project.run().exit_code() == 0
    project.write_students(
        [student("610003", toestemming_nieuws="nee", toestemming_nieuws_op="2026-11-02T09:30:00Z")]
    )

    planned, ran = _plan_then_run(project)

    assert planned == ran
    assert ran["consent:recruitment_news"] == (0, 1)  # the same record, now OptOut
    assert "consent:individual" not in ran
    again_planned, again_ran = _plan_then_run(project)
    assert again_planned == again_ran == {}


def test_plan_counts_one_individual_for_a_registrant_who_joins_a_students_contact(
    project: SyncProject,
) -> None:
    """A registrant with a student's e-mail joins the student's Contact in the run: one
    Individual for both, and their consents are one record per purpose (issue #12: the plan
    gave the registrant a Contact of its own and counted a second Individual and consent)."""
    project.write_students([student("610011"), student("610012")])
    project.write_registrations(
        [
            # Withdraws the student's September opt-in: the same record, now OptOut.
            registration("R-610011", "s610011@school.example"),
            # An older proof than the student's: the run keeps the newer one (unchanged).
            registration(
                "R-610012",
                "s610012@school.example",
                toestemming_nieuws="ja",
                toestemming_nieuws_op="2026-08-01T10:00:00+02:00",
                toestemming_nieuws_bron="open dag",
            ),
            registration("R-610013", "bezoeker@voorbeeld.example"),
        ]
    )

    planned, ran = _plan_then_run(project)

    assert planned == ran
    assert ran["registrants"] == (1, 2)  # the visitor; the two students' Contacts
    assert ran["consent:individual"] == (3, 0)  # two students, one visitor: not five
    # 610011's open-day "nee" is learnt before the students are planned: the record is
    # created OptOut, not created OptIn and then updated (docs/privacy.md, "The newest word").
    assert ran["consent:recruitment_news"] == (3, 0)
    assert ran["consent:phone_contact"] == (2, 0)


def test_plan_counts_a_registrant_who_joins_a_synced_student_against_the_students_records(
    project: SyncProject,
) -> None:
    """The student's Contact, Individual and consents are in Salesforce from an earlier run:
    the registrant who joins it writes no Individual and updates the student's consent."""
    project.write_students([student("610021")])
    assert project.run().exit_code() == 0
    project.write_registrations([registration("R-610021", "s610021@school.example")])

    planned, ran = _plan_then_run(project)

    assert planned == ran
    assert "consent:individual" not in ran
    assert ran["consent:recruitment_news"] == (0, 1)  # OptIn → OptOut on the same record
