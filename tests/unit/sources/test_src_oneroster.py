"""OneRosterSource on the four real sample sets (read in place) and generated delta folders."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from connector.errors import ConfigError, InputError
from connector.records import Reject, SourceRecord
from connector.sources import open_source
from connector.sources.oneroster import BULK_DELETE, NON_ISO_DATE, date_problem

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO.parent / "shared" / "samples" / "oneroster"
FULL11, MIN11 = "Test_full_data_set", "Test_minimal_data_set"
FULL12, DELTA12 = "v1p2_full_dataset", "oneroster_test_data"


def read(folder: str, entity: str = "users", base: Path = REPO, **opts):
    path = folder if base != REPO else f"../shared/samples/oneroster/{folder}"
    s = open_source({"kind": "oneroster", "path": path, "entity": entity, **opts}, base_dir=base)
    s.check()
    out = list(s.read())
    recs = [r for r in out if isinstance(r, SourceRecord)]
    rejs = [r for r in out if isinstance(r, Reject)]
    return recs, rejs


def test_samples_are_where_the_tests_expect_them():
    assert (SAMPLES / FULL11 / "manifest.csv").is_file()


def test_11_full_users_all_read_with_parent_and_org_join():
    recs, rejs = read(FULL11)
    assert len(recs) == 6
    assert rejs == []
    by_key = {r.key: r for r in recs}
    parent = by_key["usr-222-1234561"]
    assert parent.fields["role"] == "parent"
    assert parent.fields["agentSourcedIds"] == "usr-222-66778899"
    assert parent.fields["orgs.name"] == ["History Department"]
    assert parent.fields["orgs.identifier"] == ["History"]
    assert parent.origin.file == f"../shared/samples/oneroster/{FULL11}/users.csv"
    assert parent.origin.line == 4
    assert not any(r.deleted for r in recs)


def test_roles_filter_keeps_only_students():
    recs, _ = read(FULL11, roles=["student"])
    assert sorted(r.key for r in recs) == [
        "usr-222-1234561232",
        "usr-222-567891",
        "usr-222-66778899",
    ]


def test_11_full_enrollments_join_class_school_session_but_not_missing_course():
    recs, rejs = read(FULL11, "enrollments")
    assert len(recs) == 6
    assert rejs == []
    first = recs[0].fields
    assert first["class.title"] == "Introduction to Physics"
    assert first["school.name"] == "History Department"
    assert first["session.startDate"] == "2022-09-01"
    assert first["session.endDate"] == "2022-12-24"
    assert "course.title" not in first  # courses.csv is absent in this set: join left out


def test_dangling_parent_org_keeps_record_omits_join_and_logs_no_values(caplog):
    caplog.set_level(logging.WARNING, logger="connector.sources.oneroster")
    recs, rejs = read(FULL11, "orgs")
    assert [r.key for r in recs] == ["org-sch-222-456"]
    assert rejs == []
    assert recs[0].fields["parentSourcedId"] == "org-sch-222-3456"
    assert not any(k.startswith("parent.") for k in recs[0].fields)
    assert "1 references to records not in the export" in caplog.text
    assert "org-sch-222-3456" not in caplog.text


def test_bulk_rows_marked_tobedeleted_are_rejected_not_deleted_and_inactive_tolerated():
    recs, rejs = read(FULL11, "classes")
    assert [r.key for r in recs] == ["cls-222-123456"]
    assert [(r.origin.line, r.column, r.reason) for r in rejs] == [(3, "status", BULK_DELETE)]
    recs, rejs = read(FULL11, "academicSessions")
    assert len(recs) == 4
    assert len(rejs) == 1
    assert {r.fields["status"] for r in recs} == {"active", "inactive"}


def test_11_minimal_set_reads_with_blank_status_and_dates():
    users, rejs = read(MIN11)
    assert len(users) == 6
    assert rejs == []
    enrollments, rejs = read(MIN11, "enrollments")
    assert len(enrollments) == 6
    assert rejs == []
    assert enrollments[0].fields["beginDate"] is None
    assert enrollments[0].fields["class.title"] == "Introduction to Physics"


def test_12_full_users_reject_non_iso_dates_and_fix_typo_headers():
    recs, rejs = read(FULL12)
    assert [r.key for r in recs] == ["usr-222-66778899"]
    assert len(rejs) == 5
    assert {(r.column, r.reason) for r in rejs} == {("dateLastModified", NON_ISO_DATE)}
    assert [r.origin.line for r in rejs] == [2, 4, 5, 6, 7]
    mary = recs[0].fields
    assert mary["preferredGivenName"] == "MJ"  # header typo 'prefferedGivenName'
    assert mary["role"] == "student"  # 1.2: from roles.csv
    assert mary["roles"] == ["student"]
    assert mary["orgs.name"] == ["History Department"]


def test_12_roles_csv_with_typo_and_empty_trailing_headers():
    recs, rejs = read(FULL12, "roles")
    assert len(recs) == 7
    assert rejs == []
    assert recs[0].fields["dateLastModified"] == "2025-01-01"  # 'dataLastModified' typo
    assert "" not in recs[0].fields
    guardians, _ = read(FULL12, "roles", roles=["guardian"])
    assert [r.fields["userSourcedId"] for r in guardians] == ["usr-222-123456"]


def test_12_role_filter_applies_before_date_checks():
    recs, rejs = read(FULL12, roles=["teacher"])
    assert recs == []  # the teachers' rows carry d/mm/yyyy dates: rejected, never guessed
    assert [r.origin.line for r in rejs] == [2, 5]  # other roles' rows are not even looked at


def test_12_primary_role_wins_and_secondary_roles_are_listed(tmp_path):
    folder = tmp_path / "d"
    write_set(
        folder,
        "bulk",
        {
            "users": "sourcedId,enabledUser,username,primaryOrgSourcedId\nu1,true,a,o1\n",
            "roles": "sourcedId,userSourcedId,roleType,role,orgSourcedId\n"
            "r1,u1,secondary,guardian,o2\nr2,u1,primary,teacher,o1\n",
            "orgs": "sourcedId,name,type\no1,One,school\no2,Two,school\n",
        },
    )
    (rec,), _ = read("d", base=tmp_path, roles=["guardian"])
    assert rec.fields["role"] == "teacher"
    assert rec.fields["roles"] == ["guardian", "teacher"]
    assert rec.fields["orgs.name"] == ["One", "Two"]


def test_12_delta_set_users_enrollments_demographics():
    users, rejs = read(DELTA12)
    assert len(users) == 1
    assert rejs == []
    u = users[0]
    assert (u.key, u.deleted, u.fields["role"]) == ("USER_0", False, "student")
    assert u.fields["orgs.name"] == ["Gotham High School"]
    enr, _ = read(DELTA12, "enrollments")
    assert enr[0].fields["course.title"] == "Crime Fighting 101"
    assert enr[0].fields["session.startDate"] == "2023-09-04"
    demo, _ = read(DELTA12, "demographics")
    assert demo[0].fields["birthDate"] == "2010-04-17"


def test_absent_entity_and_missing_key_refused_at_check():
    with pytest.raises(InputError, match="manifest declares it absent"):
        read(FULL11, "demographics")
    with pytest.raises(InputError) as err:
        read(FULL11, key="userMasterIdentifier")
    assert err.value.column == "userMasterIdentifier"


def test_roles_filter_on_an_entity_without_roles_is_an_option_error():
    with pytest.raises(ConfigError, match="roles filter"):
        read(FULL11, "orgs", roles=["student"])


def write_set(folder: Path, mode: str, files: dict[str, str]) -> None:
    folder.mkdir()
    lines = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.1"]
    lines += [f"file.{name},{mode}" for name in files]
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)


USERS_HEADER = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username\n"


def test_delta_tobedeleted_becomes_deleted_record(tmp_path):
    users = (
        USERS_HEADER
        + "u1,active,2024-01-02T03:04:05.000Z,true,o1,student,a\n"
        + "u2,tobedeleted,2024-01-02T03:04:05Z,true,o1,student,b\n"
    )
    write_set(
        tmp_path / "d", "delta", {"users": users, "orgs": "sourcedId,name,type\no1,X,school\n"}
    )
    recs, rejs = read("d", base=tmp_path)
    assert rejs == []
    assert [(r.key, r.deleted) for r in recs] == [("u1", False), ("u2", True)]


def test_a_delta_read_holds_changes_only_and_a_bulk_read_leaves_it_to_the_mapping(tmp_path):
    users = USERS_HEADER + "u1,,,true,o1,student,a\n"
    for mode, says in (("delta", False), ("bulk", None)):
        write_set(tmp_path / mode, mode, {"users": users, "orgs": "sourcedId,name,type\n"})
        s = open_source({"kind": "oneroster", "path": mode, "entity": "users"}, base_dir=tmp_path)
        s.check()
        assert [r.key for r in s.read()] == ["u1"]  # type: ignore[union-attr]
        assert s.holds_everything() is says


def test_non_iso_begin_date_rejected_and_enrollment_without_class_kept(tmp_path):
    enr = (
        "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role,beginDate\n"
        "e1,c-missing,o1,u1,student,2024-09-01\n"
        "e2,c-missing,o1,u1,student,01-09-2024\n"
        "e3,c-missing,o1,u1,student,2024-02-30\n"
        ",c-missing,o1,u1,student,\n"
    )
    write_set(tmp_path / "d", "bulk", {"enrollments": enr})
    recs, rejs = read("d", "enrollments", base=tmp_path)
    assert [r.key for r in recs] == ["e1"]
    assert not any(k.startswith("class.") for k in recs[0].fields)
    assert [(r.origin.line, r.column, r.reason) for r in rejs] == [
        (3, "beginDate", NON_ISO_DATE),
        (4, "beginDate", "not a valid calendar date"),
        (5, "sourcedId", "empty key"),
    ]


def test_manifest_missing_or_listing_a_missing_file_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="file not found"):
        read("empty", base=tmp_path)
    write_set(tmp_path / "d", "bulk", {"orgs": "sourcedId,name,type\no1,X,school\n"})
    (tmp_path / "d" / "manifest.csv").write_text(
        "propertyName,value\nfile.users,bulk\nfile.orgs,bulk\n"
    )
    with pytest.raises(InputError, match="lists it but it is missing"):
        read("d", base=tmp_path)


@pytest.mark.parametrize(
    ("value", "column", "ok"),
    [
        ("2023-05-01", "birthDate", True),
        ("2023-05-01T18:25:43.511Z", "birthDate", False),
        ("2023-05-01T18:25:43.511Z", "dateLastModified", True),
        ("2023-05-01", "dateLastModified", True),
        ("1/05/2023", "dateLastModified", False),
        ("15/06/2023", "startDate", False),
    ],
)
def test_date_rules(value, column, ok):
    assert (date_problem(value, column) == "") is ok


def _users(tmp_path: Path, header: str) -> Path:
    folder = tmp_path / "or"
    write_set(folder, "bulk", {"users": header + "u1,active,,true,,student,ann\n"})
    return folder


def test_a_renamed_column_the_mapping_reads_is_refused_at_check_and_at_read(tmp_path):
    # A renamed `email` read as empty on every row and cleared every Contact's e-mail.
    folder = _users(tmp_path, USERS_HEADER.replace("username", "email"))
    s = open_source(
        {"kind": "oneroster", "path": str(folder), "entity": "users"}, base_dir=tmp_path
    )
    s.check()
    # Joined columns and the roles are the reader's own: never asked of the file.
    s.require_columns(["sourcedId", "email", "orgs.name", "role", "roles", "session.title"])
    (folder / "users.csv").write_text(
        USERS_HEADER.replace("username", "emailAddress") + "u1,active,,true,,student,a\n"
    )
    with pytest.raises(InputError, match=r"users\.csv:1: email: a column the mapping reads"):
        next(iter(s.read()))
    s.check()
    with pytest.raises(InputError, match=r"users\.csv:1: email: a column the mapping reads"):
        s.require_columns(["sourcedId", "email"])


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('oneroster.version,"1.1', "unterminated quote"),  # swallowed the rest of the manifest
        ("note," + "x" * 200_000, "cannot be read"),  # over the field limit: csv.Error, exit 70
    ],
)
def test_a_broken_manifest_is_refused_naming_it(tmp_path, line, reason):
    folder = _users(tmp_path, USERS_HEADER)
    manifest = folder / "manifest.csv"
    text = manifest.read_text().splitlines()
    manifest.write_text("\n".join([*text[:2], line, *text[2:]]) + "\n")
    s = open_source(
        {"kind": "oneroster", "path": str(folder), "entity": "users"}, base_dir=tmp_path
    )
    with pytest.raises(InputError, match=rf"manifest\.csv:3: .*{reason}"):
        s.check()
