"""Compiled mappings: the hot path from a SourceRecord to target values and subject facts.

:func:`compile_mapping` resolves every transform once and builds one small closure per field,
so :meth:`CompiledMapping.apply` is a loop over prepared tuples: no pydantic, no registry
look-ups, no parsing of the mapping per record. ``scripts/bench_mapping.py`` measures it.

What ``apply`` guarantees:

- a bad value is a :class:`~connector.records.Reject` naming the column and target field with
  the transform's message, never the value; the caller rejects the whole row;
- ``None`` means "empty" (an empty cell, or nothing left after the transforms);
- an ``opt_out`` field appears only when it is ``True``: the CRM owns opt-outs, a source may
  set one but never lift one (DESIGN §6);
- ``ref`` fields appear in ``refs`` as (parent mapping, parent key normalised the way the parent
  normalises its own keys), for the engine to resolve to a Salesforce Id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from connector.errors import MappingError, Problem
from connector.hashing import KeyHasher, join_key
from connector.mapping.models import FieldSpec, MappingSpec, ValueFrom, template_columns
from connector.mapping.transforms import TransformContext, TransformError, compile_chain
from connector.privacy.facts import ConsentFact, Phase, SubjectFacts
from connector.privacy.purposes import PurposesSpec
from connector.records import Reject, SourceRecord

SCHOOL_TZ = ZoneInfo("Europe/Amsterdam")
YES = frozenset({"ja", "j", "yes", "y", "true", "1", "waar"})
NO = frozenset({"nee", "n", "no", "false", "0", "onwaar"})
BY = {
    "zelf": "self",
    "self": "self",
    "student": "self",
    "betrokkene": "self",
    "ouder": "parent",
    "verzorger": "parent",
    "voogd": "parent",
    "parent": "parent",
    "guardian": "parent",
    "ouder/verzorger": "parent",
    "wettelijk vertegenwoordiger": "parent",
}
# The spellings exports actually use, looked up before any strip/casefold (hot path).
_YES_NO_EXACT = {
    form: answer
    for words, answer in ((YES, True), (NO, False))
    for word in words
    for form in (word, word.upper(), word.capitalize())
}
REQUIRED_MISSING = "required value missing"
_SEP = "\x1f"
_NO_CONSENTS: Mapping[str, ConsentFact] = MappingProxyType({})
_NO_FACTS = SubjectFacts(consents=_NO_CONSENTS)
_ABSENT = object()
Getter = Callable[[Mapping[str, Any]], Any]


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
    """

    key: str
    key_hash: str
    values: dict[str, Any]
    refs: dict[str, tuple[str, str]]
    facts: SubjectFacts
    identity: tuple[str | None, str | None]
    errors: list[Reject]
    warnings: list[str] = field(default_factory=list)


def yes_no(value: Any) -> bool | None:
    """ja/nee, yes/no, true/false, 1/0 (any case) → bool; empty → None; ValueError otherwise."""
    hit = _YES_NO_EXACT.get(value) if isinstance(value, str) else None
    if hit is not None:
        return hit
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if not text:
        return None
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError("not a yes/no value (ja/nee, true/false, 1/0)")


