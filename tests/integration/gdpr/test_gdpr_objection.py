"""`sis-sync object` against the emulator (GDPR art. 21): a durable objection that holds
through later "ja" rows and later runs, sets the opt-out fields, and leaves the person and
their other data alone."""

from __future__ import annotations

from gdprfixtures import EMAIL, NEEDLES, NUMBER, emulator, project_fixture, seed
from gdprfixtures import invoke as run_command
from syncfixtures import SyncProject, registration, student

from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)


def _opt_out(project: SyncProject) -> None:
    path = project.folder / "mappings" / "purposes.yaml"
    old = "source: toestemming_nieuws_bron\n"
    # The shipped purposes.yaml names it already (elsewhere in the block): once is enough.
    text = path.read_text("utf-8").replace("      opt_out: HasOptedOutOfEmail\n", "")
    path.write_text(text.replace(old, old + "      opt_out: HasOptedOutOfEmail\n"), "utf-8")


def invoke(project: SyncProject, *args: str):
    """``sis-sync object ARGS`` in-process (the gdpr fixtures' app)."""
    return run_command(project, "object", *args)


def _contact(project: SyncProject) -> dict:
    rows = project.query(
        "SELECT Id, LastName, Email, HasOptedOutOfEmail, Consent_News__c, Consent_News_At__c "
        f"FROM Contact WHERE SIS_Student_Number__c = '{NUMBER}'"
    )
    assert len(rows) == 1
    return rows[0]


def _store(project: SyncProject):
    return open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}")


def _ermengarde(**over: str) -> dict[str, str]:
    return student(NUMBER, achternaam="Quispelhoorn", tussenvoegsel="", roepnaam="Ermengarde",
                   email=EMAIL, **over)  # fmt: skip


def test_art21_objection_holds_through_later_ja_rows_and_runs(project: SyncProject) -> None:
    _opt_out(project)
    seed(project)
    assert _contact(project)["Consent_News__c"] is True

    result = invoke(project, "--student-number", NUMBER, "--apply")
    assert result.exit_code == 0, result.output
    assert "recruitment_news" in result.output
    assert not [n for n in NEEDLES if n in result.output]

    after = project.run()
    # The report says why her consent fields went (docs/privacy.md's reason code, P4).
    # Five fields: news (3) and phone (MobilePhone, Phone), the purposes she objected to.
    assert after.mappings["students"].withheld["objected"] == 5, after.mappings["students"].withheld
    contact = _contact(project)
    assert contact["HasOptedOutOfEmail"] is True
    assert contact["Consent_News__c"] is not True and contact["Consent_News_At__c"] is None
    # The person stays, with the data of the purposes not objected to.
    assert contact["LastName"] == "Quispelhoorn" and contact["Email"] == EMAIL
    assert project.query(f"SELECT Id FROM CampaignMember WHERE ContactId = '{contact['Id']}'")

    # A later, newer "ja" changes nothing, in this run or the next.
    project.write_students([_ermengarde(toestemming_nieuws_op="2026-11-19T10:00:00+01:00")])
    for _ in range(2):
        report = project.run()
        assert report.exit_code() == 0, report.summary()
        contact = _contact(project)
        assert contact["Consent_News__c"] is not True
        assert contact["HasOptedOutOfEmail"] is True
        assert contact["LastName"] == "Quispelhoorn"

    with _store(project) as store:
        kinds = sorted({r.kind for r in store.objections_of(_hashes(project))})
        # The student number, and the e-mail it knew for rows without one (never a sibling's).
        assert kinds == ["own_email", "student"]


def _hashes(project: SyncProject) -> list[str]:
    from syncfixtures import SECRET

    from connector.hashing import KeyHasher
    from connector.mapping.compile import identity_hashes

    return [h for h in identity_hashes(KeyHasher(SECRET), NUMBER, EMAIL) if h]


def test_art21_objection_by_email_before_the_first_sync_covers_the_sis_row(
    project: SyncProject,
) -> None:
    _opt_out(project)
    result = invoke(project, "--email", EMAIL, "--apply")
    assert result.exit_code == 0, result.output
    assert "nobody with these identifiers in local state yet" in result.output

    project.write_students([_ermengarde()])
    project.write_registrations([registration("R-000001", EMAIL)])
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    contact = _contact(project)  # created: an objection is no erasure
    assert contact["Consent_News__c"] is not True
    assert contact["HasOptedOutOfEmail"] is True
    assert project.query(f"SELECT Id FROM CampaignMember WHERE ContactId = '{contact['Id']}'")


def test_art21_object_without_apply_records_nothing(project: SyncProject) -> None:
    seed(project)
    result = invoke(project, "--student-number", NUMBER)
    assert result.exit_code == 0, result.output
    assert "would record" in result.output
    with _store(project) as store:
        assert not store.has_objections()


def test_art21_unknown_purpose_is_exit_2_and_writes_nothing(project: SyncProject) -> None:
    seed(project)
    result = invoke(
        project, "--student-number", NUMBER, "--purposes", "recruitment_news,nope", "--apply"
    )
    assert result.exit_code == 2
    assert "nope" in str(result.exception)
    with _store(project) as store:
        assert not store.has_objections()


def test_art21_named_purposes_only(project: SyncProject) -> None:
    seed(project)
    result = invoke(project, "--student-number", NUMBER, "--purposes", "phone_contact", "--apply")
    assert result.exit_code == 0, result.output
    project.run()
    contact = _contact(project)
    assert contact["Consent_News__c"] is True  # recruitment_news was not objected to
