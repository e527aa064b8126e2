"""The demo data set: shape, realism, determinism and the documented malformed rows."""

from __future__ import annotations

import csv
import json
import re
import tracemalloc
from datetime import date, datetime
from pathlib import Path

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from connector.demo import DatasetSummary, generate, generate_students_csv
from connector.errors import UsageError

TODAY = date(2026, 3, 15)

# Written out here rather than imported: the shipped mappings read exactly these names.
STUDENT_HEADER = [
    "studentnummer",
    "achternaam",
    "tussenvoegsel",
    "roepnaam",
    "voorletters",
    "geboortedatum",
    "geslacht",
    "email",
    "mobiel",
    "telefoon",
    "straat",
    "huisnummer",
    "postcode",
    "woonplaats",
    "opleiding",
    "crebo",
    "leerweg",
    "niveau",
    "status",
    "status_datum",
    "toestemming_nieuws",
    "toestemming_nieuws_op",
    "toestemming_nieuws_bron",
    "toestemming_bellen",
    "toestemming_bellen_op",
    "toestemming_bellen_door",
    "toestemming_bellen_bron",
    "bsn",
]
REGISTRATION_HEADER = [
    "registratie_id",
    "evenement_id",
    "evenement_naam",
    "evenement_type",
    "evenement_datum",
    "locatie",
    "voornaam",
    "tussenvoegsel",
    "achternaam",
    "email",
    "mobiel",
    "geboortedatum",
    "opleiding_interesse",
    "aangemeld_op",
    "ingecheckt",
    "ingecheckt_op",
    "qr_code",
    "toestemming_nieuws",
    "toestemming_nieuws_op",
    "toestemming_nieuws_bron",
]
STUDENTS, REGISTRATIONS, CHECKINS = "studenten.csv", "aanmeldingen_opendag.csv", "checkins.jsonl"


def eleven_check(value: str) -> int:
    """Independent of the generator: Σ(9..2 × d1..d8) − d9 mod 11, zero-padded as stdnum does."""
    digits = value.zfill(9)
    return (sum((9 - i) * int(d) for i, d in enumerate(digits[:8])) - int(digits[8])) % 11


def is_valid_phone(value: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, "NL"))
    except phonenumbers.NumberParseException:
        return False


def is_valid_email(value: str) -> bool:
    try:
        validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def is_valid_postcode(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    return bool(re.fullmatch(r"[1-9]\d{3}[A-Z]{2}", compact)) and compact[4:] not in {
        "SA",
        "SD",
        "SS",
    }


def dmy(value: str) -> date:
    return datetime.strptime(value, "%d-%m-%Y").date()


def moment(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None and value[-6:] in {"+01:00", "+02:00"}, "offset missing"
    return parsed


def age(born: date) -> int:
    return TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))


def read_rows(path: Path, delimiter: str, encoding: str) -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> DatasetSummary:
    return generate(tmp_path_factory.mktemp("demo"), today=TODAY)


@pytest.fixture(scope="module")
def students(dataset) -> list[list[str]]:
    return read_rows(dataset.data_dir / STUDENTS, ";", "utf-8-sig")


@pytest.fixture(scope="module")
def registrations(dataset) -> list[list[str]]:
    return read_rows(dataset.data_dir / REGISTRATIONS, ",", "utf-8")


def good_records(dataset, rows, file) -> list[dict[str, str]]:
    bad = set(dataset.malformed_lines(file))
    return [
        dict(zip(rows[0], row, strict=True))
        for line, row in enumerate(rows[1:], 2)
        if line not in bad
    ]


def test_same_seed_and_day_give_the_same_bytes(tmp_path):
    first = generate(
        tmp_path / "a", seed=7, today=TODAY, students=40, applicants=20, registrations=60
    )
    second = generate(
        tmp_path / "b", seed=7, today=TODAY, students=40, applicants=20, registrations=60
    )
    other = generate(
        tmp_path / "c", seed=8, today=TODAY, students=40, applicants=20, registrations=60
    )
    for name in (STUDENTS, REGISTRATIONS, CHECKINS):
        assert (first.data_dir / name).read_bytes() == (second.data_dir / name).read_bytes()
    assert (first.data_dir / STUDENTS).read_bytes() != (other.data_dir / STUDENTS).read_bytes()
    assert first.malformed == second.malformed


