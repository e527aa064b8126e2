"""The education objects in a person's graph: erasure (GDPR art. 17), purge and export (art. 15).

Education Cloud and EDA keep a learner's programmes, applications and enrolments in objects
that look the person up (DESIGN §11; ../shared/reference/education-data-models.md). Deleting the
person does not take them along: most of those lookups are plain lookups, which Salesforce
clears (SetNull) and leaves the record, with its personal data, behind; the required ones
refuse the delete (Restrict). So the graph finds them itself and deletes them first.

:data:`~connector.privacy.person_objects.EDUCATION_CHILDREN` (pure data, beside the register
that names the objects) is the table: (child object, lookup field to the person, whose Id the
field holds, what Salesforce does to the child when the person is deleted), in deletion order.
Sources: EDA's field metadata (SalesforceFoundation/EDA ``force-app/main/default/objects``:
``hed__Affiliation__c.hed__Contact__c``, ``hed__Program_Enrollment__c.hed__Contact__c`` SetNull,
``hed__Program_Enrollment__c.hed__Affiliation__c`` Restrict, so enrolments go before
affiliations; ``hed__Relationship__c.hed__Contact__c`` Restrict) and the Education Cloud
Developer Guide's object pages (``LearnerProgram.LearnerAccountId`` and
``ContactProfile.ContactId`` are required, hence Restrict). A link is used when the org has its
object (one describe-global call) or a mapping targets it, so a contacts org is never asked
about objects it does not have. The call and the queries are made only for an education model:
mappings that target a person account, an education object or an EDA (``hed__``) object
(:func:`education_model`); a contacts model costs no extra call.

**Whose record it is**: an object with a required (Restrict) lookup to a person belongs to that
person. A LearnerProgram found only through its ``LearnerContactId`` whose ``LearnerAccountId``
names another account is that other learner's (a hand-made, inconsistent record): it is left
alone, not deleted, and Salesforce clears its ``LearnerContactId`` when the person goes
(SetNull), so nothing of the person stays on it (:func:`owned_by_another`).

Left out on purpose: ``IndividualApplication.ContactId`` (the person who *prepares* an
application, e.g. a parent: their erasure must not delete their child's application) and
``hed__Application__c.hed__Preparer__c`` likewise.

**The Administrative Account** (EDA): each Contact has its own Account, which survives the
Contact (EDA #915). It is deleted after the Contact when its record type is ``Administrative``
and no other Contact is in it. A person account's hidden Contact needs nothing: it goes with the
Account (SOAP API guide, person accounts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connector.gdpr.erasure import ChildKeys, Graph, GraphItem
from connector.privacy.person_objects import (
    ADMINISTRATIVE,
    EDUCATION_CHILDREN,
    OWNER_OBJECTS,
    ChildLink,
    active_links,
    education_model,
)
from connector.privacy.person_objects import education_rank as education_rank  # re-exported
from connector.salesforce.query_batch import in_list_queries

_ID_KEY = 15  # the case-sensitive part of a Salesforce Id


def org_objects(writer: Any) -> frozenset[str] | None:
    """Every object name of the org (describe global, one call), None without a client."""
    client = getattr(writer, "client", None)
    if client is None:
        return None
    answer = client.json("GET", "sobjects")
    return frozenset(str(o["name"]) for o in answer.get("sobjects", []))


def _ids_of(owners: Mapping[int, Mapping[str, Sequence[str]]], kind: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for person_id, own in owners.items():
        for sf_id in own.get(kind, ()):
            out.setdefault(sf_id[:_ID_KEY], []).append(person_id)
    return out


def _query(obj: str, where: str, fields: Sequence[str], ids: Sequence[str]) -> list[str]:
    cols = ", ".join(dict.fromkeys(["Id", *fields]))
    # Object and field names are this module's constants and validated mappings; ids escaped.
    template = f"SELECT {cols} FROM {obj} WHERE {where} IN {{ids}} AND IsDeleted = false"  # noqa: S608
    return in_list_queries(template, list(dict.fromkeys(ids)))


def owner_links(link: ChildLink, links: Sequence[ChildLink]) -> list[ChildLink]:
    """The required (Restrict) lookups of ``link``'s object other than ``link`` itself: they
    say whose record it is. Pure."""
    return [o for o in links if o.object == link.object and o.on_delete == "Restrict" and o != link]


def owned_by_another(
    person_id: int,
    record: Mapping[str, Any],
    owners: Sequence[ChildLink],
    by_kind: Mapping[str, Mapping[str, Sequence[int]]],
) -> bool:
    """Whether a record found through one lookup of ``person_id`` names someone else in a
    required lookup (``owners``): then it is that other person's, not this one's. Pure."""
    for link in owners:
        value = str(record.get(link.field) or "")[:_ID_KEY]
        if value and person_id not in by_kind[link.owner].get(value, ()):
            return True
    return False


def add_education_records(
    writer: Any,
    keys: ChildKeys,
    graphs: Mapping[int, Graph],
    owners: Mapping[int, Mapping[str, Sequence[str]]],
) -> None:
    """Add each person's education children (and EDA Administrative Account) to their graph.

    Args:
        writer: The Salesforce writer (``query_many``; ``client`` for describe global).
        keys: Leads a child a mapping wrote back to its key (forgotten and tombstoned with it).
        graphs: Person id → graph (changed in place: children first, the account last).
        owners: Person id → {"Contact": ids, "Lead": ids} (person contacts included).
    """
    if not education_model(keys.by_object):
        return  # a contacts model: no describe call, no education queries
    objects = org_objects(writer)
    links = active_links(objects, keys.by_object)
    accounts: dict[int, dict[str, list[str]]] = {
        pid: {"Account": [r.sf_id for r in g.state_rows if r.object == "Account" and r.sf_id]}
        for pid, g in graphs.items()
    }
    by_kind = {"Contact": _ids_of(owners, "Contact"), "Account": _ids_of(accounts, "Account")}
    queries: list[tuple[ChildLink, str]] = []
    for link in links:
        ids = list(by_kind[link.owner])
        if ids:
            owner_fields = [o.field for o in owner_links(link, links)]
            fields = [link.field, *owner_fields, *keys.fields(link.object)]
            queries += [(link, q) for q in _query(link.object, link.field, fields, ids)]
    found: dict[ChildLink, list[dict[str, Any]]] = {}
    if queries:
        for index, record in writer.query_many([q for _, q in queries], include_deleted=True):
            found.setdefault(queries[index][0], []).append(record)
    added: dict[int, list[GraphItem]] = {}
    for link in links:
        records = found.get(link, [])
        owners_of = owner_links(link, links)
        resolved = keys.resolve_many(link.object, records) if records else {}
        for record in records:
            sf_id = str(record["Id"])
            mapping, kh = resolved.get(sf_id, (None, None))
            item = GraphItem(
                link.object, sf_id, mapping or f"{link.object}.{link.field}", mapping, kh
            )
            owner = str(record.get(link.field) or "")[:_ID_KEY]
            for person_id in by_kind[link.owner].get(owner, []):
                if not owned_by_another(person_id, record, owners_of, by_kind):
                    added.setdefault(person_id, []).append(item)
    if objects is not None and "hed__Affiliation__c" in objects:
        for person_id, item in _administrative_accounts(writer, owners):
            added.setdefault(person_id, []).append(item)
    for person_id, items in added.items():
        _merge(graphs[person_id], items)


def _merge(graph: Graph, items: Sequence[GraphItem]) -> None:
    """Put ``items`` into ``graph`` once each; a record state already lists keeps its entry
    (it knows the mapping), only takes the deletion rank of its object (by object)."""
    held = {i.sf_id for i in graph.items}
    new: list[GraphItem] = []
    for item in items:
        if item.sf_id not in held:
            held.add(item.sf_id)
            new.append(item)
    graph.items[:0] = new


def _administrative_accounts(
    writer: Any, owners: Mapping[int, Mapping[str, Sequence[str]]]
) -> list[tuple[int, GraphItem]]:
    """(person id, Account item) of each person's Administrative Account holding no other
    Contact than the person's own. Two rounds of queries for all persons together."""
    contact_of = _ids_of(owners, "Contact")
    if not contact_of:
        return []
    # queryAll without the IsDeleted filter: a Contact a half-finished erasure already deleted
    # still names its Account.
    text = "SELECT Id, AccountId FROM Contact WHERE Id IN {ids}"
    account_of: dict[str, set[int]] = {}
    soql = in_list_queries(text, list(contact_of))
    for _, rec in writer.query_many(soql, include_deleted=True):
        if rec.get("AccountId"):
            for pid in contact_of.get(str(rec["Id"])[:_ID_KEY], []):
                account_of.setdefault(str(rec["AccountId"]), set()).add(pid)
    if not account_of:
        return []
    ids = list(account_of)
    account_queries = _query("Account", "Id", ["RecordType.DeveloperName"], ids)
    n_accounts = len(account_queries)
    rounds = [*account_queries, *_query("Contact", "AccountId", ["AccountId"], ids)]
    administrative: set[str] = set()
    others: set[str] = set()  # accounts holding a Contact that is not their person's
    for index, rec in writer.query_many(rounds, include_deleted=True):
        if index < n_accounts:
            if (rec.get("RecordType") or {}).get("DeveloperName") == ADMINISTRATIVE:
                administrative.add(str(rec["Id"])[:_ID_KEY])
        else:
            account = str(rec["AccountId"])
            persons = account_of.get(account, set())
            if not any(pid in persons for pid in contact_of.get(str(rec["Id"])[:_ID_KEY], [])):
                others.add(account[:_ID_KEY])
    out: list[tuple[int, GraphItem]] = []
    for account, persons in account_of.items():
        key = account[:_ID_KEY]
        if key in administrative and key not in others and len(persons) == 1:
            item = GraphItem("Account", account, "Contact.AccountId (Administrative)")
            out.append((next(iter(persons)), item))
    return out


