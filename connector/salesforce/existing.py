"""Which external ids exist in the org: for ``target.mode`` update_only and insert_only.

Salesforce has no "update only if it exists" call by external id — an upsert creates when none
matches (Insert or Update (Upsert) a Record Using an External ID, REST API Developer Guide,
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm) — so a
batch's unknown external ids are queried first, ``SELECT Id, Ext FROM Obj WHERE Ext IN (...)``,
in chunks that keep the statement well under SOQL's 100,000-character limit and the query URL
short ("SOQL and SOSL Limits", https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_soslsoql.htm).
Values may be personal (a student number): they are never logged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from connector.salesforce.record_types import Query, soql_literal

#: Characters of quoted values per query: with URL encoding a GET stays far below 16 KB.
CHUNK_CHARS = 4_000


def _in_lists(values: Sequence[str]) -> Iterator[str]:
    """``values`` (unique, non-empty) as comma-separated SOQL literals of ≤ CHUNK_CHARS each."""
    chunk: list[str] = []
    size = 0
    for value in dict.fromkeys(v for v in values if v):
        literal = soql_literal(value)
        if chunk and size + len(literal) > CHUNK_CHARS:
            yield ", ".join(chunk)
            chunk, size = [], 0
        chunk.append(literal)
        size += len(literal) + 2
    if chunk:
        yield ", ".join(chunk)


def existing_ids(query: Query, obj: str, field: str, values: Sequence[str]) -> dict[str, str]:
    """Case-folded external id value → Salesforce Id of ``obj`` records whose ``field`` is one
    of ``values`` (one query per chunk; none for no values)."""
    out: dict[str, str] = {}
    for in_list in _in_lists(values):
        # Values are quoted by soql_literal; object and field are API names from the mapping.
        soql = f"SELECT Id, {field} FROM {obj} WHERE {field} IN ({in_list})"  # noqa: S608
        for rec in query(soql):
            found = rec.get(field)
            if found not in (None, "") and rec.get("Id"):
                # Case-folded: SOQL compares text without case, and so does an upsert's match
                # on a (not case-sensitive) external id.
                out.setdefault(str(found).casefold(), str(rec["Id"]))
    return out


def person_contact_ids(query: Query, account_ids: Sequence[str]) -> dict[str, str]:
    """Account Id → PersonContactId of person accounts (one query per chunk of ids)."""
    out: dict[str, str] = {}
    for in_list in _in_lists(account_ids):
        soql = f"SELECT Id, PersonContactId FROM Account WHERE Id IN ({in_list})"  # noqa: S608
        for rec in query(soql):
            if rec.get("Id") and rec.get("PersonContactId"):
                out[str(rec["Id"])] = str(rec["PersonContactId"])
    return out
