"""An objection's request is done only when what it had to set is set (issue #9 re-audit):
``unset_after`` reads the flags back; a flag an accepted update did not make true is
``NOT_SET``, one the sync sets on an object whose describe lacks it is ``FIELD_MISSING``.
``with_found`` records the identifiers the Salesforce records hold, with the kinds local state
would give them."""

from __future__ import annotations

from typing import Any

from connector.gdpr.objection import with_found
from connector.gdpr.objection_reach import (
    FIELD_MISSING,
    NOT_SET,
    ObjectFlags,
    plan_marks,
    unset_after,
)
from connector.gdpr.person_lookup import FoundRecord
from connector.state.objections import OWN_EMAIL

PERSON = ObjectFlags(
    ("PersonHasOptedOutOfEmail",), frozenset({"PersonHasOptedOutOfEmail"}), "PersonIndividualId"
)


class _Describer:
    def __init__(self, fields: dict[str, set[str]]):
        self._fields = fields

    def fields(self, obj: str) -> dict[str, Any] | None:
        have = self._fields.get(obj)
        return None if have is None else {key: {} for key in have}


class _Writer:
    """Answers every query with ``records`` of the object named in the FROM clause."""

    def __init__(self, fields: dict[str, set[str]], records: dict[str, list[dict[str, Any]]]):
        self.describer = _Describer(fields)
        self.records = records

    def query(self, soql: str) -> list[dict[str, Any]]:
        obj = soql.split(" FROM ")[1].split()[0]
        return self.records.get(obj, [])


ACCOUNT = {"Account": {"Id", "PersonHasOptedOutOfEmail", "PersonIndividualId"}}


def test_a_flag_still_false_after_the_update_keeps_the_request_open() -> None:
    writer = _Writer(ACCOUNT, {"Account": [{"Id": "001A", "PersonHasOptedOutOfEmail": False}]})
    targets = [("Account", "001A")]
    marks = plan_marks(writer, targets, ["HasOptedOutOfEmail"], {"Account": PERSON})
    assert marks.updates == {"Account": [{"Id": "001A", "PersonHasOptedOutOfEmail": True}]}

    assert unset_after(writer, targets, ["HasOptedOutOfEmail"], {"Account": PERSON}) == [
        ("Account", NOT_SET)
    ]
    writer.records["Account"][0]["PersonHasOptedOutOfEmail"] = True
    assert unset_after(writer, targets, ["HasOptedOutOfEmail"], {"Account": PERSON}) == []


def test_a_flag_the_sync_sets_that_the_object_lacks_is_not_done() -> None:
    writer = _Writer({"Account": {"Id"}}, {"Account": [{"Id": "001A"}]})

    missing = unset_after(
        writer, [("Account", "001A")], ["HasOptedOutOfEmail"], {"Account": PERSON}
    )

    assert missing == [("Account", FIELD_MISSING)]


def test_found_identities_are_recorded_with_the_kinds_local_state_gives_them() -> None:
    rec = FoundRecord(
        "Account", "001A", "Account.X", identities=(("E", "email"), ("S", "student"), ("K", "key"))
    )

    assert with_found([("S", "student")], [rec]) == [("S", "student"), ("E", OWN_EMAIL)]
    # --email for an address whose record is a student's: recorded as by student number.
    assert with_found([("E", "email")], [rec]) == [("S", "student"), ("E", OWN_EMAIL)]
    prospect = FoundRecord("Account", "001B", "Account.Y", identities=(("E", "email"),))
    assert with_found([("E", "email")], [prospect]) == [("E", "email")]
