"""Consent records in Salesforce's consent model, planned (pure: no store, no I/O).

Where the org has the consent objects (``connector/salesforce/consent_objects.py``), every
consent purpose a person mapping rests on is also written as Salesforce models it (DESIGN §6,
GDPR art. 7(1) proof, art. 7(3) withdrawal):

* one ``Individual`` per Contact, upserted by ``SIS_Individual_Key__c`` = keyed hash of the
  Contact Id, and ``Contact.IndividualId`` pointing at it; its ``LastName`` is a keyed-hash
  label, never the person's name (the Contact holds that);
* one ``ContactPointTypeConsent`` per Contact × purpose, upserted by ``SIS_Consent_Key__c`` =
  keyed hash of Contact Id and purpose: ``OptIn`` while the policy holds the consent active
  (a yes with timestamp and source; a minor's with a parent), ``OptOut`` with its date once it
  is withdrawn or objected to (art. 21). The record stays: the change is Salesforce's history.
  Any other status (no consent, no proof) writes nothing and changes no record.

For a person-account mapping (``target.person_account``) "Contact" reads person account: its
records are keyed by the Account Id state holds, and ``Account.PersonIndividualId`` is the link
(``connector/salesforce/consent_objects.py``, :class:`PersonLink`).

Which of them must be written is decided here against the field hashes state remembers, under
the synced-row names ``consent:individual`` and ``consent:<purpose>``: a rerun with unchanged
consents writes nothing and makes no Salesforce call. Salesforce ids (Individual, purpose) are
not part of the hashes: they are filled in by the stage that writes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from connector.clock import school_date
from connector.hashing import KeyHasher, hashes_json
from connector.privacy.facts import SubjectFacts
from connector.privacy.policy import ACTIVE, CONSENT_WITHDRAWN
from connector.privacy.purposes import PurposesSpec
from connector.state.rows import RECORD, KnownRow

INDIVIDUALS = "consent:individual"
OPT_IN = "OptIn"
OPT_OUT = "OptOut"
# The policy's status for a purpose the person objected to (art. 21); named here so that this
# module does not depend on the objection feature being present.
_OBJECTED = "objected"
OBJECTION_SOURCE = "bezwaar (AVG art. 21)"
NAME_LENGTH = 255  # ContactPointTypeConsent.Name: string 255 (Field Reference)
_SEP = "\x1f"


def state_name(purpose: str) -> str:
    """The synced-row mapping name under which state remembers a purpose's consent records."""
    return f"consent:{purpose}"


_LEARNT_IN = "sis-sync "


def learnt_in(mapping: str) -> str:
    """CaptureSource of a withdrawal whose row names no source: where the school learnt it."""
    return _LEARNT_IN + mapping


def individual_key(hasher: KeyHasher, contact_id: str) -> str:
    """``SIS_Individual_Key__c``: the keyed hash of the Contact Id (no personal value)."""
    return hasher.key("sis-individual", contact_id)


def consent_key(hasher: KeyHasher, contact_id: str, purpose: str) -> str:
    """``SIS_Consent_Key__c``: the keyed hash of Contact Id and purpose."""
    return hasher.key("sis-consent", contact_id + _SEP + purpose)


def sf_datetime(moment: datetime) -> str:
    """A moment as Salesforce's dateTime text, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# A load holds few distinct consent moments (intake days, a form's timestamps repeat): their
# text is made once. Bounded, as the moments of one run are.
stamp = functools.lru_cache(maxsize=4096)(sf_datetime)


@functools.lru_cache(maxsize=4096)
def _school_day(moment: datetime) -> str:
    return school_date(moment).isoformat()


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One person's consent for one purpose, as it is to stand in Salesforce.

    ``contact_key``: the record's key hash in its mapping (state gives its Contact Id).
    ``objected``: the person objected to some purpose (``Individual.HasOptedOutSolicit``).
    ``clocked``: ``at`` is the run's clock (an objection, or a withdrawal without a date of
    its own), not a date from the source: see :func:`plan_consents`.
    """

    contact_key: str
    purpose: str
    status: str  # OPT_IN | OPT_OUT
    at: datetime
    source: str
    by: str  # self | parent
    objected: bool = False
    clocked: bool = False

    @property
    def objection(self) -> bool:
        """This entry is the OptOut of an objection (art. 21), not of a withdrawal."""
        return self.source == OBJECTION_SOURCE


