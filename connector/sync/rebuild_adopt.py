"""The rebuild's last pass: org records a mapping wrote that no row of this rebuild recorded.

A rebuild matches the org by the rows the exports hold *today*, and records what a run would
have written. Two kinds of record escape it, and the retention purge, which works from state,
would never reach them again (GDPR art. 5(1)(e)): a student who left the export before the
state was lost, and one whose row is still exported but no purpose justifies any longer (a
run writes nothing for it; the lost state knew it from an earlier write). This pass finds and
records both:

* per mapping of the job whose source is a full export and whose external id gives back the
  record key (:func:`connector.mapping.carriers.key_in_external_id`), and which shares that
  external id with no other mapping in use (:func:`_shared`), one SOQL query reads every org
  record carrying the external id (``WHERE <ext> != null``, page by page);
* only records sis-sync could have written and did count (:func:`_ours`: the external id in
  the form the mapping sends, and the integration user as creator or last modifier);
* a record already in state, or one the rebuild found missing or different (the next run
  writes it), is left alone; every other one is **adopted**: recorded in state with its
  Salesforce Id, the keyed hashes of the values the org holds in the mapping's fields (so the
  purge knows which fields a consent still keeps and which to clear), its person (student
  number and e-mail hashes read from the record), a person account's ``PersonContactId``, and
  ``last_seen`` set to the rebuild's clock; a record that left its export gets the rebuild's
  day as its event date too (for a mapping with an ``event_date``), one whose row is still
  exported gets that row's lifecycle, event date and withdrawals.

What the old state knew of a record that left (when it left, its event's date) is gone with
it, so its retention counts from the rebuild: a purge clears it at most one retention period
later than the lost state would have, never earlier. Nothing is written to Salesforce
(queries and describes only); no value is kept, only keyed hashes and Salesforce Ids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connector.clock import school_date
from connector.hashing import KeyHasher
from connector.mapping.carriers import (
    held_identities,
    identity_fields,
    key_hash_of,
    key_in_external_id,
)
from connector.mapping.transforms import TransformError
from connector.privacy.facts import Phase, SubjectFacts
from connector.privacy.withdrawals import moment
from connector.records import Reject, SourceRecord
from connector.sources import open_source
from connector.state import NewPerson, StateStore, SyncedUpdate
from connector.sync.export_guard import is_full_export

log = logging.getLogger(__name__)

PAGE = 500  # org records looked up in state, and recorded, per statement


@dataclass
class Adoption:
    """What the pass found for one mapping: the records it adopted (their Salesforce Ids:
    not personal data, for the privacy officer's review), or why it did not search."""

    mapping: str
    object: str
    sf_ids: list[str] = field(default_factory=list)
    # Of those, the records whose row the export still holds, unwritten (no purpose justifies
    # it any longer, or it was rejected): the lost state knew them from an earlier write.
    in_export: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # made and last changed by another user
    skipped: str = ""  # why the mapping was not searched ("" = searched)


def adopt_left_records(
    store: StateStore,
    writer: Any,
    settings: Any,
    project: Any,
    names: Sequence[str],
    *,
    hasher: KeyHasher,
    finished: Sequence[str],
    writes_next: Mapping[str, Collection[str]],
) -> list[Adoption]:
    """Adopt, for each mapping in ``names``, its org records no written row of the rebuild
    matched: those that left the export, and those whose exported row went unwritten.

    Args:
        store: The state the rebuild filled.
        writer: The rebuild's read-only writer (its ``query``, ``describer`` and ``client``).
        settings: The loaded configuration (project folder, clock).
        project: The loaded mappings.
        names: The job's mappings, parents first.
        hasher: The keyed hasher of the rebuild.
        finished: The mappings the rebuild went through (a stopped one is not searched: its
            export was not read to the end).
        writes_next: Mapping → key hashes of the records the rebuild found missing or
            different in the org: the next run writes (and records) them.
    """
    at = settings.clock()
    today = school_date(at)
    idents = identity_fields(project)
    user = str(getattr(writer.client, "user_id", "") or "")
    persons: dict[str, int] = {}  # Salesforce Id → person adopted in this pass
    out: list[Adoption] = []
    for name in names:
        spec = project.mappings[name]
        adoption = Adoption(name, spec.target.object)
        out.append(adoption)
        adoption.skipped = _why_not(spec, name in finished) or _shared(
            name, project, settings.project_dir
        )
        if not adoption.skipped and not user:
            adoption.skipped = "the token names no user to tell sis-sync's records by"
        if adoption.skipped:
            continue
        compiled = project.compile(name, hasher=hasher, today=today)
        exported = _exported_keys(spec, settings, compiled)
        if exported is None:
            adoption.skipped = "its source holds changes only (a delta)"
            continue
        if not exported:
            adoption.skipped = "its export is empty"
            continue
        columns = _columns(writer, spec)
        if columns is None:
            adoption.skipped = f"the org has no {spec.target.object} to read"
            continue
        mine = [f for f in idents.get(spec.target.object, []) if f.mapping == name]
        context = _Context(store, name, spec, compiled, hasher, mine, persons, at, today)
        skip = writes_next.get(name, ())
        unwritten: dict[str, dict[str, Any]] = {}  # key hash → org record, its row exported
        for page in _pages(writer, spec, columns):
            found = _ours(page, spec, compiled, user, adoption)
            known = store.lookup(name, list(found)) if found else {}
            fresh = {k: rec for k, rec in found.items() if k not in known and k not in skip}
            unwritten |= {k: rec for k, rec in fresh.items() if k in exported}
            adoption.sf_ids += context.adopt({k: r for k, r in fresh.items() if k not in exported})
        if unwritten:
            facts = _row_facts(spec, settings, compiled, unwritten)
            adoption.sf_ids += context.adopt(unwritten, facts)
            adoption.in_export = [str(r["id"]) for r in unwritten.values()]
        if adoption.sf_ids:
            log.info("rebuild: %d records of %s adopted", len(adoption.sf_ids), name)
    return out


_KEY_HASH = re.compile(r"[0-9a-f]{32}")  # KeyHasher.key: 32 lower-case hex characters


def _ours(
    page: Sequence[dict[str, Any]], spec: Any, compiled: Any, user: str, adoption: Adoption
) -> dict[str, dict[str, Any]]:
    """Key hash → record of the page's records this mapping could have written and did.

    * The external id must be what the mapping sends for a key — a key hash for a generated
      one, the key in its normalised form for a mapped one (compile.py normalises a sent
      external id like the key): a look-alike typed by hand (a full-width digit, a trailing
      space, an invisible character) is not taken for the record sis-sync wrote, and no raw
      value ever becomes a "key hash" in state.
    * Its ``CreatedById`` or ``LastModifiedById`` must be the user the client acts as (the
      integration user): a Contact staff made and kept editing, carrying a student number
      the export never held, is not sis-sync's to purge (listed in ``adoption.others``).
    * Two records left for one key (cannot happen for a unique external id) are left alone.
    """
    ext = spec.target.external_id
    out: dict[str, dict[str, Any]] = {}
    twice: set[str] = set()
    for rec in page:
        value = str(rec.get(ext) or "")
        if ext not in spec.fields:
            key_hash: str | None = value if _KEY_HASH.fullmatch(value) else None
        else:
            key_hash = key_hash_of(spec, compiled, value)
            if key_hash and compiled.normalise_key(value) != value:
                key_hash = None
        if key_hash is None:
            continue
        if user[:15] not in (_id15(rec.get("createdbyid")), _id15(rec.get("lastmodifiedbyid"))):
            adoption.others.append(str(rec["id"]))
            continue
        if key_hash in out:
            twice.add(key_hash)
        out[key_hash] = rec
    return {k: rec for k, rec in out.items() if k not in twice}


def _id15(value: object) -> str:
    return str(value or "")[:15]


def _why_not(spec: Any, finished: bool) -> str:
    if not finished:
        return "the rebuild did not finish this mapping"
    if not is_full_export(spec):
        return "not a full export (a record missing from it has not left the school)"
    if not key_in_external_id(spec):
        return f"its external id {spec.target.external_id} does not give back its record key"
    return ""


def _shared(name: str, project: Any, base_dir: Path) -> str:
    """Why records of ``name`` cannot be told apart from another mapping's ("" if they can).

    Two mappings may write one external id on one object (``students`` and ``oneroster_users``
    both ``Contact.SIS_Student_Number__c``): a record in neither export could be either's, and
    their retention rules may differ. Such a mapping is searched only while the other one has
    no export to read (a school runs one of the two).
    """
    spec = project.mappings[name]
    mine = (spec.target.object.lower(), spec.target.external_id.lower())
    for other, o in project.mappings.items():
        if other == name or (o.target.object.lower(), o.target.external_id.lower()) != mine:
            continue
        path = o.source.get("path")
        if path is None or (base_dir / str(path)).exists():
            return (
                f"mapping {other} writes {spec.target.object}.{spec.target.external_id} too, "
                "from an export of its own: a record in neither cannot be told apart"
            )
    return ""


def keyed_rows(source: Any, compiled: Any) -> Iterator[tuple[str, SourceRecord]]:
    """(key hash, row) of every row of ``source`` whose key the mapping can read (a row whose
    key it cannot read was rejected by the run)."""
    for rec in source.read():
        if isinstance(rec, Reject):
            continue
        try:
            key = compiled.normalise_key(rec.key)
        except TransformError:
            continue
        if key:
            yield compiled.hash_key(key), rec


def _exported_keys(spec: Any, settings: Any, compiled: Any) -> set[str] | None:
    """The key hashes of every row the export holds now (None: the source says it holds
    changes only)."""
    source = open_source(spec.source, base_dir=settings.project_dir)
    keys = {key_hash for key_hash, _ in keyed_rows(source, compiled)}
    return None if source.holds_everything() is False else keys


def _row_facts(
    spec: Any, settings: Any, compiled: Any, wanted: Mapping[str, Mapping[str, Any]]
) -> dict[str, SubjectFacts]:
    """Key hash → the facts (lifecycle, event date, withdrawals) of the export's last row of
    each wanted record (key hash → its org record): a second read of the source, mapping only
    those rows. A row whose lifecycle cannot be read (rejected for an unknown status) takes
    the phase its org record shows (:func:`_phase_in_org`)."""
    source = open_source(spec.source, base_dir=settings.project_dir)
    out: dict[str, SubjectFacts] = {}
    for key_hash, rec in keyed_rows(source, compiled):
        if key_hash in wanted:
            facts = compiled.apply(rec).facts
            if facts.phase is None and spec.lifecycle is not None:
                facts = _phase_in_org(spec, compiled, rec, wanted[key_hash]) or facts
            out[key_hash] = facts
    return out


def _phase_in_org(
    spec: Any, compiled: Any, rec: SourceRecord, org: Mapping[str, Any]
) -> SubjectFacts | None:
    """The facts of ``rec`` with the status whose value, written by the mapping's field from
    the lifecycle column, the org record holds (``Lifecycle_Status__c`` "Uitgeschreven" ←
    ``uitgeschreven``: ended). A run wrote that value while the row was still readable; the
    lost state knew the phase from that write. None when no declared status matches."""
    column = spec.lifecycle.from_
    shown = [f for f, fs in spec.fields.items() if getattr(fs, "from_", None) == column]
    if column is None or not shown:
        return None
    life = spec.lifecycle
    for value in (*life.ended, *life.enrolled, *life.applied, *life.prospect):
        trial = SourceRecord(rec.key, {**rec.fields, column: value}, rec.origin)
        res = compiled.apply(trial)
        if res.facts.phase is not None and all(
            str(res.values.get(f) or "").casefold() == str(org.get(f.lower()) or "").casefold()
            for f in shown
        ):
            return res.facts
    return None


def _columns(writer: Any, spec: Any) -> list[str] | None:
    """Id, the external id and the mapping's own fields the object has (describe names)."""
    described = writer.describer.fields(spec.target.object)
    if described is None:
        return None
    by_lower = {n.lower(): n for n in described}
    wanted = ["Id", spec.target.external_id, "CreatedById", "LastModifiedById", *spec.fields]
    if spec.target.person_account:
        wanted.append("PersonContactId")  # its children point at the person's Contact
    return list(dict.fromkeys(by_lower.get(n.lower(), n) for n in wanted if n.lower() in by_lower))


def _pages(writer: Any, spec: Any, columns: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
    """Every org record carrying the mapping's external id, :data:`PAGE` at a time."""
    ext = spec.target.external_id
    # Names come from the validated mapping and the org's describe; no value is in the query.
    soql = f"SELECT {', '.join(columns)} FROM {spec.target.object} WHERE {ext} != null"  # noqa: S608
    page: list[dict[str, Any]] = []
    for rec in writer.query(soql):
        page.append({**{k.lower(): v for k, v in rec.items()}, ext: rec.get(ext)})
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page


@dataclass
class _Context:
    store: StateStore
    name: str
    spec: Any
    compiled: Any
    hasher: KeyHasher
    idents: list[Any]
    persons: dict[str, int]
    at: datetime
    today: date

    def adopt(
        self,
        records: Mapping[str, dict[str, Any]],
        facts: Mapping[str, SubjectFacts] | None = None,
    ) -> list[str]:
        """Record ``records`` (key hash → org record, lower-case names): as left the export,
        or, with the ``facts`` of their rows, as the export still holds them."""
        if not records:
            return []
        person_of = self._persons(records) if self.spec.identity is not None else {}
        rows = [
            self._row(key_hash, rec, person_of.get(key_hash), (facts or {}).get(key_hash))
            for key_hash, rec in records.items()
        ]
        self.store.record_synced(rows, at=self.at)
        contacts = {
            k: str(r["personcontactid"]) for k, r in records.items() if r.get("personcontactid")
        }
        if contacts:
            self.store.set_person_contact_ids(self.name, contacts)
        return [str(rec["id"]) for rec in records.values()]

    def _row(
        self, key_hash: str, rec: Mapping[str, Any], person: int | None, facts: SubjectFacts | None
    ) -> SyncedUpdate:
        """The state of one adopted record: what is unknown counts from the rebuild; a row the
        export holds gives its lifecycle, event date and withdrawals (as plan.py records them
        at a write)."""
        today = self.today if self.spec.event_date is not None else None
        if facts is None:
            return SyncedUpdate(
                self.name, key_hash, self.spec.target.object, str(rec["id"]),
                self._hashes(rec), person, event_date=today,
            )  # fmt: skip
        ended = facts.phase is Phase.ENDED
        return SyncedUpdate(
            self.name, key_hash, self.spec.target.object, str(rec["id"]), self._hashes(rec),
            person,
            lifecycle=facts.phase.value if facts.phase is not None else None,
            lifecycle_end_at=(moment(facts.phase_at) if facts.phase_at else self.at)
            if ended
            else None,
            event_date=facts.event_date or today,
            consent_withdrawn_at={
                p: c.at for p, c in facts.consents.items() if c.given is False and c.at
            },
        )  # fmt: skip

    def _hashes(self, rec: Mapping[str, Any]) -> dict[str, str]:
        """Keyed hashes of the values the org holds in the mapping's fields. An empty field and
        a cleared checkbox (Salesforce stores it as false) hold nothing: a consent field that
        is false never counts as a consent given (:func:`~connector.privacy.retention.
        consent_held`)."""
        held = {}
        for name in self.spec.fields:
            value = rec.get(name.lower())
            if value is None or value == "" or value is False or isinstance(value, Mapping):
                continue
            held[name] = value
        return self.hasher.values(held)

    def _persons(self, records: Mapping[str, dict[str, Any]]) -> dict[str, int]:
        """Key hash → person: the person state has for the record's student number (or for
        its e-mail address, holding this very record), else a new one."""
        ids: dict[str, tuple[str | None, str | None]] = {}
        for key_hash, rec in records.items():
            held = held_identities(
                {f.field: rec.get(f.field.lower()) for f in self.idents},
                self.idents,
                {self.name: self.compiled},
                self.hasher,
            )
            student = next((h for h, kind in held.items() if kind == "student"), None)
            email = next((h for h, kind in held.items() if kind == "email"), None)
            ids[key_hash] = (student, email)
        found = self.store.find_persons(
            student_hashes=[s for s, _ in ids.values() if s],
            email_hashes=[e for _, e in ids.values() if e],
        )
        out: dict[str, int] = {}
        new: list[tuple[str, NewPerson]] = []
        students: set[str] = set()
        for key_hash, (student, email) in ids.items():
            sf_id = str(records[key_hash]["id"])
            if sf_id in self.persons:
                out[key_hash] = self.persons[sf_id]
            elif student and student in found.by_student:
                out[key_hash] = found.by_student[student].person_id
            elif email and (same := [p for p in found.by_email.get(email, ()) if p.sf_id == sf_id]):
                out[key_hash] = same[0].person_id
            else:
                if student in students:
                    student = None  # a student number on two records: one person holds it
                students.add(student or "")
                new.append((key_hash, NewPerson(student, email, sf_id)))
        created = self.store.add_persons([p for _, p in new], at=self.at)
        for (key_hash, person), pid in zip(new, created, strict=True):
            out[key_hash] = pid
            self.persons[str(person.sf_id)] = pid
        return out
