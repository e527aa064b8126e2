"""The emulator's hot paths: columnar journal ops, replay of older journals, ids, field plans."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from connector.emulator.dml import Dml
from connector.emulator.ids import IdFactory, _base62, id_suffix
from connector.emulator.org_records import JOURNAL, Store, Txn, gc_paused
from connector.emulator.org_schema import load_schema
from connector.emulator.wire import RecordError


def _org(directory: Path) -> tuple[Store, Dml]:
    store = Store(load_schema(None), directory)
    return store, Dml(store)


def _state(store: Store) -> tuple[dict, dict, dict]:
    indexes = {k: {kk: sorted(v) for kk, v in b.items()} for k, b in store.indexes.items() if b}
    return store.data, indexes, dict(store.members)


def _ops(directory: Path) -> list[list]:
    lines = (directory / JOURNAL).read_text().splitlines()
    return [op for line in lines for op in json.loads(line).get("o", [])]


def test_batched_changes_are_journalled_in_columns_and_replay_exactly(tmp_path):
    store, dml = _org(tmp_path)
    contact = store.schema.objects["Contact"]
    txn = Txn(store)
    ids = [
        dml.create(contact, {"LastName": f"L{i}", "SIS_Sync_Key__c": f"K{i}"}, txn)
        for i in range(5)
    ]
    # A record created and changed in the same batch, then a clear and a new key: order matters.
    dml.update(contact, ids[0], {"Phone": "1", "SIS_Sync_Key__c": "New0"}, txn)
    dml.update(contact, ids[1], {"Phone": "2", "SIS_Sync_Key__c": "New1"}, txn)
    dml.update(contact, ids[0], {"Phone": None, "FirstName": "F"}, txn)
    ids.append(dml.create(contact, {"LastName": "Last", "Email": "a@example.org"}, txn))
    dml.delete(ids[2], txn)
    dml.delete(ids[3], txn, hard=True)
    txn.commit()
    kinds = [(op[0], len(op[3]) if op[0] in "PU" else 1) for op in _ops(tmp_path)]
    assert kinds == [("P", 5), ("U", 2), ("U", 1), ("P", 1), ("U", 1), ("x", 1)]
    before = _state(store)
    assert store.data["Contact"][ids[0]]["Phone"] is None
    assert store.data["Contact"][ids[0]]["Name"] == "F L0"
    assert store.find(contact, "SIS_Sync_Key__c", "new1") == [ids[1]]
    assert store.find(contact, "SIS_Sync_Key__c", "K1") == []
    assert store.find(contact, "SIS_Sync_Key__c", "K2") == []  # in the recycle bin
    store.close()

    again, _ = _org(tmp_path)
    assert _state(again) == before
    assert again.ids.new("003") > max(ids)


def test_a_journal_in_the_older_per_record_form_still_loads(tmp_path):
    rid, gone = "0035g0000000001AAA", "0035g0000000002AAA"
    lines = [
        {"p": [["Contact", {"Id": rid, "IsDeleted": False, "LastName": "A"}]]},
        {
            "o": [
                ["p", "Contact", {"Id": gone, "IsDeleted": False, "LastName": "B"}],
                ["u", "Contact", rid, {"SIS_Sync_Key__c": "Key", "Phone": "5"}],
                ["x", "Contact", gone],
                ["p", "Retired__c", {"Id": "a005g0000000003AAA"}],
            ]
        },
    ]
    (tmp_path / JOURNAL).write_text("".join(json.dumps(line) + "\n" for line in lines))
    store, _ = _org(tmp_path)
    contact = store.schema.objects["Contact"]
    assert list(store.data["Contact"]) == [rid]
    rec = store.data["Contact"][rid]
    assert (rec["LastName"], rec["Phone"], rec["HasOptedOutOfEmail"]) == ("A", "5", False)
    assert store.find(contact, "SIS_Sync_Key__c", "KEY") == [rid]
    assert store.ids.new("003") > rid


def test_an_insert_journals_only_non_null_values(tmp_path):
    store, dml = _org(tmp_path)
    lead = store.schema.objects["Lead"]
    txn = Txn(store)
    rid = dml.create(lead, {"LastName": "L", "Company": "C", "Email": None}, txn)
    txn.commit()
    (op,) = _ops(tmp_path)
    journalled = dict(zip(op[2], op[3][0], strict=True))
    assert None not in journalled.values()
    assert journalled["Status"] == "Open - Not Contacted"  # a default is written, not implied
    assert {k: v for k, v in store.data["Lead"][rid].items() if v is not None} == journalled


@pytest.mark.parametrize(
    "n", [1, 61, 62, 3843, 3844, 3844**2 - 1, 3844**2, 62**5 - 1, 62**5, 62**5 + 1, 62**9 - 1]
)
def test_ids_equal_the_base62_and_checksum_definition(n):
    factory = IdFactory(n - 1)
    for prefix in ("003", "00Q", "a0B"):
        head = prefix + "5g0" + _base62(n, 9)
        factory._n = n - 1
        assert factory.new(prefix) == head + id_suffix(head)


def test_field_plans_keep_the_check_order_and_csv_rules(tmp_path):
    store, dml = _org(tmp_path)
    contact = store.schema.objects["Contact"]
    clean = dml.validator.clean
    # The first bad key in the record's own order is the one reported.
    with pytest.raises(RecordError) as first:
        clean(contact, {"Email": "bad", "Bogus__c": 1, "LastName": "x"}, creating=True)
    assert first.value.code == "INVALID_EMAIL_ADDRESS"
    with pytest.raises(RecordError) as second:
        clean(contact, {"Bogus__c": 1, "Email": "bad", "LastName": "x"}, creating=True)
    assert second.value.code == "INVALID_FIELD"
    # CSV: an empty cell skips even a read-only column, but never an unknown one.
    assert clean(contact, {"LastName": "x", "Name": ""}, creating=True, csv=True) == {
        "LastName": "x"
    }
    with pytest.raises(RecordError) as unknown:
        clean(contact, {"LastName": "x", "Bogus__c": ""}, creating=True, csv=True)
    assert unknown.value.code == "INVALID_FIELD"
    # The same keys on update: a create-only rule does not leak between plans.
    member = store.schema.objects["CampaignMember"]
    with pytest.raises(RecordError) as update:
        clean(member, {"CampaignId": "701000000000001AAA"}, creating=False)
    assert update.value.code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert "update" in update.value.message
    # #N/A clears; a cleared checkbox is false; a required field cannot be cleared.
    assert clean(contact, {"Phone": "#N/A", "DoNotCall": "#N/A"}, creating=False, csv=True) == {
        "Phone": None,
        "DoNotCall": False,
    }
    with pytest.raises(RecordError) as required:
        clean(contact, {"LastName": "#N/A"}, creating=False, csv=True)
    assert required.value.code == "REQUIRED_FIELD_MISSING"


def test_gc_paused_restores_the_collector_state():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # somebody else's choice is left alone
    finally:
        gc.enable()


def test_a_hard_deleted_id_is_never_handed_out_again_after_restarts(tmp_path):
    store, dml = _org(tmp_path)
    contact = store.schema.objects["Contact"]
    txn = Txn(store)
    ids = [dml.create(contact, {"LastName": f"L{i}"}, txn) for i in range(3)]
    dml.delete(ids[-1], txn, hard=True)  # the newest id, gone for good
    txn.commit()
    store.close()
    for _ in range(2):  # the first restart compacts the journal; the second reads the snapshot
        again, _ = _org(tmp_path)
        fresh = again.ids.new("003")
        assert fresh not in ids
        assert fresh > ids[-1]
        again.close()
