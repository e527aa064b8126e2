"""Commands about the mapping language: validate, register, mapping-schema, plugins, init.

Plain functions with Typer-annotated parameters; :func:`register_commands` mounts them on the
main app. They read the global ``--config`` from the Typer context (``ctx.obj["config"]``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

# DataModel has its own module: `demo --model` (commands/sync.py) needs it without the mapping
# language this module imports, which `status` must not pay for.
from connector.commands.data_model import DataModel
from connector.errors import ConfigError, MappingError, UnknownPluginError
from connector.mapping.loader import load_project
from connector.mapping.project import Project
from connector.output import console, json_line, json_stderr

if TYPE_CHECKING:  # the settings module loads pydantic: only when a command needs it
    from connector.config import Settings

out = console()
err = console(stderr=True)
DEFAULTS = Path(__file__).resolve().parent.parent / "defaults" / "project"


def model_folder(model: DataModel | str) -> Path:
    """The shipped project folder of ``model`` (``contacts`` is today's ``defaults/project``)."""
    name = DataModel(model).value
    return DEFAULTS if name == "contacts" else DEFAULTS.parent / name


def _config(ctx: typer.Context) -> Path | None:
    return (ctx.obj or {}).get("config") if ctx is not None else None


def _load(ctx: typer.Context) -> tuple[Project, Settings]:
    """Settings and project, or exit 2 with every problem printed."""
    from connector.config import load_settings

    try:
        settings = load_settings(_config(ctx))
    except ConfigError as exc:
        _fail([str(exc)])
    try:
        project = load_project(settings.mappings)
    except MappingError as exc:
        _fail([str(p) for p in exc.problems])
    return project, settings


def _fail(lines: list[str]) -> None:
    count = sum(line.count("\n") + 1 for line in lines)
    for line in lines:
        err.print("[red]error:[/red] " + escape(line), highlight=False, soft_wrap=True)
    summary = f"{count} problem(s); nothing was written."
    if json_stderr():  # the closing line of an error, like connector/cli.py's, with its code
        sys.stderr.write(json_line(summary, level="ERROR", exit_code=2) + "\n")
    else:
        err.print(f"[red]{escape(summary)}[/red]", highlight=False)
    raise typer.Exit(2)


def validate(
    ctx: typer.Context,
    online: Annotated[
        bool,
        typer.Option(
            "--online",
            help="also check every mapped field against the org's describe (needs credentials)",
        ),
    ] = False,
) -> None:
    """Check sync.yaml and every mapping (purposes, fields, transforms, sources); writes nothing."""
    project, settings = _load(ctx)
    problems = [
        f"{settings_file(ctx)}: jobs.{job.name}: no mapping called {name!r}"
        for job in getattr(settings, "jobs", []) or []
        for name in (job.mappings or [])
        if name not in project.mappings
    ]
    if (ca := settings.salesforce.ca_bundle_problem()) is not None:
        problems.append(f"{settings_file(ctx)}: {ca}")
    if problems:
        _fail(problems)
    for name in project.order():
        spec = project.mappings[name]
        path = spec.source.get("path") or spec.source.get("url") or ""
        used = ", ".join(sorted({p for f in spec.fields.values() for p in f.purposes}))
        out.print(
            f"[bold]{name}[/bold]: {spec.source_kind} {escape(str(path))} → "
            f"{spec.target.object} by {spec.target.external_id}, {len(spec.fields)} fields "
            f"(purposes: {used})",
            highlight=False,
            soft_wrap=True,
        )
    from connector.mapping.checks import (
        consent_warnings,
        never_active_warnings,
        register_warnings,
        student_number_warnings,
    )
    from connector.plan_examples import generated_external_id_notes

    for warning in consent_warnings(project.purposes):
        out.print("[yellow]warning:[/yellow] " + escape(warning), highlight=False, soft_wrap=True)
    for note in generated_external_id_notes(project):
        # DESIGN §5: a mapping that does not map its external id sends the key's keyed hash.
        out.print("[yellow]note:[/yellow] " + escape(note), highlight=False, soft_wrap=True)
    for warning in never_active_warnings(project):  # issue 9.6: it used to block the purge
        out.print("[yellow]warning:[/yellow] " + escape(warning), highlight=False, soft_wrap=True)
    for warning in [*register_warnings(project.purposes), *student_number_warnings(project)]:
        out.print("[yellow]warning:[/yellow] " + escape(warning), highlight=False, soft_wrap=True)
    if online:
        _check_online(project, settings)
    out.print(
        f"[green]ok:[/green] {len(project.mappings)} mapping(s), "
        f"{len(project.purposes.purposes)} purpose(s) in {escape(str(project.directory))}",
        highlight=False,
    )


def _check_online(project: Project, settings: object) -> None:
    """Every mapped field exists in the org and can be written; exit 2 listing all that cannot."""
    from connector.mapping.online import check_fields, check_org_model
    from connector.salesforce import SalesforceClient
    from connector.salesforce.describe import Describer
    from connector.salesforce.record_types import RecordTypes
    from connector.salesforce.writer import Writer

    client = SalesforceClient(settings.salesforce)  # type: ignore[attr-defined]
    describer = Describer(client)
    record_types = RecordTypes(Writer(client).query)
    problems: list[str] = []
    for name in project.order():
        spec = project.mappings[name]
        file = project.files.get(name, name)
        path = file if isinstance(file, Path) else None
        # Fields, then lookups to org records, record types, person accounts: every problem
        # once, with file, line and key (connector/mapping/online.py).
        found = check_fields(spec, path, str(file), describer)
        found += check_org_model(spec, path, str(file), describer, record_types)
        problems += [str(p) for p in found]
    if problems:
        _fail(problems)
    out.print("[green]online:[/green] every mapped field exists and is writable", highlight=False)


def settings_file(ctx: typer.Context) -> str:
    """The configuration file name as the user gave it (for messages)."""
    return str(_config(ctx) or "sync.yaml")


def register(
    ctx: typer.Context,
    fmt: Annotated[
        Literal["md", "csv", "html"],
        typer.Option("--format", "-f", help="md (Markdown), csv or html"),
    ] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to this file instead of stdout")
    ] = None,
) -> None:
    """The record of processing activities (GDPR art. 30) from purposes.yaml and the mappings."""
    from connector.clock import school_date
    from connector.privacy.register import render_register

    project, settings = _load(ctx)
    # The date on it is the configured clock's (SIS_SYNC_NOW for a preview), as every command's.
    text = render_register(project, fmt, generated_on=school_date(settings.clock()))
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {escape(str(output))}", highlight=False)