def test_files_have_the_contracted_columns_and_dialects(dataset):
    raw_students = (dataset.data_dir / STUDENTS).read_bytes()
    assert raw_students.startswith(b"\xef\xbb\xbf")
    assert raw_students.split(b"\r\n")[0].decode("utf-8-sig").split(";") == STUDENT_HEADER
    raw_registrations = (dataset.data_dir / REGISTRATIONS).read_bytes()
    assert not raw_registrations.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in raw_registrations
    assert raw_registrations.split(b"\n")[0].decode().split(",") == REGISTRATION_HEADER
    scans = (dataset.data_dir / CHECKINS).read_text(encoding="utf-8").splitlines()
    assert scans
    for line in scans:
        assert list(json.loads(line)) == [
            "scan_id",
            "qr_code",
            "evenement_id",
            "gescand_op",
            "apparaat",
        ]


def test_counts_match_the_summary(dataset, students, registrations):
    assert dataset.rows == {
        STUDENTS: len(students) - 1,
        REGISTRATIONS: len(registrations) - 1,
        CHECKINS: dataset.checkins,
    }
    assert dataset.rows[STUDENTS] == 300 + 150 + len(dataset.malformed[STUDENTS])
    assert dataset.rows[REGISTRATIONS] == 400 + len(dataset.malformed[REGISTRATIONS])
    good = good_records(dataset, students, STUDENTS)
    statuses = [r["status"] for r in good]
    assert sum(s in {"ingeschreven", "uitgeschreven"} for s in statuses) == dataset.students == 300
    assert sum(s in {"aangemeld", "afgewezen"} for s in statuses) == dataset.applicants == 150
    assert set(statuses) == {"ingeschreven", "uitgeschreven", "aangemeld", "afgewezen"}


def test_bsn_column_passes_the_eleven_check_and_student_numbers_never_do(dataset, students):
    good = good_records(dataset, students, STUDENTS)
    assert all(re.fullmatch(r"\d{9}", r["bsn"]) and eleven_check(r["bsn"]) == 0 for r in good)
    numbers = [r["studentnummer"] for r in good]
    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(r"\d{6,7}", n) for n in numbers)
    assert {len(n) for n in numbers} == {6, 7}
    # Neither a BSN (remainder 0) nor an onderwijsnummer (remainder 5, starts with 10) when padded.
    assert not any(eleven_check(n) == 0 for n in numbers)


def test_people_look_like_a_dutch_mbo_export(dataset, students):
    good = good_records(dataset, students, STUDENTS)
    ages = [age(dmy(r["geboortedatum"])) for r in good]
    assert min(ages) >= 15 and max(ages) <= 25
    assert all(
        is_valid_phone(r["mobiel"]) and re.sub(r"\D", "", r["mobiel"])[-9] == "6" for r in good
    )
    assert all(is_valid_phone(r["telefoon"]) for r in good if r["telefoon"])
    assert any(not r["telefoon"] for r in good) and any(r["telefoon"] for r in good)
    assert all(is_valid_postcode(r["postcode"]) for r in good)
    assert {" " in r["postcode"] for r in good} == {True, False}
    assert any(r["postcode"][-2:].islower() for r in good)
    assert all(is_valid_email(r["email"]) for r in good)
    emails = [r["email"].strip().lower() for r in good]
    assert len(set(emails)) == len(emails)
    assert any(r["email"] != r["email"].strip() for r in good)
    assert any(r["email"].strip() != r["email"].strip().lower() for r in good)
    styles = {re.sub(r"\d", "9", r["mobiel"]) for r in good}
    assert {"99-99999999", "99 9999 9999", "+99 9 9999 9999", "9999999999999"} <= styles
    assert any(not r["huisnummer"].isdigit() for r in good)
    assert any(r["tussenvoegsel"] for r in good)
    assert all(re.fullmatch(r"(?:[A-Z]\.)+", r["voorletters"]) for r in good)
    assert all(r["voorletters"][0] == r["roepnaam"][0].upper() for r in good)
    assert all(re.fullmatch(r"\d{5}", r["crebo"]) for r in good)
    assert {r["leerweg"] for r in good} == {"BOL", "BBL"}
    assert {r["niveau"] for r in good} == {"1", "2", "3", "4"}
    assert all(dmy(r["status_datum"]) <= TODAY for r in good)


