"""The `sis-sync` command line: parse arguments, call a service, render the result. No logic.

Exit codes (DESIGN §4): 0 everything synced or deliberately skipped; 1 the run finished but
something was rejected or failed; 2 configuration or input error, nothing written; 3 Salesforce
could not be reached or kept failing (connection, TLS, 5xx after the retries), the run recorded
as failed with its cause. Any other code is a bug: 70 (EX_SOFTWARE) for an exception nobody
expected, a plugin's included, reported by its type only (its text may hold a value).

Start-up is lazy: a command's module (and with it pydantic, SQLAlchemy, simple-salesforce, the
emulator …) is imported only when that command runs, so `sis-sync --help` lists the commands from
the table below without importing any of them.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from connector import __version__

# name → (module, its registering function or command function, one line of help for --help).
# The help lines are the commands' own first docstring lines (test_cli_output.py checks that they
# stay equal); a new command needs a line here.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": (
        "connector.commands.mapping",
        "register_commands",
        "Write a working sync.yaml, purposes.yaml and example mappings to start from.",
    ),
    "validate": (
        "connector.commands.mapping",
        "register_commands",
        "Check sync.yaml and every mapping (purposes, fields, transforms, sources); "
        "writes nothing.",
    ),
    "plan": (
        "connector.commands.sync",
        "register_commands",
        "Dry run: what would be created, updated, cleared, skipped, rejected. Writes nothing.",
    ),
    "run": (
        "connector.commands.sync",
        "register_commands",
        "Sync now: every mapping of JOB (parents first), with progress and a summary.",
    ),
    "status": (
        "connector.commands.sync",
        "register_commands",
        "Recent runs, rejected records by reason, pending writes and API usage.",
    ),
    "rejects": (
        "connector.commands.rejects",
        "rejects",
        "Every rejected row and Salesforce refusal of a run: file, line, column, reason; no value.",
    ),
    "quality": (
        "connector.commands.quality",
        "register_commands",
        "Data quality: filled and valid % per field, rejects, consents without proof, bounces.",
    ),
    "purge": (
        "connector.commands.purge",
        "register_commands",
        "Retention purge: delete what no purpose justifies any longer (purposes.yaml retention).",
    ),
    "erase": (
        "connector.commands.erase",
        "register_commands",
        "Right to erasure: delete one person's graph in Salesforce and local state, and keep a "
        "keyed-hash tombstone so no later sync recreates them.",
    ),
    "export": (
        "connector.commands.export",
        "register_commands",
        "Right of access / portability: everything held about one person, as JSON or CSV.",
    ),
    "object": (
        "connector.commands.object",
        "register_commands",
        "Right to object (art. 21): the named purposes are never active again for this person.",
    ),
    "requests": (
        "connector.commands.requests",
        "register_commands",
        "Data-subject requests (erase, export, object): reference, received, due, status, receipt.",
    ),
    "state": (
        "connector.commands.state",
        "register_commands",
        "Recover the local state: rebuild it from the org, or copy it to another store.",
    ),
    "register": (
        "connector.commands.mapping",
        "register_commands",
        "The record of processing activities (GDPR art. 30) from purposes.yaml and the mappings.",
    ),
    "mapping-schema": (
        "connector.commands.mapping",
        "register_commands",
        "Print the JSON Schema of mapping files (or of purposes.yaml) for editors.",
    ),
    "plugins": (
        "connector.commands.mapping",
        "register_commands",
        "List the installed sources and transforms with the package that provides each.",
    ),
    "serve": (
        "connector.commands.service",
        "register_commands",
        "The scheduled service: runs every job with a cron: line in sync.yaml at its time.",
    ),
    "emulator": (
        "connector.commands.emulator",
        "emulator",
        "Run the local Salesforce emulator (HTTPS on 127.0.0.1).",
    ),
    "demo": (
        "connector.commands.sync",
        "register_commands",
        "One command, no set-up: emulator + a Dutch sample data set + a full sync, twice.",
    ),
}


class LazyGroup(TyperGroup):
    """A Typer group that imports a command's module only when the command is used.

    ``--help`` of the whole program shows stand-ins built from :data:`COMMANDS` (name and help
    line), so listing the commands imports none of them.
    """

    listing = False  # True while the program's own --help is rendered

    def list_commands(self, ctx: Any) -> list[str]:
        """Every command, in the order of :data:`COMMANDS` (then any registered directly)."""
        return [*COMMANDS, *(n for n in self.commands if n not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``: a help stand-in while listing, else the real one."""
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module, attr, help_line = COMMANDS[cmd_name]
        if self.listing:
            return typer.core.TyperCommand(cmd_name, help=help_line, short_help=help_line)
        self.commands.update(_load(cmd_name, module, attr))
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The program's help, from the command table (no command module imported)."""
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


