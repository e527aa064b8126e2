"""Right of access and portability (GDPR art. 15 and 20): everything held about one person.

The export reads the person's records back from Salesforce — every readable field the org's
describe lists, so fields staff typed in Salesforce are in it too, not only what the connector
sent — their campaign memberships (with the campaign's name), their activities (archived ones
included), their consent records (Individual, ContactPointTypeConsent) where the org has them,
and what local state holds about them (hashes, dates, lifecycle, consent withdrawals, runs), each
key explained, with the purposes and lawful bases that justify every mapped field.

The result IS personal data (the subject's own): the caller renders it
(:mod:`connector.gdpr.export_formats`) only to stdout or the file the privacy officer names,
never to a log or report.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from connector.clock import school_date
from connector.gdpr.erasure import ChildKeys, Graph, Subject, find_person, person_graph
from connector.gdpr.erasure_job import salesforce_writer
from connector.gdpr.export_consents import consents_from_fields, consents_from_records
from connector.gdpr.export_model import Json, PersonExport, RecordExport, Section, Value
from connector.gdpr.export_read import read_records, readable_fields
from connector.state import StateStore, SyncedRow, open_existing

EXPLANATION = {
    "salesforce": "records in Salesforce written by a mapping: every field Salesforce holds "
    "(also those staff typed there), read back now, with the purposes that justify each "
    "field the mapping writes",
    "campaign_memberships": "CampaignMember records of the person (event registrations), "
    "with the campaign's name",
    "activities": "Tasks and Events on the person's timeline (WhoId), archived ones included",
    "consent_records": "Salesforce's consent model where the org has it: the Individual "
    "(privacy preferences) and a ContactPointTypeConsent per purpose",
    "consents": "each consent with its proof: status, when, source (form or channel), who "
    "gave it (self or parent), the opt-out field and the withdrawal date",
    "local_state.person": "the connector's identity record: person_id (internal number), "
    "student_hash and email_hash (keyed hashes of the student number and e-mail address; "
    "not reversible without the installation's secret, not the values themselves), sf_id "
    "(the Salesforce Contact)",
    "local_state.records": "per synced record: mapping, key_hash (keyed hash of the source "
    "key), object and sf_id, first_seen/last_seen (first and last run whose source held it), "
    "last_synced (last write to Salesforce), lifecycle and lifecycle_end_at (phase and when "
    "it ended), event_date (retention anchor of event data), consent_withdrawn_at (purpose "
    "-> when the consent was withdrawn), deleted_at (purged for retention), fields (names of "
    "the fields whose value hash is kept to notice change; the values are not kept)",
    "local_state.runs": "the sync runs that last wrote each record (run id, job, start)",
    "local_state.suppressed": "whether an erasure tombstone exists for the person",
    "purposes": "the processing register entries (purposes.yaml) the fields refer to",
}
# Children read with every field, plus their parent's name where it says what they are.
_CHILD_SECTIONS = {
    "CampaignMember": Section.CAMPAIGN_MEMBERSHIP,
    "Task": Section.ACTIVITY,
    "Event": Section.ACTIVITY,
}
_PARENT_NAMES = {"CampaignMember": ("Campaign.Name", "Campaign name")}
_CONSENT_PURPOSE = ("DataUsePurpose.Name", "Data use purpose name")


def _iso(value: Any) -> Json:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _purpose(spec: Any) -> dict[str, Json]:
    out: dict[str, Json] = {
        "description": spec.description,
        "lawful_basis": str(spec.lawful_basis),
    }
    if spec.retention is not None:
        out["retention"] = {"after": str(spec.retention.after), "keep": spec.retention.keep}
    if spec.consent is not None:
        out["consent_required"] = True
    if spec.legal_reference:
        out["legal_reference"] = spec.legal_reference
    return out


def _record_state(row: SyncedRow, runs: list[Any]) -> dict[str, Json]:
    run = next(
        (
            r
            for r in runs
            if row.last_synced is not None
            and r.started_at <= row.last_synced
            and (r.finished_at is None or row.last_synced <= r.finished_at)
        ),
        None,
    )
    fields: list[Json] = [*sorted(row.field_hashes)]
    return {
        "mapping": row.mapping,
        "key_hash": row.key_hash,
        "object": row.object,
        "sf_id": row.sf_id,
        "first_seen": _iso(row.first_seen),
        "last_seen": _iso(row.last_seen),
        "last_synced": _iso(row.last_synced),
        "last_synced_run": None
        if run is None
        else {"run_id": run.run_id, "job": run.job, "started_at": _iso(run.started_at)},
        "lifecycle": row.lifecycle,
        "lifecycle_end_at": _iso(row.lifecycle_end_at),
        "event_date": _iso(row.event_date),
        "consent_withdrawn_at": {p: _iso(t) for p, t in row.consent_withdrawn_at.items()},
        "deleted_at": _iso(row.deleted_at),
        "fields": fields,
    }


class _Reader:
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


def _own_records(reader: _Reader, project: Any, rows: list[SyncedRow]) -> list[RecordExport]:
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
            spec = project.mappings[row.mapping]
            values = found.get(str(row.sf_id))
            out.append(
                RecordExport(
                    Section.SALESFORCE,
                    obj,
                    str(row.sf_id),
                    values or {},
                    labels if values else {},
                    mapping=row.mapping,
                    field_purposes={f: list(fs.purposes) for f, fs in spec.fields.items()},
                    exists=values is not None,
                )
            )
    return out


def _children(reader: _Reader, project: Any, graph: Graph) -> list[RecordExport]:
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
            spec = project.mappings.get(item.mapping or "")
            purposes = {} if spec is None else {f: list(s.purposes) for f, s in spec.fields.items()}
            values = found.get(item.sf_id)
            out.append(
                RecordExport(
                    _CHILD_SECTIONS[obj],
                    obj,
                    item.sf_id,
                    values or {},
                    labels if values else {},
                    mapping=item.mapping,
                    field_purposes=purposes,
                    exists=values is not None,
                )
            )
    return out


def _consent_records(reader: _Reader, own: list[RecordExport]) -> list[RecordExport]:
    """The person's Individual and ContactPointTypeConsent records, when the org has them."""
    parties = sorted({str(r.fields["IndividualId"]) for r in own if r.fields.get("IndividualId")})
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


