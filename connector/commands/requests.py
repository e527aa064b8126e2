"""``sis-sync requests``: the data-subject requests (erase, export, object) and their deadlines."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from connector.commands.person_options import config_path, out
from connector.config import load_settings


def request_json(req: Any, today: date) -> dict[str, Any]:
    """One request as JSON (reference, dates, status, days left; never a hash or a value)."""
    from connector.gdpr.requests import OPEN, days_left

    return {
        "reference": req.reference,
        "kind": req.kind,
        "received_at": req.received_at.isoformat(),
        "due_on": req.due_on.isoformat(),
        "status": req.status,
        "days_left": days_left(req, today) if req.status == OPEN else None,
        "attempts": req.attempts,
        "last_error": req.last_error,
        "done_at": req.done_at.isoformat() if req.done_at else None,
        "receipt": req.receipt,
        "purposes": list(req.purposes),
    }


def open_request_lines(requests: list[Any], today: date) -> list[str]:
    """``status``'s lines for open requests: reference, kind, due date, days left in words."""
    from connector.gdpr.requests import when_due

    lines = []
    for req in requests:
        line = f"{req.reference} {req.kind}: due {req.due_on}, {when_due(req, today)}"
        if req.last_error:
            line += f" (attempts {req.attempts}, last: {req.last_error})"
        lines.append(line)
    return lines


def requests_table(found: list[Any], today: date) -> Table:
    """The requests as a table that fits 80 columns with every reference shown whole.

    The reference is what the privacy officer quotes to the person: it never wraps and never
    shrinks (no ellipsis). The other columns give way: status (with its error code) and the
    deadline in words fold onto a second line, the kind is short.
    """
    from connector.gdpr.requests import when_due

    table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    width = max(len(r.reference) for r in found)
    table.add_column("reference", no_wrap=True, min_width=width)
    table.add_column("kind", no_wrap=True)
    for col in ("received", "due"):
        table.add_column(col, no_wrap=True, min_width=10)  # ISO dates, never cut
    table.add_column("status", overflow="fold")
    table.add_column("deadline", overflow="fold")
    table.add_column("tries", justify="right", no_wrap=True)
    for r in found:
        deadline = when_due(r, today) if r.status == "open" else f"{r.done_at:%Y-%m-%d}"
        status = r.status + (f" {r.last_error}" if r.status != "done" and r.last_error else "")
        table.add_row(
            r.reference, r.kind, f"{r.received_at:%Y-%m-%d}", str(r.due_on), status, deadline,
            str(r.attempts),
        )  # fmt: skip
    return table


def read_requests(settings: Any, *, status: str | None = None) -> list[Any]:
    """The requests in the configured state (none when no state file exists); reads only."""
    from pathlib import Path

    from connector.state import open_existing

    url = settings.state.url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    store = open_existing(url)
    try:
        return store.list_requests(status=status)
    finally:
        store.close()


def requests(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    open_only: Annotated[bool, typer.Option("--open", help="only open requests")] = False,
) -> None:
    """Data-subject requests (erase, export, object): reference, received, due, status, receipt.

    A request is due one calendar month after it was received (GDPR art. 12(3)). Open erasures
    are retried by every `sis-sync run` and serve tick; receipts (JSON and text, no personal
    data) are in receipts/ beside the state.
    """
    from connector.clock import school_date

    settings = load_settings(config_path(ctx))
    today = school_date(settings.clock())
    found = read_requests(settings, status="open" if open_only else None)
    if as_json:
        typer.echo(json.dumps([request_json(r, today) for r in found], indent=2))
        return
    if not found:
        out.print("no data-subject requests recorded")
        return
    out.print(requests_table(found, today))
    for r in found:
        if r.receipt:
            out.print(f"{r.reference} receipt: {r.receipt}", highlight=False, soft_wrap=True)


def register_commands(app: typer.Typer) -> None:
    """Mount requests on the main app."""
    app.command("requests")(requests)