def entries_for(
    key_hash: str,
    facts: SubjectFacts,
    statuses: Mapping[str, str],
    purposes: PurposesSpec,
    *,
    now: datetime,
    fallback_source: str,
) -> list[ConsentEntry]:
    """The consent entries of one record: one per consent purpose that is active (OptIn),
    withdrawn or objected to (OptOut); nothing for a consent without proof.

    Args:
        key_hash: The record's key hash.
        facts: Its subject facts (the consents and their proof).
        statuses: The policy's status per purpose for this record (``Policy.statuses``).
        purposes: The purposes register.
        now: The run's clock: the date of an objection, or of a withdrawal without one.
        fallback_source: CaptureSource of a withdrawal whose row names no source (the
            mapping: where the school learnt it).
    """
    objected = bool(facts.objected)
    out: list[ConsentEntry] = []
    for name, status in statuses.items():
        spec = purposes.purposes.get(name)
        if spec is None or spec.consent is None:
            continue
        fact = facts.consents.get(name)
        if status == ACTIVE and fact is not None and fact.at is not None and fact.source:
            by = fact.by or "self"  # active without a parent: the person gave it, of age
            out.append(ConsentEntry(key_hash, name, OPT_IN, fact.at, fact.source, by, objected))
        elif status in (CONSENT_WITHDRAWN, _OBJECTED) or name in facts.objected:
            if status == CONSENT_WITHDRAWN and fact is not None:
                # Undated: when the school first learnt of it (state), else this run's clock.
                at, clocked = fact.at or fact.since or now, fact.at is None
                source = fact.source or fallback_source
            else:
                at, source, clocked = now, OBJECTION_SOURCE, True
            by = (fact.by if fact is not None else None) or "self"
            out.append(ConsentEntry(key_hash, name, OPT_OUT, at, source, by, objected, clocked))
    return out


@dataclass(frozen=True, slots=True)
class IndividualWrite:
    """An Individual to upsert (and link from its Contact) and what to remember of it."""

    key: str
    contact_id: str
    row: dict[str, object]  # without Id: upserted by SIS_Individual_Key__c
    hashes: str
    known_id: str | None  # the Individual's Id when state has it


@dataclass(frozen=True, slots=True)
class ConsentWrite:
    """A ContactPointTypeConsent to upsert, without the Salesforce ids it refers to."""

    key: str
    purpose: str
    individual: str  # the Individual's key
    contact_key: str
    row: dict[str, object]
    hashes: str


@dataclass
class ConsentPlan:
    """What a chunk of consent entries needs: Individuals (new, or with a new solicit flag),
    the Individual Id of the known ones, consents to write, and the count left unchanged."""

    individuals: list[IndividualWrite]
    individual_ids: dict[str, str]  # individual key → Id, from state
    consents: list[ConsentWrite]
    unchanged: int = 0


# What state remembers of a consent record besides its field hashes: the moment its proof was
# captured (UTC, to the second). Not a personal value: it orders proofs (see plan_consents).
CAPTURED = "@"
# What a clocked OptOut (see plan_consents) ignores of the record state remembers: when, by
# whom and where the school learnt of it; only the status and what the purpose's settings decide
# count. Otherwise two mappings that both learn of a withdrawal without its date (a student
# export and an open-day export of one person, one naming a parent, one nobody) would overwrite
# each other's source or giver every run, forever. An objection keeps its CaptureSource (the
# art. 21 proof), which replaces a plain withdrawal's once.
# Beside it, whether its CaptureSource only names the mapping that learnt it (learnt_in): a
# proof with a source of its own replaces such a record of the same moment (see below).
LEARNT = "~"
_WHEN_WHO = frozenset(
    {"Name", "CaptureDate", "EffectiveFrom", "Consent_Given_By__c", RECORD, CAPTURED, LEARNT}
)
_WHEN_WHO_WHERE = _WHEN_WHO | {"CaptureSource"}


