"""After a lost state ``sis-sync object --student-number N --apply`` records the e-mail address
on the student's Contact found in Salesforce (keyed hash, ``own_email``), as ``erase`` tombstones
it (issue #9 re-audit): a later registration with that address and ``toestemming_nieuws=ja`` is
held by the objection, not reported to staff as an ``opt_out_conflict``."""

from __future__ import annotations

import shutil

from gdprfixtures import EMAIL, NUMBER, emulator, project_fixture
from syncfixtures import SECRET, SyncProject, registration, student
from test_gdpr_objection_reach import _contact, _store, invoke

from connector.hashing import KeyHasher
from connector.state.objections import OWN_EMAIL

__all__ = ["emulator"]

project = project_fixture(SyncProject)


def test_objection_after_a_lost_state_holds_a_later_registration_with_the_address(
    project: SyncProject,
) -> None:
    project.write_students([student(NUMBER, email=EMAIL), student("150001")])
    assert project.run().exit_code() == 0
    shutil.rmtree(project.folder / "state")

    result = invoke(project, "--student-number", NUMBER, "--apply")

    assert result.exit_code == 0, result.output
    own = KeyHasher(SECRET).key("email", EMAIL)
    assert f"{OWN_EMAIL} hash {own}" in result.output  # read from the Contact found
    assert project.run().exit_code() == 0
    project.write_registrations([
        registration(
            "R000001", EMAIL, evenement_datum="2026-12-12", toestemming_nieuws="ja",
            toestemming_nieuws_op="2026-11-19T10:00:00+01:00",
            toestemming_nieuws_bron="aanmeldformulier",
        )
    ])  # fmt: skip

    report = project.run()

    assert not any("opt_out_conflict" in w for w in report.warning_lines()), report.summary()
    with _store(project) as store:
        run_id = store.recent_runs(1)[0].run_id
        assert not [r for r in store.list_rejects(run_id) if "opt_out_conflict" in r.reason]
        assert {"recruitment_news", "phone_contact"} <= store.objected([own])[own]
    assert _contact(project)["HasOptedOutOfEmail"] is True
