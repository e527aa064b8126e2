"""The `sis-sync` command line: parse arguments, call a service, render the result. No logic.

Exit codes (DESIGN §4): 0 everything synced or deliberately skipped; 1 the run finished but
something was rejected or failed; 2 configuration or input error, nothing written. Any other
code is a bug.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from connector import __version__
from connector.errors import ConnectorError

app = typer.Typer(
    name="sis-sync",
    help="Keeps Salesforce in step with the student-information system and event tools, "
    "as the privacy gate between them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sis-sync {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="SIS_SYNC_CONFIG",
            help="sync.yaml to use (default ./sync.yaml)",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log more detail")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    """Global options."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # HTTP libraries log request lines at DEBUG, and a URL can carry a value (a SOQL filter, an
    # external id in a path): only the connector's own loggers, which never log values, go verbose.
    for noisy in ("urllib3", "requests", "simple_salesforce", "sqlalchemy", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _mount() -> None:
    from connector.commands import emulator, mapping, privacy, rejects, service, state, sync

    mapping.register_commands(app)
    sync.register_commands(app)
    service.register_commands(app)
    privacy.register_commands(app)
    state.register_commands(app)
    app.command("rejects")(rejects.rejects)
    app.command("emulator", help="Run the local Salesforce emulator (HTTPS on 127.0.0.1).")(
        emulator.emulator
    )


_mount()


def main() -> None:
    """Entry point of the console script: maps the error tree onto exit codes.

    Typer's standalone mode handles usage errors (exit 2) and ``typer.Exit``; the connector's
    own errors carry their exit code (2 usage, 1 run) and are printed without a traceback.
    """
    try:
        app()
    except ConnectorError as exc:
        err.print("[red]error:[/red] " + escape(str(exc)), highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
