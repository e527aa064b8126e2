"""Retention at sync time (GDPR art. 5(1)(c),(e)), against the emulator.

What the retention purge cleared or would delete must not come back through the sync: not
after a mapping edit (which changes every record hash), and not in a first load of an export
that still holds last year's open days. New data or a new anchor (a later event) brings a
purpose back.
"""

from __future__ import annotations

from gdprfixtures import emulator, invoke, project_fixture
from syncfixtures import SyncProject, registration

from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)

VISITOR = "vera.p@bezoeker.example"
AFTER_EVENT = "2027-03-14T09:00:00+00:00"  # 14 Nov 2026 + P3M has passed
CLEARED = ("FirstName", "LeadSource", "Lifecycle_Status__c")


def _consenting(reg_id: str = "R-000001", **over: str) -> dict[str, str]:
    """An open-day visitor (18) who said yes to the news: the consent keeps the Contact."""
    return registration(
        reg_id, VISITOR, toestemming_nieuws="ja",
        toestemming_nieuws_op="2026-10-01T12:00:00+02:00", toestemming_nieuws_bron="aanmelding",
        **over,
    )  # fmt: skip


def _contact(project: SyncProject) -> dict:
    rows = project.query(
        "SELECT Id, LastName, Email, FirstName, LeadSource, Lifecycle_Status__c, Consent_News__c "
        f"FROM Contact WHERE Email = '{VISITOR}'"
    )
    assert len(rows) == 1, rows
    return rows[0]


def _edit_lead_source(project: SyncProject) -> None:
    path = project.folder / "mappings" / "registrants.yaml"
    text = path.read_text()
    assert "{value: Open dag," in text
    path.write_text(text.replace("{value: Open dag,", "{value: Open dag web,"))


def test_art_5_1_c_fields_the_purge_cleared_stay_cleared_after_a_mapping_edit(
    project: SyncProject,
) -> None:
    project.write_registrations([_consenting()])
    assert project.run().exit_code() == 0
    before = _contact(project)
    assert before["FirstName"] == "Daan" and before["LeadSource"] == "Open dag"
    project.env["SIS_SYNC_NOW"] = AFTER_EVENT
    result = invoke(project, "purge", "--apply")
    assert result.exit_code == 0, result.output
    purged = _contact(project)
    assert purged["Id"] == before["Id"] and purged["Consent_News__c"] is True
    assert all(purged[f] is None for f in CLEARED), purged

    _edit_lead_source(project)  # every row is mapped again, with a new record hash
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    after = _contact(project)
    assert all(after[f] is None for f in CLEARED), after
    assert after["LastName"] == before["LastName"] and after["Email"] == VISITOR  # required
    assert report.mappings["registrants"].updated == 0, report.summary()
    assert "Would clear" not in invoke(project, "purge").output  # nothing left to clear


def test_new_source_data_with_a_new_anchor_brings_the_fields_back(project: SyncProject) -> None:
    project.write_registrations([_consenting()])
    assert project.run().exit_code() == 0
    project.env["SIS_SYNC_NOW"] = AFTER_EVENT
    assert invoke(project, "purge", "--apply").exit_code == 0
    assert _contact(project)["FirstName"] is None

    # The same visitor registers for a later open day: a new anchor, new data.
    later = _consenting(
        "R-000002", evenement_id="OD-2027-03-20-UTR", evenement_naam="Open dag 20 maart",
        evenement_datum="2027-03-20", ingecheckt="nee", ingecheckt_op="",
    )  # fmt: skip
    project.write_registrations([_consenting(), later])
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    back = _contact(project)
    assert back["FirstName"] == "Daan" and back["LeadSource"] == "Open dag", back
    with open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}") as store:
        [row] = [r for r in store.lookup("registrants", list(_keys(store))).values()]
        assert "-" not in row.field_hashes  # no longer marked as cleared by the purge


def _keys(store) -> list[str]:
    import sqlalchemy as sa

    with store._db.engine.connect() as conn:
        q = sa.text("SELECT key_hash FROM synced WHERE mapping = 'registrants'")
        return list(conn.execute(q).scalars())


def test_art_5_1_e_a_first_load_does_not_send_what_retention_already_ended(
    project: SyncProject,
) -> None:
    project.env["SIS_SYNC_NOW"] = AFTER_EVENT
    old = registration("R-000001", "kees.v@bezoeker.example")  # no consent, event long past
    project.write_registrations([old])

    report = project.run()

    assert report.exit_code() == 0, report.summary()  # skipped, not rejected
    assert not project.query("SELECT Id FROM Contact WHERE Email = 'kees.v@bezoeker.example'")
    assert not project.query("SELECT Id FROM CampaignMember")
    assert not project.query("SELECT Id FROM Task")
    for name in ("registrants", "registrations", "registration_tasks"):
        m = report.mappings[name]
        assert (m.created, m.rejected, m.not_justified) == (0, 0, 1), (name, report.summary())
    assert "nothing has expired" in invoke(project, "purge").output


def test_cleared_fields_stay_cleared_when_the_policy_would_allow_them_again(
    project: SyncProject,
) -> None:
    project.write_registrations([_consenting()])
    assert project.run().exit_code() == 0
    project.env["SIS_SYNC_NOW"] = AFTER_EVENT
    assert invoke(project, "purge", "--apply").exit_code == 0

    # The FG lengthens the visit's retention afterwards: the policy would send the fields
    # again, but the purge deleted them and the source holds nothing new (the same row).
    path = project.folder / "mappings" / "purposes.yaml"
    text = path.read_text()
    assert "retention: {after: event_date, keep: P3M}" in text
    path.write_text(
        text.replace("{after: event_date, keep: P3M}", "{after: event_date, keep: P1Y}")
    )
    _edit_lead_source(project)  # and a new record hash
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    after = _contact(project)
    assert all(after[f] is None for f in CLEARED), after


def test_a_child_whose_parent_was_purged_is_skipped_with_the_reason_not_rejected(
    project: SyncProject,
) -> None:
    visitor = "kees.v@bezoeker.example"
    old = registration("R-000001", visitor)  # no consent: the whole person goes
    project.write_registrations([old])
    assert project.run().exit_code() == 0
    project.env["SIS_SYNC_NOW"] = AFTER_EVENT
    assert invoke(project, "purge", "--apply").exit_code == 0
    assert not project.query(f"SELECT Id FROM Contact WHERE Email = '{visitor}'")

    # A membership of a later event arrives, but the person's own row (the file's last row
    # for the address) is still the purged one: it stays purged, and so has no Contact.
    later = registration(
        "R-000002", visitor, evenement_id="OD-2027-03-10-UTR", evenement_naam="Open dag maart",
        evenement_datum="2027-03-10", ingecheckt_op="2027-03-10T10:05:00+01:00",
    )  # fmt: skip
    project.write_registrations([later, old])
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    for name in ("registrations", "registration_tasks"):
        m = report.mappings[name]
        assert m.rejected == 0 and m.left_alone == {"parent purged (retention)": 1}, (
            name, report.summary(),
        )  # fmt: skip
    assert "parent purged (retention) ×1" in report.summary()