def test_about_fifteen_percent_are_minors_and_phone_consent_follows_age(dataset, students):
    good = good_records(dataset, students, STUDENTS)
    minors = [r for r in good if age(dmy(r["geboortedatum"])) < 16]
    assert dataset.minors == len(minors)
    assert 0.10 <= len(minors) / len(good) <= 0.20
    phoned = [r for r in minors if r["toestemming_bellen"] == "ja" and r["toestemming_bellen_op"]]
    assert any(r["toestemming_bellen_door"] == "parent" for r in phoned)
    assert any(r["toestemming_bellen_door"] == "self" for r in phoned)  # policy must refuse
    adults = [r for r in good if age(dmy(r["geboortedatum"])) >= 16]
    assert {r["toestemming_bellen_door"] for r in adults if r["toestemming_bellen"] == "ja"} == {
        "self"
    }


def test_consents_carry_iso_timestamps_except_the_deliberate_gaps(dataset, students, registrations):
    good = good_records(dataset, students, STUDENTS)
    assert {r["toestemming_nieuws"] for r in good} == {"ja", "nee", ""}
    assert {r["toestemming_bellen"] for r in good} == {"ja", "nee"}
    for record in good:
        for column in ("toestemming_nieuws_op", "toestemming_bellen_op"):
            if record[column]:
                assert moment(record[column]).date() < TODAY
    assert any(r["toestemming_nieuws"] == "ja" and not r["toestemming_nieuws_op"] for r in good)
    assert any(r["toestemming_nieuws_bron"] == "open dag" for r in good)
    regs = good_records(dataset, registrations, REGISTRATIONS)
    assert any(r["toestemming_nieuws"] == "ja" and not r["toestemming_nieuws_op"] for r in regs)
    assert all(moment(r["toestemming_nieuws_op"]) for r in regs if r["toestemming_nieuws_op"])


def test_events_registrations_and_check_ins(dataset, registrations):
    regs = good_records(dataset, registrations, REGISTRATIONS)
    events = {r["evenement_id"]: r for r in regs}
    assert 5 <= len(events) == dataset.events <= 8
    for event_id, r in events.items():
        match = re.fullmatch(r"(OD|MD|VL)-(\d{4}-\d{2}-\d{2})-[A-Z]{3}", event_id)
        assert match and match.group(2) == r["evenement_datum"]
        assert (
            r["evenement_type"]
            == {"OD": "Open dag", "MD": "Meeloopdag", "VL": "Voorlichting"}[match.group(1)]
        )
    past = [r for r in regs if date.fromisoformat(r["evenement_datum"]) < TODAY]
    future = [r for r in regs if date.fromisoformat(r["evenement_datum"]) > TODAY]
    assert past and future
    assert all(r["ingecheckt"] == "nee" and not r["ingecheckt_op"] for r in future)
    assert 0.45 <= sum(r["ingecheckt"] == "ja" for r in past) / len(past) <= 0.75
    for r in regs:
        registered = moment(r["aangemeld_op"])
        assert registered.date() < min(date.fromisoformat(r["evenement_datum"]), TODAY)
        if r["ingecheckt"] == "ja":
            assert moment(r["ingecheckt_op"]).date().isoformat() == r["evenement_datum"]
        assert not r["geboortedatum"] or date.fromisoformat(r["geboortedatum"])
        assert is_valid_email(r["email"]) and (not r["mobiel"] or is_valid_phone(r["mobiel"]))
    codes = [r["qr_code"] for r in regs]
    assert len(set(codes)) == len(codes) and all(re.fullmatch(r"[A-Z0-9]{8}", c) for c in codes)
    ids = [r["registratie_id"] for r in regs]
    assert len(set(ids)) == len(ids) and all(ids)
    assert any(not r["geboortedatum"] for r in regs)
    assert dataset.registration_minors == sum(
        1 for r in regs if r["geboortedatum"] and age(date.fromisoformat(r["geboortedatum"])) < 16
    )

    scans = [json.loads(line) for line in (dataset.data_dir / CHECKINS).read_text().splitlines()]
    checked = {
        (r["qr_code"], r["evenement_id"], r["ingecheckt_op"])
        for r in regs
        if r["ingecheckt"] == "ja"
    }
    assert {(s["qr_code"], s["evenement_id"], s["gescand_op"]) for s in scans} == checked
    assert len(scans) == len(checked) == dataset.checkins


def test_registrants_repeat_and_applicants_join_by_email(dataset, students, registrations):
    regs = good_records(dataset, registrations, REGISTRATIONS)
    by_person: dict[str, set[str]] = {}
    for r in regs:
        by_person.setdefault(r["email"].strip().lower(), set()).add(r["email"])
    assert any(len(spellings) > 1 for spellings in by_person.values())  # same person, other casing
    applicants = {
        r["email"].strip().lower()
        for r in good_records(dataset, students, STUDENTS)
        if r["status"] in {"aangemeld", "afgewezen"}
    }
    joined = applicants & set(by_person)
    assert len(joined) == dataset.joins and 0.2 <= dataset.joins / 150 <= 0.4


