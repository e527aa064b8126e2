"""The loader's rules beyond the models: purposes, forbidden data, transforms, sources, refs.

Each check appends :class:`~connector.errors.Problem` values (file, line, key path, message)
instead of raising, so that ``sis-sync validate`` shows every problem of every file at once.
Messages name keys and columns, never data values.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from connector.errors import Problem, UnknownPluginError
from connector.hashing import KeyHasher
from connector.mapping.models import MappingSpec, check_api_name
from connector.privacy.identifiers import looks_forbidden, special_category_object
from connector.privacy.purposes import PurposesSpec

if TYPE_CHECKING:
    from connector.mapping.loader import YamlDoc

Path_ = tuple[str | int, ...]


def _problem(doc: YamlDoc, shown: str, path: Path_, message: str) -> Problem:
    from connector.mapping.loader import key_path

    return Problem(shown, doc.line(path), key_path(path), message)


def check_purposes(
    purposes: PurposesSpec, doc: YamlDoc, shown: str, problems: list[Problem]
) -> None:
    """Consent columns in purposes.yaml must not be forbidden identifiers either."""
    for name, purpose in purposes.purposes.items():
        if purpose.consent is None:
            continue
        for key in ("field", "at", "by", "source"):
            column = getattr(purpose.consent, key)
            reason = looks_forbidden(column) if column else None
            if reason:
                path = ("purposes", name, "consent", key)
                problems.append(_problem(doc, shown, path, _forbidden(reason)))


def consent_warnings(purposes: PurposesSpec) -> list[str]:
    """Consent purposes that can never be active: without a ``source:`` column a consent is no
    consent (GDPR art. 7(1); the policy's ``consent_without_source``)."""
    return [
        f"purposes.{name}.consent: no `source:` column: without a source (form, channel) a "
        "consent is no consent (AVG art. 7(1)), so this purpose is never active"
        for name, purpose in purposes.purposes.items()
        if purpose.consent is not None and not purpose.consent.source
    ]


def register_warnings(purposes: PurposesSpec) -> list[str]:
    """What the record of processing activities (``sis-sync register``) would leave blank that
    the school must declare: third-country transfers (art. 30(1)(e)). Salesforce is a service
    of a US company, so a register without the key is incomplete, not "no transfers"."""
    if purposes.transfers is None:
        return [
            "purposes.yaml has no `transfers:`: the register's third-country transfers (AVG "
            "art. 30(1)(e)) stay blank. Salesforce is a US company's service: declare it "
            "(recipient, country, mechanism, e.g. the EU-US Data Privacy Framework or standard "
            "contractual clauses), or `transfers: []` when the org's data stays in the EEA"
        ]
    return []


def _forbidden(reason: str) -> str:
    return f"refused whatever the mapping says: {reason}"


def mapping_columns(spec: MappingSpec) -> Iterator[tuple[Path_, str]]:
    """Every source column a mapping reads, with the key path that names it."""
    key = spec.source.get("key")
    if isinstance(key, str):
        yield ("source", "key"), key
    elif isinstance(key, list):
        for i, k in enumerate(key):
            yield ("source", "key", i), str(k)
    for name, f in spec.fields.items():
        if f.from_:
            yield ("fields", name, "from"), f.from_
        if f.fallback:
            yield ("fields", name, "fallback"), f.fallback
        if f.template is not None:
            for column in f.columns():
                yield ("fields", name, "template"), column
        if f.ref is not None:
            if isinstance(f.ref.from_, str):
                yield ("fields", name, "ref", "from"), f.ref.from_
            else:
                for i, column in enumerate(f.ref.from_):
                    yield ("fields", name, "ref", "from", i), column
    if spec.identity is not None:
        for key_name in ("student_number", "email"):
            column = getattr(spec.identity, key_name)
            if column:
                yield ("identity", key_name), column
    if spec.lifecycle is not None:
        if spec.lifecycle.from_:
            yield ("lifecycle", "from"), spec.lifecycle.from_
        if spec.lifecycle.date is not None:
            yield ("lifecycle", "date", "from"), spec.lifecycle.date.from_
    for key_name in ("event_date", "subject_birthdate"):
        vf = getattr(spec, key_name)
        if vf is not None:
            yield (key_name, "from"), vf.from_
    if spec.filter is not None:
        yield ("filter", "column"), spec.filter.column
    if spec.newest_by is not None:
        yield ("newest_by", "column"), spec.newest_by.column


def columns_read(spec: MappingSpec, purposes: PurposesSpec) -> list[str]:
    """Every source column a run of ``spec`` reads, each once: the mapping's own
    (:func:`mapping_columns`) and the consent columns of the purposes its fields rest on."""
    out = dict.fromkeys(column for _, column in mapping_columns(spec))
    used = {p for f in spec.fields.values() for p in f.purposes}
    for name, purpose in purposes.purposes.items():
        consent = purpose.consent
        if consent is not None and name in used:
            for column in (consent.field, consent.at, consent.by, consent.source):
                if column:
                    out[column] = None
    return list(out)


def transform_chains(spec: MappingSpec) -> Iterator[tuple[Path_, list[Any]]]:
    """Every transform list of a mapping, with its key path."""
    yield ("key_transform",), spec.key_transform
    for name, f in spec.fields.items():
        if f.transform:
            yield ("fields", name, "transform"), f.transform
    if spec.lifecycle is not None and spec.lifecycle.date is not None:
        yield ("lifecycle", "date", "transform"), spec.lifecycle.date.transform
    for key_name in ("event_date", "subject_birthdate"):
        vf = getattr(spec, key_name)
        if vf is not None and vf.transform:
            yield (key_name, "transform"), vf.transform


def check_mapping(
    spec: MappingSpec,
    doc: YamlDoc,
    shown: str,
    problems: list[Problem],
    *,
    stem: str,
    purposes: PurposesSpec | None,
    hasher: KeyHasher,
    today: date,
) -> None:
    """The rules one mapping must follow on its own (refs are checked project-wide)."""
    from connector.mapping.transforms import TransformContext, TransformSpecError, compile_chain

    if spec.name != stem:
        problems.append(
            _problem(doc, shown, ("name",), f"must equal the file name without extension ({stem})")
        )
    target_reason = special_category_object(spec.target.object)
    if target_reason:
        problems.append(_problem(doc, shown, ("target", "object"), _forbidden(target_reason)))
    for name, f in spec.fields.items():
        path: Path_ = ("fields", name)
        try:
            check_api_name(name)
        except ValueError as exc:
            problems.append(_problem(doc, shown, path, str(exc)))
        reason = looks_forbidden(name)
        if reason:
            problems.append(_problem(doc, shown, path, _forbidden(reason)))
        if not f.purposes:
            problems.append(
                _problem(
                    doc,
                    shown,
                    path,
                    "names no purpose: every field needs at least one "
                    "purpose from purposes.yaml (privacy by default)",
                )
            )
        elif purposes is not None:
            for i, purpose in enumerate(f.purposes):
                if purpose not in purposes.purposes:
                    known = ", ".join(sorted(purposes.purposes))
                    problems.append(
                        _problem(
                            doc,
                            shown,
                            (*path, "purposes", i),
                            f"unknown purpose {purpose!r}; purposes.yaml has: {known}",
                        )
                    )
    for path, column in mapping_columns(spec):
        reason = looks_forbidden(column)
        if reason:
            problems.append(_problem(doc, shown, path, _forbidden(reason)))
    ctx = TransformContext(hasher=hasher, today=today, warnings=[])
    for path, chain in transform_chains(spec):
        try:
            compile_chain(chain, ctx=ctx)
        except TransformSpecError as exc:
            problems.append(_problem(doc, shown, (*path, exc.index), exc.message))
    _check_source(spec, doc, shown, problems)


def _check_source(spec: MappingSpec, doc: YamlDoc, shown: str, problems: list[Problem]) -> None:
    from connector.mapping.loader import validation_problems
    from connector.sources import options_model

    try:
        model = options_model(spec.source_kind)
    except UnknownPluginError as exc:
        problems.append(
            _problem(
                doc,
                shown,
                ("source", "kind"),
                f"unknown source kind; known: {', '.join(exc.known)}",
            )
        )
        return
    body = {k: v for k, v in spec.source.items() if k != "kind"}
    try:
        model.model_validate(body)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, doc, shown, prefix=("source",)))


