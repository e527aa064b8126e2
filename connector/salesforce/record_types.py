"""Record types by DeveloperName, resolved once per run (``target.record_type``,
``target.person_account``).

A record type's Id differs per org (a sandbox and production each have their own), so mappings
name its ``DeveloperName`` and the run asks the org: "RecordType ... DeveloperName: The unique
name of the object in the API", queried as ``SELECT Id FROM RecordType WHERE SobjectType = ...
AND DeveloperName = ...`` — RecordType, Object Reference for the Salesforce Platform,
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_recordtype.htm
A person account is an Account whose record type has ``IsPersonType = true`` (same page).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Query = Callable[[str], Iterator[dict[str, Any]]]


def soql_literal(value: str) -> str:
    """``value`` as a quoted SOQL string literal: backslash and quote escaped ("Quoted String
    Escape Sequences", SOQL and SOSL Reference,
    https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def record_type_soql(obj: str, developer_name: str | None, *, person: bool = False) -> str:
    """The SOQL that finds the record type (``developer_name`` None: the person type)."""
    where = [f"SobjectType = {soql_literal(obj)}"]
    if developer_name is not None:
        where.append(f"DeveloperName = {soql_literal(developer_name)}")
    if person:
        where.append("IsPersonType = true")
    return f"SELECT Id FROM RecordType WHERE {' AND '.join(where)} LIMIT 1"  # noqa: S608


class RecordTypes:
    """Record type Ids of one run: each (object, DeveloperName) is asked once.

    Args:
        query: Runs a SOQL query and yields its records (``Writer.query``).
    """

    def __init__(self, query: Query):
        self.query = query
        self._cache: dict[tuple[str, str | None, bool], str | None] = {}
        self.queries = 0

    def resolve(self, obj: str, developer_name: str | None, *, person: bool = False) -> str | None:
        """The Id of ``obj``'s record type ``developer_name`` (``person``: it must be a
        person-account type; no name: the org's person-account type); None when the org has
        none."""
        key = (obj, developer_name, person)
        if key not in self._cache:
            self.queries += 1
            found = next(
                iter(self.query(record_type_soql(obj, developer_name, person=person))), None
            )
            self._cache[key] = str(found["Id"]) if found and found.get("Id") else None
        return self._cache[key]
