"""Which mappings `state rebuild` searches for records that left their export, and how a
record's external id leads back to the key hash state keeps (no org, no database)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from connector.commands.mapping import DEFAULTS
from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.mapping.carriers import key_hash_of
from connector.sync.rebuild_adopt import Adoption, _ours, _shared, _why_not

PROJECT = load_project(DEFAULTS / "mappings")
HASHER = KeyHasher("unit-test secret, not a real one, long enough to pass")


def _compiled(name: str):
    return PROJECT.compile(name, hasher=HASHER, today=date(2026, 12, 1))


def test_a_full_export_with_its_key_in_the_external_id_is_searched() -> None:
    assert _why_not(PROJECT.mappings["students"], True) == ""
    assert _why_not(PROJECT.mappings["registrants"], True) == ""


def test_an_export_of_changes_only_or_an_unfinished_mapping_is_not() -> None:
    incremental = PROJECT.mappings["students"].model_copy(update={"full_export": False})
    assert _why_not(incremental, True).startswith("not a full export")
    assert _why_not(PROJECT.mappings["students"], False).startswith("the rebuild did not")


def test_an_external_id_mapped_from_another_column_than_the_key_is_not() -> None:
    # oneroster_users: the key is sourcedId, SIS_Student_Number__c comes from `identifier`.
    assert "does not give back its record key" in _why_not(
        PROJECT.mappings["oneroster_users"], True
    )


def test_a_shared_external_id_is_searched_only_while_the_other_export_is_absent(
    tmp_path: Path,
) -> None:
    assert _shared("students", PROJECT, tmp_path) == ""
    (tmp_path / "data" / "oneroster").mkdir(parents=True)
    assert _shared("students", PROJECT, tmp_path).startswith("mapping oneroster_users writes")
    assert _shared("registrants", PROJECT, tmp_path) == ""  # Contact.SIS_Sync_Key__c: its own


def test_the_key_hash_of_a_mapped_and_of_a_generated_external_id() -> None:
    students = _compiled("students")
    # Mapped: the value is the key, normalised as the mapping normalises it (strip).
    assert key_hash_of(PROJECT.mappings["students"], students, " 400001 ") == students.hash_key(
        "400001"
    )
    assert key_hash_of(PROJECT.mappings["students"], students, "   ") is None
    # Generated: the org holds the key hash itself.
    registrants = _compiled("registrants")
    sent = registrants.hash_key("bezoeker@mail.example")
    assert key_hash_of(PROJECT.mappings["registrants"], registrants, sent) == sent


US = "0055g000004Emu1AAC"  # the integration user the token names
STAFF = "0055g000004StaffAA"


def _rec(sf_id: str, ext: str, value: str, created: str = US, modified: str = US) -> dict:
    return {"id": sf_id, ext: value, "createdbyid": created, "lastmodifiedbyid": modified}


def test_only_records_sis_sync_could_have_written_and_did_are_taken() -> None:
    spec, compiled = PROJECT.mappings["students"], _compiled("students")
    ext = spec.target.external_id
    adoption = Adoption("students", "Contact")
    page = [
        _rec("003A", ext, "5375566"),  # sis-sync's: the normalised key
        _rec("003B", ext, "５３７５５６７"),  # full-width digits typed by hand
        _rec("003C", ext, "5375568 "),  # a trailing space
        _rec("003D", ext, "53755\u200b69"),  # an invisible character
        _rec("003E", ext, "9999999", created=STAFF, modified=STAFF),  # staff's own Contact
        _rec("003F", ext, "8888888", created=STAFF, modified=US[:15]),  # staff's, sis-sync wrote
    ]
    found = _ours(page, spec, compiled, US, adoption)
    assert {r["id"] for r in found.values()} == {"003A", "003F"}
    assert found[compiled.hash_key("5375566")]["id"] == "003A"
    assert adoption.others == ["003E"]


def test_a_generated_external_id_must_be_a_key_hash() -> None:
    spec, compiled = PROJECT.mappings["registrants"], _compiled("registrants")
    ext = spec.target.external_id
    sent = compiled.hash_key("bezoeker@mail.example")
    page = [_rec("003A", ext, sent), _rec("003B", ext, "piet.puk@example.com")]
    found = _ours(page, spec, compiled, US, Adoption("registrants", "Contact"))
    assert list(found) == [sent]  # a raw value never becomes a "key hash" in state