def has_defect(problem: str, value: str, file: str) -> bool:
    if problem == "bad_date":
        try:
            (dmy if file == STUDENTS else date.fromisoformat)(value)
        except ValueError:
            return True
        return False
    if problem == "bad_email":
        return not is_valid_email(value)
    if problem == "empty_key":
        return value == ""
    if problem == "bad_postcode":
        return not is_valid_postcode(value)
    assert problem == "bad_phone"
    return not is_valid_phone(value)


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        (
            STUDENTS,
            {"bad_date", "bad_email", "empty_key", "column_count", "bad_postcode", "bad_phone"},
        ),
        (REGISTRATIONS, {"bad_date", "bad_email", "empty_key", "column_count", "bad_phone"}),
    ],
)
def test_malformed_rows_are_exactly_where_the_summary_says(
    dataset, students, registrations, file, expected
):
    rows = students if file == STUDENTS else registrations
    header = rows[0]
    report = dataset.malformed[file]
    assert {m.problem for m in report} == expected and len(report) == len(expected)
    for bad in report:
        row = rows[bad.line - 1]
        if bad.problem == "column_count":
            assert bad.column == "" and len(row) == len(header) + 1
            continue
        assert len(row) == len(header)
        assert has_defect(bad.problem, row[header.index(bad.column)], file)
    # Every other row is sound in every column a defect could hit.
    key = header[0]
    bad_lines = set(dataset.malformed_lines(file))
    for line, row in enumerate(rows[1:], 2):
        if line in bad_lines:
            continue
        record = dict(zip(header, row, strict=True))
        assert record[key] and is_valid_email(record["email"])
        assert not record["mobiel"] or is_valid_phone(record["mobiel"])
        if file == STUDENTS:
            assert dmy(record["geboortedatum"]) and is_valid_postcode(record["postcode"])
        elif record["geboortedatum"]:
            assert date.fromisoformat(record["geboortedatum"])


def test_malformed_rows_can_be_left_out(tmp_path):
    summary = generate(
        tmp_path, today=TODAY, students=30, applicants=10, registrations=40, malformed=False
    )
    assert summary.malformed_lines(STUDENTS) == [] and summary.malformed_lines(REGISTRATIONS) == []
    assert summary.rows[STUDENTS] == 40 and summary.rows[REGISTRATIONS] == 40


def test_negative_counts_are_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        generate(tmp_path, students=-1)
    with pytest.raises(UsageError):
        generate_students_csv(tmp_path / "x.csv", -5)


def test_fast_generator_writes_the_same_shape(tmp_path):
    path = tmp_path / "big.csv"
    generate_students_csv(path, 5_000, seed=3, today=TODAY)
    rows = read_rows(path, ";", "utf-8-sig")
    assert rows[0] == STUDENT_HEADER and len(rows) == 5_001
    assert all(len(row) == len(STUDENT_HEADER) for row in rows)
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    numbers = [r["studentnummer"] for r in records]
    assert len(set(numbers)) == 5_000 and all(re.fullmatch(r"\d{7}", n) for n in numbers)
    assert not any(eleven_check(n) == 0 for n in numbers)
    assert all(eleven_check(r["bsn"]) == 0 for r in records)
    emails = [r["email"].strip().lower() for r in records]
    assert len(set(emails)) == len(emails)
    assert 0.12 <= sum(age(dmy(r["geboortedatum"])) < 16 for r in records) / 5_000 <= 0.18
    sample = records[::50]
    assert all(is_valid_phone(r["mobiel"]) and is_valid_postcode(r["postcode"]) for r in sample)
    again = tmp_path / "again.csv"
    generate_students_csv(again, 5_000, seed=3, today=TODAY)
    assert again.read_bytes() == path.read_bytes()


def test_fast_generator_streams_in_constant_memory(tmp_path):
    generate_students_csv(tmp_path / "warm.csv", 10, today=TODAY)  # Faker pools are cached

    def peak(rows: int) -> int:
        tracemalloc.start()
        try:
            generate_students_csv(tmp_path / f"{rows}.csv", rows, today=TODAY)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(10), peak(15_000)
    size = (tmp_path / "15000.csv").stat().st_size
    assert size > 3_000_000
    # 1,500× the rows and 3.5 MB more output, yet the peak barely moves: the rows are streamed.
    assert large - small < 256 * 1024
