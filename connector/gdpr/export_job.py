"""Right of access and portability (GDPR art. 15 and 20): everything held about one person.

The export reads the person's records back from Salesforce (the values there now, which staff
may have edited, not what the connector last sent), their campaign memberships and activities,
and what local state holds about them (hashes, dates, lifecycle, consent withdrawals, runs),
each key explained, with the purposes and lawful bases that justify every field.

The result IS personal data (the subject's own): the caller writes it only to stdout or the file
the privacy officer names, never to a log or report.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from connector.clock import school_date
from connector.gdpr.erasure import (
    ChildKeys,
    Graph,
    Subject,
    find_person,
    person_graph,
    query_all,
)
from connector.gdpr.erasure_job import salesforce_writer
from connector.state import StateStore, SyncedRow, open_existing

EXPLANATION = {
    "salesforce": "records in Salesforce written by a mapping: the current values of the "
    "fields that mapping writes, read back now, with the purposes that justify each field",
    "campaign_memberships": "CampaignMember records of the person (event registrations)",
    "activities": "Tasks and Events on the person's timeline (WhoId), archived ones included",
    "local_state.person": "the connector's identity record: person_id (internal number), "
    "student_hash and email_hash (keyed hashes of the student number and e-mail address; "
    "not reversible without the installation's secret), sf_id (the Salesforce Contact)",
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


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _purpose(spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
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


def _record_state(row: SyncedRow, runs: list[Any]) -> dict[str, Any]:
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
        "fields": sorted(row.field_hashes),
    }


def _read_back(writer: Any, project: Any, rows: list[SyncedRow]) -> list[dict[str, Any]]:
    """Each mapping's fields of the person's records, as Salesforce holds them now."""
    out = []
    for row in rows:
        spec = project.mappings.get(row.mapping)
        if spec is None or not row.sf_id or row.deleted_at is not None:
            continue
        fields = list(spec.fields)
        found = list(query_all(writer, row.object, fields, "Id", [row.sf_id]))
        out.append(
            {
                "mapping": row.mapping,
                "object": row.object,
                "sf_id": row.sf_id,
                "exists": bool(found),
                "fields": {f: found[0].get(f) for f in fields} if found else {},
                "field_purposes": {f: list(fs.purposes) for f, fs in spec.fields.items()},
            }
        )
    return out


def _children(writer: Any, project: Any, graph: Graph) -> tuple[list[dict], list[dict]]:
    """Campaign memberships and activities of the graph, with their mapped fields."""
    members: list[dict] = []
    activities: list[dict] = []
    by_mapping = {n: list(s.fields) for n, s in project.mappings.items()}
    for item in graph.items:
        if item.object not in ("CampaignMember", "Task", "Event"):
            continue
        if item.object == "CampaignMember":
            fields = by_mapping.get(item.mapping or "", ["CampaignId", "Status"])
        elif item.object == "Task":
            fields = by_mapping.get(item.mapping or "", ["Subject", "ActivityDate", "Status"])
        else:
            fields = ["Subject", "ActivityDate", "StartDateTime", "EndDateTime"]
        found = list(query_all(writer, item.object, fields, "Id", [item.sf_id]))
        entry = {
            "object": item.object,
            "sf_id": item.sf_id,
            "mapping": item.mapping,
            "fields": {f: found[0].get(f) for f in fields} if found else {},
        }
        spec = project.mappings.get(item.mapping or "")
        if spec is not None:
            entry["field_purposes"] = {f: list(fs.purposes) for f, fs in spec.fields.items()}
        (members if item.object == "CampaignMember" else activities).append(entry)
    return members, activities


def export_person(
    settings: Any, subject: Subject, *, hasher: Any, writer_factory: Any = None
) -> dict[str, Any] | None:
    """Everything held about the person ``subject`` names, as a JSON-ready dict.

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
            return None
        full = store.get_persons([person.person_id]).get(person.person_id, person)
        compiled = {
            n: project.compile(n, hasher=hasher, today=school_date(now)) for n in project.mappings
        }
        writer = (writer_factory or salesforce_writer)(settings)
        graph = person_graph(store, writer, ChildKeys(project, compiled, store), person)
        runs = store.recent_runs(1000)
        rows = graph.state_rows
        members, activities = _children(writer, project, graph)
        used = {
            p for m in project.mappings.values() for fs in m.fields.values() for p in fs.purposes
        }
        identity = [h for h, _ in subject.hashes] + [
            h for h in (full.student_hash, full.email_hash) if h
        ]
        return {
            "generated_at": now.isoformat(),
            "controller": project.purposes.controller_party.name,
            "dpo_contact": project.purposes.dpo_contact,
            "explanation": EXPLANATION,
            "salesforce": _read_back(writer, project, rows),
            "campaign_memberships": members,
            "activities": activities,
            "local_state": {
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
            "purposes": {
                name: _purpose(spec)
                for name, spec in project.purposes.purposes.items()
                if name in used
            },
        }
    finally:
        store.close()