def _same_opt_out(prev: KnownRow, fresh: Mapping[str, str], *, objection: bool) -> bool:
    """The remembered record is this OptOut, but for when, by whom and (unless ``fresh`` is
    an objection) where it was learnt."""
    ignored = _WHEN_WHO if objection else _WHEN_WHO_WHERE
    return all(prev.field_hashes.get(k) == v for k, v in fresh.items() if k not in ignored)


def _hashes(
    hasher: KeyHasher,
    payload: Mapping[str, object],
    captured: str | None = None,
    *,
    learnt: bool = False,
) -> tuple[str, dict[str, str]]:
    fresh = hasher.values(payload)
    fresh[RECORD] = hasher.record(payload)
    if captured is not None:
        fresh[CAPTURED] = captured
    if learnt:
        fresh[LEARNT] = "1"
    return hashes_json(fresh), fresh


def _holds_a_newer_proof(prev: KnownRow, fresh: Mapping[str, str]) -> bool:
    """State remembers a proof captured after this one (same format, so text order is time
    order). Records remembered before the capture moment was kept compare as before."""
    held = prev.field_hashes.get(CAPTURED)
    return held is not None and held > fresh[CAPTURED]


def _holds_another_proof_of_this_moment(
    prev: KnownRow, fresh: Mapping[str, str], *, opt_out: bool, objection: bool
) -> bool:
    """State remembers a proof captured at the same moment from another source, and this entry
    is neither an OptOut over its OptIn nor an objection: the remembered one stands.

    Two mappings may carry one consent with one capture moment but different sources (the
    intake form in the student export, the open-day form in the registrations). Neither is
    newer; writing whichever ran last would flip the record every run. The remembered one
    stands, except that an OptOut wins a tie with an OptIn (the safer reading of two
    simultaneous answers, and then stable: the OptIn no longer wins it back), and an objection
    wins a tie with a plain withdrawal (its source is the art. 21 proof).
    """
    if objection:
        return False
    if prev.field_hashes.get(CAPTURED) != fresh[CAPTURED]:
        return False
    if prev.field_hashes.get(LEARNT) and LEARNT not in fresh:
        # The remembered record names only the mapping that learnt the withdrawal (a student
        # export's "ja" turned by an open-day "nee" of that moment); this entry is the proof
        # itself, with its own source (art. 7(1)): it replaces it, once.
        return False
    if prev.field_hashes.get("CaptureSource") == fresh["CaptureSource"]:
        return False  # the same source corrects its own proof: written
    same_status = prev.field_hashes.get("PrivacyConsentStatus") == fresh["PrivacyConsentStatus"]
    return same_status or not opt_out


