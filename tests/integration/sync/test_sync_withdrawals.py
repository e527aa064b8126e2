"""A withdrawal in one export reaches a consent another export gave (GDPR art. 7(3)).

The privacy officer's P1 finding: a student's row says "ja" to news with its proof; the same
person's open-day registration says "nee". The consent record turned OptOut and the Contact's
``HasOptedOutOfEmail`` true, but ``Consent_News__c`` — owned by the students mapping — stayed
true with its date and source, for good. Now the newest statement stands on the Contact too,
in the run that learns it (the job learns what its later mappings withdraw before it plans:
``sync/withdrawal_learning.py``), and ``sis-sync plan`` counts what the run then does; against
the emulator with the real client.
"""

from __future__ import annotations

from syncfixtures import SyncProject, registration, student

from connector.sync.job import run_job

CONTACT = (
    "SELECT Id, HasOptedOutOfEmail, Consent_News__c, Consent_News_At__c, Consent_News_Source__c"
    " FROM Contact"
)
NEWS_CONSENT = (
    "SELECT PrivacyConsentStatus, CaptureDate FROM ContactPointTypeConsent"
    " WHERE ContactPointType = 'Email'"
)


def _writes(report) -> int:
    return sum(m.created + m.updated for m in report.mappings.values())


def _one_contact(project: SyncProject) -> dict:
    [contact] = project.query(CONTACT)
    return contact


def test_a_no_at_the_open_day_clears_the_students_yes_in_the_same_run(project: SyncProject):
    project.write_students([student("500001")])  # "ja", 1 Sep 2026, source "intake"
    # Undated "nee" (the fixture's default): it counts from the run that first sees it.
    project.write_registrations([registration("R-500001", "s500001@school.example")])
    report = project.run()
    assert report.exit_code() == 0, report.summary()
    contact = _one_contact(project)
    assert contact["HasOptedOutOfEmail"] is True
    assert contact["Consent_News__c"] in (None, False)
    assert contact["Consent_News_At__c"] is None and contact["Consent_News_Source__c"] is None
    [consent] = project.query(NEWS_CONSENT)
    assert consent["PrivacyConsentStatus"] == "OptOut"
    # The report says why (the three consent fields), not the row's own "ja".
    assert report.mappings["students"].withheld["consent_withdrawn"] == 3
    # The student's Contact is created without the consent, not created and then cleared.
    assert (report.mappings["students"].created, report.mappings["students"].updated) == (1, 0)
    again = project.run()
    assert again.exit_code() == 0 and _writes(again) == 0, again.summary()


def test_a_no_learnt_in_a_later_run_reaches_the_contact_in_that_run(project: SyncProject):
    project.write_students([student("500002")])
    project.write_registrations([])
    project.run()
    assert _one_contact(project)["Consent_News__c"] is True
    project.write_registrations([registration("R-500002", "s500002@school.example")])
    planned = project.run(dry_run=True)
    assert planned.mappings["students"].updated == 1  # the plan counts what the run does
    report = project.run()
    assert report.mappings["students"].updated == 1
    assert report.exit_code() == 0, report.summary()
    contact = _one_contact(project)
    assert contact["HasOptedOutOfEmail"] is True and contact["Consent_News__c"] in (None, False)
    assert _writes(project.run()) == 0


def test_a_yes_given_after_the_dated_no_stands(project: SyncProject):
    project.write_students([student("500003", toestemming_nieuws_op="2026-11-10T10:00:00+01:00")])
    project.write_registrations(
        [
            registration(
                "R-500003", "s500003@school.example",
                toestemming_nieuws_op="2026-10-01T12:00:00+02:00",
                toestemming_nieuws_bron="open dag",
            )
        ]
    )  # fmt: skip
    report = project.run()
    assert report.exit_code() == 0, report.summary()
    assert _one_contact(project)["Consent_News__c"] is True
    [consent] = project.query(NEWS_CONSENT)
    assert consent["PrivacyConsentStatus"] == "OptIn"  # the consent record agrees


