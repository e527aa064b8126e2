"""Consent in Salesforce's consent model (DESIGN §6), against the emulator with the real
simple-salesforce client: proof of consent (GDPR art. 7(1)) and withdrawal (art. 7(3))."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import replace

import pytest
from syncfixtures import SyncProject, registration, student

from connector.emulator import objects_default
from connector.emulator.testing import running_emulator
from connector.records import WriteResult
from connector.salesforce.writer import Writer
from connector.sync import consent_stage, engine
from connector.sync.consent_records import entries_for
from connector.sync.job import run_job

LIMIT = 20  # 80 %: 16 calls — the Contacts, describes, then a few consent chunks

CPTC = (
    "SELECT Id, Name, PartyId, DataUsePurposeId, ContactPointType, PrivacyConsentStatus,"
    " CaptureDate, CaptureSource, EffectiveFrom, Consent_Given_By__c, SIS_Consent_Key__c"
    " FROM ContactPointTypeConsent"
)


def _consents(project: SyncProject) -> dict[str, dict]:
    """ContactPointTypeConsent records by their DataUsePurpose's Name."""
    purposes = {p["Id"]: p["Name"] for p in project.query("SELECT Id, Name FROM DataUsePurpose")}
    return {purposes[c["DataUsePurposeId"]]: c for c in project.query(CPTC)}


def test_art_7_1_consent_with_proof_becomes_individual_purpose_and_opt_in(project):
    project.write_students([student("400001", toestemming_bellen_door="ouder")])
    report = project.run("students")
    assert report.exit_code() == 0, report.summary()
    [contact] = project.query("SELECT Id, IndividualId, LastName FROM Contact")
    [individual] = project.query("SELECT Id, LastName, HasOptedOutSolicit FROM Individual")
    assert contact["IndividualId"] == individual["Id"]
    # No personal value on the consent records: the Individual's label is a keyed hash.
    assert "Vries" not in individual["LastName"]
    assert individual["HasOptedOutSolicit"] is False
    names = {p["Name"] for p in project.query("SELECT Name FROM DataUsePurpose")}
    assert names == {"recruitment_news", "phone_contact"}
    consents = _consents(project)
    news, phone = consents["recruitment_news"], consents["phone_contact"]
    for c in (news, phone):
        assert c["PartyId"] == individual["Id"]
        assert c["PrivacyConsentStatus"] == "OptIn"
        assert c["CaptureDate"].startswith("2026-09-01T08:00:00")
        assert c["EffectiveFrom"].startswith("2026-09-01T08:00:00")
        assert c["CaptureSource"] == "intake"
        assert c["Name"].endswith("2026-09-01")
        assert "Vries" not in c["Name"] and "Sanne" not in c["Name"]
    assert news["ContactPointType"] == "Email" and phone["ContactPointType"] == "Phone"
    assert news["Consent_Given_By__c"] == "self"
    assert phone["Consent_Given_By__c"] == "parent"
    assert report.mappings["consent:individual"].created == 1
    assert report.mappings["consent:phone_contact"].created == 1


def test_art_7_3_withdrawal_writes_opt_out_with_its_date_and_keeps_the_record(project):
    project.write_students([student("400002")])
    project.run("students")
    before = _consents(project)["recruitment_news"]
    project.write_students(
        [student("400002", toestemming_nieuws="nee", toestemming_nieuws_op="2026-11-02T09:30:00Z")]
    )
    report = project.run("students")
    assert report.exit_code() == 0, report.summary()
    after = _consents(project)
    news = after["recruitment_news"]
    assert news["Id"] == before["Id"]  # the same record: its history stays in Salesforce
    assert news["PrivacyConsentStatus"] == "OptOut"
    assert news["CaptureDate"].startswith("2026-11-02T09:30:00")
    assert news["EffectiveFrom"].startswith("2026-11-02T09:30:00")
    assert after["phone_contact"]["PrivacyConsentStatus"] == "OptIn"  # untouched
    assert len(project.query("SELECT Id FROM ContactPointTypeConsent")) == 2
    assert report.mappings["consent:recruitment_news"].updated == 1