def _load(name: str, module: str, attr: str) -> dict[str, Any]:
    """Import ``module`` and return the click commands it defines (all of them, by name)."""
    target = getattr(importlib.import_module(module), attr)
    sub = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    if attr == "register_commands":
        target(sub)
    else:
        sub.command(name, help=COMMANDS[name][2] if attr == "emulator" else None)(target)
    group = typer.main.get_group(sub)
    return dict(group.commands)


app = typer.Typer(
    name="sis-sync",
    help="Keeps Salesforce in step with the student-information system and event tools, "
    "as the privacy gate between them.",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class LogFormat(StrEnum):
    """How log lines on stderr look."""

    text = "text"
    json = "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (for services, cron and log shippers).

    Keys: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, with ``-v``, an
    ``exc_type`` / ``traceback`` when the record carries one. The message is the connector's own
    text, which never holds a personal value (see connector/errors.py).
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            data["exc_type"] = record.exc_info[0].__name__
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(*, verbose: bool, log_format: LogFormat) -> None:
    """Log to stderr at WARNING (DEBUG with ``verbose``), as text or as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    # HTTP libraries log request lines at DEBUG, and a URL can carry a value (a SOQL filter, an
    # external id in a path): only the connector's own loggers, which never log values, go verbose.
    for noisy in ("urllib3", "requests", "simple_salesforce", "sqlalchemy", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sis-sync {__version__}")
        raise typer.Exit()


_log_format = LogFormat.text  # set by the global option; main() renders errors to match


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
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            envvar="SIS_SYNC_LOG_FORMAT",
            help="log lines on stderr as text or as one JSON object each",
        ),
    ] = LogFormat.text,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    """Global options."""
    global _log_format
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["log_format"] = log_format.value
    _log_format = log_format
    configure_logging(verbose=verbose, log_format=log_format)
    from connector.output import set_json_stderr  # every stderr console, not just log lines

    set_json_stderr(log_format is LogFormat.json)


def _print_error(message: str, exit_code: int) -> None:
    if _log_format is LogFormat.json:
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "ERROR",
            "logger": "connector.cli",
            "message": message,
            "exit_code": exit_code,
        }
        sys.stderr.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(
        "[red]error:[/red] " + escape(message), highlight=False, soft_wrap=True
    )


def main() -> None:
    """Entry point of the console script: maps the error tree onto exit codes.

    Typer's standalone mode handles usage errors (exit 2) and ``typer.Exit``; the connector's
    own errors carry their exit code (2 usage, 1 run, 3 Salesforce unreachable, 70 a plugin bug)
    and are printed without a traceback (as one JSON object with ``--log-format json``).
    """
    from connector.errors import BUG_EXIT, ConnectorError
    from connector.process_memory import bound_process_memory

    bound_process_memory()  # before any thread: malloc arenas, SQLite's heap (the module says why)
    try:
        app()
    except ConnectorError as exc:
        _print_error(str(exc), exc.exit_code)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - a bug (a plugin's or ours): still no value shown
        # Its text may quote a value (KeyError('0612345678')): the type only, and the frames
        # without the message under -v. A source plugin's is a PluginError above (engine.py).
        _log_frames(exc)
        _print_error(
            f"unexpected {type(exc).__name__} (a bug; run with -v for where it happened)", BUG_EXIT
        )
        sys.exit(BUG_EXIT)


def _log_frames(exc: BaseException) -> None:
    """Under ``-v``: where ``exc`` was raised, frame by frame, its message withheld."""
    log = logging.getLogger("connector.cli")
    if not log.isEnabledFor(logging.DEBUG):
        return
    import traceback

    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    log.debug(
        "%s.%s raised (message withheld: it may hold a value)\n"
        "Traceback (most recent call last):\n%s",
        type(exc).__module__, type(exc).__qualname__, frames.rstrip(),
    )  # fmt: skip


if __name__ == "__main__":  # `python -m connector.cli` as `python -m connector`
    main()
