"""Subject facts from a source row: lifecycle phase, birth and event dates, consents.

:class:`FactsReader` is compiled once per mapping from its ``lifecycle``,
``subject_birthdate`` and ``event_date`` and from the consent columns purposes.yaml names;
:meth:`FactsReader.read` then turns one row into the
:class:`~connector.privacy.facts.SubjectFacts` the policy decides on. A value it cannot read
is a :class:`~connector.records.Reject` naming the column, never the value.

The value parsers (:func:`yes_no`, :func:`parse_moment`) are also used for opt-out fields.

A birth date after today or more than :data:`MAX_AGE` years back is no birth date
(:func:`implausible_birthdate`): the row is rejected naming the column, as for any bad value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import TypeAlias

from connector.clock import SCHOOL_TZ, school_date
from connector.mapping.getters import Getter, blank
from connector.mapping.models import MappingSpec, ValueFrom
from connector.mapping.transforms import TransformContext, TransformError
from connector.privacy.facts import ConsentFact, Phase, SubjectFacts
from connector.privacy.policy import Value, age_on
from connector.privacy.purposes import PurposesSpec
from connector.records import Origin, Reject

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
_NO_CONSENTS: Mapping[str, ConsentFact] = MappingProxyType({})
_NO_FACTS = SubjectFacts(consents=_NO_CONSENTS)
_ABSENT = object()
ValueFromCompiler = Callable[[ValueFrom | None, str], tuple[str, Getter] | None]
#: The oldest plausible age: a birth date further back is a typing error (1826 for 2026).
MAX_AGE = 120
BIRTHDATE_IN_FUTURE = "birth date after today"
BIRTHDATE_TOO_OLD = f"birth date more than {MAX_AGE} years ago"
_Lifecycle: TypeAlias = (
    tuple[str, Phase] | tuple[str, str, dict[str, Phase], Phase | None, tuple[str, Getter] | None]
)
_ConsentPlan: TypeAlias = tuple[str, str, str, str | None, str | None, str | None]


def implausible_birthdate(value: object, today: date) -> str | None:
    """Why ``value`` cannot be a living person's birth date (after ``today``, or older than
    :data:`MAX_AGE` years), or None. A date, a datetime or an ISO date text is checked; any
    other value is left to the field's own checks (Salesforce refuses what is no date)."""
    if isinstance(value, datetime):
        day = school_date(value) if value.tzinfo is not None else value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    else:
        return None
    if day > today:
        return BIRTHDATE_IN_FUTURE
    if age_on(day, today) > MAX_AGE:
        return BIRTHDATE_TOO_OLD
    return None


def yes_no(value: Value) -> bool | None:
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


def parse_moment(value: Value, fmt: str | None) -> datetime | None:
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


