"""The planner's rules without a database: identity, siblings, clears, suppression, parents.

The planner is pure: it takes the batch's items and a hand-built :class:`BatchState` (what the
store would have said) and returns writes and counts. These tests compile the shipped mappings
and build the state by hand, so each rule is exercised at the size of one record.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connector.commands.mapping import DEFAULTS
from connector.demo import REGISTRATION_COLUMNS, STUDENT_COLUMNS
from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.privacy.policy import Policy
from connector.records import Origin, SourceRecord
from connector.state.rows import KnownRow, PersonMatches, PersonRow
from connector.sync.batch_state import BatchState
from connector.sync.diff import diff
from connector.sync.plan import Item, Planner

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
HASHER = KeyHasher("planner-unit-test-secret-of-32-bytes!!")
PROJECT = load_project(DEFAULTS / "mappings")
COMPILED = {n: PROJECT.compile(n, hasher=HASHER, today=TODAY) for n in PROJECT.mappings}


def student(number: str, **over: str) -> dict[str, str | None]:
    row: dict[str, str | None] = {c: None for c in STUDENT_COLUMNS}
    row.update(
        studentnummer=number, achternaam="Vries", roepnaam="Sanne", geboortedatum="14-03-2004",
        email=f"s{number}@school.example", mobiel="06-12345678", status="ingeschreven",
        status_datum="01-09-2026", opleiding="Verpleegkunde", crebo="25655",
        toestemming_bellen="ja", toestemming_bellen_op="2026-09-01T10:00:00+02:00",
        toestemming_bellen_door="self",
        # A consent counts only with its source (art. 7(1), docs/privacy.md "Consent in
        # Salesforce's consent model"): without it the phone consent is consent_without_source.
        toestemming_bellen_bron="aanmeldformulier",
    )  # fmt: skip
    row.update(over)
    return row


def registration(reg_id: str, email: str) -> dict[str, str | None]:
    row: dict[str, str | None] = {c: None for c in REGISTRATION_COLUMNS}
    row.update(
        registratie_id=reg_id, evenement_id="OD-1", evenement_naam="Open dag",
        evenement_type="Open dag", evenement_datum="2026-11-14", voornaam="Daan",
        achternaam="Bakker", email=email, ingecheckt="ja", aangemeld_op="2026-10-01T12:00:00+02:00",
    )  # fmt: skip
    return row


def items(mapping: str, rows: list[dict[str, str | None]]) -> list[Item]:
    compiled = COMPILED[mapping]
    spec = PROJECT.mappings[mapping]
    policy = Policy(
        PROJECT.purposes,
        compiled.field_purposes,
        opt_out_fields=compiled.opt_out_fields,
        crm_owned=compiled.crm_owned,
        always_send={f for f, s in spec.fields.items() if s.ref is not None}
        | ({spec.target.external_id} & set(spec.fields)),
    )
    out = []
    for line, row in enumerate(rows, start=2):
        rec = SourceRecord(str(row[spec.key_columns[0]]), row, Origin("x.csv", line))
        res = compiled.apply(rec)
        assert res is not None and not res.errors, res and res.errors
        out.append(Item(rec, res, policy.decide(res.values, res.facts, TODAY)))
    return out


def planner(mapping: str) -> Planner:
    return Planner(mapping, PROJECT.mappings[mapping], COMPILED, HASHER, now=NOW)


def person(pid: int, sf_id: str, student_hash: str | None, email_hash: str | None) -> PersonRow:
    return PersonRow(pid, sf_id, student_hash, email_hash, None, None)


def test_a_new_student_is_an_upsert_that_creates_a_person() -> None:
    [it] = items("students", [student("100001")])
    plan = planner("students").plan([it], BatchState(persons=PersonMatches({}, {})))
    [w] = plan.writes
    assert w.operation == "upsert" and not w.known
    assert w.new_person == it.res.identity
    assert w.row["LastName"]


def test_a_student_state_holds_unchanged_is_not_written() -> None:
    [it] = items("students", [student("100001")])
    p = planner("students")
    payload, clear, token = p.outcome(it)
    hashes = diff(payload, clear, None, HASHER.value, token).hashes
    pid = 7
    state = BatchState(
        known={it.res.key_hash: KnownRow("003000000000001", pid, hashes, False)},
        persons=PersonMatches(
            {it.res.identity[0]: person(pid, "003000000000001", *it.res.identity)}, {}
        ),
    )
    plan = p.plan([it], state)
    assert plan.writes == [] and [u.key_hash for u in plan.unchanged] == [it.res.key_hash]


def test_a_known_person_is_updated_by_salesforce_id_not_upserted() -> None:
    [it] = items("students", [student("100001")])
    pid = 3
    state = BatchState(
        persons=PersonMatches({it.res.identity[0]: person(pid, "003AAA", *it.res.identity)}, {})
    )
    [w] = planner("students").plan([it], state).writes
    assert (w.operation, w.row["Id"], w.person_id) == ("update", "003AAA", pid)


def test_a_field_withheld_after_it_was_sent_is_cleared() -> None:
    sent = items("students", [student("100001")])[0]
    p = planner("students")
    payload, clear, token = p.outcome(sent)
    hashes = diff(payload, clear, None, HASHER.value, token).hashes
    assert "MobilePhone" in payload
    # The phone consent is withdrawn: the mobile number must go.
    [it] = items("students", [student("100001", toestemming_bellen="nee")])
    state = BatchState(known={it.res.key_hash: KnownRow("003X", None, hashes, False)})
    [w] = planner("students").plan([it], state).writes
    assert w.row["MobilePhone"] is None and w.cleared >= 1


def test_a_student_joining_another_mappings_record_clears_only_her_own_fields() -> None:
    # A prospect's Contact the registrants mapping wrote; the student row has no news answer
    # and no phone consent: her own phone fields go as null (a record state does not know),
    # the news fields the registration also writes are left as the registration wrote them.
    no_answer = student("100001", toestemming_bellen="")
    [it] = items("students", [no_answer])
    prospect = person(9, "003P", None, it.res.identity[1])
    state = BatchState(persons=PersonMatches({}, {it.res.identity[1] or "": (prospect,)}))
    [w] = planner("students").plan([it], state).writes
    assert (w.operation, w.row["Id"]) == ("update", "003P")
    assert "MobilePhone" in w.row and w.row["MobilePhone"] is None  # only students write it
    assert "Consent_News__c" not in w.row and "Consent_News_At__c" not in w.row
    # Her own "nee" reaches the shared field.
    [said_no] = items("students", [student("100001", toestemming_nieuws="nee")])
    [w] = planner("students").plan([said_no], state).writes
    assert "Consent_News__c" in w.row and not w.row["Consent_News__c"]


def test_a_tombstoned_student_is_suppressed() -> None:
    [it] = items("students", [student("100001")])
    plan = planner("students").plan([it], BatchState(suppressed=frozenset({it.res.key_hash})))
    assert plan.suppressed == 1 and plan.writes == []


def test_an_email_tombstone_does_not_silence_a_sibling_with_a_student_number() -> None:
    [it] = items("students", [student("100001")])
    email_hash = it.res.identity[1]
    assert email_hash is not None
    state = BatchState(suppressed=frozenset({email_hash}), persons=PersonMatches({}, {}))
    assert len(planner("students").plan([it], state).writes) == 1


def test_siblings_sharing_a_prospects_email_do_not_both_join_it() -> None:
    shared = "ouders@mail.example"
    a, b = items("students", [student("100001", email=shared), student("100002", email=shared)])
    prospect = person(9, "003P", None, a.res.identity[1])
    state = BatchState(persons=PersonMatches({}, {a.res.identity[1] or "": (prospect,)}))
    plan = planner("students").plan([a, b], state)
    assert plan.joined == 1
    first, second = plan.writes
    assert first.person_id == 9 and first.link_person == (a.res.identity[0], a.res.identity[1])
    assert second.person_id is None and second.new_person == b.res.identity


def test_an_email_matching_two_persons_goes_to_review() -> None:
    [it] = items("registrants", [registration("R-1", "gedeeld@mail.example")])
    email = it.res.identity[1] or ""
    twins = (person(1, "003A", "s1", email), person(2, "003B", "s2", email))
    plan = planner("registrants").plan([it], BatchState(persons=PersonMatches({}, {email: twins})))
    assert plan.writes == [] and len(plan.review) == 1


def test_a_child_whose_parent_never_reached_salesforce_is_rejected() -> None:
    [it] = items("registrations", [registration("R-1", "gast@mail.example")])
    plan = planner("registrations").plan([it], BatchState())
    assert plan.writes == []
    [(origin, column, reason)] = plan.rejects
    assert origin.line == 2 and column in {"CampaignId", "ContactId"} and "parent" in reason


def test_parents_found_in_state_fill_the_lookups() -> None:
    [it] = items("registrations", [registration("R-1", "gast@mail.example")])
    p = planner("registrations")
    q = p.query([it])
    parent_ids = {(parent, h): f"{parent[:3]}ID" for parent, hs in q.parents.items() for h in hs}
    [w] = p.plan([it], BatchState(parent_ids=parent_ids)).writes
    assert w.row["CampaignId"] == "eveID" and w.row["ContactId"] == "regID"


@pytest.mark.parametrize("mapping", ["students", "registrations"])
def test_the_query_asks_only_for_what_the_batch_names(mapping: str) -> None:
    rows = [student("100001")] if mapping == "students" else [registration("R-1", "g@x.nl")]
    its = items(mapping, rows)
    q = planner(mapping).query(its)
    assert list(q.keys) == [its[0].res.key_hash]
    assert q.persons is (mapping == "students")
    assert bool(q.parents) is (mapping == "registrations")


def test_a_person_account_parent_missing_altogether_is_not_a_contact_not_read_yet() -> None:
    """CampaignMember.ContactId of a person-account registrant: without the Account itself (its
    row rejected, Salesforce refused it) the reason must not promise the next run mends it."""
    refs = {"ContactId": ("registrants", "k1")}
    contact_refs = frozenset({"ContactId"})
    payload: dict[str, object] = {}
    gone = Planner._resolve_refs(refs, {}, payload, {}, contact_refs)
    assert gone == ("ContactId", "parent record of mapping 'registrants' is not in Salesforce")
    unread = Planner._resolve_refs(refs, {("registrants", "k1"): "001A"}, payload, {}, contact_refs)
    assert unread == ("ContactId", "person contact of mapping 'registrants' is not known yet")
    done = Planner._resolve_refs(
        refs, {("registrants", "k1"): "001A"}, payload, {("registrants", "k1"): "003B"},
        contact_refs,
    )  # fmt: skip
    assert done is None and payload == {"ContactId": "003B"}
