"""``sis-sync object``: the right to object (GDPR art. 21)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from connector.commands.person_options import EmailOpt, StudentOpt, err, out
from connector.commands.person_options import config_path as _config
from connector.config import load_settings, require_secret
from connector.hashing import KeyHasher

if TYPE_CHECKING:
    from connector.gdpr.objection import ObjectionOutcome


def object_(
    ctx: typer.Context,
    student_number: StudentOpt = None,
    email: EmailOpt = None,
    purposes: Annotated[
        str | None,
        typer.Option(
            "--purposes",
            help="comma-separated purposes from purposes.yaml; default every purpose with "
            "basis consent or legitimate_interest",
        ),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="record it; without it, only show")
    ] = False,
) -> None:
    """Right to object (art. 21): the named purposes are never active again for this person.

    Records a durable objection under keyed hashes of the student number and e-mail address
    (like an erasure tombstone, but the person stays): whatever later rows say, the next runs
    clear the fields those purposes alone justified. The purposes' opt-out fields (e.g.
    HasOptedOutOfEmail) and Individual.HasOptedOutSolicit are set at once on the person's
    records in Salesforce, found through local state or by the external ids and e-mail
    (a lost state, a staff-made Contact). Salesforce unreachable: recorded locally, the
    request stays open (exit 3); a refused record: open, exit 1; run it again to finish.
    Nothing is deleted; registrations and enrolment go on. Without --apply it only shows
    what it would record and change (Salesforce is queried). By student
    number it reaches that student and their registrations, never a sibling sharing the
    address; an e-mail address several persons share is refused (exit 2), as are unknown
    purposes and purposes on contract, legal obligation or vital interest.
    """
    from connector.gdpr.erasure import subject_of
    from connector.gdpr.objection import object_person

    settings = load_settings(_config(ctx))
    hasher = KeyHasher(require_secret(settings))
    subject = subject_of(hasher, student_number=student_number, email=email)
    names = purposes.split(",") if purposes is not None else None
    outcome = object_person(
        settings, subject, purposes=names, apply=apply, hasher=hasher,
        student_number=student_number, email=email,
    )  # fmt: skip
    who = ", ".join(f"{kind} hash {h}" for h, kind in outcome.hashes)
    fields = ", ".join(outcome.opt_out_fields) or "none declared"
    if outcome.status == "already":
        out.print(f"already recorded: {who} objects to {', '.join(outcome.purposes)}")
        out.print(f"  in Salesforce every flag is set already ({_counts(outcome.found)} found)")
        return
    verbs = {"planned": "would record (dry run; add --apply)", "open": "recorded locally"}
    out.print(f"objection {verbs.get(outcome.status, 'recorded')}: {', '.join(outcome.purposes)}")
    out.print(f"  identifiers (keyed hashes): {who}")
    out.print(f"  opt-out fields: {fields}")
    if outcome.flags:
        # Per object, as Salesforce names them there (a person account's Person… fields).
        where = "; ".join(f"{obj} {', '.join(f)}" for obj, f in sorted(outcome.flags.items()))
        out.print(f"  set on: {where}", highlight=False, soft_wrap=True)
    _print_salesforce(outcome)
    if outcome.persons:
        plural = "" if outcome.persons == 1 else "s"
        out.print(f"  covers {outcome.persons} person{plural} in local state")
    elif outcome.found:
        out.print(
            "  covers nobody in local state (a lost state, or records made in Salesforce): "
            "the records found in Salesforce are marked, and it holds from the next row"
        )
    else:
        out.print(
            "  covers nobody: nobody with these identifiers in local state yet, "
            "holds from their first row"
        )
    req = outcome.request
    if req is not None:
        line = f"  request {req.reference}: {req.status}, due {req.due_on} (sis-sync requests)"
        out.print(line, highlight=False, soft_wrap=True)
        if req.receipt:
            out.print(f"  receipt: {req.receipt} (and .txt)", highlight=False, soft_wrap=True)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{obj} {n}" for obj, n in sorted(counts.items())) or "no record"


def _print_salesforce(outcome: ObjectionOutcome) -> None:
    """What the objection found and set in Salesforce, or why it could not."""
    if outcome.status == "open" or (outcome.cause and outcome.status == "planned"):
        err.print(
            f"Salesforce could not be reached: {outcome.cause}\n"
            "the objection holds locally from now on (no run makes the purposes active); the "
            "flags in Salesforce are not set yet: run this command again when it is reachable"
            + (" (the request stays open)" if outcome.status == "open" else ""),
            highlight=False,
            soft_wrap=True,
        )
        return
    out.print(f"  in Salesforce: found {_counts(outcome.found)}")
    verb = "set flags on" if outcome.status in ("recorded", "incomplete") else "would set flags on"
    out.print(f"  {verb}: {_counts(outcome.changes)}")
    if outcome.failed:
        from connector.gdpr.objection_reach import FIELD_MISSING, NOT_SET

        detail = ", ".join(f"{obj}: {code}" for obj, code in outcome.failed)
        unset = {code for _, code in outcome.failed} <= {FIELD_MISSING, NOT_SET}
        what = (
            f"{len(outcome.failed)} flags are not set in Salesforce ({detail}; FIELD_MISSING: "
            "the object lacks an opt-out field the sync sets there, NOT_SET: an accepted update "
            "did not make it true)"
            if unset
            else f"Salesforce refused {len(outcome.failed)} updates ({detail})"
        )
        err.print(
            f"{what}; the objection holds locally and the request stays open: run this command "
            "again to finish",
            highlight=False,
            soft_wrap=True,
        )


def register_commands(app: typer.Typer) -> None:
    """Mount object on the main app."""
    app.command("object")(object_)
