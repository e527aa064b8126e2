"""The school's time zone and calendar day: one definition for the whole connector.

A Dutch school's "today" is the day in Europe/Amsterdam, not in UTC: between midnight and
01:00 (02:00 in summer) the two differ, and a consent given that evening, an age reached that
day or a retention period ending that day must count on the school's day. The connector keeps
timestamps in UTC and asks this module for the day.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

SCHOOL_TZ = ZoneInfo("Europe/Amsterdam")


def school_date(moment: datetime | None = None) -> date:
    """The school's calendar day at ``moment`` (aware; naive counts as school time); default now."""
    if moment is None:
        return datetime.now(SCHOOL_TZ).date()
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(SCHOOL_TZ).date()
