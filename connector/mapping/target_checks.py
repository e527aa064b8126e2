"""Loader rules for targeting an org's own data model (DESIGN §11): person accounts, record
types and lookups by external id. Offline only; ``validate --online`` asks the org
(:mod:`connector.mapping.online`).

Each rule appends a :class:`~connector.errors.Problem` naming file, line and key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.errors import Problem
from connector.mapping.models import MappingSpec, relationship_name

if TYPE_CHECKING:
    from connector.mapping.loader import YamlDoc

#: Salesforce sets a person account's Name from FirstName and LastName and refuses a Name
#: (CumulusCI "sets Account Name as blank for Person Accounts", PR #1829).
PERSON_NAME_FIELDS = ("FirstName", "LastName")


def check_target(spec: MappingSpec, doc: YamlDoc, shown: str, problems: list[Problem]) -> None:
    """The rules of ``target.person_account``, ``target.record_type`` and ``lookup`` fields."""
    from connector.mapping.loader import key_path

    def add(path: tuple[str, ...], message: str) -> None:
        problems.append(Problem(shown, doc.line(path), key_path(path), message))

    target = spec.target
    for name, f in spec.fields.items():
        if f.lookup is not None and relationship_name(name) is None:
            add(
                ("fields", name, "lookup"),
                "a lookup field is a standard lookup ending in Id (LearningProgramId) or a "
                "custom one ending in __c",
            )
    if (target.person_account or target.record_type) and "RecordTypeId" in spec.fields:
        add(
            ("fields", "RecordTypeId"),
            "RecordTypeId comes from `target.record_type` / `target.person_account`; "
            "do not map it as well",
        )
    if target.person_account:
        if "Name" in spec.fields:
            add(
                ("fields", "Name"),
                "a person account has no Name of its own: Salesforce sets it from FirstName "
                "and LastName",
            )
        if "LastName" not in spec.fields:
            add(
                ("target", "person_account"),
                "a person account needs LastName mapped (Salesforce requires it)",
            )