def related_in_graph(graph: Graph, held: Iterable[str]) -> list[GraphItem]:
    """The graph's education records and owner accounts that ``held`` (the Ids an export
    already lists) does not: for the export (art. 15), children staff or EDA made."""
    known = {h[:_ID_KEY] for h in held}
    wanted = {link.object for link in EDUCATION_CHILDREN} | set(OWNER_OBJECTS)
    return [
        i for i in graph.items if i.object in wanted and i.exists and i.sf_id[:_ID_KEY] not in known
    ]


def related_records(reader: Any, project: Any, graph: Graph, held: Sequence[Any]) -> list[Any]:
    """Every field of the graph's education records and owner accounts an export does not hold
    yet (``held``: its RecordExports): LearnerPrograms, applications, EDA affiliations and
    enrolments, the Administrative Account, whether a mapping or staff (or EDA) made them."""
    from connector.gdpr.export_model import Section
    from connector.gdpr.export_records import record_export

    by_object: dict[str, list[GraphItem]] = {}
    for item in related_in_graph(graph, [str(r.sf_id) for r in held]):
        by_object.setdefault(item.object, []).append(item)
    out: list[Any] = []
    for obj, items in by_object.items():
        found, labels = reader.read(obj, [i.sf_id for i in items], fallback=["Name"])
        for item in items:
            out.append(
                record_export(
                    project, Section.SALESFORCE, obj, item.sf_id, item.mapping, found, labels
                )
            )
    return out
