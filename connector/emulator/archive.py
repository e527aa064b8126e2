"""Archived activities: which Tasks and Events Salesforce archives, and which queries see them.

"Salesforce archives activities (tasks and events) that are over a year old. You can use
queryAll() to query on all Task and Event records, archived or not. ... You cannot use query()
as it automatically filters out all records where isArchived is set to true. You can update or
delete archived records, though you cannot update the isArchived field." Criteria: events with
an ActivityDateTime or ActivityDate at least 365 days old; tasks with IsClosed true and an
ActivityDate at least 365 days old (Archived Activities, SOAP API Developer Guide,
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_guidelines_archive.htm).

Salesforce archives in a background run after the insert; the emulator decides on every write
(an old, closed activity is archived at once), which is what a client sees a day later. The
third criterion (closed task without a date, created a year ago) cannot occur: the emulator's
CreatedDate is always the moment of the insert. A task is closed when its Status is
``Completed`` (the closed value of the default TaskStatus picklist).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

ACTIVITY_OBJECTS = frozenset({"Task", "Event"})
_CLOSED_TASK_STATUSES = frozenset({"Completed"})
_AGE = timedelta(days=365)


def _day(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def is_archived(obj: str, rec: dict[str, Any], today: date | None = None) -> bool:
    """Whether Salesforce would archive this Task or Event (False for any other object)."""
    today = today or datetime.now(UTC).date()
    if obj == "Event":
        when = _day(rec.get("ActivityDateTime")) or _day(rec.get("ActivityDate"))
    elif obj == "Task" and rec.get("Status") in _CLOSED_TASK_STATUSES:
        when = _day(rec.get("ActivityDate"))
    else:
        return False
    return when is not None and today - when >= _AGE