def plan_consents(
    entries: Sequence[ConsentEntry],
    contact_ids: Mapping[str, str],
    known_individuals: Mapping[str, KnownRow],
    known_consents: Mapping[tuple[str, str], KnownRow],
    purposes: PurposesSpec,
    hasher: KeyHasher,
    *,
    given_by: bool = True,
) -> ConsentPlan:
    """Plan the writes of a chunk of entries (the last entry per Contact and purpose wins).

    The latest capture stands: a consent record state remembers with a proof captured after
    this entry's is unchanged; at the same capture moment from another source, the remembered
    one stands unless this entry is an OptOut over its OptIn or an objection. Two mappings may
    hold a proof for one Contact and purpose (a student who also answered an open day's
    registration: "ja" at intake, "nee" in November); without this rule the older one would
    overwrite the newer whenever its row changed, and an opt-in from September would undo a
    withdrawal from November (art. 7(3)).

    An OptOut dated by the run's clock (an objection, a withdrawal without its own date) is
    dated by the first run that wrote it: while the record state remembers differs from it in
    its date, giver and source only (same status, purpose, Individual; the source counts for an
    objection), it is unchanged, so a rerun at another time writes nothing, no field of
    a consent record follows "now", and two mappings that learn of the same undated withdrawal
    do not take turns writing their own source or giver into it. An objection's source counts: it
    replaces a plain withdrawal's once.

    Args:
        entries: The chunk.
        contact_ids: Contact key hash → Contact Id (entries without one wait: their Contact
            did not reach Salesforce).
        known_individuals: Individual key → what state remembers.
        known_consents: (purpose, consent key) → what state remembers.
        purposes: The purposes register (contact point types).
        hasher: The keyed hasher.
        given_by: The org has ``Consent_Given_By__c``.
    """
    latest: dict[tuple[str, str], ConsentEntry] = {}
    for e in entries:
        if e.contact_key in contact_ids:
            latest[(contact_ids[e.contact_key], e.purpose)] = e
    plan = ConsentPlan([], {}, [])
    solicit: dict[str, bool] = {}
    for (contact_id, _), e in latest.items():
        solicit[contact_id] = solicit.get(contact_id, False) or e.objected
    # Each Contact's Individual key once: its consent records name it twice each.
    ind_keys = {contact_id: individual_key(hasher, contact_id) for contact_id in solicit}
    for contact_id, objected in solicit.items():
        key = ind_keys[contact_id]
        # The label is a keyed hash: the Contact holds the name; the Individual needs none.
        payload: dict[str, object] = {"LastName": f"sis-sync {key[:12]}", "Contact": contact_id}
        if objected:
            payload["HasOptedOutSolicit"] = True  # one-way: never sent as false
        text, fresh = _hashes(hasher, payload)
        prev = known_individuals.get(key)
        if prev is not None and prev.sf_id and prev.field_hashes.get(RECORD) == fresh[RECORD]:
            plan.individual_ids[key] = prev.sf_id
            continue
        fields = {k: v for k, v in payload.items() if k != "Contact"}
        plan.individuals.append(
            IndividualWrite(key, contact_id, fields, text, prev.sf_id if prev else None)
        )
    for (contact_id, purpose), e in latest.items():
        spec = purposes.purposes[purpose].consent
        assert spec is not None  # entries are made for consent purposes only
        key = consent_key(hasher, contact_id, purpose)
        captured = stamp(e.at)
        row: dict[str, object] = {
            # Purpose and date, no personal value (the Contact and Individual say who).
            "Name": f"{purpose} {_school_day(e.at)}"[:NAME_LENGTH],
            "ContactPointType": spec.contact_point_type,
            "CaptureContactPointType": spec.captured_via,
            "PrivacyConsentStatus": e.status,
            "CaptureDate": captured,
            "CaptureSource": e.source[:255],
            "EffectiveFrom": captured,
        }
        if given_by:
            row["Consent_Given_By__c"] = e.by
        individual = ind_keys[contact_id]
        hashed = {**row, "Individual": individual, "Purpose": purpose}
        text, fresh = _hashes(hasher, hashed, captured, learnt=e.source.startswith(_LEARNT_IN))
        prev = known_consents.get((purpose, key))
        if prev is not None and (
            prev.field_hashes.get(RECORD) == fresh[RECORD]
            or (e.clocked and _same_opt_out(prev, fresh, objection=e.objection))
            or _holds_a_newer_proof(prev, fresh)
            or _holds_another_proof_of_this_moment(
                prev, fresh, opt_out=e.status == OPT_OUT, objection=e.objection
            )
        ):
            plan.unchanged += 1
            continue
        plan.consents.append(ConsentWrite(key, purpose, individual, e.contact_key, row, text))
    return plan