def check_project(
    mappings: dict[str, MappingSpec],
    docs: dict[str, tuple[YamlDoc, str]],
    problems: list[Problem],
) -> None:
    """Rules across mappings: refs point at existing mappings, with matching keys, no cycles."""
    for name, spec in mappings.items():
        doc, shown = docs[name]
        for field_name, f in spec.fields.items():
            if f.ref is None:
                continue
            path: Path_ = ("fields", field_name, "ref")
            parent = mappings.get(f.ref.mapping)
            if parent is None:
                known = ", ".join(sorted(mappings)) or "(none)"
                problems.append(
                    _problem(
                        doc,
                        shown,
                        (*path, "mapping"),
                        f"no mapping called {f.ref.mapping!r}; known: {known}",
                    )
                )
                continue
            if parent.key_columns and len(parent.key_columns) != len(f.ref.columns):
                problems.append(
                    _problem(
                        doc,
                        shown,
                        (*path, "from"),
                        f"{f.ref.mapping} is keyed by {len(parent.key_columns)} column(s); "
                        f"name as many here",
                    )
                )
            cycle = _cycle(name, f.ref.mapping, mappings)
            if cycle:
                problems.append(
                    _problem(
                        doc,
                        shown,
                        (*path, "mapping"),
                        f"refs form a cycle: {' → '.join(cycle)}; a parent must be "
                        "written before its children",
                    )
                )


