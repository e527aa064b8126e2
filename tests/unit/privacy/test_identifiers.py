"""BSN / onderwijsnummer 11-checks, the free-text scan, and forbidden column and field names."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connector.privacy.identifiers import (
    contains_forbidden_number,
    forbidden_fields,
    has_format,
    is_bsn,
    is_onderwijsnummer,
    looks_forbidden,
)

VALID_BSN = "123456782"  # Σ(9..2 × d1..d8) − d9 = 132 ≡ 0 (mod 11)
VALID_BSN_2 = "111222333"
VALID_BSN_8 = "10000008"  # 8 digits: the leading 0 is implied (010000008)
INVALID_BSN = "123456789"  # checksum 4
VALID_OWN = "101222331"  # dutch-rules §3: valid onderwijsnummer
INVALID_OWN = "100252333"  # dutch-rules §3: InvalidChecksum (but a valid BSN, see below)
INVALID_BOTH = "101222332"  # onderwijsnummer checksum 6, BSN checksum 6


# -- the 11-checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        VALID_BSN,
        VALID_BSN_2,
        VALID_BSN_8,
        "0" + VALID_BSN_8,
        "1234.56.782",
        "123 456 782",
        "12-34-56-782",
        " 123456782 ",
        123456782,
        10000008,
        123456782.0,
        Decimal("123456782"),
    ],
)
def test_is_bsn_accepts_valid_numbers_in_any_notation(value):
    assert is_bsn(value)


@pytest.mark.parametrize(
    "value",
    [
        INVALID_BSN,
        "000000000",
        "00000000",
        "1234567",  # 7 digits
        "1234567820",  # 10 digits
        "12345678a",
        "",
        None,
        True,
        123456782.5,
        float("nan"),
        VALID_OWN,  # checksum 5, not 0
        date(2029, 12, 31),  # "2029-12-31" → 020291231 passes the 11-check; a date is no BSN
        b"123456782",
    ],
)
def test_is_bsn_rejects(value):
    assert not is_bsn(value)


def test_onderwijsnummer_examples_from_the_reference():
    assert is_onderwijsnummer(VALID_OWN)
    assert is_onderwijsnummer(int(VALID_OWN))
    assert is_onderwijsnummer("1012.22.331")
    assert not is_onderwijsnummer(INVALID_OWN)
    assert not is_onderwijsnummer(VALID_BSN)


def test_the_invalid_onderwijsnummer_of_the_reference_is_still_a_bsn():
    # 100252333 fails the onderwijsnummer rule (checksum 0, not 5) — and checksum 0 is exactly
    # the BSN rule, so it is refused all the same.
    assert not is_onderwijsnummer(INVALID_OWN)
    assert is_bsn(INVALID_OWN)
    assert contains_forbidden_number(f"nummer {INVALID_OWN}")
    assert not is_bsn(INVALID_BOTH) and not is_onderwijsnummer(INVALID_BOTH)
    assert not contains_forbidden_number(f"nummer {INVALID_BOTH}")


def test_onderwijsnummer_must_start_with_10_and_have_nine_digits():
    # 201222341 has the checksum 5 of an onderwijsnummer, but DUO's numbers start with 10.
    digits = "201222341"
    weighted = sum(w * int(d) for w, d in zip((9, 8, 7, 6, 5, 4, 3, 2, -1), digits, strict=True))
    assert weighted % 11 == 5
    assert not is_onderwijsnummer(digits)
    assert not is_onderwijsnummer("10122233")  # 8 digits: no implied zero for this number


# -- the value scan --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        VALID_BSN,
        VALID_BSN_8,
        VALID_OWN,
        f"BSN: {VALID_BSN}.",
        f"bsn {VALID_BSN_8}, graag bellen",
        "leerling 1234.56.782 heeft een vraag",
        "nummer 123 456 782 (van de ouder)",
        "nr 12-34-56-782",
        f"owner{VALID_BSN}x",  # glued to letters: still a number of its own
        f"tel 0612345678 {VALID_BSN}",  # next to another number, with a space
        f"regel één\n{VALID_OWN}",
        "1012 22 331",
        f"\u00a0{VALID_BSN}",
        "123\u00a0456\u00a0782",
        "١٢٣٤٥٦٧٨٢",  # Arabic-Indic digits are digits too
        123456782,
        10000008,
        123456782.0,
        Decimal(VALID_OWN),
    ],
)
def test_contains_forbidden_number_finds(value):
    assert contains_forbidden_number(value)


@pytest.mark.parametrize(
    "value",
    [
        INVALID_BSN,
        f"BSN: {INVALID_BSN}.",
        "1234567820",  # 10 digits is another number
        f"x{VALID_BSN}7",  # part of a longer number
        "+31612345678",
        "06-12345678",
        "06 12345678",
        "2008-03-14",
        "14-03-2008",
        "14.03.2008",
        "20080314",  # a compact date whose digits fail the 11-check
        "1234 AB",
        "NL91ABNA0417164300",
        "Jan de Vries",
        "",
        None,
        True,
        False,
        date(2008, 3, 14),
        datetime(2024, 1, 2, 3, 4, 5),
        12.5,
        1234567,
        "1234.56.78 2",  # mixed separators never form one number
    ],
)
def test_contains_forbidden_number_leaves_alone(value):
    assert not contains_forbidden_number(value)


def test_grouped_dates_and_dashed_phones_are_not_false_alarms():
    # One in eleven 8-digit numbers passes the 11-check. Written as dates or Dutch mobile
    # numbers they must still go through: find such values and check they are not flagged.
    dashed_phones = [f"06-{n:08d}" for n in range(10_000_000, 10_000_400)]
    dates = [f"{y}-{m:02d}-{d:02d}" for y in (1999, 2008) for m in range(1, 13) for d in (1, 14)]
    passing = [v for v in dashed_phones + dates if is_bsn(v.split("-", 1)[-1]) or is_bsn(v)]
    assert passing, "the sample should contain values whose digits pass the 11-check"
    assert not [v for v in passing if contains_forbidden_number(v)]


def test_forbidden_fields_names_only_the_offending_fields():
    values = {
        "FirstName": "Sanne",
        "Description": f"BSN {VALID_BSN}",
        "Birthdate": date(2008, 3, 14),
        "HasOptedOutOfEmail": True,
        "Amount__c": int(VALID_OWN),
        "MobilePhone": "+31612345678",
        "Empty": None,
    }
    assert forbidden_fields(values) == ["Description", "Amount__c"]
    assert forbidden_fields({"FirstName": "Sanne", "MobilePhone": "+31612345678"}) == []
    assert forbidden_fields({}) == []


def test_forbidden_fields_never_joins_two_values_into_one_number():
    # "1234" + "56782" must not be read across the field boundary.
    assert forbidden_fields({"A": "abc 1234", "B": "56782 def"}) == []


def test_forbidden_fields_checks_str_subclasses():
    class Text(str):
        pass

    assert forbidden_fields({"Note": Text(f"nr {VALID_BSN}")}) == ["Note"]


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "bsn",
        "BSN",
        "BSN_nummer",
        "bsn-nummer",
        "Student_BSN__c",
        "StudentBSN",
        "BSNnummer",
        "burgerservicenummer",
        "Burgerservicenummer__c",
        "sofinummer",
        "sofi_nummer",
        "social_security_number",
        "onderwijsnummer",
        "Onderwijsnummer__c",
        "pgn",
        "allergieën",
        "Allergies__c",
        "dieetwensen",
        "dietary_requirements",
        "medischeGegevens",
        "medical_notes",
        "gezondheid",
        "religie",
        "Religieuze_voorkeur",
        "etniciteit",
        "Ethnicity__c",
        "strafblad",
        "vakbond",
        "trade_union",
        "biometrische_gegevens",
        "seksuele_geaardheid",
        "politieke_voorkeur",
    ],
)
def test_looks_forbidden_refuses(name):
    reason = looks_forbidden(name)
    assert reason
    assert "GDPR" in reason or "BSN" in reason or "onderwijsnummer" in reason


@pytest.mark.parametrize(
    "name",
    [
        "absent",
        "Description",
        "LastName",
        "FirstName",
        "MailingPostalCode",
        "MobilePhone",
        "opleiding",
        "nationaliteit",
        "geboortedatum",
        "HasOptedOutOfEmail",
        "DoNotCall",
        "toestemming_nieuws_bron",
        "toestemming_bellen_door",
        "evenement_type",
        "Study_Programme__c",
        "Lifecycle_Status__c",
        "SIS_Student_Number__c",
        "studentnummer",
        "jobsnumber",
        "JobsNumber",
        "diet_coke",  # "diet" counts only as a whole name
        "Campaign_Union_Id__c",
        "",
        "__c",
    ],
)
def test_looks_forbidden_lets_ordinary_names_pass(name):
    assert looks_forbidden(name) is None


def test_looks_forbidden_reasons_name_the_rule():
    assert "UAVG art. 46" in looks_forbidden("bsn")
    assert "art. 9" in looks_forbidden("allergieën")
    assert "art. 10" in looks_forbidden("strafblad")


# -- art. 87 / UAVG 46: the value check across separators -------------------------------------

SEPARATORS = ["/", "_", ",", ".", "-", " ", "\u00a0"]


@pytest.mark.parametrize("sep", SEPARATORS, ids=repr)
@pytest.mark.parametrize(
    "groups",
    [("111", "222", "333"), ("123", "456", "782"), ("1234", "56", "782"), ("101", "222", "331")],
    ids="-".join,
)
def test_art87_uavg46_bsn_and_onderwijsnummer_are_found_across_separators(sep, groups):
    written = sep.join(groups)
    assert contains_forbidden_number(written)
    assert contains_forbidden_number(f"leerling nr {written}, graag terugbellen")
    assert is_bsn(written) or is_onderwijsnummer(written)
    assert forbidden_fields({"Description": f"zie {written}", "FirstName": "Sanne"}) == [
        "Description"
    ]


def _passes(digits: str) -> bool:
    """The digits pass the BSN or onderwijsnummer check (so a table row means something)."""
    return is_bsn(digits) or is_onderwijsnummer(digits)


# Each of these is written with the new separators or as an international phone number, and its
# digits (or the 9 of them a naive scan would test) pass the 11-check: all must still go through.
FALSE_ALARMS = [
    ("2008/03/11", "20080311"),
    ("13/03/2008", "13032008"),
    ("2008_03_11", "20080311"),
    ("13-03-2008", "13032008"),
    ("06-12345683", "612345683"),
    ("06/12345683", "612345683"),
    ("+31 6 1234 5683", "612345683"),
    ("0031 6 12345683", "612345683"),
    ("+31-6-1234-5683", "612345683"),
    ("+31 20 123 4567", "201234567"),
    ("12,345,611", "12345611"),
    ("€ 12.345.611,00", "12345611"),
]


@pytest.mark.parametrize(("value", "digits"), FALSE_ALARMS)
def test_dates_phones_and_amounts_are_no_false_alarms(value, digits):
    assert _passes(digits), "pick a row whose digits pass the check, or it proves nothing"
    assert not contains_forbidden_number(value)
    assert forbidden_fields({"Description": f"op {value} gebeld"}) == []


def test_a_bsn_next_to_a_phone_number_is_still_found():
    assert contains_forbidden_number("+31 6 1234 5678 123 456 782")
    assert contains_forbidden_number("0031 6 12345678 111/222/333")


def test_a_bsn_after_a_lone_zero_is_no_phone_number():
    # Found by test_policy_properties: "0 100000009" parses as a Rotterdam number (010), but a
    # trunk 0 is never written alone; the nine digits are a number of their own.
    assert contains_forbidden_number("0 100000009 ")
    assert not contains_forbidden_number("010 0000009")  # the same digits as a phone number


def test_a_bsn_with_a_group_after_it_is_no_phone_number():
    # Found by test_policy_properties: "010000008 0" parses as a Rotterdam number (010 000 0080),
    # but no phone number is written with its nine last digits before another group; the BSN
    # stands as a number of its own, grouped or not.
    assert is_bsn("010000008")
    assert contains_forbidden_number(" 010000008 0")
    assert contains_forbidden_number("010 000 008 0")
    assert contains_forbidden_number("bel 010-000-008-0 terug")
    assert not contains_forbidden_number("0100000080")  # ten digits in one group: a phone number
    assert not contains_forbidden_number("010 0000080")


def test_a_bsn_after_a_digit_without_trunk_or_plus_is_no_phone_number():
    # Found the same way: "8 000000012" reads as 0800 000 0012 to phonenumbers; a phone number
    # is written from its trunk 0, its 00 or its +.
    assert is_bsn("000000012")
    assert contains_forbidden_number("8 000000012 ")
    assert not contains_forbidden_number("+31 6 1234 5683")  # its 612345683 passes the check too


@settings(max_examples=400, deadline=None)
@given(day=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
def test_no_date_in_any_notation_is_a_false_alarm(day):
    for sep in SEPARATORS:
        for fmt in ("%Y{s}%m{s}%d", "%d{s}%m{s}%Y"):
            written = day.strftime(fmt.format(s=sep))
            assert not contains_forbidden_number(written), written


@settings(max_examples=400, deadline=None)
@given(
    prefix=st.sampled_from(["61", "62", "63", "64", "65", "68"]),
    rest=st.integers(min_value=0, max_value=9_999_999),
)
def test_no_dutch_mobile_number_in_any_notation_is_a_false_alarm(prefix, rest):
    sub = f"{prefix[1]}{rest:07d}"  # the 8 digits after 06
    for written in (
        f"06-{sub}",
        f"06/{sub}",
        f"06 {sub}",
        f"06 {sub[:4]} {sub[4:]}",
        f"+31 6 {sub[:4]} {sub[4:]}",
        f"+31 6 {sub}",
        f"0031 6 {sub}",
        f"+31-6-{sub[:4]}-{sub[4:]}",
        f"+316{sub}",
    ):
        assert not contains_forbidden_number(written), written


@settings(max_examples=400, deadline=None)
@given(amount=st.integers(min_value=0, max_value=99_999_999), cents=st.integers(0, 99))
def test_no_amount_below_100_million_is_a_false_alarm(amount, cents):
    grouped = f"{amount:,}"
    for written in (
        grouped,
        grouped.replace(",", "."),
        f"€ {grouped.replace(',', '.')},{cents:02d}",
    ):
        assert not contains_forbidden_number(written), written


@settings(max_examples=300, deadline=None)
@given(
    head=st.integers(min_value=10_000_000, max_value=99_999_999), sep=st.sampled_from(SEPARATORS)
)
def test_every_valid_bsn_is_found_in_three_groups(head, sep):
    digits = str(head)
    # The check digit that makes head a BSN, when there is one (d9 = Σ mod 11, < 10).
    total = sum(w * int(d) for w, d in zip((9, 8, 7, 6, 5, 4, 3, 2), digits, strict=True)) % 11
    assume(total < 10)
    bsn = f"{digits}{total}"
    assert is_bsn(bsn)
    assert contains_forbidden_number(sep.join((bsn[:3], bsn[3:6], bsn[6:])))


# -- the declared student-number format --------------------------------------------------------

STUDENT_FORMAT = re.compile(r"[0-9]{6,9}")


def test_a_student_number_field_with_the_declared_format_is_exempt():
    values = {"SIS_Student_Number__c": VALID_BSN, "Description": f"BSN {VALID_BSN_2}"}
    exempt = {"SIS_Student_Number__c": STUDENT_FORMAT}
    assert forbidden_fields(values, exempt) == ["Description"]
    assert forbidden_fields(values) == ["SIS_Student_Number__c", "Description"]


@pytest.mark.parametrize(
    "value", [f"nr {VALID_BSN}", "123.456.782", "123 456 782", int(VALID_BSN) * 10 + 0]
)
def test_a_value_outside_the_student_number_format_is_still_checked(value):
    # int(VALID_BSN) * 10 is 10 digits: outside the format, and no BSN: nothing to report.
    found = forbidden_fields(
        {"SIS_Student_Number__c": value}, {"SIS_Student_Number__c": STUDENT_FORMAT}
    )
    assert found == ([] if isinstance(value, int) else ["SIS_Student_Number__c"])


def test_has_format_takes_text_and_whole_numbers_only():
    assert has_format("123456782", STUDENT_FORMAT)
    assert has_format(123456782, STUDENT_FORMAT)
    assert not has_format(True, STUDENT_FORMAT)
    assert not has_format(123456782.0, STUDENT_FORMAT)
    assert not has_format("x123456782", STUDENT_FORMAT)


# -- F4: dash look-alikes, spaced separators and mixed separators -------------------------------

# What Word and other editors put between digits instead of "-": en dash (Word's autocorrect),
# em dash, minus sign, figure dash, non-breaking hyphen, hyphen, horizontal bar, fullwidth
# hyphen-minus; and the look-alikes of "/", "," and "." and of the space.
DASHES = ["\u2013", "\u2014", "\u2212", "\u2012", "\u2011", "\u2010", "\u2015", "\uff0d"]
LOOKALIKES = [*DASHES, "\u2044", "\u2215", "\uff0f", "\uff0c", "\uff0e", "\u202f", "\u2009"]
SPACED = [" / ", " - ", " . ", " , ", " _ ", "/ ", " /", "  ", " \u2013 ", " \u2014 "]


@pytest.mark.parametrize("sep", LOOKALIKES + SPACED, ids=repr)
def test_f4_art87_a_bsn_with_dash_lookalikes_or_spaced_separators_is_found(sep):
    written = sep.join(("111", "222", "333"))
    assert is_bsn(written)
    assert contains_forbidden_number(written)
    assert contains_forbidden_number(f"Leerling {written}, graag bellen")
    assert forbidden_fields({"Description": f"zie {written}", "FirstName": "Sanne"}) == [
        "Description"
    ]


@pytest.mark.parametrize(
    "written",
    [
        "111 222-333",  # the repro: 3-3-3 with a space and a dash
        "111-222 333",
        "111.222 333",
        "111/222-333",
        "111 / 222-333",
        "111\u2013222 333",
        "1234 56-782",  # 4-2-3, the notation on the passport ("1234.56.782")
        "1234.56 782",
        "12 345-6782",  # 2-3-4
        "tel 0612345678 123 456-782",
    ],
)
def test_f4_art87_a_bsn_in_3_3_3_4_2_3_or_2_3_4_groups_with_mixed_separators_is_found(written):
    assert contains_forbidden_number(written)
    assert forbidden_fields({"Description": written}) == ["Description"]


@pytest.mark.parametrize(
    "written",
    [
        "1 2345678-2",  # 1-7-1 is no notation of a BSN
        "12-3456 782",  # 2-4-3 neither
        "123-45 6782",  # 3-2-4 neither
    ],
)
def test_f4_mixed_separators_count_only_in_the_three_bsn_groupings(written):
    digits = "".join(c for c in written if c.isdigit())
    assert is_bsn(digits), "pick digits that pass, or the row proves nothing"
    assert contains_forbidden_number(written.replace("-", " "))  # one kind: any grouping
    assert not contains_forbidden_number(written)


# Rows whose digits pass the check, written as the F4 repro writes them (spaced separators, dash
# look-alikes, mixed): dates, phone numbers, amounts and times must still go through.
F4_FALSE_ALARMS = [
    ("13 / 03 / 2008", "13032008"),
    ("2008 / 03 / 11", "20080311"),
    ("13\u201303\u20132008", "13032008"),
    ("2008\u201303\u201311", "20080311"),
    ("13 \u2013 03 \u2013 2008", "13032008"),
    ("13-03 2008", "13032008"),
    ("06\u201312345683", "612345683"),
    ("06 - 12345683", "612345683"),
    ("06 \u2013 1234 5683", "612345683"),
    ("+31 6 \u2013 1234 5683", "612345683"),
    ("+31 6 1234 5683", "612345683"),
    ("0031 6 12345683", "612345683"),
    ("+31 (0)6-1234 5683", "612345683"),
    ("€ 12.345.611,00", "12345611"),
    ("€ 12 345 611", "12345611"),
    ("13-03-2008 12:30", "13032008"),
    ("13-03-2008 om 12.30 uur", "13032008"),
]


@pytest.mark.parametrize(("value", "digits"), F4_FALSE_ALARMS)
def test_f4_spaced_dashed_and_mixed_dates_phones_amounts_are_no_false_alarms(value, digits):
    assert _passes(digits), "pick a row whose digits pass the check, or it proves nothing"
    assert not contains_forbidden_number(value)
    assert forbidden_fields({"Description": f"op {value} gebeld"}) == []


F4_SEPARATORS = ["\u2013", "\u2014", "\u2212", " / ", " - ", " \u2013 ", "/ "]


@settings(max_examples=300, deadline=None)
@given(
    head=st.integers(min_value=10_000_000, max_value=99_999_999),
    seps=st.tuples(st.sampled_from(SEPARATORS + F4_SEPARATORS), st.sampled_from(SEPARATORS)),
    grouping=st.sampled_from([(3, 3, 3), (4, 2, 3), (2, 3, 4)]),
)
def test_f4_every_valid_bsn_is_found_with_any_two_separators(head, seps, grouping):
    digits = str(head)
    total = sum(w * int(d) for w, d in zip((9, 8, 7, 6, 5, 4, 3, 2), digits, strict=True)) % 11
    assume(total < 10)
    bsn = f"{digits}{total}"
    a, b, _ = grouping
    written = f"{bsn[:a]}{seps[0]}{bsn[a : a + b]}{seps[1]}{bsn[a + b :]}"
    assert contains_forbidden_number(written), written
    assert contains_forbidden_number(f"nr {written}."), written


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    seps=st.tuples(st.sampled_from(SEPARATORS + F4_SEPARATORS), st.sampled_from(SEPARATORS)),
    time=st.sampled_from(["", " 12:30", " 09.15 uur", " om 12:30"]),
)
def test_f4_no_date_with_lookalike_spaced_or_mixed_separators_is_a_false_alarm(day, seps, time):
    for fmt in ("%Y{a}%m{b}%d", "%d{a}%m{b}%Y"):
        written = day.strftime(fmt.format(a=seps[0], b=seps[1])) + time
        assert not contains_forbidden_number(written), written


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(["61", "62", "63", "64", "65", "68"]),
    rest=st.integers(min_value=0, max_value=9_999_999),
    dash=st.sampled_from(["-", *DASHES, " - ", " \u2013 "]),
)
def test_f4_no_mobile_number_with_a_dash_lookalike_is_a_false_alarm(prefix, rest, dash):
    sub = f"{prefix[1]}{rest:07d}"
    for written in (
        f"06{dash}{sub}",
        f"06{dash}{sub[:4]} {sub[4:]}",
        f"+31 6{dash}{sub[:4]} {sub[4:]}",
        f"+31{dash}6{dash}{sub[:4]}{dash}{sub[4:]}",
    ):
        assert not contains_forbidden_number(written), written


@pytest.mark.parametrize(
    "value",
    ["14-03-2008", "2008/03/14", "14 / 03 / 2008", "06-12345678", "+31 6 1234 5678", "12:30"],
)
def test_f4_the_reported_false_alarm_examples_stay_clean(value):
    assert not contains_forbidden_number(value)
    assert not contains_forbidden_number(f"gesprek {value}, daarna 12:30 terugbellen")
