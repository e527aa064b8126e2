"""target.mode, lookups, record types and person-account children, decided by the pure planner
with hand-built states (no database, no Salesforce)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.privacy.policy import Policy
from connector.records import Origin, SourceRecord
from connector.state.rows import KnownRow, PersonMatches
from connector.sync.batch_state import BatchState
from connector.sync.modes import (
    INSERT_ONLY_EXISTS,
    UPDATE_ONLY_NO_MATCH,
    ModeAction,
    decide,
    needs_person_contact,
)
from connector.sync.plan import Item, Planner

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
HASHER = KeyHasher("modes-unit-test-secret-of-32-bytes!!!!")

PURPOSES = """\
controller: ROC Test
purposes:
  enrolment: {description: x, lawful_basis: contract, retention: {after: lifecycle_end, keep: P1M}}
"""
MAPPINGS = {
    "students": """\
name: students
source: {kind: csv, path: data/s.csv, key: nr}
target: {object: Account, external_id: SIS_Student_Number__pc, person_account: true}
identity: {student_number: nr}
fields:
  SIS_Student_Number__pc: {from: nr, purposes: [enrolment]}
  LastName: {from: last, purposes: [enrolment]}
""",
    "members": """\
name: members
source: {kind: csv, path: data/m.csv, key: id}
target: {object: CampaignMember, external_id: Key__c}
fields:
  ContactId: {ref: {mapping: students, from: nr}, purposes: [enrolment]}
""",
    "contacts": """\
name: contacts
source: {kind: csv, path: data/c.csv, key: nr}
target: {object: Contact, external_id: Ext__c, mode: update_only, record_type: Student}
fields:
  Ext__c: {from: nr, purposes: [enrolment]}
  LastName: {from: last, purposes: [enrolment]}
  LearningProgramId:
    from: crebo
    lookup: {object: LearningProgram, external_id: Crebo__c}
    purposes: [enrolment]