def test_art_7_1_rerun_with_unchanged_consents_writes_nothing(project):
    project.write_students([student(f"4001{i:02d}") for i in range(3)])
    project.run("students")
    before = project.api_calls()
    again = project.run("students")
    assert again.exit_code() == 0
    assert not any(name.startswith("consent:") for name in again.mappings)
    assert project.api_calls() - before == 0
    # A row mapped again (another field changed) with the same consents: no consent write.
    rows = [student(f"4001{i:02d}") for i in range(3)]
    rows[0]["woonplaats"] = "Amersfoort"
    project.write_students(rows)
    third = project.run("students")
    assert not any(name.startswith("consent:") for name in third.mappings)
    assert len(project.query("SELECT Id FROM ContactPointTypeConsent")) == 6
    assert len(project.query("SELECT Id FROM Individual")) == 3


def test_art_7_3_an_older_opt_in_of_another_mapping_never_undoes_a_newer_withdrawal(project):
    # "ja" at intake (1 September, the students mapping), "nee" on the open day's form (the
    # registrants mapping, dated by the run: November): one consent record, the newer word.
    project.write_students([student("400300")])
    project.write_registrations([registration("REG-000300", "s400300@school.example")])
    assert project.run().exit_code() == 0
    assert _consents(project)["recruitment_news"]["PrivacyConsentStatus"] == "OptOut"
    # The student's row changes (a move): mapped again, its September proof is older than the
    # withdrawal the record holds, so it is not written.
    project.write_students([student("400300", woonplaats="Amersfoort")])
    report = project.run()
    assert report.exit_code() == 0, report.summary()
    assert report.mappings["students"].updated == 1
    news = _consents(project)["recruitment_news"]
    assert news["PrivacyConsentStatus"] == "OptOut"
    assert "consent:recruitment_news" not in report.mappings
    # A newer "ja" with its proof stands (the person consents again, in December).
    project.write_students(
        [
            student(
                "400300", woonplaats="Amersfoort", toestemming_nieuws_op="2026-12-01T10:00:00+01:00"
            )
        ]
    )
    project.env["SIS_SYNC_NOW"] = "2026-12-02T09:00:00+00:00"
    assert project.run().exit_code() == 0
    assert _consents(project)["recruitment_news"]["PrivacyConsentStatus"] == "OptIn"


def test_art_7_1_replay_after_lost_state_does_not_duplicate(project, tmp_path):
    project.write_students([student("400200")])
    project.run("students")
    state = project.folder / "state"
    for f in state.glob("*.db*"):
        f.unlink()
    project.run("students")
    assert len(project.query("SELECT Id FROM ContactPointTypeConsent")) == 2
    assert len(project.query("SELECT Id FROM Individual")) == 1


def test_art_7_1_consent_without_source_is_no_consent(project):
    project.write_students([student("400003", toestemming_bellen_bron="", mobiel="06-11112222")])
    report = project.run("students")
    assert report.exit_code() == 0, report.summary()
    [contact] = project.query("SELECT MobilePhone FROM Contact")
    assert contact["MobilePhone"] is None  # phone_contact is not active without a source
    assert set(_consents(project)) == {"recruitment_news"}
    assert report.mappings["students"].withheld["consent_without_source"] >= 1


@pytest.fixture
def flags_only_org(tmp_path, monkeypatch) -> Iterator[object]:
    """An org without Data Protection and Privacy: no consent objects, no Contact.IndividualId."""
    objects = objects_default.without_consent_model(objects_default.DEFAULT_OBJECTS)
    monkeypatch.setattr(objects_default, "DEFAULT_OBJECTS", objects)
    with running_emulator(tmp_path / "org") as emu:
        yield emu


def test_art_7_1_org_without_consent_objects_gets_the_flags(flags_only_org, tmp_path):
    project = SyncProject(tmp_path / "project", flags_only_org)
    project.write_students([student("400004")])
    report = project.run("students")
    assert report.exit_code() == 0, report.summary()
    [contact] = project.query(
        "SELECT Consent_News__c, Consent_News_At__c, Consent_News_Source__c FROM Contact"
    )
    assert contact["Consent_News__c"] is True
    assert contact["Consent_News_Source__c"] == "intake"
    assert not any(name.startswith("consent:") for name in report.mappings)
    # Contact.IndividualId is missing: one describe (the Contact's) tells, not one per consent
    # object the org lacks.
    assert flags_only_org.stats()["requests"]["GET sobjects/{O}/describe"] == 1
    names = {o["name"] for o in flags_only_org.client().describe()["sobjects"]}
    assert "ContactPointTypeConsent" not in names


