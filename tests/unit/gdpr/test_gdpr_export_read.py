"""Export reads (art. 15): which describe fields are read, and how they are packed into as few
SOQL statements as the URL budget allows."""

from __future__ import annotations

from itertools import pairwise
from typing import Any
from urllib.parse import quote_plus

import pytest

from connector.gdpr.export_read import URL_BUDGET, read_records, readable_fields, statements


class _Describer:
    def __init__(self, fields: dict[str, dict[str, Any]] | None):
        self._fields = fields

    def fields(self, obj: str) -> dict[str, dict[str, Any]] | None:
        return self._fields


def test_compound_and_base64_fields_are_not_read_custom_and_system_ones_are() -> None:
    describer = _Describer(
        {
            "Id": {"type": "id", "label": "Contact ID"},
            "MailingAddress": {"type": "address", "label": "Mailing Address"},
            "MailingStreet": {"type": "textarea", "label": "Mailing Street"},
            "Location__c": {"type": "location", "label": "Location"},
            "Photo__c": {"type": "base64", "label": "Photo"},
            "Notes__c": {"type": "textarea", "label": "Notes"},
            "CreatedDate": {"type": "datetime", "label": "Created Date"},
        }
    )

    found = readable_fields(describer, "Contact")

    assert found is not None
    assert found.labels == {
        "Id": "Contact ID",
        "MailingStreet": "Mailing Street",
        "Notes__c": "Notes",
        "CreatedDate": "Created Date",
    }
    assert readable_fields(_Describer(None), "Individual") is None


def test_fields_are_packed_into_few_statements_each_within_the_url_budget() -> None:
    fields = [f"Custom_Field_Number_{i:04d}__c" for i in range(800)]  # a big org's Contact

    soqls = statements("Contact", fields, "Id", ["003000000000001AAA"])

    encoded = [len(quote_plus(s)) for s in soqls]
    assert max(encoded) <= URL_BUDGET
    # as few as fit: no statement could have taken the next statement's first field too
    for this, after in pairwise(soqls):
        head, tail = this.split(" FROM ")
        grown = f"{head}, {after.split(', ')[1]} FROM {tail}"
        assert len(quote_plus(grown)) + 120 > URL_BUDGET
    selected = [c for s in soqls for c in s.split(" FROM ")[0][7:].split(", ") if c != "Id"]
    assert selected == fields  # every field once, in order
    assert all(s.startswith("SELECT Id, ") for s in soqls)


def test_ids_are_escaped_and_a_field_too_long_for_any_url_is_refused() -> None:
    [soql] = statements("Task", ["Subject"], "WhoId", ["003' OR Name != '"])
    assert "\\'" in soql  # format_soql escaped the quote

    with pytest.raises(ValueError, match="does not fit"):
        statements("Task", ["Subject"], "WhoId", ["003"], budget=50)


class _Writer:
    def __init__(self, pages: list[list[dict[str, Any]]]):
        self.pages = pages
        self.calls: list[tuple[str, bool]] = []

    def query(self, soql: str, *, include_deleted: bool = False):
        self.calls.append((soql, include_deleted))
        return iter(self.pages.pop(0))


def test_parts_are_joined_by_id_through_query_all_with_parent_names() -> None:
    writer = _Writer(
        [
            [{"Id": "00v1", "Status": "Attended", "Campaign": {"Name": "Open dag"}}],
        ]
    )

    rows = read_records(writer, "CampaignMember", ["Status", "Campaign.Name"], "Id", ["00v1"])

    assert rows == {"00v1": {"Id": "00v1", "Status": "Attended", "Campaign.Name": "Open dag"}}
    assert writer.calls[0][1] is True  # queryAll: archived activities too
    assert "IsDeleted = false" in writer.calls[0][0]  # but not the recycle bin
