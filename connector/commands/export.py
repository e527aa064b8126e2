"""``sis-sync export``: the rights of access and portability (GDPR art. 15 and 20)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from connector.commands.person_options import EmailOpt, StudentOpt, err
from connector.commands.person_options import config_path as _config
from connector.config import load_settings, require_secret
from connector.hashing import KeyHasher


def export(
    ctx: typer.Context,
    student_number: StudentOpt = None,
    email: EmailOpt = None,
    fmt: Annotated[
        Literal["json", "csv"],
        typer.Option("--format", help="json (default, machine-readable) or csv (spreadsheet)"),
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here (owner-only), not to stdout")
    ] = None,
) -> None:
    """Right of access / portability: everything held about one person, as JSON or CSV.

    Every field of the person's Salesforce records as Salesforce holds them now (also fields
    staff typed there), campaign memberships with the campaign's name, activities (archived
    ones too), consents with their proof and consent records, what local state holds (hashes,
    dates, lifecycle, consent withdrawals, runs) with an explanation of each key, and the
    purposes and lawful bases behind every mapped field. CSV: one row per field, UTF-8 with a
    byte-order mark, formula-safe cells (docs/privacy.md).

    The output IS the person's personal data: it goes only to stdout or the --output file,
    never to a log or report. Hand it to the data subject securely and do not keep copies.
    """
    from connector.gdpr.erasure import subject_of
    from connector.gdpr.export_formats import render_csv, render_json
    from connector.gdpr.export_job import export_person

    settings = load_settings(_config(ctx))
    hasher = KeyHasher(require_secret(settings))
    subject = subject_of(hasher, student_number=student_number, email=email)
    data = export_person(
        settings, subject, hasher=hasher, student_number=student_number, email=email
    )
    if data is None:
        who = ", ".join(f"{kind} hash {h}" for h, kind in subject.hashes)
        err.print(f"nobody with {who} in local state or Salesforce; nothing to export")
        raise typer.Exit(1)
    # CSV ends its rows with CRLF itself (RFC 4180); JSON gets the usual final newline.
    text = render_csv(data) if fmt == "csv" else render_json(data) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        # One person's data: owner-only, like state and reports.
        from connector.state.db import write_private_text

        write_private_text(output, text)
        err.print(f"export written to {output}")


def register_commands(app: typer.Typer) -> None:
    """Mount export on the main app."""
    app.command("export")(export)
