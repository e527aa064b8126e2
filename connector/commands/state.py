"""`sis-sync state …`: recovery of the local state (rebuild from the org, copy to another store).

Both commands are documented for admins in docs/recovery.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from connector.config import load_settings
from connector.output import console

out = console()
state_app = typer.Typer(
    name="state",
    help="Recover the local state: rebuild it from the org, or copy it to another store.",
    no_args_is_help=True,
)


def _config(ctx: typer.Context) -> Path | None:
    return (ctx.obj or {}).get("config")


@state_app.command("rebuild")
def rebuild(
    ctx: typer.Context,
    job: Annotated[
        str | None,
        typer.Argument(help="a job from sync.yaml, or one mapping; default: every mapping"),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="rebuild into a state that already holds records of these mappings: records it "
            "knows unchanged are kept as they are (not checked in the org); the others are "
            "matched in the org and recorded when equal",
        ),
    ] = False,
    show: Annotated[int, typer.Option(help="unmatched rows to print per mapping")] = 100,
) -> None:
    """Rebuild the local state from the org by external ids. Never writes to Salesforce.

    Rows whose record is missing in the org or differs from what the source says are listed
    (file:line and reason); the next `sis-sync run` writes exactly those. Org records that no
    export holds any more are recorded as left (their retention counts from the rebuild).
    """
    from connector.sync.rebuild import rebuild_state

    settings = load_settings(_config(ctx))
    result = rebuild_state(settings, job=job, force=force)
    out.print(escape(result.summary(show=show)), highlight=False)
    raise typer.Exit(result.exit_code())


@state_app.command("copy")
def copy(
    ctx: typer.Context,
    to: Annotated[
        str, typer.Option("--to", help="the target state URL, e.g. postgresql://user@host/db")
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="replace the sis-sync state the target already holds"),
    ] = False,
) -> None:
    """Copy the configured state (every table, in one transaction) to another state URL.

    Row counts per table are verified after the copy and printed. Stop the service (and any
    run) first: what a run records during the copy is not copied.
    """
    from connector.state.copy import copy_state

    settings = load_settings(_config(ctx))
    counts = copy_state(settings.state.url, to, force=force)
    width = max((len(t) for t in counts), default=0)
    for table, n in counts.items():
        out.print(f"  {table:<{width}}  {n:>10,} rows", highlight=False)
    out.print("copied and verified: every table has as many rows in the target as in the source")
    out.print("point SIS_SYNC_STATE__URL (or state.url in sync.yaml) at the target to use it")


def register_commands(app: typer.Typer) -> None:
    """Mount the `state` command group on the main app."""
    app.add_typer(state_app, name="state")