def export_person(
    settings: Any, subject: Subject, *, hasher: Any, writer_factory: Any = None
) -> PersonExport | None:
    """Everything held about the person ``subject`` names.

    Returns None when nobody is known in local state. Raises UsageError for an e-mail address
    several persons share (see :func:`~connector.gdpr.erasure.find_person`).

    Args:
        settings: The loaded configuration.
        subject: From :func:`~connector.gdpr.erasure.subject_of`.
        hasher: The keyed hasher.
        writer_factory: Builds the Salesforce writer (default: the configured org).
    """
    from connector.mapping import load_project

    now = settings.clock()
    store: StateStore = open_existing(settings.state.url)
    try:
        project = load_project(settings.mappings)
        person = find_person(store, subject)
        if person is None:
            # Seam for a person local state does not know (a lost state): look them up in
            # Salesforce by external id and e-mail once connector.gdpr.person_lookup exists.
            return None
        full = store.get_persons([person.person_id]).get(person.person_id, person)
        compiled = {
            n: project.compile(n, hasher=hasher, today=school_date(now)) for n in project.mappings
        }
        writer = (writer_factory or salesforce_writer)(settings)
        graph = person_graph(store, writer, ChildKeys(project, compiled, store), person)
        runs = store.recent_runs(1000)
        rows = graph.state_rows
        reader = _Reader(writer)
        own = _own_records(reader, project, rows)
        children = _children(reader, project, graph)
        consent_records = _consent_records(reader, own)
        withdrawn = {(r.mapping, str(r.sf_id)): r.consent_withdrawn_at for r in rows}
        consents = consents_from_fields(
            project.purposes.purposes, project.mappings, own, withdrawn
        ) + consents_from_records(consent_records)
        used = {
            p for m in project.mappings.values() for fs in m.fields.values() for p in fs.purposes
        }
        used.update(c.purpose for c in consents)
        identity = [h for h, _ in subject.hashes] + [
            h for h in (full.student_hash, full.email_hash) if h
        ]
        dpo = project.purposes.dpo_party
        return PersonExport(
            generated_at=now.isoformat(),
            controller=project.purposes.controller_party.name,
            dpo_contact=None if dpo is None else dpo.contact,
            explanation=EXPLANATION,
            salesforce=own,
            campaign_memberships=[c for c in children if c.object == "CampaignMember"],
            activities=[c for c in children if c.object != "CampaignMember"],
            consent_records=consent_records,
            consents=consents,
            local_state={
                "person": {
                    "person_id": full.person_id,
                    "sf_id": full.sf_id,
                    "student_hash": full.student_hash,
                    "email_hash": full.email_hash,
                    "created_at": _iso(full.created_at),
                    "updated_at": _iso(full.updated_at),
                },
                "records": [_record_state(r, runs) for r in rows],
                "suppressed": bool(store.suppressed(identity)),
            },
            purposes={
                name: _purpose(spec)
                for name, spec in project.purposes.purposes.items()
                if name in used
            },
        )
    finally:
        store.close()
