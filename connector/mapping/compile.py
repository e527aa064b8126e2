"""Compiled mappings: the hot path from a SourceRecord to target values and subject facts.

:func:`compile_mapping` resolves every transform once and builds one small closure per field,
so :meth:`CompiledMapping.apply` is a loop over prepared tuples: no pydantic, no registry
look-ups, no parsing of the mapping per record. ``scripts/bench_mapping.py`` measures it.
The closures that read a value from a row are in ``getters.py``; the subject facts (lifecycle,
dates, consents) are read by
:class:`~connector.mapping.facts_reader.FactsReader`.

What ``apply`` guarantees:

- a bad value is a :class:`~connector.records.Reject` naming the column and target field with
  the transform's message, never the value; the caller rejects the whole row;
- ``None`` means "empty" (an empty cell, or nothing left after the transforms);
- an ``opt_out`` field appears only when it is ``True``: the CRM owns opt-outs, a source may
  set one but never lift one (DESIGN §6);
- ``ref`` fields appear in ``refs`` as (parent mapping, parent key normalised the way the parent
  normalises its own keys), for the engine to resolve to a Salesforce Id;
- keys, ref keys and the identity's student number and e-mail are normalised by
  :func:`~connector.hashing.normalise_key` (NFKC, invisible format characters and surrounding
  space removed) before ``key_transform`` and before hashing: a zero-width space or full-width
  digits in an export never make a second record; a plain key hashes as it always did;
- a birth date (``subject_birthdate``, or a field whose target is ``Birthdate`` /
  ``PersonBirthdate``) after today or more than 120 years back rejects the row, naming the column
  and the reason (``docs/input-rules.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TypeAlias

from connector.errors import MappingError, Problem
from connector.hashing import KeyHasher, join_key, normalise_key
from connector.mapping.facts_reader import FactsReader, implausible_birthdate, yes_no
from connector.mapping.getters import (
    Getter,
    blank,
    column_getter,
    key_normaliser,
    template_getter,
)
from connector.mapping.models import (
    FieldSpec,
    MappingSpec,
    TransformItem,
    ValueFrom,
    template_columns,
)
from connector.mapping.transforms import (
    Bound,
    TransformContext,
    TransformError,
    TransformSpecError,
    compile_chain,
)
from connector.privacy.facts import SubjectFacts
from connector.privacy.policy import Value
from connector.privacy.purposes import PurposesSpec
from connector.records import Origin, Reject, SourceRecord

REQUIRED_MISSING = "required value missing"
#: Target fields holding a birth date (Contact, Person Account): checked for plausibility.
BIRTHDATE_FIELDS = frozenset({"Birthdate", "PersonBirthdate"})

#: One plain field: (target field, column(s), transform chain, getter for templates and
#: fallbacks, required, opt-out). A plain column is read inline in ``apply``.
_FieldPlan: TypeAlias = tuple[str, str, Bound | None, Getter | None, bool, bool]
#: One ref field: (target field, parent mapping, columns, parent key normaliser, required).
_RefPlan: TypeAlias = tuple[str, str, tuple[str, ...], Callable[[str], str], bool]


def _normalised_first(chain: Bound) -> Bound:
    """``chain`` run on the key part after :func:`normalise_key`."""

    def run(value: Value) -> Value:
        if value.__class__ is str:
            # normalise_key inlined for plain ASCII, nearly every key (one call less per row).
            value = value.strip() if value.isascii() else normalise_key(value)
        return chain(value)

    return run


@dataclass(slots=True)
class MapResult:
    """What one source record maps to.

    Attributes:
        key: the record key after ``key_transform`` (personal data: never log it).
        key_hash: its keyed hash, the identity of the record in state and reports.
        values: target field → value (``None`` = empty), the external-id field included.
        refs: target field → (parent mapping, normalised parent key), resolved by the engine.
        facts: what the policy needs about the data subject.
        identity: keyed hashes of (student number, e-mail) for person matching.
        errors: bad values; any entry rejects the record.
        warnings: field-named notes from transforms (e.g. truncation), never values.
        recheck_on: the first day after today on which a transform could map the same row
            otherwise (an age band's next birthday); ``None`` when none reads the day.
    """

    key: str
    key_hash: str
    values: dict[str, Value]
    refs: dict[str, tuple[str, str]]
    facts: SubjectFacts
    identity: tuple[str | None, str | None]
    errors: list[Reject]
    warnings: list[str] = field(default_factory=list)
    recheck_on: date | None = None


class CompiledMapping:
    """One mapping prepared for the hot path (see the module docstring).

    Attributes:
        name: the mapping's name.
        target_object: the Salesforce object.
        external_id: the external-id field records are upserted by.
        field_purposes: target field → purposes that justify it (ref fields included).
        opt_out_fields: one-way opt-out fields (sent only as ``True``, never cleared).
        crm_owned: fields staff own in the CRM (``crm_owned: true``): never sent.
        purpose_opt_outs: purpose → its ``consent: {opt_out: FIELD}``, for a mapping that
            writes persons (declares ``identity``) and rests a field on that purpose.
        parents: names of the mappings this one refers to.
        lookups: lookup field → the key Salesforce's relationship syntax sends it under
            (``LearningProgramId`` → ``LearningProgram.Crebo__c``); the planner renames it.
    """

    def __init__(
        self,
        spec: MappingSpec,
        purposes: PurposesSpec,
        *,
        hasher: KeyHasher,
        today: date,
        parents: Mapping[str, MappingSpec] | None = None,
    ):
        self.spec = spec
        self.name = spec.name
        self.target_object = spec.target.object
        self.external_id = spec.target.external_id
        self.field_purposes = {n: tuple(f.purposes) for n, f in spec.fields.items()}
        self.opt_out_fields = frozenset(n for n, f in spec.fields.items() if f.opt_out)
        # Not the opt-out fields: the policy checks crm_owned first, so an opt-out listed here
        # was never sent at all. An opt-out is one-way (only True goes), not staff-owned.
        self.crm_owned = frozenset(n for n, f in spec.fields.items() if f.crm_owned)
        self.purpose_opt_outs = _purpose_opt_outs(spec, purposes)
        self.parents = spec.parents()
        self.lookups = spec.lookups()
        self._hasher = hasher
        self._namespace = spec.key_namespace or spec.name
        self._ctx = TransformContext(hasher=hasher, today=today, warnings=[])
        self._normalise = key_normaliser(
            _normalised_first(self._chain(spec.key_transform, "key_transform"))
        )
        self._key_column = "+".join(spec.key_columns) or "key"
        self._fields: list[_FieldPlan] = []
        self._refs: list[_RefPlan] = []
        self._constants: dict[str, Value] = {}
        for name, f in spec.fields.items():
            self._compile_field(name, f, parents or {})
        self._external_mapped = self.external_id in spec.fields
        self._filter = self._compile_filter()
        # subject_birthdate read the way a mapped field already reads it: parsed once per row.
        birth_field = _same_reading(spec)
        # Birth-date fields to check for plausibility (the one subject_birthdate reuses is
        # checked there, so a row gets one reject for one bad cell).
        self._birth_fields = tuple(
            (name, column)
            for name, column, *_ in self._fields
            if name in BIRTHDATE_FIELDS and name != birth_field
        )
        # One method call per record, as when the facts were read by a method of this class
        # (a stored bound method measured ~2% slower in scripts/bench_mapping.py).
        self._facts = FactsReader(
            spec, purposes, self._value_from, ctx=self._ctx, birth_field=birth_field
        )
        ident = spec.identity
        self._id_student = ident.student_number if ident else None
        self._id_email = ident.email if ident else None
        self._ctx.take_recheck()  # constants were computed once: no record's concern

    # compile helpers ------------------------------------------------------------------------

    def _chain(self, specs: list[TransformItem], where: str) -> Bound:
        try:
            return compile_chain(specs, ctx=self._ctx)
        except TransformSpecError as exc:
            raise MappingError(
                [Problem(self.name, None, f"{where}[{exc.index}]", exc.message)]
            ) from None

    def _compile_field(self, name: str, f: FieldSpec, parents: Mapping[str, MappingSpec]) -> None:
        chain = self._chain(f.transform, f"fields.{name}.transform") if f.transform else None
        required = f.required or name == self.external_id
        if f.ref is not None:
            parent = parents.get(f.ref.mapping)
            key_chain = self._chain(
                parent.key_transform if parent is not None else ["strip"],
                f"fields.{name}.ref",
            )
            normalise = key_normaliser(_normalised_first(key_chain))
            self._refs.append((name, f.ref.mapping, tuple(f.ref.columns), normalise, required))
            return
        if "value" in f.model_fields_set:
            try:
                value = chain(f.value) if chain is not None else f.value
            except TransformError as exc:
                raise MappingError(
                    [Problem(self.name, None, f"fields.{name}.value", str(exc))]
                ) from None
            self._constants[name] = value
            return
        getter: Getter | None = None
        if f.template is not None:
            getter = template_getter(f.template, chain)
            column = "+".join(template_columns(f.template))
        else:
            assert f.from_ is not None
            column = f.from_
            if f.fallback is not None:
                getter = column_getter(f.from_, f.fallback, chain)
        self._fields.append((name, column, chain, getter, required, f.opt_out))

    def _value_from(self, vf: ValueFrom | None, where: str) -> tuple[str, Getter] | None:
        if vf is None:
            return None
        chain = self._chain(vf.transform, f"{where}.transform") if vf.transform else None
        return vf.from_, column_getter(vf.from_, None, chain)

    def _compile_filter(self) -> tuple[str, frozenset[str], bool] | None:
        flt = self.spec.filter
        if flt is None:
            return None
        values = flt.in_ if flt.in_ is not None else flt.not_in or []
        return flt.column, frozenset(v.strip().casefold() for v in values), flt.in_ is not None

    # public API -------------------------------------------------------------------------------

    def normalise_key(self, raw: str) -> str:
        """The record key as this mapping normalises it ('' when nothing is left)."""
        return self._normalise(raw)

    def hash_key(self, key: str) -> str:
        """The keyed hash of a normalised key (the record's identity in state)."""
        return self._hasher.key(self._namespace, key)

    def apply(self, rec: SourceRecord) -> MapResult | None:
        """Map one record; None when the mapping's ``filter`` skips it."""
        f = rec.fields
        flt = self._filter
        if flt is not None:
            v = f.get(flt[0])
            text = "" if v is None else str(v).strip().casefold()
            if (text in flt[1]) != flt[2]:
                return None
        origin, mapping = rec.origin, self.name
        errors: list[Reject] = []
        warnings: list[str] = []
        ctx_warnings = self._ctx.warnings
        try:
            key = self._normalise(rec.key)
        except TransformError as exc:
            errors.append(Reject(origin, self._key_column, f"key: {exc}", mapping))
            key = ""
        if key:
            key_hash = self._hasher.key(self._namespace, key)
        else:
            key_hash = ""
            if not errors:
                errors.append(Reject(origin, self._key_column, "empty key", mapping))
        values: dict[str, Value] = dict(self._constants) if self._constants else {}
        for name, column, chain, get, required, opt_out in self._fields:
            try:
                if get is None:
                    v = f.get(column)
                    if v == "":
                        v = None
                    if chain is not None:
                        v = chain(v)
                        if v == "":
                            v = None
                else:
                    v = get(f)
            except TransformError as exc:
                errors.append(Reject(origin, column, f"{name}: {exc}", mapping))
                if ctx_warnings:
                    ctx_warnings.clear()
                continue
            if ctx_warnings:
                warnings.extend(f"{name}: {w}" for w in ctx_warnings)
                ctx_warnings.clear()
            if opt_out:
                if v is None:
                    continue
                try:
                    if yes_no(v) is not True:
                        continue
                except ValueError as exc:
                    errors.append(Reject(origin, column, f"{name}: {exc}", mapping))
                    continue
                v = True
            elif v is None and required:
                errors.append(Reject(origin, column, f"{name}: {REQUIRED_MISSING}", mapping))
            values[name] = v
        if not self._external_mapped:
            values[self.external_id] = key_hash
        elif (ext := values.get(self.external_id)).__class__ is str and not ext.isascii():
            # An external id is an identifier, normalised like the key: with an invisible
            # character left in, a replayed upsert would miss the record and create a second.
            values[self.external_id] = normalise_key(ext)
        if self._birth_fields:
            self._check_birthdates(values, origin, errors)
        refs: dict[str, tuple[str, str]] = {}
        for name, parent, columns, normalise, required in self._refs:
            raw = (
                f.get(columns[0])
                if len(columns) == 1
                else join_key(["" if f.get(c) is None else str(f.get(c)) for c in columns])
            )
            parent_key = ""
            if not blank(raw):
                try:
                    parent_key = normalise(raw if isinstance(raw, str) else str(raw))
                except TransformError as exc:
                    errors.append(Reject(origin, "+".join(columns), f"{name}: {exc}", mapping))
                    continue
            if parent_key:
                refs[name] = (parent, parent_key)
            elif required:
                errors.append(
                    Reject(origin, "+".join(columns), f"{name}: {REQUIRED_MISSING}", mapping)
                )
        facts = self._facts.read(f, origin, errors, values)
        identity = self._identity(f)
        ctx = self._ctx
        recheck = ctx.take_recheck() if ctx.recheck_on is not None or ctx.read_today else None
        return MapResult(key, key_hash, values, refs, facts, identity, errors, warnings, recheck)

    def _check_birthdates(
        self, values: Mapping[str, Value], origin: Origin, errors: list[Reject]
    ) -> None:
        today = self._ctx.day  # a rejected row is mapped again next run: nothing goes stale
        for name, column in self._birth_fields:
            v = values.get(name)
            if v is not None:
                reason = implausible_birthdate(v, today)
                if reason is not None:
                    errors.append(Reject(origin, column, f"{name}: {reason}", self.name))

    # identity ---------------------------------------------------------------------------------

    def _identity(self, f: Mapping[str, Value]) -> tuple[str | None, str | None]:
        """Keyed hashes of the student number and the e-mail address, normalised as keys are
        (:func:`~connector.hashing.normalise_key`; the address also lower-cased)."""
        student = email = None
        if self._id_student is not None:
            v = f.get(self._id_student)
            if v is not None:
                v = v if v.__class__ is str else str(v)
                text = v.strip() if v.isascii() else normalise_key(v)  # inlined for ASCII
                if text:
                    student = self._hasher.key("student", text)
        if self._id_email is not None:
            v = f.get(self._id_email)
            if v is not None:
                v = v if v.__class__ is str else str(v)
                text = (v.strip() if v.isascii() else normalise_key(v)).lower()
                if text:
                    email = self._hasher.key("email", text)
        return student, email


def identity_hashes(
    hasher: KeyHasher, student_number: str | None, email: str | None
) -> tuple[str | None, str | None]:
    """(student hash, e-mail hash) exactly as a mapping's ``identity`` hashes them, for commands
    that name a person (erase, export, object): ``None`` for an empty or missing value."""
    student = normalise_key(student_number or "")
    mail = normalise_key(email or "").lower()
    return (
        hasher.key("student", student) if student else None,
        hasher.key("email", mail) if mail else None,
    )


def _purpose_opt_outs(spec: MappingSpec, purposes: PurposesSpec) -> dict[str, str]:
    """Purpose → opt-out field for the consent purposes this mapping's fields rest on, when the
    mapping writes persons (the opt-out fields, e.g. ``HasOptedOutOfEmail``, are on Contact,
    Lead or Person Account; on a CampaignMember the same name is a read-only copy)."""
    if spec.identity is None:
        return {}
    used = {p for f in spec.fields.values() for p in f.purposes}
    person_account = spec.target.person_account
    return {
        name: person_account_field(p.consent.opt_out) if person_account else p.consent.opt_out
        for name, p in purposes.purposes.items()
        if name in used and p.consent is not None and p.consent.opt_out
    }


def person_account_field(contact_field: str) -> str:
    """The Account field that holds a Contact field on a person account: one purposes.yaml
    names the Contact field (``HasOptedOutOfEmail``) for every model. Salesforce exposes a
    person account's standard Contact fields on Account with the prefix ``Person``
    (``PersonHasOptedOutOfEmail``, ``PersonDoNotCall``) and its custom Contact fields with the
    suffix ``__pc`` (Object Reference, Account: "Person Account fields")."""
    if contact_field.endswith("__c"):
        return contact_field[: -len("__c")] + "__pc"
    return "Person" + contact_field


def _same_reading(spec: MappingSpec) -> str | None:
    """The mapped field that reads ``subject_birthdate``'s column with the same transforms (so
    the facts reuse its value instead of parsing the cell twice), or None."""
    vf = spec.subject_birthdate
    if vf is None:
        return None
    for name, f in spec.fields.items():
        if (
            f.from_ == vf.from_
            and f.transform == vf.transform
            and f.fallback is None
            and f.template is None
            and f.ref is None
            and not f.opt_out
            and "value" not in f.model_fields_set
        ):
            return name
    return None


def compile_mapping(
    spec: MappingSpec,
    purposes: PurposesSpec,
    *,
    hasher: KeyHasher,
    today: date,
    parents: Mapping[str, MappingSpec] | None = None,
) -> CompiledMapping:
    """Prepare ``spec`` for :meth:`CompiledMapping.apply`.

    Args:
        spec: a mapping from a loaded project.
        purposes: the project's purposes (consent columns are read from them).
        hasher: keyed hashing for keys and identity.
        today: the school's date for transforms with age rules.
        parents: the project's mappings, so that ``ref`` keys are normalised with the parent's
            ``key_transform`` (:meth:`Project.compile` passes them); default: strip only.

    Raises:
        MappingError: a transform that does not compile (the loader normally caught it).
    """
    return CompiledMapping(spec, purposes, hasher=hasher, today=today, parents=parents)
