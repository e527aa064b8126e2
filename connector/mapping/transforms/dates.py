"""Date transforms: date, datetime_utc, birth_year, age_band.

Dates are parsed with explicit ``strptime`` formats only. ``01-05-2023`` is 1 May in a Dutch
export and 5 January in an American one; no guessing can tell, so each source names its format
(``"date:%d-%m-%Y"``) and a value that does not match is an error, never a silent swap.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from connector.mapping.transforms import (
    Bound,
    TransformContext,
    TransformError,
    TransformOptions,
    bound_transform,
)

_UTC = dt.UTC
_SCHOOL = ZoneInfo("Europe/Amsterdam")
_SEEN_MAX = 8_192  # parsed date texts kept per date transform (about 1.5 MB at most)


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


def _check_format(fmt: str, *, need_date: bool) -> str:
    if "%" not in fmt:
        raise ValueError("a format needs strptime directives such as %d-%m-%Y")
    if need_date:
        has_year = "%Y" in fmt or "%y" in fmt
        has_month = any(d in fmt for d in ("%m", "%b", "%B"))
        has_day = "%d" in fmt
        if not (has_year and has_month and has_day) and "%j" not in fmt:
            raise ValueError("a date format needs a year, a month and a day directive")
    return fmt


class DateOptions(TransformOptions):
    """``format``: one strptime format or a list tried in order (default ISO ``%Y-%m-%d``)."""

    format: list[str] = Field(default_factory=lambda: ["%Y-%m-%d"], min_length=1)

    @field_validator("format", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return _as_list(v)

    @field_validator("format")
    @classmethod
    def _directives(cls, v: list[str]) -> list[str]:
        return [_check_format(f, need_date=True) for f in v]


def _format_hint(formats: list[str]) -> str:
    return " or ".join(formats)


_PIECES = {"%d": r"(?P<d>\d{1,2})", "%m": r"(?P<m>\d{1,2})", "%Y": r"(?P<Y>\d{4})"}


def _numeric_pattern(fmt: str) -> re.Pattern[str] | None:
    """A regex equivalent to strptime for formats made of %d, %m, %Y and separators, else None.

    strptime is general and slow (≈ 10 µs); a school export's dates are millions of
    ``dd-mm-yyyy`` values, so the common formats get a regex and ``date()`` — same rules.
    """
    parts = re.split(r"(%[dmY])", fmt)
    if sorted(p for p in parts if p in _PIECES) != ["%Y", "%d", "%m"]:
        return None
    out = []
    for part in parts:
        if part in _PIECES:
            out.append(_PIECES[part])
        elif "%" in part or any(c.isalnum() for c in part):
            return None
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))


@bound_transform("date", options=DateOptions, arg="format")
def date(options: DateOptions, ctx: TransformContext) -> Bound:
    """Parse a date with explicit formats (``date:%d-%m-%Y``); returns ``datetime.date``."""
    formats = tuple(options.format)
    message = f"not a date in format {_format_hint(options.format)}"
    strptime = dt.datetime.strptime
    fast = [_numeric_pattern(fmt) for fmt in formats]
    # Text → date already parsed: an export repeats its dates (birth days, status dates), and a
    # dict look-up costs a tenth of a parse. Dates are immutable; bounded by clearing when full.
    seen: dict[str, dt.date] = {}

    def parse(text: str) -> dt.date:
        for fmt, pattern in zip(formats, fast, strict=True):
            try:
                if pattern is None:
                    return strptime(text, fmt).date()
                m = pattern.fullmatch(text)
                if m is not None:
                    return dt.date(int(m["Y"]), int(m["m"]), int(m["d"]))
            except ValueError:
                continue
        raise TransformError(message)

    def run(value: Any) -> Any:
        if value.__class__ is str:
            hit = seen.get(value)
            if hit is not None:
                return hit
            text = value.strip()
            if not text:
                return None
            day = parse(text)
            if len(seen) >= _SEEN_MAX:
                seen.clear()
            seen[value] = day
            return day
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            # An aware moment is a date where the school is, not in UTC.
            return value.astimezone(_SCHOOL).date() if value.tzinfo else value.date()
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        if not text:
            return None
        return parse(text)

    return run


class DatetimeOptions(TransformOptions):
    """``format``: strptime format(s), or none for ISO 8601; ``timezone`` of naive values;
    ``ambiguous`` / ``nonexistent``: what to do with a local time the clock change doubles or
    skips."""

    format: list[str] | None = None
    timezone: str = "Europe/Amsterdam"
    ambiguous: Literal["earlier", "later", "reject"] = "earlier"
    nonexistent: Literal["shift_forward", "reject"] = "shift_forward"

    @field_validator("format", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return _as_list(v)

    @field_validator("format")
    @classmethod
    def _directives(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("give at least one format, or leave format out for ISO 8601")
        return None if v is None else [_check_format(f, need_date=False) for f in v]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone; use an IANA name like Europe/Amsterdam") from None
        return v


def localize(
    naive: dt.datetime,
    tz: ZoneInfo,
    *,
    ambiguous: str = "earlier",
    nonexistent: str = "shift_forward",
) -> dt.datetime:
    """Attach ``tz`` to a naive wall-clock time, resolving the clock changes explicitly.

    - Ambiguous (autumn, 02:00–03:00 happens twice in Europe/Amsterdam): ``earlier`` takes the
      first occurrence (still summer time, +02:00), ``later`` the second (+01:00).
    - Nonexistent (spring, 02:00–03:00 is skipped): ``shift_forward`` reads the time with the
      offset in force before the change, so 02:30 becomes 03:30 summer time (01:30 UTC), the
      moment a clock that was not yet moved would have shown.
    - ``reject`` raises :class:`TransformError` for either.
    """
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    # fold=0 and fold=1 differ both in a gap and in an overlap; only a real (overlap) time
    # survives the round trip through UTC unchanged.
    exists = first.astimezone(_UTC).astimezone(tz).replace(tzinfo=None) == naive
    if not exists:
        if nonexistent == "reject":
            raise TransformError("local time does not exist (clock moved forward)")
        return first
    if ambiguous == "reject":
        raise TransformError("local time is ambiguous (clock moved back)")
    return first if ambiguous == "earlier" else second


@bound_transform("datetime_utc", options=DatetimeOptions, arg="format")
def datetime_utc(options: DatetimeOptions, ctx: TransformContext) -> Bound:
    """Parse a moment (ISO 8601 or explicit formats); naive values are local time in
    ``timezone`` (default Europe/Amsterdam). Returns an aware UTC ``datetime``."""
    tz = ZoneInfo(options.timezone)
    formats = tuple(options.format or ())
    amb, gap = options.ambiguous, options.nonexistent
    if formats:
        message = f"not a date and time in format {_format_hint(list(formats))}"
    else:
        message = "not an ISO 8601 date and time"

    def parse(text: str) -> dt.datetime:
        if not formats:
            try:
                return dt.datetime.fromisoformat(text)
            except ValueError:
                raise TransformError(message) from None
        for fmt in formats:
            try:
                return dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - zone attached below
            except ValueError:
                continue
        raise TransformError(message)

    def run(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, dt.date):
            moment = dt.datetime.combine(value, dt.time())
        else:
            text = str(value).strip()
            if not text:
                return None
            moment = parse(text)
        if moment.tzinfo is None:
            moment = localize(moment, tz, ambiguous=amb, nonexistent=gap)
        return moment.astimezone(_UTC)

    return run


def _birthdate(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            # ISO only: unambiguous. Anything else needs a `date:FORMAT` transform before.
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise TransformError("not a date; put a date:FORMAT transform before this one")


@bound_transform("birth_year")
def birth_year(options: None, ctx: TransformContext) -> Bound:
    """The year of a date (minimisation: the year instead of the full birth date)."""

    def run(value: Any) -> Any:
        if value is None:
            return None
        return _birthdate(value).year

    return run


class AgeBandOptions(TransformOptions):
    """``bands``: the lowest age of each band, rising (default 16, 18, 21 → "<16", "16-17",
    "18-20", "21+")."""

    bands: list[int] = Field(default_factory=lambda: [16, 18, 21], min_length=1)

    @field_validator("bands")
    @classmethod
    def _rising(cls, v: list[int]) -> list[int]:
        if v[0] < 1:
            raise ValueError("the lowest band must start at 1 or more")
        if any(b <= a for a, b in pairwise(v)):
            raise ValueError("bands must rise strictly")
        return v


def band_labels(bands: list[int]) -> list[str]:
    """Labels for ages below, between and above ``bands``: ["<16", "16-17", "18-20", "21+"]."""
    labels = [f"<{bands[0]}"]
    for lo, hi in pairwise(bands):
        labels.append(str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}")
    labels.append(f"{bands[-1]}+")
    return labels


def age_on(birth: dt.date, today: dt.date) -> int:
    """Age in whole years on ``today``; a 29 February birthday counts from 1 March in other
    years."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def next_birthday(birth: dt.date, today: dt.date) -> dt.date:
    """The first day after ``today`` on which :func:`age_on` gives one year more."""
    for year in (today.year, today.year + 1):
        try:
            day = dt.date(year, birth.month, birth.day)
        except ValueError:  # 29 February in a common year: the age turns on 1 March
            day = dt.date(year, 3, 1)
        if day > today:
            return day
    raise AssertionError("unreachable: a birthday falls within a year")  # pragma: no cover


@bound_transform("age_band", options=AgeBandOptions)
def age_band(options: AgeBandOptions, ctx: TransformContext) -> Bound:
    """An age band label from a birth date, on ``ctx.today`` (minimisation: not the date)."""
    bands = list(options.bands)
    labels = band_labels(bands)

    def run(value: Any) -> Any:
        if value is None:
            return None
        birth = _birthdate(value)
        today = ctx.today
        if birth > today:
            raise TransformError("birth date is in the future")
        ctx.recheck(next_birthday(birth, today))  # the band may change on that day
        return labels[bisect_right(bands, age_on(birth, today))]

    return run
