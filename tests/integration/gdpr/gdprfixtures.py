"""Shared helpers of the privacy tests: a synced student who also visited an open day, and
the erase/export commands run in-process (CliRunner) on an app that mounts only them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

_SYNC_HELPERS = Path(__file__).resolve().parents[1] / "sync"
if str(_SYNC_HELPERS) not in sys.path:
    sys.path.insert(0, str(_SYNC_HELPERS))

from syncfixtures import (  # noqa: E402 - found through the path set above
    SyncProject,
    emulator,
    project_fixture,
    registration,
    student,
)

from connector.commands import erase, export, purge, requests  # noqa: E402
from connector.commands import object as object_command  # noqa: E402
from connector.errors import ConnectorError  # noqa: E402

__all__ = ["EMAIL", "NEEDLES", "NUMBER", "emulator", "invoke", "project_fixture", "seed"]

NUMBER = "90817263"
EMAIL = "ermengarde.q@privemail.example"
# Distinctive personal values: finding one in a log, report or audit line means it leaked.
NEEDLES = ["Quispelhoorn", "Ermengarde", EMAIL, NUMBER, "48151623", "Kwakkelsteeg"]


def _app(config: Path) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = {"config": config}

    for module in (erase, export, purge, requests, object_command):
        module.register_commands(app)
    return app


def invoke(project: SyncProject, *args: str) -> Any:
    """Run ``sis-sync ARGS`` (erase, export, purge, requests) in-process with the project's environment.

    Like ``connector.cli.main``, a connector error ends with its own exit code (2 usage).
    """
    runner = CliRunner()
    result = runner.invoke(_app(project.folder / "sync.yaml"), list(args), env=project.env)
    if isinstance(result.exception, ConnectorError):
        result.exit_code = result.exception.exit_code
    return result


def seed(project: SyncProject, *, others: bool = True) -> None:
    """One student who visited the open day with the same address (Contact + CampaignMember +
    Task), plus, with ``others``, a second student and a second visitor who must survive."""
    students = [
        student(
            NUMBER,
            achternaam="Quispelhoorn",
            tussenvoegsel="",
            roepnaam="Ermengarde",
            email=EMAIL,
            mobiel="06-48151623",
            straat="Kwakkelsteeg",
        )
    ]
    # Her registration says nothing about news (a "nee" there would outweigh her older "ja":
    # docs/privacy.md, "The newest word stands on the Contact too").
    regs = [
        registration(
            "R-000001", EMAIL, voornaam="Ermengarde", achternaam="Quispelhoorn",
            toestemming_nieuws="",
        )
    ]  # fmt: skip
    if others:
        students.append(student("150001"))
        regs.append(registration("R-000002", "daan.b@bezoeker.example"))
    project.write_students(students)
    project.write_registrations(regs)
    report = project.run()
    assert report.exit_code() == 0, report.summary()