def test_a_large_run_into_an_org_without_the_model_stops_collecting_consents(
    flags_only_org, tmp_path, monkeypatch
):
    """Once a run goes to Bulk, the org is asked whether it models consent; without a model no
    more consent entries are made (a first load of 100k paid for a chunk of 25,000 before)."""
    monkeypatch.setattr(engine, "BATCH", 10)
    made: list[str] = []

    def spy(contact_key, *args, **kwargs):
        made.append(contact_key)
        return entries_for(contact_key, *args, **kwargs)

    monkeypatch.setattr(consent_stage, "entries_for", spy)
    project = SyncProject(tmp_path / "project", flags_only_org)
    project.write_students([student(f"4100{i:02d}") for i in range(40)])
    report = run_job(project.settings(SIS_SYNC_SALESFORCE__BULK_THRESHOLD="15"), job="students")
    assert report.exit_code() == 0, report.summary()
    assert report.mappings["students"].created == 40
    assert len(made) == 20  # two batches of 10: the buffer passed 15, the org was asked
    assert flags_only_org.stats()["requests"]["GET sobjects/{O}/describe"] == 1
    # The rows are remembered all the same: the next run maps and writes nothing.
    again = project.run("students")
    assert again.mappings["students"].skipped == 40


def test_a_first_load_writes_its_consent_records_through_bulk_jobs(project):
    # 2,500 consenting students: more than the bulk threshold (2,000) of consent records per
    # object, so they go as Bulk API 2.0 jobs, not as ~40 collections calls of 200.
    project.write_students([student(f"5{i:05d}") for i in range(2_500)])
    report = project.run("students")
    assert report.exit_code() == 0, report.summary()
    routes = project.emulator.stats()["requests"]
    assert report.mappings["consent:individual"].created == 2_500
    # The students themselves go in one Bulk job (2,500 > 2,000); Individuals, their Contact
    # links and the consents in three more: none of them through sObject Collections.
    assert routes.get("POST jobs/ingest", 0) == 4, routes
    assert routes.get("PATCH composite/sobjects/{O}/{field}", 0) == 0, routes
    assert routes.get("PATCH composite/sobjects", 0) == 0, routes


@pytest.fixture
def short_source_org(tmp_path, monkeypatch) -> Iterator[object]:
    """An org whose ContactPointTypeConsent.CaptureSource holds 12 characters: a longer source
    is refused (STRING_TOO_LONG), as any record an org's rules refuse."""
    objects = dict(objects_default.DEFAULT_OBJECTS)
    label, prefix, fields = objects["ContactPointTypeConsent"]
    fields = [replace(f, length=12) if f.name == "CaptureSource" else f for f in fields]
    objects["ContactPointTypeConsent"] = (label, prefix, fields)
    monkeypatch.setattr(objects_default, "DEFAULT_OBJECTS", objects)
    with running_emulator(tmp_path / "org") as emu:
        yield emu


def test_consent_chunks_are_pipelined_and_their_refusals_filed_at_the_row(
    short_source_org, tmp_path, monkeypatch
):
    """At the end of a mapping, a chunk's consents and links are written in the stage's worker
    while the next chunk's Individuals go out: every record lands once, the counts add up, and
    a consent Salesforce refuses is filed at its person's row (file, line, field, code)."""
    monkeypatch.setattr(consent_stage, "CHUNK", 6)  # 3 students a chunk: 10 chunks
    threads: list[str] = []
    complete = consent_stage.ConsentStage._complete

    def spy(self, chunk):
        threads.append(threading.current_thread().name)
        return complete(self, chunk)

    monkeypatch.setattr(consent_stage.ConsentStage, "_complete", spy)
    project = SyncProject(tmp_path / "project", short_source_org)
    rows = [student(f"4200{i:02d}") for i in range(30)]
    rows[16]["toestemming_nieuws_bron"] = "aanmeldformulier website"  # 24 > 12: refused
    project.write_students(rows)
    report = project.run("students")
    assert report.exit_code() == 1, report.summary()  # the refused consent
    assert len(threads) == 10 and all(t.startswith("sf-consents") for t in threads), threads
    assert report.mappings["consent:individual"].created == 30
    news, phone = (
        report.mappings["consent:recruitment_news"],
        report.mappings["consent:phone_contact"],
    )
    assert (news.created, news.failed, phone.created) == (29, 1, 30)
    [refusal] = news.refusals
    assert refusal["line"] == 18 and refusal["reason"] == "salesforce refused: STRING_TOO_LONG"
    assert refusal["file"].endswith("studenten.csv") and "aanmeld" not in str(refusal)
    assert len(project.query("SELECT Id FROM Individual")) == 30
    assert len(project.query("SELECT Id FROM ContactPointTypeConsent")) == 59
    linked = project.query("SELECT IndividualId FROM Contact")
    assert len({c["IndividualId"] for c in linked}) == 30
    # Next run: the refused record's row was not remembered, so it is tried again; the rest
    # is skipped unmapped.
    again = project.run("students")
    assert again.mappings["students"].skipped == 29, again.summary()
    assert again.mappings["consent:recruitment_news"].failed == 1
    assert len(project.query("SELECT Id FROM ContactPointTypeConsent")) == 59