def parse_moment(value: Any, fmt: str | None) -> datetime | None:
    """An ISO 8601 (or ``fmt``) timestamp, tz-aware; a naive one is school time (Amsterdam)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)  # noqa: DTZ001 - made aware below
    else:
        text = str(value).strip()
        if not text:
            return None
        moment = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)  # noqa: DTZ007
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=SCHOOL_TZ)


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise TransformError("not a date (add a date transform with the format)") from None


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _column_getter(column: str, fallback: str | None, chain: Callable[[Any], Any] | None) -> Getter:
    if fallback is None and chain is None:

        def plain(f: Mapping[str, Any]) -> Any:
            v = f.get(column)
            return None if v == "" else v

        return plain

    def get(f: Mapping[str, Any]) -> Any:
        v = f.get(column)
        if fallback is not None and (v is None or v == ""):
            v = f.get(fallback)
        if v == "":
            v = None
        if chain is not None:
            v = chain(v)
            if v == "":
                return None
        return v

    return get


def _template_getter(template: str, chain: Callable[[Any], Any] | None) -> Getter:
    # "{tussenvoegsel} {achternaam}": literal/column pairs joined, then whitespace collapsed so
    # an empty tussenvoegsel leaves no double or leading space (Dutch name model).
    from string import Formatter

    parts = tuple((lit, name) for lit, name, _s, _c in Formatter().parse(template))

    def get(f: Mapping[str, Any]) -> Any:
        out: list[str] = []
        filled = False
        for lit, name in parts:
            out.append(lit)
            if name is not None:
                v = f.get(name)
                if v is not None and v != "":
                    filled = True
                    out.append(v if isinstance(v, str) else str(v))
        if not filled:
            return None
        text = " ".join("".join(out).split())
        if chain is not None:
            text = chain(text)
        return None if text == "" else text

    return get


def _key_normaliser(chain: Callable[[Any], Any]) -> Callable[[str], str]:
    def normalise(raw: str) -> str:
        if _SEP in raw:
            parts = [chain(p) for p in raw.split(_SEP)]
            if any(_blank(p) for p in parts):
                return ""
            return join_key([str(p) for p in parts])
        v = chain(raw)
        return "" if v is None else str(v)

    return normalise


class CompiledMapping:
    """One mapping prepared for the hot path (see the module docstring).

    Attributes:
        name: the mapping's name.
        target_object: the Salesforce object.
        external_id: the external-id field records are upserted by.
        field_purposes: target field → purposes that justify it (ref fields included).
        opt_out_fields: one-way opt-out fields.
        crm_owned: fields staff own in the CRM (``crm_owned: true`` and every opt-out field).
        parents: names of the mappings this one refers to.
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
        self.crm_owned = frozenset(n for n, f in spec.fields.items() if f.crm_owned or f.opt_out)
        self.parents = spec.parents()
        self._hasher = hasher
        self._namespace = spec.key_namespace or spec.name
        self._ctx = TransformContext(hasher=hasher, today=today, warnings=[])
        self._normalise = _key_normaliser(self._chain(spec.key_transform, "key_transform"))
        self._key_column = "+".join(spec.key_columns) or "key"
        # (field, column, chain | None, getter | None, required, opt_out): a plain column is
        # read inline in apply(); templates and fallbacks go through a getter.
        self._fields: list[tuple[str, str, Any, Getter | None, bool, bool]] = []
        self._refs: list[tuple[str, str, tuple[str, ...], Callable[[str], str], bool]] = []
        self._constants: dict[str, Any] = {}
        for name, f in spec.fields.items():
            self._compile_field(name, f, parents or {})
        self._external_mapped = self.external_id in spec.fields
        self._filter = self._compile_filter()
        self._lifecycle = self._compile_lifecycle()
        self._birthdate = self._value_from(spec.subject_birthdate, "subject_birthdate")
        self._event_date = self._value_from(spec.event_date, "event_date")
        self._consents = [
            (
                pname,
                p.consent.field,
                p.consent.at,
                p.consent.by,
                p.consent.source,
                p.consent.at_format,
            )
            for pname, p in purposes.purposes.items()
            if p.consent is not None
        ]
        ident = spec.identity
        self._id_student = ident.student_number if ident else None
        self._id_email = ident.email if ident else None

    # compile helpers ------------------------------------------------------------------------

    def _chain(self, specs: list[Any], where: str) -> Callable[[Any], Any]:
        from connector.mapping.transforms import TransformSpecError

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
            self._refs.append(
                (name, f.ref.mapping, tuple(f.ref.columns), _key_normaliser(key_chain), required)
            )
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
            getter = _template_getter(f.template, chain)
            column = "+".join(template_columns(f.template))
        else:
            assert f.from_ is not None
            column = f.from_
            if f.fallback is not None:
                getter = _column_getter(f.from_, f.fallback, chain)
        self._fields.append((name, column, chain, getter, required, f.opt_out))

    def _value_from(self, vf: ValueFrom | None, where: str) -> tuple[str, Getter] | None:
        if vf is None:
            return None
        chain = self._chain(vf.transform, f"{where}.transform") if vf.transform else None
        return vf.from_, _column_getter(vf.from_, None, chain)

    def _compile_filter(self) -> tuple[str, frozenset[str], bool] | None:
        flt = self.spec.filter
        if flt is None:
            return None
        values = flt.in_ if flt.in_ is not None else flt.not_in or []
        return flt.column, frozenset(v.strip().casefold() for v in values), flt.in_ is not None

    def _compile_lifecycle(self) -> tuple[Any, ...] | None:
        lc = self.spec.lifecycle
        if lc is None:
            return None
        if lc.phase is not None:
            return ("fixed", Phase(lc.phase))
        table = {
            str(v).strip().casefold(): Phase(phase)
            for phase in ("prospect", "applied", "enrolled", "ended")
            for v in getattr(lc, phase)
        }
        other = None if lc.other == "reject" else Phase(lc.other)
        return ("column", lc.from_, table, other, self._value_from(lc.date, "lifecycle.date"))

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
        values: dict[str, Any] = dict(self._constants) if self._constants else {}
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
        refs: dict[str, tuple[str, str]] = {}
        for name, parent, columns, normalise, required in self._refs:
            raw = (
                f.get(columns[0])
                if len(columns) == 1
                else join_key(["" if f.get(c) is None else str(f.get(c)) for c in columns])
            )
            parent_key = ""
            if not _blank(raw):
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
        facts = self._facts(f, origin, errors)
        identity = self._identity(f)
        return MapResult(key, key_hash, values, refs, facts, identity, errors, warnings)

    # facts ------------------------------------------------------------------------------------

    def _date_of(
        self,
        spec: tuple[str, Getter] | None,
        f: Mapping[str, Any],
        origin: Any,
        errors: list[Reject],
        what: str,
    ) -> date | None:
        if spec is None:
            return None
        column, get = spec
        try:
            return _as_date(get(f))
        except TransformError as exc:
            errors.append(Reject(origin, column, f"{what}: {exc}", self.name))
            return None

    def _facts(self, f: Mapping[str, Any], origin: Any, errors: list[Reject]) -> SubjectFacts:
        phase = phase_at = None
        lc = self._lifecycle
        if lc is not None:
            if lc[0] == "fixed":
                phase = lc[1]
            else:
                _, column, table, other, date_spec = lc
                raw = f.get(column)
                phase = table.get("" if raw is None else str(raw).strip().casefold(), other)
                if phase is None:
                    errors.append(
                        Reject(
                            origin,
                            column,
                            "lifecycle: value not listed in the mapping's lifecycle",
                            self.name,
                        )
                    )
                phase_at = self._date_of(date_spec, f, origin, errors, "lifecycle.date")
        birthdate = self._date_of(self._birthdate, f, origin, errors, "subject_birthdate")
        event_date = self._date_of(self._event_date, f, origin, errors, "event_date")
        consents: Mapping[str, ConsentFact] = _NO_CONSENTS
        for purpose, col, at_col, by_col, source_col, at_format in self._consents:
            raw = f.get(col, _ABSENT)
            if raw is _ABSENT or ((raw is None or raw == "") and _blank(f.get(at_col))):
                continue  # the source says nothing about this consent
            fact = self._consent(
                f, origin, errors, purpose, col, at_col, by_col, source_col, at_format
            )
            if fact is not None:
                if consents is _NO_CONSENTS:
                    consents = {}
                consents[purpose] = fact  # type: ignore[index]
        if consents is _NO_CONSENTS and not (birthdate or phase or phase_at or event_date):
            return _NO_FACTS
        return SubjectFacts(birthdate, phase, phase_at, consents, event_date)

    def _consent(
        self,
        f: Mapping[str, Any],
        origin: Any,
        errors: list[Reject],
        purpose: str,
        col: str,
        at_col: str,
        by_col: str | None,
        source_col: str | None,
        at_format: str | None,
    ) -> ConsentFact | None:
        ok = True
        try:
            given = yes_no(f.get(col))
        except ValueError as exc:
            errors.append(Reject(origin, col, f"{purpose} consent: {exc}", self.name))
            given, ok = None, False
        try:
            at = parse_moment(f.get(at_col), at_format)
        except ValueError:
            errors.append(
                Reject(
                    origin,
                    at_col,
                    f"{purpose} consent: not a timestamp"
                    + (f" in format {at_format}" if at_format else " (ISO 8601)"),
                    self.name,
                )
            )
            at, ok = None, False
        by = None
        if by_col is not None:
            raw = f.get(by_col)
            text = "" if raw is None else str(raw).strip().casefold()
            if text:
                by = BY.get(text)
                if by is None:
                    errors.append(
                        Reject(
                            origin,
                            by_col,
                            f"{purpose} consent: given by must be "
                            "self or parent (zelf/ouder/verzorger/voogd)",
                            self.name,
                        )
                    )
                    ok = False
        source = None
        if source_col is not None:
            raw = f.get(source_col)
            source = None if _blank(raw) else str(raw).strip() or None
        if not ok or (given is None and at is None):
            return None
        return ConsentFact(given, at, by, source)

    def _identity(self, f: Mapping[str, Any]) -> tuple[str | None, str | None]:
        student = email = None
        if self._id_student is not None:
            v = f.get(self._id_student)
            text = "" if v is None else str(v).strip()
            if text:
                student = self._hasher.key("student", text)
        if self._id_email is not None:
            v = f.get(self._id_email)
            text = "" if v is None else str(v).strip().lower()
            if text:
                email = self._hasher.key("email", text)
        return student, email


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
