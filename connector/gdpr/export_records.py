"""The person's Salesforce records for the export, every readable field of each.

- own records: the Salesforce ids local state links to the person (one entry per mapping that
  writes the record, with that mapping's field purposes);
- children: the CampaignMembers (with ``Campaign.Name``), Tasks and Events of the person's graph
  (:func:`connector.gdpr.erasure.person_graph`), or, for a person local state does not know,
  those whose ``WhoId``/``ContactId``/``LeadId`` is one of the records found in Salesforce;
- consent records: the ``Individual`` of ``IndividualId`` (a person account's
  ``PersonIndividualId``) and its ``ContactPointTypeConsent`` records (with
  ``DataUsePurpose.Name``), when the org's describe has those objects.

One read per object (every field, :mod:`connector.gdpr.export_read`), never one per record.
"""

from __future__ import annotations

from typing import Any

from connector.gdpr.erasure import Graph
from connector.gdpr.export_model import RecordExport, Section, Value
from connector.gdpr.export_read import read_records, readable_fields
from connector.state import SyncedRow

# Children read with every field, plus their parent's name where it says what they are.
_CHILD_SECTIONS = {
    "CampaignMember": Section.CAMPAIGN_MEMBERSHIP,
    "Task": Section.ACTIVITY,
    "Event": Section.ACTIVITY,
}
_PARENT_NAMES = {"CampaignMember": ("Campaign.Name", "Campaign name")}
_CONSENT_PURPOSE = ("DataUsePurpose.Name", "Data use purpose name")
# Where a person record names its Individual: Contact and Lead by IndividualId, a person
# account by PersonIndividualId (Object Reference, Account: "ID of the data privacy record
# associated with this person's account",
# https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_account.htm).
_INDIVIDUAL_LINKS = ("IndividualId", "PersonIndividualId")


class Reader:
    """Reads records by object with every describe field (one describe per object)."""

    def __init__(self, writer: Any):
        self.writer = writer

    def read(
        self,
        obj: str,
        ids: list[str],
        *,
        where: str = "Id",
        fallback: list[str] | None = None,
        parent: tuple[str, str] | None = None,
    ) -> tuple[dict[str, dict[str, Value]], dict[str, str]]:
        """(Id → fields, API name → label) of the ``obj`` records with ``where`` in ``ids``."""
        described = readable_fields(self.writer.describer, obj)
        # Without a describe for it (no such object): the mapped fields only.
        labels = {f: f for f in fallback or []} if described is None else dict(described.labels)
        if parent is not None and parent[0].split(".")[0] + "Id" in labels:
            labels[parent[0]] = parent[1]
        return read_records(self.writer, obj, list(labels), where, ids), labels


def record_export(
    project: Any,
    section: Section,
    obj: str,
    sf_id: str,
    mapping: str | None,
    found: dict[str, dict[str, Value]],
    labels: dict[str, str],
) -> RecordExport:
    """One record as Salesforce holds it (``found`` by Id; missing: it no longer exists), with
    the purposes its mapping (if any) names per field."""
    spec = project.mappings.get(mapping or "")
    purposes = {} if spec is None else {f: list(fs.purposes) for f, fs in spec.fields.items()}
    values = found.get(sf_id)
    return RecordExport(
        section,
        obj,
        sf_id,
        values or {},
        labels if values else {},
        mapping=mapping,
        field_purposes=purposes,
        exists=values is not None,
    )


def own_records(reader: Reader, project: Any, rows: list[SyncedRow]) -> list[RecordExport]:
    """Each mapping's record of the person, every field as Salesforce holds it now."""
    live = [r for r in rows if r.sf_id and r.deleted_at is None and r.mapping in project.mappings]
    by_object: dict[str, list[SyncedRow]] = {}
    for row in live:
        by_object.setdefault(row.object, []).append(row)
    out = []
    for obj, group in by_object.items():
        fallback = [f for r in group for f in project.mappings[r.mapping].fields]
        found, labels = reader.read(obj, [str(r.sf_id) for r in group], fallback=fallback)
        for row in group:
            out.append(
                record_export(
                    project, Section.SALESFORCE, obj, str(row.sf_id), row.mapping, found, labels
                )
            )
    return out