def as_date(value: Value) -> date | None:
    """A date, datetime or ISO date string as a date; TransformError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return school_date(value)  # an aware moment counts on the school's day
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise TransformError("not a date (add a date transform with the format)") from None


class FactsReader:
    """Reads one mapping's subject facts from rows (see the module docstring).

    Args:
        spec: the mapping.
        purposes: the project's purposes (consent columns are read from them).
        value_from: compiles a ``ValueFrom`` (column + transforms) to ``(column, getter)``;
            the compiled mapping passes its own, so a bad transform names the mapping.
        ctx: the mapping's transform context; its day checks birth dates for plausibility
            (default: a context of the school's date today).
        birth_field: a mapped field that reads ``subject_birthdate``'s column with the same
            transforms: :meth:`read` takes its value from the mapped values instead of parsing
            the cell again.
    """

    def __init__(
        self,
        spec: MappingSpec,
        purposes: PurposesSpec,
        value_from: ValueFromCompiler,
        *,
        ctx: TransformContext | None = None,
        birth_field: str | None = None,
    ):
        self.name = spec.name
        self._ctx = ctx if ctx is not None else TransformContext()
        self._lifecycle = self._compile_lifecycle(spec, value_from)
        self._birthdate = value_from(spec.subject_birthdate, "subject_birthdate")
        self._birth_field = birth_field if self._birthdate is not None else None
        self._event_date = value_from(spec.event_date, "event_date")
        used = {p for f in spec.fields.values() for p in f.purposes}
        self._consents: list[_ConsentPlan] = [
            (
                pname,
                p.consent.field,
                p.consent.at,
                p.consent.by,
                p.consent.source,
                p.consent.at_format,
            )
            for pname, p in purposes.purposes.items()
            # Only the consents this mapping's fields rest on: another purpose's consent
            # columns say nothing about what this mapping may send (and cost time per row).
            if p.consent is not None and pname in used
        ]

    @staticmethod
    def _compile_lifecycle(spec: MappingSpec, value_from: ValueFromCompiler) -> _Lifecycle | None:
        lc = spec.lifecycle
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
        assert lc.from_ is not None  # the model requires `from` unless a fixed phase is given
        return ("column", lc.from_, table, other, value_from(lc.date, "lifecycle.date"))

    def read(
        self,
        f: Mapping[str, Value],
        origin: Origin,
        errors: list[Reject],
        values: Mapping[str, Value] | None = None,
    ) -> SubjectFacts:
        """The facts of row ``f``; a value that cannot be read is appended to ``errors``.

        ``values``: the row's mapped values, when the compiled mapping has them (a birth date
        it mapped already is not parsed again).
        """
        phase: Phase | None = None
        phase_at: date | None = None
        lc = self._lifecycle
        if lc is not None:
            if len(lc) == 2:  # ("fixed", phase)
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
        birthdate = self._birth(f, origin, errors, values) if self._birthdate is not None else None
        event_date = self._date_of(self._event_date, f, origin, errors, "event_date")
        consents: Mapping[str, ConsentFact] = _NO_CONSENTS
        for purpose, col, at_col, by_col, source_col, at_format in self._consents:
            raw = f.get(col, _ABSENT)
            if raw is _ABSENT or ((raw is None or raw == "") and blank(f.get(at_col))):
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

    def _birth(
        self,
        f: Mapping[str, Value],
        origin: Origin,
        errors: list[Reject],
        values: Mapping[str, Value] | None,
    ) -> date | None:
        """subject_birthdate: the mapped field's value when there is one, checked for
        plausibility (a rejected row is mapped again next run, so the day is not noted)."""
        assert self._birthdate is not None
        mapped = _ABSENT
        if self._birth_field is not None and values is not None:
            mapped = values.get(self._birth_field, _ABSENT)
        if mapped is _ABSENT:  # not mapped, or the field's transform refused the value
            birthdate = self._date_of(self._birthdate, f, origin, errors, "subject_birthdate")
        else:
            try:
                birthdate = as_date(mapped)
            except TransformError as exc:
                column = self._birthdate[0]
                errors.append(Reject(origin, column, f"subject_birthdate: {exc}", self.name))
                return None
        if birthdate is not None:
            reason = implausible_birthdate(birthdate, self._ctx.day)
            if reason is not None:
                column = self._birthdate[0]
                errors.append(Reject(origin, column, f"subject_birthdate: {reason}", self.name))
        return birthdate

    def _date_of(
        self,
        spec: tuple[str, Getter] | None,
        f: Mapping[str, Value],
        origin: Origin,
        errors: list[Reject],
        what: str,
    ) -> date | None:
        if spec is None:
            return None
        column, get = spec
        try:
            return as_date(get(f))
        except TransformError as exc:
            errors.append(Reject(origin, column, f"{what}: {exc}", self.name))
            return None

    def _consent(
        self,
        f: Mapping[str, Value],
        origin: Origin,
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
            source = None if blank(raw) else str(raw).strip() or None
        if not ok or (given is None and at is None):
            return None
        return ConsentFact(given, at, by, source)
