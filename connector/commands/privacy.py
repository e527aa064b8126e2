"""Privacy commands: erase (GDPR art. 17), export (art. 15 and 20) and the retention purge."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from connector.config import load_settings, require_secret
from connector.hashing import KeyHasher

if TYPE_CHECKING:
    from connector.privacy.erasure_job import ErasureOutcome
    from connector.privacy.retention_job import PurgeOutcome

out = Console()
err = Console(stderr=True)

StudentOpt = Annotated[
    str | None, typer.Option("--student-number", help="the person's SIS student number")
]
EmailOpt = Annotated[str | None, typer.Option("--email", help="the person's e-mail address")]


def _config(ctx: typer.Context) -> Path | None:
    return (ctx.obj or {}).get("config")


def erase(
    ctx: typer.Context,
    student_number: StudentOpt = None,
    email: EmailOpt = None,
    apply: Annotated[bool, typer.Option("--apply", help="erase; without it, only show")] = False,
    hard: Annotated[
        bool, typer.Option("--hard", help="bypass Salesforce's recycle bin (Bulk hardDelete)")
    ] = False,
    suppress_only: Annotated[
        bool,
        typer.Option(
            "--suppress-only",
            help="only add the tombstones (e.g. for a person not synced yet); deletes nothing",
        ),
    ] = False,
) -> None:
    """Right to erasure: delete one person's graph in Salesforce and local state, and keep a
    keyed-hash tombstone so no later sync recreates them.

    Without --apply it only shows the graph (objects and Salesforce ids, never names or
    addresses). With --apply, while holding every job's run lock: Tasks and Events (archived
    too) and CampaignMembers of the person first, then their other records, then the Contact.
    An e-mail address several persons share is refused: use --student-number.
    """
    from connector.privacy.erasure import subject_of
    from connector.privacy.erasure_job import erase_person

    settings = load_settings(_config(ctx))
    hasher = KeyHasher(require_secret(settings))
    subject = subject_of(hasher, student_number=student_number, email=email)
    outcome = erase_person(
        settings, subject, apply=apply, hard=hard, only_suppress=suppress_only, hasher=hasher
    )
    who = ", ".join(f"{kind} hash {h}" for h, kind in subject.hashes)
    if outcome.status == "not_found":
        out.print(
            f"nobody with {who} in local state; nothing erased. To keep such a person from ever "
            "being synced, run again with --suppress-only --apply."
        )
    elif outcome.status == "already_erased":
        out.print(f"already erased: {who} carries a tombstone and is not in local state")
    elif outcome.status == "suppressed" or (suppress_only and not apply):
        verb = "added" if apply else "would add"
        out.print(f"{verb} {len(outcome.tombstones)} tombstones ({who}); nothing deleted")
    else:
        _render(outcome, apply=apply)
    raise typer.Exit(outcome.exit_code)


def _render(outcome: ErasureOutcome, *, apply: bool) -> None:
    graph = outcome.graph
    title = "Erased" if apply else "Would erase (dry run; add --apply)"
    table = Table(title=f"{title}: person {graph.person.person_id}")
    for col in ("object", "Salesforce id", "found via", "status"):
        table.add_column(col)
    result = outcome.result
    failed = {i.sf_id: code for i, code in result.failed} if result else {}
    deleted = {i.sf_id for i in result.deleted} if result else set()
    for item in graph.items:
        if item.sf_id in failed:
            status = f"refused: {failed[item.sf_id]}"
        elif not item.exists or (result and item.sf_id not in deleted):
            status = "already gone" if not item.exists or result.complete else "kept"
        else:
            status = "deleted" if apply else "would delete"
        table.add_row(item.object, item.sf_id, item.via, status)
    out.print(table)
    verb = "added" if apply else "would add"
    kinds: dict[str, int] = {}
    for _, kind in outcome.tombstones:
        kinds[kind] = kinds.get(kind, 0) + 1
    out.print(f"tombstones {verb}: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    if result is not None:
        out.print(
            f"deleted {len(result.deleted)}, already gone {len(result.already_gone)}, "
            f"refused {len(result.failed)}; local records forgotten {result.forgotten}"
        )
        if result.failed:
            err.print("erasure incomplete: local state kept; run erase --apply again to finish")


def export(
    ctx: typer.Context,
    student_number: StudentOpt = None,
    email: EmailOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the JSON here, not to stdout")
    ] = None,
) -> None:
    """Right of access / portability: everything held about one person, as JSON.

    The Salesforce records the mappings wrote (current values), campaign memberships and
    activities, what local state holds (hashes, dates, lifecycle, consent withdrawals, runs)
    with an explanation of each key, and the purposes and lawful bases behind every field.

    The output IS the person's personal data: it goes only to stdout or the --output file,
    never to a log or report. Hand it to the data subject securely and do not keep copies.
    """
    from connector.privacy.access import export_person
    from connector.privacy.erasure import subject_of

    settings = load_settings(_config(ctx))
    hasher = KeyHasher(require_secret(settings))
    subject = subject_of(hasher, student_number=student_number, email=email)
    data = export_person(settings, subject, hasher=hasher)
    if data is None:
        who = ", ".join(f"{kind} hash {h}" for h, kind in subject.hashes)
        err.print(f"nobody with {who} in local state; nothing to export")
        raise typer.Exit(1)
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if output is None:
        typer.echo(text)
    else:
        # One person's data: owner-only, like state and reports.
        from connector.state.db import write_private_text

        write_private_text(output, text + "\n")
        err.print(f"export written to {output}")


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
    from connector.privacy.retention_job import run_purge

    settings = load_settings(_config(ctx))
    day = _as_of(as_of)
    hasher = KeyHasher(settings.secret.get_secret_value()) if settings.secret else None
    outcome = run_purge(settings, apply=apply, as_of=day, hasher=hasher, hard=hard)
    _render_purge(outcome)
    raise typer.Exit(outcome.exit_code)


def _render_purge(outcome: PurgeOutcome) -> None:
    verb = "Deleted" if outcome.applied else "Would delete (dry run; add --apply)"
    if not outcome.groups:
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


def register_commands(app: typer.Typer) -> None:
    """Mount erase, export and purge on the main app."""
    app.command("erase")(erase)
    app.command("export")(export)
    app.command("purge")(purge)
