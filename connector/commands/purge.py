"""``sis-sync purge``: the retention purge (GDPR art. 5(1)(e))."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from connector.commands.person_options import config_path as _config
from connector.commands.person_options import err, out
from connector.config import load_settings
from connector.hashing import KeyHasher

if TYPE_CHECKING:
    from connector.gdpr.purge_job import PurgeOutcome


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("give a date as YYYY-MM-DD", param_hint="--as-of") from None


def purge(
    ctx: typer.Context,
    apply: Annotated[bool, typer.Option("--apply", help="delete; without it, only show")] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="preview the purge on this date (YYYY-MM-DD)"),
    ] = None,
    hard: Annotated[
        bool, typer.Option("--hard", help="bypass Salesforce's recycle bin (Bulk hardDelete)")
    ] = False,
) -> None:
    """Retention purge: delete what no purpose justifies any longer (purposes.yaml retention).

    A record goes when every purpose its fields name has expired (anchor + keep before today);
    a person's Contact goes, with their Tasks, Events and campaign memberships, only when
    nothing about them is still justified. Without --apply it only shows what it would delete
    and why; --as-of previews a later date (and cannot be combined with --apply).
    """
    from connector.gdpr.purge_job import run_purge

    settings = load_settings(_config(ctx))
    day = _as_of(as_of)
    hasher = KeyHasher(settings.secret.get_secret_value()) if settings.secret else None
    outcome = run_purge(settings, apply=apply, as_of=day, hasher=hasher, hard=hard)
    _render_purge(outcome)
    raise typer.Exit(outcome.exit_code)


def _render_purge(outcome: PurgeOutcome) -> None:
    verb = "Deleted" if outcome.applied else "Would delete (dry run; add --apply)"
    if not outcome.groups and not outcome.minimise.groups:
        out.print(f"nothing has expired as of {outcome.on}")
    else:
        # Plain lines, not a table: the reasons are long and the ids must stay whole.
        out.print(f"{verb}: retention purge as of {outcome.on}", soft_wrap=True)
        for g in outcome.groups:
            until = f" (at the latest on {g.until})" if g.until else ""
            out.print(
                f"  {g.mapping} ({g.object}): {g.count} - {g.reason}{until} - "
                f"e.g. {', '.join(g.examples)}",
                soft_wrap=True,
                markup=False,
            )
    _render_minimise(outcome)
    out.print(
        f"persons purged{'' if outcome.applied else ' (planned)'}: {outcome.persons}; "
        f"kept because something about them is still justified: {outcome.kept_persons}",
        soft_wrap=True,
    )
    for mapping, why in sorted(outcome.notes.items()):
        out.print(f"{mapping}: never purged ({why})")
    if outcome.applied:
        out.print(
            f"deleted {outcome.deleted}, already gone {outcome.already_gone}, "
            f"refused {len(outcome.failed)}"
        )
        for obj, sf_id, code in outcome.failed:
            err.print(f"refused: {obj} {sf_id}: {code}")
        if outcome.failed:
            err.print("purge incomplete: the refused records stay in state; the next purge retries")
    if outcome.report_path:
        out.print(f"report: {outcome.report_path}", soft_wrap=True, highlight=False)


def _render_minimise(outcome: PurgeOutcome) -> None:
    """Fields cleared on records that stay (GDPR art. 5(1)(c)): names, reasons and Ids only."""
    m = outcome.minimise
    if not m.groups:
        return
    verb = "Cleared" if outcome.applied else "Would clear (dry run; add --apply)"
    out.print(f"{verb}: fields no purpose justifies on records that stay", soft_wrap=True)
    for g in m.groups:
        out.print(
            f"  {g.mapping} ({g.object}): {g.count} - {g.reason} - e.g. {', '.join(g.examples)}",
            soft_wrap=True,
            markup=False,
        )
    if outcome.applied:
        out.print(f"fields cleared: {m.fields_cleared} on {m.cleared} records")
        for obj, sf_id, code in m.failed:
            err.print(f"refused: {obj} {sf_id}: {code}")


def register_commands(app: typer.Typer) -> None:
    """Mount purge on the main app."""
    app.command("purge")(purge)
