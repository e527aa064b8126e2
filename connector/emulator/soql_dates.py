"""SOQL's relative date literals (TODAY, LAST_N_DAYS:n, THIS_QUARTER ...) as day ranges."""

from __future__ import annotations

from datetime import date, timedelta


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def relative_range(name: str, n: int | None, today: date) -> tuple[date, date]:
    """The half-open day range ``[start, end)`` a relative date literal stands for.

    Weeks start on Sunday (the en_US locale); quarters are calendar quarters. Salesforce's
    LAST_N_DAYS:n and LAST_90_DAYS include today; NEXT_N_DAYS:n and NEXT_90_DAYS start tomorrow.
    """
    n = n or 0
    one = timedelta(days=1)
    week = today - timedelta(days=(today.weekday() + 1) % 7)
    month = today.replace(day=1)
    quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    year = date(today.year, 1, 1)
    ranges: dict[str, tuple[date, date]] = {
        "YESTERDAY": (today - one, today),
        "TODAY": (today, today + one),
        "TOMORROW": (today + one, today + 2 * one),
        "LAST_WEEK": (week - 7 * one, week),
        "THIS_WEEK": (week, week + 7 * one),
        "NEXT_WEEK": (week + 7 * one, week + 14 * one),
        "LAST_MONTH": (_add_months(month, -1), month),
        "THIS_MONTH": (month, _add_months(month, 1)),
        "NEXT_MONTH": (_add_months(month, 1), _add_months(month, 2)),
        "LAST_QUARTER": (_add_months(quarter, -3), quarter),
        "THIS_QUARTER": (quarter, _add_months(quarter, 3)),
        "NEXT_QUARTER": (_add_months(quarter, 3), _add_months(quarter, 6)),
        "LAST_YEAR": (_add_months(year, -12), year),
        "THIS_YEAR": (year, _add_months(year, 12)),
        "NEXT_YEAR": (_add_months(year, 12), _add_months(year, 24)),
        "LAST_90_DAYS": (today - 90 * one, today + one),
        "NEXT_90_DAYS": (today + one, today + 91 * one),
        "LAST_N_DAYS": (today - n * one, today + one),
        "NEXT_N_DAYS": (today + one, today + (n + 1) * one),
        "N_DAYS_AGO": (today - n * one, today - (n - 1) * one),
        "LAST_N_WEEKS": (week - 7 * n * one, week),
        "NEXT_N_WEEKS": (week + 7 * one, week + 7 * (n + 1) * one),
        "LAST_N_MONTHS": (_add_months(month, -n), month),
        "NEXT_N_MONTHS": (_add_months(month, 1), _add_months(month, n + 1)),
        "LAST_N_YEARS": (_add_months(year, -12 * n), year),
        "NEXT_N_YEARS": (_add_months(year, 12), _add_months(year, 12 * (n + 1))),
    }
    return ranges[name]
