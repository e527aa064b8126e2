"""The emulator's SOQL engine: grammar, errors, evaluation semantics, ordering, paging, speed."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simple_salesforce.format import format_soql

from connector.emulator.soql import (
    And,
    Comparison,
    InList,
    Like,
    Literal,
    Not,
    Or,
    OrderItem,
    SoqlError,
    SoqlQuery,
    execute,
    parse,
)
from connector.emulator.soql_eval import relative_range

TYPES = {
    "Id": "id",
    "FirstName": "string",
    "LastName": "string",
    "Email": "email",
    "Phone": "phone",
    "Description": "textarea",
    "LeadSource": "picklist",
    "Website": "url",
    "AccountId": "reference",
    "HasOptedOutOfEmail": "boolean",
    "Birthdate": "date",
    "LastModifiedDate": "datetime",
    "Age__c": "int",
    "Score__c": "double",
    "Fee__c": "currency",
    "Share__c": "percent",
    "IsDeleted": "boolean",
}
DESCRIBE = {name: {"name": name, "type": t, "label": name} for name, t in TYPES.items()}
NOW = datetime(2024, 3, 13, 12, 0, tzinfo=UTC)  # a Wednesday


def rec(n: int, **values) -> dict:
    base = {name: None for name in TYPES}
    base.update(Id=f"003AAAAAAAAAAA{n:01d}QAA", HasOptedOutOfEmail=False, IsDeleted=False)
    base.update(values)
    return base


RECORDS = [
    rec(1, LastName="Jansen", Email="a.jansen@school.example", Age__c=9, Score__c=1.5,
        Birthdate="2006-05-01", LastModifiedDate="2024-03-13T08:00:00.000+0000",
        LeadSource="Web", HasOptedOutOfEmail=True),
    rec(2, LastName="de Vries", Email="B.deVries@school.example", Age__c=10, Score__c=-2.0,
        Birthdate="2007-12-31", LastModifiedDate="2024-03-12T23:59:59.000+0000",
        LeadSource="Event"),
    rec(3, LastName="Bakker", Email=None, Age__c=None, Birthdate=None,
        LastModifiedDate="2024-01-31T10:00:00.000+0000", Description="100% zeker_ja"),
    rec(4, LastName="bakker", Email="", Age__c=21, Birthdate="2006-05-01",
        LastModifiedDate="2024-03-01T00:00:00.000+0000", LeadSource="web"),
    rec(5, LastName="O'Brien", Email="o@x.example", Age__c=10, IsDeleted=True,
        LastModifiedDate="2023-12-31T23:00:00.000+0000"),
]  # fmt: skip


def ids(soql: str, records=RECORDS, **kw) -> list[int]:
    """Run a query and return the record numbers (the digit in the Id) of the rows, in order."""
    if " Id" not in soql.split("FROM")[0] and "COUNT()" not in soql:
        raise AssertionError("select Id to use this helper")
    rows = execute(parse(soql), records, describe_fields=DESCRIBE, now=NOW, **kw)
    return [int(r["Id"][14]) for r in rows]


def where(cond: str, **kw) -> list[int]:
    return ids(f"SELECT Id FROM Contact WHERE {cond}", **kw)


def error(soql: str, records=RECORDS) -> SoqlError:
    with pytest.raises(SoqlError) as info:
        execute(parse(soql), records, describe_fields=DESCRIBE, now=NOW)
    return info.value


# ------------------------------------------------------------------------------------ grammar


def test_parse_builds_the_query_model():
    q = parse(
        "SELECT Id, Email FROM Contact WHERE (Email = 'x' OR Age__c >= 3) AND LastName != null "
        "ORDER BY LastName DESC NULLS FIRST, Id LIMIT 10 OFFSET 5"
    )
    assert q.sobject == "Contact"
    assert q.count is False
    assert q.fields == ["Id", "Email"]
    assert q.where == And(
        (
            Or(
                (
                    Comparison("Email", "=", Literal("string", "x")),
                    Comparison("Age__c", ">=", Literal("number", 3)),
                )
            ),
            Comparison("LastName", "!=", Literal("null", None)),
        )
    )
    assert q.order_by == (OrderItem("LastName", True, True), OrderItem("Id", False, True))
    assert (q.limit, q.offset) == (10, 5)


def test_keywords_and_names_are_case_insensitive():
    q = parse("sElEcT iD, eMaIl fRoM cOnTaCt wHeRe eMaIl LiKe 'a%' aNd AgE__C nOt In (1) "
              "OrDeR bY iD dEsC nUlLs LaSt LiMiT 1 oFfSeT 0")  # fmt: skip
    assert q.fields == ["iD", "eMaIl"]
    assert isinstance(q.where, And)
    assert q.where.operands[1] == InList("AgE__C", (Literal("number", 1),), negated=True)
    rows = execute(q, RECORDS, describe_fields=DESCRIBE)
    assert rows == [{"Id": RECORDS[0]["Id"], "Email": "a.jansen@school.example"}]
    assert where("lastname = 'JANSEN' or EMAIL = 'o@x.example'") == [1]
    assert where("HasOptedOutOfEmail = TRUE") == [1]


def test_count_query():
    q = parse("SELECT count() FROM Contact")
    assert q.count is True
    assert q.fields == []


def test_not_equal_spellings_are_the_same_operator():
    assert parse("SELECT Id FROM Contact WHERE Age__c <> 1").where == Comparison(
        "Age__c", "!=", Literal("number", 1)
    )


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("Age__c = 10", [2]),
        ("Age__c != 10", [1, 3, 4]),
        ("Age__c <> 10", [1, 3, 4]),
        ("Age__c < 10", [1]),
        ("Age__c <= 10", [1, 2]),
        ("Age__c > 9", [2, 4]),
        ("Age__c >= 21", [4]),
        ("Age__c IN (9, 21)", [1, 4]),
        ("Age__c NOT IN (9, 21)", [2, 3]),
        ("LastName LIKE 'ba%'", [3, 4]),
        ("LastName LIKE '_akker'", [3, 4]),
        ("LastName LIKE '%e%'", [1, 2, 3, 4]),
        ("Score__c > -1.5e0", [1]),
        ("Score__c < -1", [2]),
    ],
)
def test_every_comparison_operator(cond, expected):
    assert where(cond) == expected


def test_and_or_not_with_parentheses():
    assert where("(LastName = 'bakker' AND Age__c = 21) OR Age__c = 9") == [1, 4]
    assert where("LastName = 'bakker' AND (Age__c = 21 OR Age__c = 9)") == [4]
    assert where("Age__c = 9 OR Age__c = 10 OR Age__c = 21") == [1, 2, 4]
    assert where("LastName LIKE '%e%' AND Age__c > 5 AND Age__c < 20") == [1, 2]
    assert where("NOT LastName = 'bakker'") == [1, 2]
    assert where("NOT (Age__c = 9 OR Age__c = 10)") == [3, 4]
    assert where("Age__c > 5 AND (NOT LastName = 'Jansen')") == [2, 4]
    assert where("((Age__c = 9))") == [1]


@pytest.mark.parametrize(
    ("cond", "token"),
    [
        # Salesforce: "Parentheses are required whenever you mix the operators."
        ("Age__c = 1 AND Age__c = 2 OR Age__c = 3", "'OR'"),
        ("Age__c = 1 OR Age__c = 2 AND Age__c = 3", "'AND'"),
        ("Age__c = 1 AND NOT Age__c = 2", "'NOT'"),
        ("NOT Age__c = 1 AND Age__c = 2", "'AND'"),
    ],
)
def test_mixing_logical_operators_without_parentheses_is_refused(cond, token):
    err = error(f"SELECT Id FROM Contact WHERE {cond}")
    assert err.code == "MALFORMED_QUERY"
    assert f"unexpected token: {token}" in err.message


@pytest.mark.parametrize(
    ("escaped", "value"),
    [
        (r"O\'Brien", "O'Brien"),
        (r"say \"hi\"", 'say "hi"'),
        (r"back\\slash", "back\\slash"),
        (r"a\nb\Nc", "a\nb\nc"),
        (r"a\tb\Tc", "a\tb\tc"),
        (r"a\rb\Rc", "a\rb\rc"),
        (r"a\bb\Bc", "a\bb\bc"),
        (r"a\fb\Fc", "a\fb\fc"),
        (r"caf\u00e9", "café"),
        (r"100\% zeker\_ja", "100% zeker_ja"),
    ],
)
def test_string_escapes(escaped, value):
    q = parse(f"SELECT Id FROM Contact WHERE LastName = '{escaped}'")
    assert q.where.value == Literal("string", value)


def test_escaped_wildcards_are_literal_in_like():
    # Record 3's Description is "100% zeker_ja"; the escaped forms match only a real % and _.
    assert where(r"Description LIKE '100\% zeker\_ja'") == [3]
    assert where(r"Description LIKE '100\%%'") == [3]
    assert where(r"Description LIKE '%zeker\_%'") == [3]
    records = [rec(1, Description="100x zekerxja")]
    assert where(r"Description LIKE '100\% zeker\_ja'", records=records) == []
    assert where(r"Description LIKE '100_ zeker_ja'", records=records) == [1]


@pytest.mark.parametrize(
    ("soql", "fragment"),
    [
        ("SELECT Id FROM Contact WHERE LastName = 'a\\qb'", "illegal escape"),
        ("SELECT Id FROM Contact WHERE LastName = 'open", "unterminated string"),
        ("SELECT Id FORM Contact", "unexpected token: 'FORM'"),
        ("SELECT Id FROM Contact WHERE", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Contact WHERE Age__c IN ()", "unexpected token: ')'"),
        ("SELECT Id FROM Contact WHERE Age__c = 1 Age__c = 2", "unexpected token: 'Age__c'"),
        ("SELECT Id, FROM Contact", "unexpected token: 'FROM'"),
        ("SELECT FROM Contact", "unexpected token: 'FROM'"),
        ("SELECT Id FROM Contact WHERE Email = ?", "unexpected character: '?'"),
        ("SELECT Id FROM Contact LIMIT -1", "unexpected token"),
        ("SELECT Id FROM Contact LIMIT 1.5", "unexpected token"),
        ("SELECT Id FROM Contact OFFSET 1 LIMIT 1", "unexpected token: 'LIMIT'"),
        ("SELECT Id FROM Contact ORDER Id", "unexpected token: 'Id'"),
        ("SELECT Id FROM Contact ORDER BY Id NULLS", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Contact GROUP BY Id", "not supported by the emulator"),
        ("SELECT Id FROM Contact c", "unexpected token: 'c'"),
        ("SELECT COUNT(Id) FROM Contact", "aggregate functions"),
        ("SELECT toLabel(LeadSource) FROM Contact", "function 'toLabel'"),
        ("SELECT Id, (SELECT Id, (SELECT Id FROM Tasks) FROM Contacts) FROM Account", "nested"),
        ("SELECT Id, A.B.C.D.E.F.G FROM Contact", "more than 5 levels"),
        ("SELECT Id FROM Contact WHERE Id IN (SELECT ContactId FROM Task)", "semi-join"),
        ("SELECT Id FROM Contact WHERE (SELECT Id FROM Task)", "semi-join"),
        ("SELECT Id, id FROM Contact", "duplicate field selected: id"),
        ("SELECT Id FROM Contact WHERE LeadSource INCLUDES ('a')", "INCLUDES is not supported"),
        ("SELECT Id FROM Contact WHERE LastModifiedDate > 2024-01-31T10:00:00", "time zone"),
        ("SELECT Id FROM Contact WHERE Birthdate = 2024-02-30", "invalid date literal"),
        ("SELECT Id FROM Contact WHERE Birthdate = LAST_N_DAYS", "unexpected token"),
        ("SELECT Id FROM Contact WHERE Birthdate = LAST_N_DAYS:x", "unexpected token: 'x'"),
        ("SELECT Id FROM Contact WHERE LastName LIKE 5", "unexpected token: <number literal>"),
        ("UPDATE Contact", "unexpected token: 'UPDATE'"),
        ("SELECT COUNT(", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Contact WHERE " + "(" * 101 + "Age__c = 1" + ")" * 101, "too deeply"),
        ("", "unexpected token: '<EOF>'"),
    ],
)
def test_malformed_queries(soql, fragment):
    with pytest.raises(SoqlError) as info:
        parse(soql)
    assert info.value.code == "MALFORMED_QUERY"
    assert fragment in info.value.message
    assert str(info.value) == info.value.message


def test_reasonable_nesting_is_accepted():
    assert where("(" * 100 + "Age__c = 9" + ")" * 100) == [1]


def test_error_position_is_row_and_column():
    with pytest.raises(SoqlError) as info:
        parse("SELECT Id\nFROM Contact\nWHERE Email = 'x' ORDER Id")
    assert info.value.message.startswith("ERROR at Row:3:Column:25\n")


def test_errors_never_echo_a_literal_value():
    with pytest.raises(SoqlError) as info:
        parse("SELECT Id FROM Contact WHERE Email 'secret.person@example.nl'")
    assert "secret" not in info.value.message
    assert "unexpected token: <string literal>" in info.value.message
    err = error("SELECT Id FROM Contact WHERE Age__c = 'secret-value'")
    assert "secret" not in err.message


def test_relationship_prefix_of_the_queried_object_itself_is_allowed():
    q = parse("SELECT Contact.Email FROM Contact WHERE Contact.LastName = 'x' ORDER BY Contact.Id")
    assert q.fields == ["Email"]
    assert q.where.field == "LastName"
    assert q.order_by[0].field == "Id"


def test_offset_above_two_thousand_is_salesforces_range_error():
    assert parse("SELECT Id FROM Contact OFFSET 2000").offset == 2000
    with pytest.raises(SoqlError) as info:
        parse("SELECT Id FROM Contact OFFSET 2001")
    assert info.value.code == "NUMBER_OUTSIDE_VALID_RANGE"
    assert "Maximum SOQL offset allowed is 2000" in info.value.message


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2024-01-31T10:00:00Z", datetime(2024, 1, 31, 10, tzinfo=UTC)),
        ("2024-01-31T10:00:00+01:00", datetime(2024, 1, 31, 9, tzinfo=UTC)),
        ("2024-01-31T10:00:00-08:00", datetime(2024, 1, 31, 18, tzinfo=UTC)),
        ("2024-01-31T10:00:00.250Z", datetime(2024, 1, 31, 10, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_datetime_literals_are_normalised_to_utc(literal, expected):
    q = parse(f"SELECT Id FROM Contact WHERE LastModifiedDate = {literal}")
    assert q.where.value == Literal("datetime", expected)
    assert q.where.value.value.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("2024-01-31", Literal("date", date(2024, 1, 31))),
        ("42", Literal("number", 42)),
        ("-7", Literal("number", -7)),
        ("3.25", Literal("number", 3.25)),
        ("1e-05", Literal("number", 1e-05)),
        ("true", Literal("boolean", True)),
        ("FALSE", Literal("boolean", False)),
        ("NULL", Literal("null", None)),
        ("today", Literal("relative", ("TODAY", None))),
        ("last_n_days:30", Literal("relative", ("LAST_N_DAYS", 30))),
    ],
)
def test_value_literals(text, literal):
    assert parse(f"SELECT Id FROM Contact WHERE X = {text}").where.value == literal


# ------------------------------------------------------------------------------- field errors


@pytest.mark.parametrize(
    ("soql", "position"),
    [
        ("SELECT Id, Foo FROM Contact", "Row:1:Column:12"),
        ("SELECT Id FROM Contact WHERE Foo = 'x'", "Row:1:Column:30"),
        ("SELECT Id FROM Contact ORDER BY Foo", "Row:1:Column:33"),
        ("SELECT Id FROM Contact WHERE Foo LIKE 'x'", "Row:1:Column:30"),
        ("SELECT Id FROM Contact WHERE Foo IN ('x')", "Row:1:Column:30"),
    ],
)
def test_unknown_fields_are_invalid_field(soql, position):
    err = error(soql)
    assert err.code == "INVALID_FIELD"
    assert f"ERROR at {position}\nNo such column 'Foo' on entity 'Contact'" in err.message


def test_unknown_field_is_reported_even_without_records():
    assert error("SELECT Id FROM Contact WHERE Foo = 'x'", records=[]).code == "INVALID_FIELD"


@pytest.mark.parametrize(
    ("cond", "fragment"),
    [
        ("Email = 5", "field 'Email' must be of type string and should be enclosed in quotes"),
        ("Id = 5", "field 'Id' must be of type id and should be enclosed"),
        ("Age__c = '5'", "field 'Age__c' must be of type int and should not be enclosed"),
        ("HasOptedOutOfEmail = 'true'", "must be of type boolean"),
        ("Birthdate = '2024-01-01'", "field 'Birthdate' must be of type date"),
        ("Birthdate = 2024-01-01T00:00:00Z", "field 'Birthdate' must be of type date"),
        ("LastModifiedDate = 2024-01-01", "field 'LastModifiedDate' must be of type dateTime"),
        ("Email IN ('a', 3)", "must be of type string"),
        ("Age__c LIKE '1%'", "LIKE is only valid on text fields"),
        ("HasOptedOutOfEmail > false", "invalid operator on boolean field"),
        ("LastName = TODAY", "only valid on a date or dateTime field"),
    ],
)
def test_values_of_the_wrong_type_are_malformed(cond, fragment):
    err = error(f"SELECT Id FROM Contact WHERE {cond}")
    assert err.code == "MALFORMED_QUERY"
    assert fragment in err.message


# --------------------------------------------------------------------------------- evaluation


def test_rows_hold_only_selected_fields_under_canonical_names():
    rows = execute(
        parse("SELECT id, lastname, HASOPTEDOUTOFEMAIL FROM contact WHERE Age__c = 9"),
        RECORDS,
        describe_fields=DESCRIBE,
    )
    assert rows == [{"Id": RECORDS[0]["Id"], "LastName": "Jansen", "HasOptedOutOfEmail": True}]
    rows[0]["LastName"] = "changed"
    assert RECORDS[0]["LastName"] == "Jansen"


def test_missing_values_come_back_as_null_and_checkboxes_as_false():
    records = [{"Id": "003AAAAAAAAAAA1QAA"}]
    rows = execute(
        parse("SELECT Id, Email, HasOptedOutOfEmail FROM Contact"),
        records,
        describe_fields=DESCRIBE,
    )
    assert rows == [{"Id": "003AAAAAAAAAAA1QAA", "Email": None, "HasOptedOutOfEmail": False}]


def test_text_equality_is_case_insensitive():
    assert where("Email = 'A.JANSEN@SCHOOL.EXAMPLE'") == [1]
    assert where("Email = 'b.devries@school.example'") == [2]
    assert where("LeadSource = 'WEB'") == [1, 4]
    assert where("LeadSource IN ('web')") == [1, 4]
    assert where("LastName = 'O\\'BRIEN'", include_deleted=True) == [5]
    assert where("LastName < 'C'") == [3, 4]
    assert where("LastName LIKE 'JAN%'") == [1]


def test_null_semantics():
    assert where("Email = null") == [3, 4]  # "" is stored as null by Salesforce
    assert where("Email != null") == [1, 2]
    assert where("Age__c = null") == [3]
    # SOQL compares nulls as values: != and NOT IN include the records without a value.
    assert where("Email != 'a.jansen@school.example'") == [2, 3, 4]
    assert where("Age__c NOT IN (9, 10)") == [3, 4]
    assert where("Age__c IN (9, null)") == [1, 3]
    assert where("Age__c < 100") == [1, 2, 4]
    assert where("Age__c > null") == []
    assert where("Email LIKE '%'") == [1, 2]


def test_checkbox_null_means_false():
    assert where("HasOptedOutOfEmail = null") == [2, 3, 4]
    assert where("HasOptedOutOfEmail != null") == [1]
    assert where("HasOptedOutOfEmail = false") == [2, 3, 4]
    records = [rec(1, HasOptedOutOfEmail=None), rec(2, HasOptedOutOfEmail=True)]
    assert where("HasOptedOutOfEmail = false", records=records) == [1]


def test_ids_match_in_their_15_and_18_character_forms():
    full = RECORDS[1]["Id"]
    assert where(f"Id = '{full}'") == [2]
    assert where(f"Id = '{full[:15]}'") == [2]
    assert where(f"Id IN ('{full[:15]}', '{RECORDS[0]['Id']}')") == [1, 2]
    # The 15-character form is case-sensitive.
    assert where(f"Id = '{full[:15].lower()}'") == []


def test_numbers_compare_as_numbers():
    records = [rec(1, Fee__c=9.5), rec(2, Fee__c=10), rec(3, Fee__c="100"), rec(4, Share__c=50)]
    assert where("Fee__c > 9.75", records=records) == [2, 3]
    assert where("Fee__c = 10.0", records=records) == [2]
    assert where("Share__c >= 50", records=records) == [4]


def test_dates_compare_as_dates():
    assert where("Birthdate = 2006-05-01") == [1, 4]
    assert where("Birthdate > 2006-05-01") == [2]
    assert where("Birthdate <= 2007-12-31") == [1, 2, 4]
    assert where("Birthdate != 2006-05-01") == [2, 3]


def test_datetimes_compare_as_utc_instants():
    assert where("LastModifiedDate = 2024-03-13T09:00:00+01:00") == [1]
    assert where("LastModifiedDate > 2024-03-12T23:59:59Z") == [1]
    assert where("LastModifiedDate >= 2024-03-13T00:59:59+01:00") == [1, 2]
    assert where("LastModifiedDate < 2024-02-01T00:00:00+01:00") == [3]
    assert where("LastModifiedDate < 2024-01-01T00:00:00Z", include_deleted=True) == [5]


@pytest.mark.parametrize(
    ("literal", "start", "end"),
    [
        ("TODAY", date(2024, 3, 13), date(2024, 3, 14)),
        ("YESTERDAY", date(2024, 3, 12), date(2024, 3, 13)),
        ("TOMORROW", date(2024, 3, 14), date(2024, 3, 15)),
        ("THIS_WEEK", date(2024, 3, 10), date(2024, 3, 17)),  # weeks start on Sunday
        ("LAST_WEEK", date(2024, 3, 3), date(2024, 3, 10)),
        ("NEXT_WEEK", date(2024, 3, 17), date(2024, 3, 24)),
        ("THIS_MONTH", date(2024, 3, 1), date(2024, 4, 1)),
        ("LAST_MONTH", date(2024, 2, 1), date(2024, 3, 1)),
        ("NEXT_MONTH", date(2024, 4, 1), date(2024, 5, 1)),
        ("THIS_QUARTER", date(2024, 1, 1), date(2024, 4, 1)),
        ("LAST_QUARTER", date(2023, 10, 1), date(2024, 1, 1)),
        ("NEXT_QUARTER", date(2024, 4, 1), date(2024, 7, 1)),
        ("THIS_YEAR", date(2024, 1, 1), date(2025, 1, 1)),
        ("LAST_YEAR", date(2023, 1, 1), date(2024, 1, 1)),
        ("NEXT_YEAR", date(2025, 1, 1), date(2026, 1, 1)),
        ("LAST_90_DAYS", date(2023, 12, 14), date(2024, 3, 14)),  # 91 days, today included
        ("NEXT_90_DAYS", date(2024, 3, 14), date(2024, 6, 12)),
    ],
)
def test_relative_date_ranges(literal, start, end):
    assert relative_range(literal, None, NOW.date()) == (start, end)


@pytest.mark.parametrize(
    ("literal", "n", "start", "end"),
    [
        ("LAST_N_DAYS", 1, date(2024, 3, 12), date(2024, 3, 14)),  # yesterday and today
        ("NEXT_N_DAYS", 2, date(2024, 3, 14), date(2024, 3, 16)),  # starts tomorrow
        ("N_DAYS_AGO", 3, date(2024, 3, 10), date(2024, 3, 11)),
        ("LAST_N_WEEKS", 2, date(2024, 2, 25), date(2024, 3, 10)),
        ("NEXT_N_WEEKS", 1, date(2024, 3, 17), date(2024, 3, 24)),
        ("LAST_N_MONTHS", 3, date(2023, 12, 1), date(2024, 3, 1)),
        ("NEXT_N_MONTHS", 10, date(2024, 4, 1), date(2025, 2, 1)),
        ("LAST_N_YEARS", 2, date(2022, 1, 1), date(2024, 1, 1)),
        ("NEXT_N_YEARS", 1, date(2025, 1, 1), date(2026, 1, 1)),
    ],
)
def test_relative_date_ranges_with_n(literal, n, start, end):
    assert relative_range(literal, n, NOW.date()) == (start, end)


def test_relative_literals_filter_date_and_datetime_fields():
    assert where("LastModifiedDate = TODAY") == [1]
    assert where("LastModifiedDate = YESTERDAY") == [2]
    assert where("LastModifiedDate = LAST_N_DAYS:1") == [1, 2]
    assert where("LastModifiedDate > YESTERDAY") == [1]  # after the end of yesterday
    assert where("LastModifiedDate < THIS_MONTH") == [3]
    assert where("LastModifiedDate >= THIS_MONTH") == [1, 2, 4]
    assert where("LastModifiedDate <= LAST_MONTH") == [3]
    assert where("LastModifiedDate != THIS_MONTH") == [3]
    assert where("LastModifiedDate IN (YESTERDAY, 2024-01-31T10:00:00Z)") == [2, 3]
    assert where("Birthdate < LAST_N_YEARS:17") == [1, 4]
    assert where("Birthdate = LAST_N_YEARS:17") == [2]


def test_now_defaults_to_the_current_utc_time():
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    records = [rec(1, LastModifiedDate=today), rec(2, LastModifiedDate="2001-01-01T00:00:00Z")]
    rows = execute(
        parse("SELECT Id FROM Contact WHERE LastModifiedDate = LAST_N_DAYS:1"),
        records,
        describe_fields=DESCRIBE,
    )
    assert [r["Id"] for r in rows] == [records[0]["Id"]]


# ------------------------------------------------------------------------ order, limit, count


def test_order_by_ascending_puts_nulls_first_by_default():
    assert ids("SELECT Id FROM Contact ORDER BY Age__c") == [3, 1, 2, 4]
    assert ids("SELECT Id FROM Contact ORDER BY Age__c ASC NULLS LAST") == [1, 2, 4, 3]


def test_order_by_descending_puts_nulls_last_by_default():
    assert ids("SELECT Id FROM Contact ORDER BY Age__c DESC") == [4, 2, 1, 3]
    assert ids("SELECT Id FROM Contact ORDER BY Age__c DESC NULLS FIRST") == [3, 4, 2, 1]


def test_order_by_several_keys_with_mixed_directions():
    assert ids("SELECT Id FROM Contact ORDER BY LastName, Age__c DESC") == [4, 3, 2, 1]
    assert ids("SELECT Id FROM Contact ORDER BY Birthdate DESC, Id DESC") == [2, 4, 1, 3]


def test_order_by_text_is_case_insensitive_and_dates_chronological():
    assert ids("SELECT Id FROM Contact ORDER BY Email NULLS LAST") == [1, 2, 3, 4]
    assert ids("SELECT Id FROM Contact ORDER BY LastModifiedDate") == [3, 4, 2, 1]
    assert ids("SELECT Id FROM Contact ORDER BY HasOptedOutOfEmail DESC, Id") == [1, 2, 3, 4]


def test_order_by_numbers_is_numeric():
    records = [rec(1, Score__c=10), rec(2, Score__c=9.5), rec(3, Score__c=-1)]
    assert ids("SELECT Id FROM Contact ORDER BY Score__c", records=records) == [3, 2, 1]


def test_limit_and_offset():
    assert ids("SELECT Id FROM Contact ORDER BY Id LIMIT 2") == [1, 2]
    assert ids("SELECT Id FROM Contact ORDER BY Id LIMIT 2 OFFSET 1") == [2, 3]
    assert ids("SELECT Id FROM Contact ORDER BY Id OFFSET 3") == [4]
    assert ids("SELECT Id FROM Contact ORDER BY Id OFFSET 10") == []
    assert ids("SELECT Id FROM Contact LIMIT 0") == []


def test_without_order_by_records_keep_their_order():
    assert ids("SELECT Id FROM Contact", records=list(reversed(RECORDS))) == [4, 3, 2, 1]


def test_count_returns_one_empty_row_per_match():
    def count(soql: str, **kw) -> list[dict]:
        return execute(parse(soql), RECORDS, describe_fields=DESCRIBE, **kw)

    assert count("SELECT COUNT() FROM Contact") == [{}, {}, {}, {}]
    assert len(count("SELECT COUNT() FROM Contact WHERE LastName = 'bakker'")) == 2
    assert len(count("SELECT COUNT() FROM Contact", include_deleted=True)) == 5
    assert len(count("SELECT COUNT() FROM Contact LIMIT 3")) == 3
    with pytest.raises(SoqlError) as info:
        count("SELECT COUNT() FROM Contact WHERE Foo = 1")
    assert info.value.code == "INVALID_FIELD"


# ---------------------------------------------------------------------------------- IsDeleted


def test_deleted_records_only_show_with_include_deleted():
    assert where("LastName = 'O\\'Brien'") == []
    assert where("LastName = 'O\\'Brien'", include_deleted=True) == [5]
    assert ids("SELECT Id FROM Contact", include_deleted=True) == [1, 2, 3, 4, 5]


def test_where_is_deleted_true():
    assert where("IsDeleted = true") == []  # /query never returns recycled rows
    assert where("IsDeleted = true", include_deleted=True) == [5]
    assert where("IsDeleted = false", include_deleted=True) == [1, 2, 3, 4]


def test_is_deleted_is_known_even_when_the_describe_leaves_it_out():
    describe = {k: v for k, v in DESCRIBE.items() if k != "IsDeleted"}
    rows = execute(
        parse("SELECT Id, isdeleted FROM Contact WHERE IsDeleted = true"),
        RECORDS,
        describe_fields=describe,
        include_deleted=True,
    )
    assert rows == [{"Id": RECORDS[4]["Id"], "IsDeleted": True}]


# ----------------------------------------------------------------------------- compiled speed


def test_filtering_100k_records_is_fast():
    records = [
        {"Id": f"003{i:015d}", "Email": f"p{i}@school.example", "IsDeleted": False}
        for i in range(100_000)
    ]
    query = parse("SELECT Id, Email FROM Contact WHERE Email = 'P77777@SCHOOL.EXAMPLE'")
    started = time.perf_counter()
    rows = execute(query, records, describe_fields=DESCRIBE)
    elapsed = time.perf_counter() - started
    assert rows == [{"Id": "003000000000077777", "Email": "p77777@school.example"}]
    assert elapsed < 0.5, f"took {elapsed:.3f}s"


# --------------------------------------------------------------------------------- properties

TEXT = st.text(min_size=1, max_size=40)


def _name_records(text: str) -> list[dict]:
    variants = [text, text.upper(), text + "x", "x" + text, text.replace("\\", "/"), "plain"]
    return [rec(i, LastName=v) for i, v in enumerate(variants)]


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_format_soql_literal_selects_exactly_the_equal_records(text):
    records = _name_records(text)
    soql = format_soql("SELECT Id FROM Contact WHERE LastName = {}", text)
    rows = execute(parse(soql), records, describe_fields=DESCRIBE)
    expected = [r["Id"] for r in records if r["LastName"].casefold() == text.casefold()]
    assert [r["Id"] for r in rows] == expected
    assert rows  # the record holding the text itself is always found


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_like_escaped_text_matches_like_equality(text):
    records = _name_records(text)
    soql = format_soql("SELECT Id FROM Contact WHERE LastName LIKE '{:like}'", text)
    rows = execute(parse(soql), records, describe_fields=DESCRIBE)
    expected = [r["Id"] for r in records if r["LastName"].casefold() == text.casefold()]
    assert [r["Id"] for r in rows] == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=5), TEXT)
def test_in_list_of_quoted_values(values, probe):
    records = [rec(i, LastName=v) for i, v in enumerate([*values, probe])]
    soql = format_soql("SELECT Id FROM Contact WHERE LastName IN {}", values)
    rows = execute(parse(soql), records, describe_fields=DESCRIBE)
    folded = {v.casefold() for v in values}
    assert [r["Id"] for r in rows] == [
        r["Id"] for r in records if r["LastName"].casefold() in folded
    ]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("SELECT IdFROMWHERE=!<>'\\(),:.%_0123-T9Zaz \n")))
       | st.text())  # fmt: skip
def test_parse_only_ever_raises_soql_error(text):
    outcome: SoqlQuery | SoqlError
    try:
        outcome = parse(text)
    except SoqlError as err:
        outcome = err
    if isinstance(outcome, SoqlError):
        assert outcome.code in {"MALFORMED_QUERY", "NUMBER_OUTSIDE_VALID_RANGE"}
    else:
        assert isinstance(outcome, SoqlQuery)


def test_ast_nodes_are_frozen():
    node = Like("LastName", Literal("string", "a%", "a.*"))
    with pytest.raises(AttributeError):
        node.field = "Email"  # type: ignore[misc]
    assert Not(node) == Not(Like("LastName", Literal("string", "a%", "other")))