def test_a_sibling_sharing_the_address_keeps_their_own_yes(project: SyncProject):
    """Two students, one family address; an open-day "nee" under that address is nobody's
    for sure: it reaches neither student's consent."""
    shared = "familie@school.example"
    project.write_students(
        [student("500004", email=shared), student("500005", email=shared, roepnaam="Bram")]
    )
    project.write_registrations([registration("R-500004", shared)])
    report = project.run()
    assert report.mappings["registrants"].review == 1  # held for staff: whose address is it?
    assert [c["Consent_News__c"] for c in project.query(CONTACT)] == [True, True]


def _run_at(project: SyncProject, now: str):
    report = run_job(project.settings(SIS_SYNC_NOW=now), job="nightly")
    assert report.exit_code() == 0, report.summary()
    return report


def test_an_undated_no_keeps_its_first_moment_on_the_consent_record(project: SyncProject):
    """An outsider's D1: the open-day "nee" without a date was first read on 9 December; the
    student's new "ja" of 10 December is newer and must stand on the Contact *and* the consent
    record — the undated "nee" must not be re-dated to a later run's clock and win."""
    project.write_students([student("500006")])
    _run_at(project, "2026-12-08T01:00:00+00:00")
    project.write_registrations([registration("R-500006", "s500006@school.example")])
    _run_at(project, "2026-12-09T00:00:00+00:00")
    [consent] = project.query(NEWS_CONSENT)
    assert consent["PrivacyConsentStatus"] == "OptOut"
    assert consent["CaptureDate"].startswith("2026-12-09T00:00:00")
    project.write_students(
        [
            student(
                "500006", toestemming_nieuws_op="2026-12-10T10:00:00+01:00",
                toestemming_nieuws_bron="balie",
            )
        ]
    )  # fmt: skip
    _run_at(project, "2026-12-11T00:00:00+00:00")
    assert _one_contact(project)["Consent_News__c"] is True
    [consent] = project.query(NEWS_CONSENT)
    assert consent["PrivacyConsentStatus"] == "OptIn", consent
    assert consent["CaptureDate"].startswith("2026-12-10T09:00:00")
    assert _writes(_run_at(project, "2026-12-12T00:00:00+00:00")) == 0


def test_a_dated_no_keeps_its_own_source_on_the_consent_record(project: SyncProject):
    """An outsider's D2: the open day's dated "nee" names its form; the consent record must
    credit it, not the student export whose older "ja" it turned (art. 7(1))."""
    project.write_students([student("500007")])
    project.write_registrations(
        [
            registration(
                "R-500007", "s500007@school.example",
                toestemming_nieuws_op="2026-11-01T10:00:00+01:00",
                toestemming_nieuws_bron="opendag-formulier",
            )
        ]
    )  # fmt: skip
    report = project.run()
    assert report.exit_code() == 0, report.summary()
    [consent] = project.query(NEWS_CONSENT)
    assert consent["PrivacyConsentStatus"] == "OptOut"
    assert consent["CaptureDate"].startswith("2026-11-01T09:00:00")
    [source] = project.query(
        "SELECT CaptureSource FROM ContactPointTypeConsent WHERE ContactPointType = 'Email'"
    )
    assert source["CaptureSource"] == "opendag-formulier"
    assert _writes(project.run()) == 0


def test_a_visitors_earlier_row_does_not_send_the_student_to_be_mapped_every_night(
    project: SyncProject, monkeypatch
):
    """A visitor's older registration said "nee", the newer one nothing: the record's last row
    counts. Recorded batch by batch (one row a batch here), the earlier row's "nee" and the
    later row's silence replaced each other in state every run, and each change sent the
    student's row to be mapped again, every night."""
    from connector.sync import engine

    monkeypatch.setattr(engine, "BATCH", 1)
    project.write_students([student("500008")])
    email = "s500008@school.example"
    project.write_registrations(
        [
            registration("R-500081", email, aangemeld_op="2026-10-01T12:00:00+02:00"),
            registration(
                "R-500082", email, aangemeld_op="2026-10-20T12:00:00+02:00",
                toestemming_nieuws="", evenement_id="OD-2026-11-21-UTR",
            ),
        ]
    )  # fmt: skip
    project.run()
    project.run()
    third = project.run()
    assert third.exit_code() == 0, third.summary()
    assert third.mappings["students"].skipped == 1  # recognised: not mapped again
    assert _one_contact(project)["Consent_News__c"] is True  # the newest row withdrew nothing