def _cycle(start: str, parent: str, mappings: dict[str, MappingSpec]) -> list[str] | None:
    """The ref path start → parent → … → start, if there is one."""
    stack: list[tuple[str, list[str]]] = [(parent, [start, parent])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        if node == start:
            return trail
        if node in seen or node not in mappings:
            continue
        seen.add(node)
        for nxt in mappings[node].parents():
            stack.append((nxt, [*trail, nxt]))
    return None


def student_number_warnings(project: Any) -> list[str]:
    """Warnings (not errors) for ``validate``: a ``student_number_format`` that exempts nothing
    because no field is mapped from the key column or identity.student_number. Harmless (the
    shipped mappings declare one, and DESIGN §5's example leaves the student number unmapped),
    but most likely not what the mapping meant."""
    return [
        f"{name}: student_number_format: no field is mapped `from` the key column or "
        "identity.student_number, so the format exempts nothing"
        for name, spec in sorted(project.mappings.items())
        if spec.student_number_format is not None and not spec.student_number_fields()
    ]


def never_active_warnings(project: Any) -> list[str]:
    """Warnings (not errors) for ``validate``: a purpose a mapping's field names that can never
    be active for that mapping (its lifecycle never reaches the purpose's phases, or a consent
    that can never count). Its fields are never sent; the retention purge treats the purpose as
    justifying nothing (:func:`connector.privacy.retention.never_active`), so it cannot keep a
    record forever — but the mapping most likely says something it did not mean.
    """
    from connector.privacy.retention import never_active

    out: list[str] = []
    purposes = project.purposes.purposes
    folder = getattr(getattr(project, "directory", None), "name", None) or "mappings"
    for name in sorted(project.mappings):
        spec = project.mappings[name]
        fields: dict[str, list[str]] = {}
        for fname, f in spec.fields.items():
            for p in f.purposes:
                fields.setdefault(p, []).append(fname)
        for purpose, names in sorted(fields.items()):
            why = never_active(purposes[purpose], spec) if purpose in purposes else None
            if why:
                out.append(
                    f"{folder}/{name}.yaml: fields.{names[0]}.purposes: purpose {purpose!r} is "
                    f"never active for mapping {name!r} ({why}); its fields "
                    f"({', '.join(sorted(names))}) are never sent"
                )
    return out