def test_a_stop_in_the_consent_phase_leaves_the_rest_to_the_next_run(project, monkeypatch):
    """The API share runs out while chunks are written: the chunks after it are not begun
    (their records are retried next run), and the next run writes them, each once."""
    monkeypatch.setattr(consent_stage, "CHUNK", 6)
    begun: list[int] = []
    begin = consent_stage.ConsentStage._begin

    def spy(self, entries):
        begun.append(len(entries))
        return begin(self, entries)

    monkeypatch.setattr(consent_stage.ConsentStage, "_begin", spy)
    project.write_students([student(f"4300{i:02d}") for i in range(30)])
    project.emulator.faults(daily_api_limit=LIMIT)
    report = project.run("students")
    assert report.exit_code() == 1 and "daily API share" in report.stopped, report.summary()
    assert project.emulator.stats()["api_calls"] <= 0.8 * LIMIT
    stopped_after = len(begun)
    assert 0 < stopped_after < 10, begun  # the chunks after the stop were not begun
    individuals = len(project.query("SELECT Id FROM Individual"))
    assert individuals < 30
    project.emulator.faults(daily_api_limit=100_000)
    again = project.run("students")
    assert again.exit_code() == 0, again.summary()
    assert len(project.query("SELECT Id FROM Individual")) == 30
    keys = [c["SIS_Consent_Key__c"] for c in project.query(CPTC)]
    assert len(keys) == 60 and len(set(keys)) == 60
    third = project.run("students")
    assert third.mappings["students"].skipped == 30, third.summary()
    assert not any(r.written for n, r in third.mappings.items() if n.startswith("consent:"))


def test_a_link_salesforce_refused_is_written_next_run(project, monkeypatch):
    """A Contact whose link to its new Individual Salesforce refused (a row lock, say) keeps
    its row unremembered: the next run maps it again and links it (before: the row was
    remembered, every later run skipped it, and the Contact stayed unlinked for good)."""
    project.write_students([student(f"4400{i:02d}") for i in range(5)])
    submit = Writer.submit

    def refuse_one_link(self, kind, obj, rows, **kw):
        if kind == "update" and rows and "IndividualId" in rows[0]:
            rest = submit(self, kind, obj, rows[1:], **kw).result() if len(rows) > 1 else []
            done: Future = Future()
            done.set_result([WriteResult(False, error_code="UNABLE_TO_LOCK_ROW"), *rest])
            return done
        return submit(self, kind, obj, rows, **kw)

    with monkeypatch.context() as m:
        m.setattr(Writer, "submit", refuse_one_link)
        first = project.run("students")
    assert first.exit_code() == 1, first.summary()
    assert first.mappings["consent:individual"].failures == {"UNABLE_TO_LOCK_ROW": 1}
    unlinked = project.query("SELECT Id FROM Contact WHERE IndividualId = null")
    assert len(unlinked) == 1
    again = project.run("students")
    assert again.exit_code() == 0, again.summary()
    assert again.mappings["students"].skipped == 4  # the other four: remembered
    assert project.query("SELECT Id FROM Contact WHERE IndividualId = null") == []
    assert len(project.query("SELECT Id FROM Individual")) == 5  # the same one, linked now
    third = project.run("students")
    assert third.mappings["students"].skipped == 5, third.summary()
