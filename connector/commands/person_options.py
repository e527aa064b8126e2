"""What the privacy commands share: the person options and the consoles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from connector.output import console

out = console()
err = console(stderr=True)

StudentOpt = Annotated[
    str | None, typer.Option("--student-number", help="the person's SIS student number")
]
EmailOpt = Annotated[str | None, typer.Option("--email", help="the person's e-mail address")]


def config_path(ctx: typer.Context) -> Path | None:
    """The ``--config`` of the main app, if given."""
    return (ctx.obj or {}).get("config")