def graph_children(reader: Reader, project: Any, graph: Graph) -> list[RecordExport]:
    """Campaign memberships and activities of the graph, every field, staff-made ones too."""
    by_object: dict[str, list[Any]] = {}
    for item in graph.items:
        if item.object in _CHILD_SECTIONS:
            by_object.setdefault(item.object, []).append(item)
    out = []
    for obj, items in by_object.items():
        found, labels = reader.read(
            obj, [i.sf_id for i in items], fallback=["Subject"], parent=_PARENT_NAMES.get(obj)
        )
        for item in items:
            out.append(
                record_export(
                    project, _CHILD_SECTIONS[obj], obj, item.sf_id, item.mapping, found, labels
                )
            )
    return out


def consent_records(reader: Reader, own: list[RecordExport]) -> list[RecordExport]:
    """The person's Individual and ContactPointTypeConsent records, when the org has them."""
    parties = sorted({str(r.fields[f]) for r in own for f in _INDIVIDUAL_LINKS if r.fields.get(f)})
    if not parties:
        return []
    out = []
    for obj, where in (("Individual", "Id"), ("ContactPointTypeConsent", "PartyId")):
        if readable_fields(reader.writer.describer, obj) is None:
            continue  # the org has no consent model (describe 404)
        found, labels = reader.read(obj, parties, where=where, parent=_CONSENT_PURPOSE)
        out += [
            RecordExport(Section.CONSENT_RECORD, obj, sf_id, values, labels)
            for sf_id, values in found.items()
        ]
    return out


def found_records(reader: Reader, project: Any, found: list[Any]) -> list[RecordExport]:
    """Person records found in Salesforce (not in local state), every field of each.

    Like :func:`own_records`, one entry per mapping the record belongs to, with that mapping's
    field purposes (the CSV merges them into one record with the union of the purposes).

    Args:
        found: :class:`~connector.gdpr.person_lookup.FoundRecord` items; ``mappings`` are the
            person mappings whose external id or identity field matched the record.
    """
    by_object: dict[str, list[Any]] = {}
    for item in found:
        by_object.setdefault(item.object, []).append(item)
    out = []
    for obj, items in by_object.items():
        values_by_id, labels = reader.read(obj, [i.sf_id for i in items])
        for item in items:
            values = values_by_id.get(item.sf_id)
            names = [m for m in item.mappings if m in project.mappings] or [None]
            for mapping in names:
                spec = project.mappings.get(mapping or "")
                out.append(
                    RecordExport(
                        Section.SALESFORCE,
                        obj,
                        item.sf_id,
                        values or {},
                        labels if values else {},
                        mapping=mapping,
                        field_purposes={}
                        if spec is None
                        else {f: list(fs.purposes) for f, fs in spec.fields.items()},
                        exists=values is not None,
                    )
                )
    return out


# How children hang from a person record (as the erasure graph reads them).
_RELATIONS = (
    ("CampaignMember", "ContactId", "Contact"),
    ("CampaignMember", "LeadId", "Lead"),
    ("Task", "WhoId", "Contact"),
    ("Task", "WhoId", "Lead"),
    ("Event", "WhoId", "Contact"),
    ("Event", "WhoId", "Lead"),
)


def relation_children(reader: Reader, own: list[RecordExport]) -> list[RecordExport]:
    """Children of the person records ``own`` by their relation fields (no local state)."""
    owners: dict[str, list[str]] = {}
    for record in own:
        if record.exists:
            owners.setdefault(record.object, []).append(record.sf_id)
    wanted: dict[tuple[str, str], list[str]] = {}
    for obj, relation, parent in _RELATIONS:
        wanted.setdefault((obj, relation), []).extend(owners.get(parent, []))
    out: list[RecordExport] = []
    seen: set[str] = set()
    for (obj, relation), ids in wanted.items():
        if not ids:
            continue
        found, labels = reader.read(obj, ids, where=relation, parent=_PARENT_NAMES.get(obj))
        for sf_id, values in found.items():
            if sf_id not in seen:
                seen.add(sf_id)
                out.append(RecordExport(_CHILD_SECTIONS[obj], obj, sf_id, values, labels))
    return out
