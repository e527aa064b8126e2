"""``sis-sync erase``: the right to erasure (GDPR art. 17)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from connector.commands.person_options import EmailOpt, StudentOpt, err, out
from connector.commands.person_options import config_path as _config
from connector.config import load_settings, require_secret
from connector.hashing import KeyHasher

if TYPE_CHECKING:
    from connector.gdpr.erasure_job import ErasureOutcome


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
    addresses). With --apply it is a data-subject request: a reference (DSR-YYYY-NNNN), due in
    one month, and a receipt in receipts/ beside the state. A person local state does not know
    is looked up in Salesforce by external id and e-mail. Tombstones come first: when
    Salesforce cannot be reached (exit 3) the request stays open and the next run finishes it.

    With --apply, while holding every job's run lock, in this order (the table lists the
    records in it): the person's other records first (education records, Tasks and Events,
    archived too, CampaignMembers, consents), then the person record itself: the Contact (with
    EDA, then its Administrative Account when no other Contact is in it) or, for a person
    account, the Account (its person contact goes with it); last their Individual, unless
    another person's record points at it.
    An e-mail address several persons share is refused: use --student-number.
    """
    from connector.gdpr.erasure import subject_of
    from connector.gdpr.erasure_job import erase_person

    settings = load_settings(_config(ctx))
    hasher = KeyHasher(require_secret(settings))
    subject = subject_of(hasher, student_number=student_number, email=email)
    outcome = erase_person(
        settings,
        subject,
        apply=apply,
        hard=hard,
        only_suppress=suppress_only,
        hasher=hasher,
        student_number=student_number,
        email=email,
    )
    who = ", ".join(f"{kind} hash {h}" for h, kind in subject.hashes)
    if outcome.status == "not_found":
        out.print(
            f"nobody with {who} in local state or Salesforce; nothing erased. To keep such a "
            "person from ever being synced, run again with --suppress-only --apply."
        )
    elif outcome.status == "open":
        err.print(
            f"Salesforce could not be reached: {outcome.cause}\n"
            f"tombstones written ({len(outcome.tombstones)}): no sync sends this person again; "
            "the erasure stays open and the next `sis-sync run` (or serve tick) finishes it",
            highlight=False,
            soft_wrap=True,
        )
    elif outcome.status == "already_erased":
        out.print(f"already erased: {who} carries a tombstone and is not in local state")
    elif outcome.status == "suppressed" or (suppress_only and not apply):
        verb = "added" if apply else "would add"
        out.print(f"{verb} {len(outcome.tombstones)} tombstones ({who}); nothing deleted")
    else:
        _render(outcome, apply=apply)
    _print_request(outcome)
    raise typer.Exit(outcome.exit_code)


def _print_request(outcome: ErasureOutcome) -> None:
    """The request line: reference, status, due date and the receipt."""
    req = outcome.request
    if req is None:
        return
    line = f"request {req.reference}: {req.status}, received {req.received_at:%Y-%m-%d}"
    line += f", due {req.due_on}"
    if req.status == "open" and req.last_error:
        line += f" (attempt {req.attempts}: {req.last_error})"
    elif req.status == "failed":
        line += f" ({req.last_error})"
    out.print(line, highlight=False, soft_wrap=True)
    if req.receipt:
        out.print(f"receipt: {req.receipt} (and .txt)", highlight=False, soft_wrap=True)


def _render(outcome: ErasureOutcome, *, apply: bool) -> None:
    from connector.gdpr.graph_batch import in_deletion_order

    graph = outcome.graph
    if graph is None:  # planned, erased and incomplete outcomes always carry the graph
        raise ValueError(f"an erase outcome of status {outcome.status!r} has no graph to show")
    title = "Erased" if apply else "Would erase (dry run; add --apply)"
    who = f"person {graph.person.person_id}" if graph.person else "person found in Salesforce"
    table = Table(title=f"{title}: {who}", caption="deleted in this order, top to bottom")
    for col in ("object", "Salesforce id", "found via", "status"):
        table.add_column(col)
    result = outcome.result
    failed = {i.sf_id: code for i, code in result.failed} if result else {}
    deleted = {i.sf_id for i in result.deleted} if result else set()
    for item in in_deletion_order(graph.items):
        if item.sf_id in failed:
            status = f"refused: {failed[item.sf_id]}"
        elif not item.exists:
            status = "already gone"
        elif result and item.sf_id not in deleted:
            status = "already gone" if result.complete else "kept"
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


def register_commands(app: typer.Typer) -> None:
    """Mount erase on the main app."""
    app.command("erase")(erase)
