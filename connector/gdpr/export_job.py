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
from connector.gdpr.education_graph import related_records
from connector.gdpr.erasure import ChildKeys, Subject, find_person, person_graph
from connector.gdpr.erasure_job import salesforce_writer
from connector.gdpr.export_consents import consents_from_fields, consents_from_records
from connector.gdpr.export_model import Json, PersonExport
from connector.gdpr.export_records import (
    Reader,
    consent_records,
    found_records,
    graph_children,
    own_records,
    relation_children,
)
from connector.gdpr.person_lookup import find_in_salesforce, probes_for
from connector.state import PersonRow, StateStore, SyncedRow, open_existing
from connector.state.rows import PURGE_CLEARED, RECORD, purge_cleared
from connector.sync.crm_opt_outs import OPT_IN_SENT
from connector.sync.source_content import SOURCE

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
    "the fields whose value hash is kept to notice change; the values are not kept), "
    "cleared_by_purge (fields the retention purge cleared on a record that stays)",
    "local_state.withdrawals": "per row of the person that withdrew a consent: mapping, "
    "key_hash, purpose, withdrawn_at (undated: the row gave no moment, it counts from the run "
    "that first read it); a newer withdrawal outweighs an older consent in any export",
    "local_state.runs": "the sync runs that last wrote each record (run id, job, start)",
    "local_state.suppressed": "whether an erasure tombstone exists for the person",
    "purposes": "the processing register entries (purposes.yaml) the fields refer to",
}


_BOOKKEEPING = frozenset({RECORD, SOURCE, PURGE_CLEARED})


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
    # Only Salesforce field names: "*", "#" and "-" are state's own bookkeeping keys (whole
    # record, source row, fields the purge cleared), explained apart.
    fields: list[Json] = [
        *sorted(f for f in row.field_hashes if f not in _BOOKKEEPING and f[:1] != OPT_IN_SENT)
    ]
    cleared: list[Json] = [*sorted(purge_cleared(row.field_hashes))]
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
        "cleared_by_purge": cleared,
    }


def _withdrawals(store: StateStore, full: PersonRow) -> list[Json]:
    """What the person's rows withdrew, as state keeps it (not a sibling's who shares the
    address: a row with another student number)."""
    student, email = full.student_hash, full.email_hash
    found = store.withdrawals([student] if student else [], [email] if email else [])
    return [
        {"mapping": w.mapping, "key_hash": w.key_hash, "purpose": w.purpose,
         "withdrawn_at": _iso(w.at), "undated": w.clocked}
        for w in sorted(found, key=lambda w: (w.mapping, w.key_hash, w.purpose))
        if w.student_hash in (None, student)
    ]  # fmt: skip


def _person_state(full: PersonRow, rows: list[SyncedRow], runs: list[Any]) -> dict[str, Json]:
    return {
        "person": {
            "person_id": full.person_id,
            "sf_id": full.sf_id,
            "student_hash": full.student_hash,
            "email_hash": full.email_hash,
            "created_at": _iso(full.created_at),
            "updated_at": _iso(full.updated_at),
        },
        "records": [_record_state(r, runs) for r in rows],
    }


def export_person(
    settings: Any,
    subject: Subject,
    *,
    hasher: Any,
    student_number: str | None = None,
    email: str | None = None,
    writer_factory: Any = None,
) -> PersonExport | None:
    """Everything held about the person ``subject`` names.

    A person local state does not know (a lost or rebuilt state) is looked up in Salesforce by
    the person mappings' external ids and e-mail fields (:mod:`connector.gdpr.person_lookup`)
    when the raw ``student_number``/``email`` is given; their export then has no local state.
    Returns None when nobody is found. Raises UsageError for an e-mail address several persons
    share (see :func:`~connector.gdpr.erasure.find_person`).

    Args:
        settings: The loaded configuration.
        subject: From :func:`~connector.gdpr.erasure.subject_of`.
        hasher: The keyed hasher.
        student_number: The number the request names (memory only, for the Salesforce look-up).
        email: The address the request names (memory only, for the Salesforce look-up).
        writer_factory: Builds the Salesforce writer (default: the configured org).
    """
    from connector.mapping import load_project

    now = settings.clock()
    store: StateStore = open_existing(settings.state.url)
    try:
        project = load_project(settings.mappings)
        person = find_person(store, subject)
        compiled = {
            n: project.compile(n, hasher=hasher, today=school_date(now)) for n in project.mappings
        }
        writer = (writer_factory or salesforce_writer)(settings)
        reader = Reader(writer)
        identity = [h for h, _ in subject.hashes]
        rows: list[SyncedRow] = []
        notes: list[str] = []
        local: dict[str, Json] = {"person": None, "records": []}
        if person is not None:
            full = store.get_persons([person.person_id]).get(person.person_id, person)
            graph = person_graph(store, writer, ChildKeys(project, compiled, store), person)
            rows = graph.state_rows
            own = own_records(reader, project, rows)
            own += related_records(reader, project, graph, own)  # education graph, admin account
            children = graph_children(reader, project, graph)
            local = _person_state(full, rows, store.recent_runs(1000))
            local["withdrawals"] = _withdrawals(store, full)
            identity += [h for h in (full.student_hash, full.email_hash) if h]
        else:
            probes = probes_for(project, compiled, student_number=student_number, email=email)
            found = find_in_salesforce(
                writer, probes, project=project, compiled=compiled, hasher=hasher
            )
            if not found:
                return None
            own = found_records(reader, project, found)
            children = relation_children(reader, own)
            notes.append(
                "local state does not know this person; their records were found in "
                "Salesforce by " + ", ".join(sorted({f.via for f in found}))
            )
        local["suppressed"] = bool(store.suppressed(identity))
        consents_held = consent_records(reader, own)
        withdrawn = {(r.mapping, str(r.sf_id)): r.consent_withdrawn_at for r in rows}
        consents = consents_from_fields(
            project.purposes.purposes, project.mappings, own, withdrawn
        ) + consents_from_records(consents_held)
        used = {
            p for m in project.mappings.values() for fs in m.fields.values() for p in fs.purposes
        }
        used.update(c.purpose for c in consents)
        dpo = project.purposes.dpo_party
        return PersonExport(
            generated_at=now.isoformat(),
            controller=project.purposes.controller_party.name,
            dpo_contact=None if dpo is None else dpo.contact,
            explanation=EXPLANATION,
            salesforce=own,
            campaign_memberships=[c for c in children if c.object == "CampaignMember"],
            activities=[c for c in children if c.object != "CampaignMember"],
            consent_records=consents_held,
            consents=consents,
            local_state=local,
            purposes={
                name: _purpose(spec)
                for name, spec in project.purposes.purposes.items()
                if name in used
            },
            notes=notes,
        )
    finally:
        store.close()