""",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("p") / "mappings"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(PURPOSES, encoding="utf-8")
    for name, text in MAPPINGS.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    project = load_project(folder)
    compiled = {n: project.compile(n, hasher=HASHER, today=TODAY) for n in project.mappings}
    return project, compiled


def _items(project, mapping, rows):
    spec, compiled = project[0].mappings[mapping], project[1][mapping]
    policy = Policy(
        project[0].purposes,
        compiled.field_purposes,
        opt_out_fields=compiled.opt_out_fields,
        crm_owned=compiled.crm_owned,
        always_send={f for f, s in spec.fields.items() if s.ref is not None},
    )
    out = []
    for line, row in enumerate(rows, start=2):
        rec = SourceRecord(str(row[spec.key_columns[0]]), row, Origin("x.csv", line))
        res = compiled.apply(rec)
        assert res is not None and not res.errors, res and res.errors
        out.append(Item(rec, res, policy.decide(res.values, res.facts, TODAY)))
    return out


def _planner(project, mapping, mode=None, **kw):
    spec = project[0].mappings[mapping]
    if mode is not None:
        spec = spec.model_copy(update={"target": spec.target.model_copy(update={"mode": mode})})
    return Planner(mapping, spec, project[1], HASHER, now=NOW, **kw)


def test_decide_per_mode():
    assert decide("upsert", None, None).action is ModeAction.WRITE
    assert decide("update_only", None, None).reason == UPDATE_ONLY_NO_MATCH
    assert decide("update_only", None, "003F").sf_id == "003F"
    assert decide("update_only", "003K", "003F").sf_id == "003K"  # state's id first
    assert decide("insert_only", None, "003F").reason == INSERT_ONLY_EXISTS
    assert decide("insert_only", "003K", None).action is ModeAction.SKIP
    assert decide("insert_only", None, None).action is ModeAction.WRITE


@pytest.mark.parametrize(
    ("field", "contact"),
    [("ContactId", True), ("WhoId", True), ("LearnerContactId", True), ("hed__Contact__c", True),
     ("LearnerAccountId", False), ("AccountId", False), ("WhatId", False)],
)  # fmt: skip
def test_fields_that_want_a_contact(field, contact):
    assert needs_person_contact(field) is contact


def test_lookup_is_renamed_to_relationship_syntax_and_record_type_added(project):
    [it] = _items(project, "contacts", [{"nr": "1", "last": "Jansen", "crebo": "25604"}])
    p = _planner(project, "contacts", mode="upsert", record_type_id="012000000000001AAA")
    [w] = p.plan([it], BatchState()).writes
    assert w.row["LearningProgram.Crebo__c"] == "25604"
    assert "LearningProgramId" not in w.row
    assert w.row["RecordTypeId"] == "012000000000001AAA"


def test_an_emptied_lookup_clears_the_field_itself(project):
    p = _planner(project, "contacts", mode="upsert")
    [before] = _items(project, "contacts", [{"nr": "1", "last": "Jansen", "crebo": "25604"}])
    [first] = p.plan([before], BatchState()).writes
    known = {before.res.key_hash: KnownRow("003000000000001AAA", None, _hashes(first), False)}
    [after] = _items(project, "contacts", [{"nr": "1", "last": "Jansen", "crebo": ""}])
    [w] = p.plan([after], BatchState(known=known)).writes
    assert w.row["LearningProgramId"] is None
    assert not any("." in k for k in w.row)
    # Unchanged, it is not sent again.
    assert p.plan([before], BatchState(known=known)).writes == []


def _hashes(write):
    import json

    return json.loads(write.hashes)


def test_update_only_skips_what_the_org_lacks_and_updates_what_it_has_by_id(project):
    rows = [{"nr": "1", "last": "A", "crebo": ""}, {"nr": "2", "last": "B", "crebo": ""}]
    items = _items(project, "contacts", rows)
    p = _planner(project, "contacts")
    state = BatchState()
    assert p.match_values(items, state) == ["1", "2"]
    plan = p.plan(items, BatchState(existing={"2": "003000000000002AAA"}))
    [w] = plan.writes
    assert (w.operation, w.row["Id"]) == ("update", "003000000000002AAA")
    assert plan.mode_skipped == {UPDATE_ONLY_NO_MATCH: 1}


def test_insert_only_leaves_known_and_found_records_alone(project):
    rows = [{"nr": "1", "last": "A", "crebo": ""}, {"nr": "2", "last": "B", "crebo": ""},
            {"nr": "3", "last": "C", "crebo": ""}]  # fmt: skip
    items = _items(project, "contacts", rows)
    p = _planner(project, "contacts", mode="insert_only")
    known = {items[0].res.key_hash: KnownRow("003000000000001AAA", None, {}, False)}
    assert p.match_values(items, BatchState(known=known)) == ["2", "3"]
    plan = p.plan(items, BatchState(known=known, existing={"2": "003000000000002AAA"}))
    [w] = plan.writes
    assert (w.operation, w.row["Ext__c"]) == ("upsert", "3")
    assert plan.mode_skipped == {INSERT_ONLY_EXISTS: 2}


def test_upsert_mode_asks_the_org_nothing(project):
    items = _items(project, "contacts", [{"nr": "1", "last": "A", "crebo": ""}])
    assert _planner(project, "contacts", mode="upsert").match_values(items, BatchState()) == []


def test_a_child_of_a_person_account_gets_the_person_contact(project):
    [it] = _items(project, "members", [{"id": "m1", "nr": "1"}])
    p = _planner(project, "members")
    parent_hash = project[1]["students"].hash_key("1")
    query = p.query([it])
    assert query.contact_parents == {"students": [parent_hash]}
    state = BatchState(
        parent_ids={("students", parent_hash): "001000000000001AAA"},
        parent_contacts={("students", parent_hash): "003000000000009AAA"},
        persons=PersonMatches({}, {}),
    )
    [w] = p.plan([it], state).writes
    assert w.row["ContactId"] == "003000000000009AAA"
    # Without a known person contact the row waits (rejected this run, sent on the next).
    plan = p.plan([it], BatchState(parent_ids={("students", parent_hash): "001000000000001AAA"}))
    assert plan.writes == [] and "person contact" in plan.rejects[0][2]
