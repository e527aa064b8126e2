"""A student who joins a registrant's Contact leaves the registrant's consent as it is.

The `registrants` mapping writes an open-day visitor's Contact with her news consent; when the
SIS later exports her as a student, the `students` mapping joins that Contact (by e-mail) and
writes it by Id. Its row has no answer about the newsletter — no consent, so its own news
fields are withheld. A record state does not know carries its withheld fields as null
(`diff.diff`: a lost state must not leave a withdrawn consent behind), and so the join blanked
the registrant's consent: Salesforce showed `Consent_News__c` false while her consent record
said OptIn, and state still held the registration's hashes (found by an outsider, B2a).

On a record another mapping wrote, a withheld field that mapping also writes is cleared only
when this row withdrew it (`nee`, an objection); the join's own fields are cleared as before.
"""

from __future__ import annotations

from syncfixtures import registration, student

MAIL = "visitor@example.nl"
NO_ANSWER = {"toestemming_nieuws": "", "toestemming_nieuws_op": "", "toestemming_nieuws_bron": ""}
VISIT = {
    "toestemming_nieuws": "ja",
    "toestemming_nieuws_op": "2026-10-01T12:00:00+02:00",
    "toestemming_nieuws_bron": "aanmeldformulier open dag",
}


def _contacts(project) -> list[dict]:
    rows = project.query(
        "SELECT Id, SIS_Student_Number__c, Consent_News__c, Consent_News_At__c,"
        f" Consent_News_Source__c, MobilePhone FROM Contact WHERE Email = '{MAIL}'"
    )
    return [{k: v for k, v in r.items() if k != "attributes"} for r in rows]


def test_a_student_joining_a_registrant_keeps_her_news_consent(project):
    project.write_registrations([registration("REG-000501", MAIL, **VISIT)])
    assert project.run().exit_code() == 0
    [visitor] = _contacts(project)
    assert visitor["Consent_News__c"] is True

    project.write_students([student("500501", email=MAIL, **NO_ANSWER)])
    report = project.run()

    assert report.exit_code() == 0
    assert report.mappings["students"].joined == 1
    [joined] = _contacts(project)
    assert joined["Id"] == visitor["Id"] and joined["SIS_Student_Number__c"] == "500501"
    assert joined["Consent_News__c"] is True
    assert joined["Consent_News_At__c"] == visitor["Consent_News_At__c"]
    assert joined["Consent_News_Source__c"] == "aanmeldformulier open dag"
    # And the next run leaves it so (nothing of either mapping to write).
    again = project.run()
    assert again.exit_code() == 0 and _contacts(project) == [joined]
    assert sum(m.created + m.updated for m in again.mappings.values()) == 0


def test_a_student_who_withdrew_clears_the_registrants_consent_on_joining(project):
    project.write_registrations([registration("REG-000502", MAIL, **VISIT)])
    assert project.run().exit_code() == 0

    withdrawn = {"toestemming_nieuws": "nee", "toestemming_nieuws_op": "2026-11-20T09:00:00+01:00"}
    project.write_students([student("500502", email=MAIL, **withdrawn)])
    assert project.run().exit_code() == 0

    [joined] = _contacts(project)
    assert joined["SIS_Student_Number__c"] == "500502"
    assert joined["Consent_News__c"] is not True  # her newer "nee" reaches the shared record


def test_the_visitors_later_nee_clears_her_consent_on_the_contact_a_student_joined(project):
    """The other direction (an outsider's F2): once the Contact is a student's, a
    registration adds only what the SIS does not write — but her own withdrawal still
    reaches it. Before, the registration's clears of the SIS's fields were dropped with its
    values, and nobody cleared the consent she withdrew (true, with its old proof, for ever)."""
    project.write_registrations([registration("REG-000503", MAIL, **VISIT)])
    assert project.run().exit_code() == 0
    project.write_students([student("500503", email=MAIL, **NO_ANSWER)])
    assert project.run().exit_code() == 0
    assert _contacts(project)[0]["Consent_News__c"] is True

    nee = {"toestemming_nieuws": "nee", "toestemming_nieuws_op": "2026-11-25T10:00:00+01:00"}
    project.write_registrations([registration("REG-000503", MAIL, **nee)])
    report = project.run()

    assert report.exit_code() == 0
    [contact] = _contacts(project)
    assert contact["SIS_Student_Number__c"] == "500503"
    assert contact["Consent_News__c"] is not True
    assert contact["Consent_News_At__c"] is None and contact["Consent_News_Source__c"] is None
    again = project.run()
    assert again.exit_code() == 0 and _contacts(project) == [contact]
