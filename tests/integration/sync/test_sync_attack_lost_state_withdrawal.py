"""A consent withdrawn after the state was lost (found attacking issue 8).

With state kept, a withdrawal clears the fields it alone justified (the diff knows they were
sent). After a lost state, a ``state rebuild`` or a Bulk write that landed before a crash,
state did not know the record: the upsert left the phone number and the news consent in
Salesforce, run after run. A record state does not know now carries its withheld fields as
null, so it converges to what a run with state leaves.
"""

from __future__ import annotations

import shutil

import pytest
from syncfixtures import student

WITHDRAWN = {
    "toestemming_bellen": "nee",
    "toestemming_bellen_op": "2026-10-01T09:00:00+02:00",
    "toestemming_nieuws": "nee",
    "toestemming_nieuws_op": "2026-10-01T09:00:00+02:00",
}


def _contact(project, number: str) -> dict:
    rows = project.query(
        "SELECT MobilePhone, Consent_News__c, Consent_News_At__c, Consent_News_Source__c"
        f" FROM Contact WHERE SIS_Student_Number__c = '{number}'"
    )
    assert len(rows) == 1, rows  # no duplicate either
    return {k: v for k, v in rows[0].items() if k != "attributes"}


@pytest.mark.parametrize("state", ["kept", "lost"])
def test_a_withdrawal_clears_the_fields_with_or_without_state(project, state):
    rows = [student("871001"), student("871002")]
    project.write_students(rows)
    assert project.run("students").exit_code() == 0
    before = _contact(project, "871001")
    assert before["MobilePhone"] and before["Consent_News__c"] is True, before

    if state == "lost":
        shutil.rmtree(project.folder / "state")
    project.write_students([student("871001", **WITHDRAWN), student("871002")])
    report = project.run("students")
    assert report.exit_code() == 0, report.summary()

    after = _contact(project, "871001")
    assert after["MobilePhone"] is None, f"BUG: phone kept after a withdrawal ({state} state)"
    assert not after["Consent_News__c"] and after["Consent_News_At__c"] is None, after
    assert _contact(project, "871002")["MobilePhone"], "the other student keeps theirs"
    # And the run after it finds nothing to do.
    again = project.run("students")
    assert again.mappings["students"].written == 0, again.summary()