def mapping_schema(
    purposes: Annotated[
        bool, typer.Option("--purposes", help="the schema of purposes.yaml instead")
    ] = False,
) -> None:
    """Print the JSON Schema of mapping files (or of purposes.yaml) for editors."""
    from connector.mapping.json_schema import mapping_json_schema, purposes_json_schema

    schema = purposes_json_schema() if purposes else mapping_json_schema()
    typer.echo(json.dumps(schema, indent=2, ensure_ascii=False))


def plugins() -> None:
    """List the installed sources and transforms with the package that provides each."""
    from connector.mapping.transforms import registry as transforms
    from connector.sources import registry as sources

    for title, registry in (("sources", sources), ("transforms", transforms)):
        table = Table(title=title, title_justify="left", box=None, header_style="bold")
        for column in ("name", "package", "description"):
            table.add_column(column)
        try:
            entries = registry.entries()
        except UnknownPluginError as exc:  # a broken plugin names itself
            _fail([str(exc)])
        for entry in entries:
            table.add_row(entry.name, entry.package, _describe(entry.value))
        out.print(table)


def _describe(value: object) -> str:
    text = getattr(value, "description", "") or (getattr(value, "__doc__", "") or "")
    lines = text.strip().splitlines() if isinstance(text, str) else []
    return lines[0] if lines else ""


def init(
    directory: Annotated[Path, typer.Argument(help="folder to create the project in")],
    force: Annotated[
        bool, typer.Option("--force", help="write into a folder that is not empty")
    ] = False,
    sample_data: Annotated[
        bool,
        typer.Option(
            "--sample-data", help="also generate a fictitious Dutch data set in DIR/data to try it"
        ),
    ] = False,
    model: Annotated[
        DataModel,
        typer.Option(
            "--model",
            help="the org's data model: contacts (Contact, Campaign, Task), education-cloud "
            "(person accounts, LearnerProgram, IndividualApplication) or eda (hed__ objects)",
        ),
    ] = DataModel.contacts,
) -> None:
    """Write a working sync.yaml, purposes.yaml and example mappings to start from."""
    if directory.exists() and not directory.is_dir():
        _fail([f"{directory}: exists and is not a folder"])
    if directory.is_dir() and any(directory.iterdir()) and not force:
        _fail([f"{directory}: folder is not empty; use --force to write into it anyway"])
    shutil.copytree(
        model_folder(model),
        directory,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    out.print(
        f"[green]created[/green] {escape(str(directory))}: sync.yaml, README.txt, "
        f"mappings/ ({len(list((directory / 'mappings').glob('*.yaml')))} files, "
        f"model {model.value})",
        highlight=False,
    )
    if sample_data:
        from connector.demo.dataset import generate

        summary = generate(directory)
        out.print(
            f"sample data: {summary.students} students, {summary.applicants} applicants, "
            f"{summary.registrations} event registrations (fictitious) in data/",
            highlight=False,
        )
    out.print(f"next: cd {escape(str(directory))} && sis-sync validate", highlight=False)


def register_commands(app: typer.Typer) -> None:
    """Mount the commands on ``app`` as validate, register, mapping-schema, plugins, init."""
    app.command("validate")(validate)
    app.command("register")(register)
    app.command("mapping-schema")(mapping_schema)
    app.command("plugins")(plugins)
    app.command("init")(init)
