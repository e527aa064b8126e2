"""Org shapes without a server: schema loading for person accounts / EDA, record type ids, and
the delete plan (SetNull / Restrict / Cascade) on an in-memory store."""

from __future__ import annotations

import pytest

from connector.emulator.dml import Dml
from connector.emulator.org_records import Store, Txn
from connector.emulator.org_schema import load_schema, record_type_id
from connector.emulator.schemas import builtin_schema
from connector.emulator.wire import RecordError


def test_person_accounts_from_a_schema_file_mirror_its_contact_fields(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "personAccounts: true\nobjects:\n  Contact:\n    fields:\n"
        "      - {name: Vooropleiding__c, type: string, length: 40}\n"
    )
    schema = load_schema(f)
    account = schema.objects["Account"]
    assert schema.person_accounts
    assert {"Vooropleiding__pc", "SIS_Sync_Key__pc", "PersonEmail", "PersonBirthdate"} <= set(
        account.fields
    )
    assert account.fields["SIS_Sync_Key__pc"].external_id
    assert "LearnerProgram" in schema.objects
    assert [rt["DeveloperName"] for rt in account.record_types] == [
        "Business_Account",
        "PersonAccount",
    ]
    assert account.fields["RecordTypeId"].default == record_type_id("Account", "Business_Account")


def test_record_type_ids_are_stable_valid_and_distinct():
    a = record_type_id("Account", "PersonAccount")
    assert a == record_type_id("Account", "PersonAccount") and a.startswith("012") and len(a) == 18
    assert a != record_type_id("Account", "Administrative")
    assert a[6:12] == "000000"  # the id counter never jumps because of a record type


def test_eda_schema_declares_the_documented_constraints():
    schema = load_schema(builtin_schema("eda"))
    pe = schema.objects["hed__Program_Enrollment__c"]
    assert pe.fields["hed__Affiliation__c"].delete_constraint == "Restrict"
    assert pe.fields["hed__Contact__c"].delete_constraint == "SetNull"
    aff = schema.objects["hed__Affiliation__c"]
    assert aff.fields["hed__Contact__c"].child_relationship == "hed__Affl_Accounts__r"
    assert not schema.person_accounts and "IsPersonAccount" not in schema.objects["Contact"].fields
    assert builtin_schema("../etc/passwd") is None and builtin_schema("nope") is None


@pytest.fixture
def dml(tmp_path):
    return Dml(Store(load_schema(person_accounts=True), tmp_path))


def _create(dml, obj, **values):
    txn = Txn(dml.store)
    rid = dml.create(dml.store.schema.objects[obj], values, txn)
    txn.commit()
    return rid


def test_delete_plan_orders_cascades_and_clears(dml):
    acc = _create(dml, "Account", Name="ROC")
    con = _create(dml, "Contact", LastName="B", AccountId=acc)
    camp = _create(dml, "Campaign", Name="Open dag")
    member = _create(dml, "CampaignMember", CampaignId=camp, ContactId=con)
    term = _create(dml, "AcademicTermEnrollment", Name="x", LearnerContactId=con)
    schema = dml.store.schema
    doomed, clears = dml.cascade.plan(schema.objects["Account"], dml.store.get(acc))
    assert [r["Id"] for _o, r in doomed] == [acc, con, member]
    assert [(o.name, rid, f) for o, rid, f in clears] == [
        ("AcademicTermEnrollment", term, "LearnerContactId")
    ]


def test_restrict_deep_in_the_tree_refuses_before_any_change(dml):
    acc = _create(dml, "Account", Name="ROC")
    con = _create(dml, "Contact", LastName="B", AccountId=acc)
    _create(dml, "ContactProfile", ContactId=con)
    txn = Txn(dml.store)
    with pytest.raises(RecordError) as exc:
        dml.delete(acc, txn)
    assert exc.value.code == "DELETE_FAILED"
    assert txn.ops == [] and dml.store.get(con)["IsDeleted"] is False
