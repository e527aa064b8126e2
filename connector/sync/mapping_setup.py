"""What a mapping run is built from, before its first batch: its policy, its consent stage and
its record type. :class:`~connector.sync.engine.MappingRun` asks these once per mapping and run.
"""

from __future__ import annotations

from functools import partial

from connector.errors import SalesforceError
from connector.mapping.compile import CompiledMapping
from connector.mapping.models import MappingSpec
from connector.privacy.policy import Policy
from connector.privacy.purposes import PurposesSpec
from connector.report import MappingReport
from connector.salesforce.consent_objects import ConsentOrg, link_of
from connector.salesforce.record_types import RecordTypes
from connector.sync.consent_dry_run import PlannedConsents
from connector.sync.consent_stage import ConsentStage
from connector.sync.run_context import RunContext, WriteProgress


def mapping_policy(spec: MappingSpec, compiled: CompiledMapping, purposes: PurposesSpec) -> Policy:
    """The mapping's field-level policy (``connector.privacy.policy``)."""
    # The external id and parent references need no purpose of their own; a generated
    # external id (our keyed hash) is not the source's data and is added after the policy.
    always = {f for f, field in spec.fields.items() if field.ref is not None}
    if spec.target.external_id in spec.fields:
        always.add(spec.target.external_id)
    return Policy(
        purposes,
        compiled.field_purposes,
        opt_out_fields=compiled.opt_out_fields,
        crm_owned=compiled.crm_owned,
        purpose_opt_outs=compiled.purpose_opt_outs,
        always_send=always,
        student_numbers=spec.student_number_fields(),
    )


def consent_stage(
    ctx: RunContext,
    name: str,
    spec: MappingSpec,
    policy: Policy,
    rep: MappingReport,
    told: WriteProgress | None,
) -> ConsentStage | None:
    """The consent records of a person mapping on Contact or on person accounts (DESIGN §6);
    a plan counts them (``consent_dry_run.py``); None for any other mapping."""
    target = spec.target
    link = link_of(target.object, target.person_account)
    if spec.identity is None or link is None:
        return None
    if ctx.writer is None:  # plan's counts = the run's counts (consent_dry_run.py)
        return PlannedConsents(
            name, policy, ctx.project.purposes, ctx.store, None,
            ctx.hasher, ctx.now, ctx.report, rep, ctx.bulk_threshold,
            persons=ctx.planned_persons, records=ctx.planned_consents, link=link,
        )  # fmt: skip
    if ctx.consent_org is None:
        ctx.consent_org = ConsentOrg(ctx.writer)
    return ConsentStage(
        name, policy, ctx.project.purposes, ctx.store, ctx.consent_org,
        ctx.hasher, ctx.now, ctx.report, rep, ctx.bulk_threshold,
        progress=None if told is None else partial(told.written, name, "consents"),
        link=link,
    )  # fmt: skip


def record_type_id(ctx: RunContext, spec: MappingSpec) -> tuple[str | None, str | None]:
    """``(id, error)`` of the mapping's ``target.record_type`` (or person-account type), once
    per run: ``(None, None)`` when it names none; a plan makes no Salesforce call and gets a
    placeholder; ``error`` when the org has no such record type or the look-up failed."""
    target = spec.target
    if not (target.record_type or target.person_account):
        return None, None
    name = target.record_type
    if ctx.writer is None:
        return f"(record type {name or 'PersonAccount'})", None
    if ctx.record_types is None:
        ctx.record_types = RecordTypes(ctx.writer.query)
    try:
        found = ctx.record_types.resolve(target.object, name, person=target.person_account)
    except SalesforceError as exc:
        return None, f"record type lookup failed: {exc}"
    if found is None:
        kind = "person-account record type" if target.person_account else "record type"
        shown = f" {name}" if name else ""
        error = (
            f"{kind}{shown} of {target.object} not found in the org "
            "(sis-sync validate --online checks it)"
        )
        return None, error
    return found, None
