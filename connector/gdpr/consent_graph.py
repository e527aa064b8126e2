"""The consent model's records in a person's graph: erasure (GDPR art. 17) and purge (art. 5(1)(e)).

Where the org has Data Protection and Privacy, the sync writes an ``Individual`` per Contact and
a ``ContactPointTypeConsent`` per Contact and purpose (``connector/sync/consent_stage.py``).
Deleting the Contact does not delete them:

* ``Contact.IndividualId`` (and ``Lead.IndividualId``) is a *lookup* to Individual (Object
  Reference, Contact, "IndividualId ... Relationship Type: Lookup",
  https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contact.htm):
  deleting a Contact leaves its Individual as it was;
* ``ContactPointTypeConsent.PartyId`` is a lookup to Individual (Object Reference,
  ContactPointTypeConsent,
  https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contactpointtypeconsent.htm),
  the consents hang on the Individual, not on the Contact.

So the graph holds them itself: the person's Individual (``IndividualId`` of their Contacts and
Leads, also of one in the recycle bin after a half-finished erasure: read with ``queryAll``) and
every ContactPointTypeConsent whose ``PartyId`` is it (staff-made ones too: they are the
person's consents). They are deleted only when no Contact or Lead outside the graphs being
deleted points at the Individual; a person account's ``PersonIndividualId`` is its person
contact's ``IndividualId``, so the Contact query finds person accounts too. An Individual
another record still points at stays, with its consents: in Salesforce's model the consent is
the Individual's (the human's), and staff said that record is the same human. Order:
consents with the other children, the Individual after the Contact
(:data:`AFTER_PERSONS`): the Contact's lookup must not point at a deleted record while the
Contact may still stay (a refused child keeps it, see ``graph_batch.delete_many``).

``DataUsePurpose`` records are not personal (one per purpose, shared by everyone): they stay.
Local state forgets (erasure) or marks deleted (purge) the rows that remembered them
(``consent:individual`` and ``consent:<purpose>``, by the records' external ids); they get no
tombstone: their keys are keyed hashes of the deleted Contact's Id, which never comes back.

Cost: two describes (cached by the writer) and two rounds of queries for all persons together
(IN lists, five queries per API call), never one per person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connector.gdpr.erasure import PERSON_OBJECTS, Graph, GraphItem
from connector.salesforce.consent_objects import CONSENT, CONSENT_KEY, INDIVIDUAL, INDIVIDUAL_KEY
from connector.salesforce.query_batch import in_list_queries
from connector.sync.consent_records import INDIVIDUALS, state_name

#: Objects deleted after the person records (Contact, Lead) they are looked up from.
AFTER_PERSONS = (INDIVIDUAL,)
_ID_KEY = 15  # the case-sensitive part of a Salesforce Id: 15- and 18-character forms match


def _id(value: object) -> str:
    return str(value or "")[:_ID_KEY]


def _queries(template: str, ids: Sequence[str]) -> list[str]:
    return in_list_queries(template, list(dict.fromkeys(ids))) if ids else []


def _read(writer: Any, soqls: Sequence[str], *, include_deleted: bool) -> list[dict[str, Any]]:
    if not soqls:
        return []
    return [rec for _, rec in writer.query_many(list(soqls), include_deleted=include_deleted)]


def owners_of(owners: Mapping[int, Mapping[str, Sequence[str]]]) -> dict[str, list[int]]:
    """Person records (Contact, Lead; a person account's person contact) by 15-character Id →
    the persons they belong to. Pure.

    Args:
        owners: Per person, their person records by object (``graph_batch.owner_ids``).
    """
    out: dict[str, list[int]] = {}
    for person_id, by_object in owners.items():
        for obj in PERSON_OBJECTS:
            for sf_id in by_object.get(obj, ()):
                out.setdefault(_id(sf_id), []).append(person_id)
    return out


def consent_items(
    individual: str, consents: Sequence[Mapping[str, Any]], *, with_keys: bool
) -> tuple[list[GraphItem], GraphItem, dict[str, list[str]]]:
    """The graph items of one Individual and its consents, and the state rows they forget. Pure.

    Args:
        individual: The Individual's record (``Id``, and ``SIS_Individual_Key__c`` if read).
        consents: Its ContactPointTypeConsents as read (``Id``, ``SIS_Consent_Key__c``,
            ``DataUsePurpose.Name``).
        with_keys: The org has sis-sync's external ids (else nothing is in state).
    """
    forget: dict[str, list[str]] = {}
    items = []
    for rec in consents:
        purpose = (rec.get("DataUsePurpose") or {}).get("Name")
        via = state_name(str(purpose)) if purpose else f"{CONSENT}.PartyId"
        items.append(GraphItem(CONSENT, str(rec["Id"]), via))
        key = rec.get(CONSENT_KEY) if with_keys else None
        if key and purpose:
            forget.setdefault(state_name(str(purpose)), []).append(str(key))
    return items, GraphItem(INDIVIDUAL, individual, "Contact.IndividualId"), forget


def add_consent_records(
    writer: Any,
    graphs: Mapping[int, Graph],
    person_records: Mapping[int, Mapping[str, Sequence[str]]],
) -> None:
    """Add each person's Individual and ContactPointTypeConsents to their graph (queries only).

    Nothing happens in an org without the consent objects (one describe says so). See the
    module docstring for which records and why.

    Args:
        writer: The Salesforce writer (``query_many``, ``describer``).
        graphs: Person id → graph, as read so far (changed in place).
        person_records: Per person, their Contact and Lead ids (``graph_batch.owner_ids``).
    """
    owners = owners_of(person_records)
    describer = getattr(writer, "describer", None)
    if not owners or describer is None or describer.fields(INDIVIDUAL) is None:
        return
    consent_fields = describer.fields(CONSENT)
    # Round 1: the Individual of each person record, also of one in the recycle bin (a retry
    # after an erasure that deleted the Contact but not yet its Individual).
    links: dict[str, set[int]] = {}
    for obj in PERSON_OBJECTS:
        wanted = [i for recs in person_records.values() for i in recs.get(obj, ())]
        template = f"SELECT Id, IndividualId FROM {obj} WHERE Id IN {{ids}}"  # noqa: S608
        for rec in _read(writer, _queries(template, wanted), include_deleted=True):
            if rec.get("IndividualId"):
                links.setdefault(str(rec["IndividualId"]), set()).update(owners[_id(rec["Id"])])
    if not links:
        return
    # Round 2: who else points at those Individuals, their consents and the keys state
    # remembers them by: one batch of queries for every person.
    individuals = sorted(links)
    individual_fields = describer.fields(INDIVIDUAL) or {}
    with_keys = consent_fields is not None and CONSENT_KEY in consent_fields
    soqls: list[tuple[str, str]] = []
    for obj in PERSON_OBJECTS:
        template = (
            f"SELECT Id, IndividualId FROM {obj} WHERE IndividualId IN {{ids}}"  # noqa: S608
            " AND IsDeleted = false"
        )
        soqls += [(obj, q) for q in _queries(template, individuals)]
    if consent_fields is not None:
        cols = ["Id", "PartyId", "DataUsePurpose.Name"] + ([CONSENT_KEY] if with_keys else [])
        template = (
            f"SELECT {', '.join(cols)} FROM {CONSENT} WHERE PartyId IN {{ids}}"  # noqa: S608
            " AND IsDeleted = false"
        )
        soqls += [(CONSENT, q) for q in _queries(template, individuals)]
    if INDIVIDUAL_KEY in individual_fields:
        template = (
            f"SELECT Id, {INDIVIDUAL_KEY} FROM {INDIVIDUAL} WHERE Id IN {{ids}}"  # noqa: S608
            " AND IsDeleted = false"
        )
        soqls += [(INDIVIDUAL, q) for q in _queries(template, individuals)]
    held: set[str] = set()
    consents: dict[str, list[dict[str, Any]]] = {}
    individual_keys: dict[str, str] = {}
    # queryAll like the rest of the graph read; IsDeleted = false keeps the recycle bin out.
    for index, rec in writer.query_many([q for _, q in soqls], include_deleted=True):
        obj = soqls[index][0]
        if obj == CONSENT:
            consents.setdefault(_id(rec["PartyId"]), []).append(rec)
        elif obj == INDIVIDUAL:
            if rec.get(INDIVIDUAL_KEY):
                individual_keys[_id(rec["Id"])] = str(rec[INDIVIDUAL_KEY])
        elif _id(rec["Id"]) not in owners:
            held.add(_id(rec["IndividualId"]))  # another record still needs this Individual
    for individual, persons in links.items():
        if _id(individual) in held:
            continue
        items, item, forget = consent_items(
            individual, consents.get(_id(individual), []), with_keys=with_keys
        )
        if _id(individual) in individual_keys:
            forget.setdefault(INDIVIDUALS, []).append(individual_keys[_id(individual)])
        for person_id in sorted(persons):
            graph = graphs[person_id]
            # Consents before the person records, the Individual last (the order shown; the
            # order deleted is per object, graph_batch.delete_many).
            split = next(
                (n for n, i in enumerate(graph.items) if i.object in PERSON_OBJECTS),
                len(graph.items),
            )
            graph.items[split:split] = items
            graph.items.append(item)
            for mapping, keys in forget.items():
                graph.forget.setdefault(mapping, []).extend(keys)
