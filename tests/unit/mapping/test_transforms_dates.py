"""Date transforms: date, datetime_utc (incl. clock changes), birth_year, age_band."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from connector.mapping.transforms import (
    TransformContext,
    TransformError,
    TransformSpecError,
    compile_chain,
)
from connector.mapping.transforms.dates import age_on, band_labels


@pytest.fixture
def ctx() -> TransformContext:
    return TransformContext(today=date(2025, 9, 1))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---- date -------------------------------------------------------------------------------------


def test_date_with_explicit_formats(ctx: TransformContext) -> None:
    dutch = compile_chain(["date:%d-%m-%Y"], ctx=ctx)
    assert dutch("14-04-2011") == date(2011, 4, 14)
    assert dutch(" 01-05-2023 ") == date(2023, 5, 1)  # 1 May, never 5 January
    with pytest.raises(TransformError, match=r"^not a date in format %d-%m-%Y$"):
        dutch("2011-04-14")
    with pytest.raises(TransformError):
        dutch("31-02-2024")  # no such day
    with pytest.raises(TransformError):
        dutch("14-04-2011 10:00")  # trailing time is not ignored
    us = compile_chain(["date:%m/%d/%y"], ctx=ctx)
    assert us("11/29/24") == date(2024, 11, 29)
    with pytest.raises(TransformError):
        us("29/11/24")


def test_date_list_tried_in_order_and_iso_default(ctx: TransformContext) -> None:
    chain = compile_chain([{"date": {"format": ["%d-%m-%Y", "%Y-%m-%d"]}}], ctx=ctx)
    assert chain("2011-04-14") == chain("14-04-2011") == date(2011, 4, 14)
    with pytest.raises(TransformError, match="%d-%m-%Y or %Y-%m-%d"):
        chain("14/04/2011")
    iso = compile_chain(["date"], ctx=ctx)
    assert iso("2011-04-14") == date(2011, 4, 14)
    assert iso("") is None
    # Values that already are dates (JSON sources, earlier transforms) pass as dates.
    assert iso(date(2011, 4, 14)) == date(2011, 4, 14)
    assert iso(datetime(2011, 4, 14, 23, 30)) == date(2011, 4, 14)
    # An aware moment is dated where the school is: 22:30 UTC on 14 April is 15 April in NL.
    assert iso(utc(2011, 4, 14, 22, 30)) == date(2011, 4, 15)


@pytest.mark.parametrize(
    "options",
    [{"format": "dd-mm-yyyy"}, {"format": "%m-%Y"}, {"format": []}, {"formats": "%d-%m-%Y"}],
)
def test_date_formats_checked_at_compile(options, ctx: TransformContext) -> None:
    with pytest.raises(TransformSpecError, match="format"):
        compile_chain([{"date": options}], ctx=ctx)


# ---- datetime_utc -----------------------------------------------------------------------------


def test_datetime_iso_and_formats(ctx: TransformContext) -> None:
    iso = compile_chain(["datetime_utc"], ctx=ctx)
    assert iso("2024-01-15T10:00:00") == utc(2024, 1, 15, 9)  # winter: +01:00
    assert iso("2024-07-15 10:00") == utc(2024, 7, 15, 8)  # summer: +02:00
    assert iso("2024-07-15T10:00:00Z") == utc(2024, 7, 15, 10)
    assert iso("2024-07-15T10:00:00+05:00") == utc(2024, 7, 15, 5)
    assert iso(date(2024, 7, 15)) == utc(2024, 7, 14, 22)  # local midnight
    aware = datetime(2024, 7, 15, 10, tzinfo=timezone(timedelta(hours=-4)))
    assert iso(aware) == utc(2024, 7, 15, 14)
    assert iso("2024-07-15T10:00Z").tzinfo is UTC
    with pytest.raises(TransformError, match=r"^not an ISO 8601 date and time$"):
        iso("15-07-2024 10:00")
    fmt = compile_chain(["datetime_utc:%d-%m-%Y %H:%M"], ctx=ctx)
    assert fmt("15-07-2024 10:00") == utc(2024, 7, 15, 8)
    with pytest.raises(TransformError, match=r"format %d-%m-%Y %H:%M"):
        fmt("2024-07-15T10:00")
    other = compile_chain([{"datetime_utc": {"timezone": "America/New_York"}}], ctx=ctx)
    assert other("2024-07-15T10:00") == utc(2024, 7, 15, 14)


def test_datetime_spring_gap(ctx: TransformContext) -> None:
    # 31 March 2024: 02:00 CET jumps to 03:00 CEST, so 02:30 never happened in Amsterdam.
    shift = compile_chain(["datetime_utc"], ctx=ctx)
    assert shift("2024-03-31T01:59") == utc(2024, 3, 31, 0, 59)
    assert shift("2024-03-31T02:30") == utc(2024, 3, 31, 1, 30)  # read as 03:30 CEST
    assert shift("2024-03-31T03:00") == utc(2024, 3, 31, 1, 0)
    strict = compile_chain([{"datetime_utc": {"nonexistent": "reject"}}], ctx=ctx)
    with pytest.raises(TransformError, match="does not exist"):
        strict("2024-03-31T02:30")
    assert strict("2024-03-31T03:30") == utc(2024, 3, 31, 1, 30)


def test_datetime_autumn_overlap(ctx: TransformContext) -> None:
    # 27 October 2024: 03:00 CEST goes back to 02:00 CET, so 02:30 happened twice.
    earlier = compile_chain(["datetime_utc"], ctx=ctx)
    assert earlier("2024-10-27T02:30") == utc(2024, 10, 27, 0, 30)  # first pass, +02:00
    later = compile_chain([{"datetime_utc": {"ambiguous": "later"}}], ctx=ctx)
    assert later("2024-10-27T02:30") == utc(2024, 10, 27, 1, 30)  # second pass, +01:00
    strict = compile_chain([{"datetime_utc": {"ambiguous": "reject"}}], ctx=ctx)
    with pytest.raises(TransformError, match="ambiguous"):
        strict("2024-10-27T02:30")
    assert strict("2024-10-27T03:30") == utc(2024, 10, 27, 2, 30)  # unambiguous again


@pytest.mark.parametrize(
    "options",
    [
        {"timezone": "Europe/Atlantis"},
        {"ambiguous": "guess"},
        {"nonexistent": "skip"},
        {"format": "iso"},
        {"format": []},
    ],
)
def test_datetime_options_checked_at_compile(options, ctx: TransformContext) -> None:
    with pytest.raises(TransformSpecError):
        compile_chain([{"datetime_utc": options}], ctx=ctx)


# ---- birth_year, age_band ---------------------------------------------------------------------


def test_birth_year(ctx: TransformContext) -> None:
    assert compile_chain(["date:%d-%m-%Y", "birth_year"], ctx=ctx)("14-04-2008") == 2008
    year = compile_chain(["birth_year"], ctx=ctx)
    assert year("2008-04-14") == 2008
    assert year(datetime(2008, 4, 14, 12)) == 2008
    with pytest.raises(TransformError, match="put a date:FORMAT transform before"):
        year("14-04-2008")
    with pytest.raises(TransformError):
        year(2008)


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        (date(2010, 1, 1), "<16"),  # 15
        (date(2009, 9, 2), "<16"),  # turns 16 tomorrow
        (date(2009, 9, 1), "16-17"),  # 16 today
        (date(2008, 1, 1), "16-17"),
        (date(2007, 9, 1), "18-20"),
        (date(2004, 9, 2), "18-20"),  # 20
        (date(2004, 9, 1), "21+"),
        (date(1970, 1, 1), "21+"),
    ],
)
def test_age_band_default_bands(birth, band, ctx: TransformContext) -> None:
    assert compile_chain(["age_band"], ctx=ctx)(birth) == band


def test_age_band_custom_and_today_moves(ctx: TransformContext) -> None:
    chain = compile_chain([{"age_band": {"bands": [12, 16, 17, 65]}}], ctx=ctx)
    assert band_labels([12, 16, 17, 65]) == ["<12", "12-15", "16", "17-64", "65+"]
    assert chain("2009-01-01") == "16"
    ctx.today = date(2026, 9, 1)  # the compiled chain reads today per call
    assert chain("2009-01-01") == "17-64"
    with pytest.raises(TransformError, match=r"^birth date is in the future$"):
        chain(date(2027, 1, 1))


def test_age_on_leap_day() -> None:
    assert age_on(date(2008, 2, 29), date(2025, 2, 28)) == 16
    assert age_on(date(2008, 2, 29), date(2025, 3, 1)) == 17
    assert age_on(date(2008, 2, 29), date(2024, 2, 29)) == 16


@pytest.mark.parametrize("bands", [[], [18, 16], [16, 16], [0, 16]])
def test_age_band_options_checked_at_compile(bands, ctx: TransformContext) -> None:
    with pytest.raises(TransformSpecError, match="bands"):
        compile_chain([{"age_band": {"bands": bands}}], ctx=ctx)
