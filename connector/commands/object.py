"""``sis-sync object``: the right to object (GDPR art. 21)."""

from __future__ import annotations

from typing import Annotated

import typer

from connector.commands.person_options import EmailOpt, StudentOpt, out
from connector.commands.person_options import config_path as _config
from connector.config import load_settings, require_secret
from connector.hashing import KeyHasher


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
    clear the fields those purposes alone justified and set their opt-out fields (e.g.
    HasOptedOutOfEmail). Nothing is deleted; registrations and enrolment go on. Without
    --apply it only shows what it would record and how many persons it covers. By student
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
    outcome = object_person(settings, subject, purposes=names, apply=apply)
    who = ", ".join(f"{kind} hash {h}" for h, kind in outcome.hashes)
    fields = ", ".join(outcome.opt_out_fields) or "none declared"
    if outcome.status == "already":
        out.print(f"already recorded: {who} objects to {', '.join(outcome.purposes)}")
        return
    verb = "recorded" if outcome.status == "recorded" else "would record (dry run; add --apply)"
    out.print(f"objection {verb}: {', '.join(outcome.purposes)}")
    out.print(f"  identifiers (keyed hashes): {who}")
    out.print(f"  opt-out fields set to true by the next run: {fields}")
    if outcome.persons:
        plural = "" if outcome.persons == 1 else "s"
        out.print(f"  covers {outcome.persons} person{plural} in local state")
    else:
        out.print(
            "  covers nobody: nobody with these identifiers in local state yet, "
            "holds from their first row"
        )
    if outcome.reference:
        out.print(f"  request {outcome.reference} (sis-sync requests)")


def register_commands(app: typer.Typer) -> None:
    """Mount object on the main app."""
    app.command("object")(object_)
