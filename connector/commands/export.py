"""``sis-sync export``: the rights of access and portability (GDPR art. 15 and 20)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from connector.commands.person_options import EmailOpt, StudentOpt, err
from connector.commands.person_options import config_path as _config
from connector.config import load_settings, require_secret
from connector.hashing import KeyHasher

if TYPE_CHECKING:
    from connector.gdpr.export_model import PersonExport


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

    Each export is recorded as a data-subject request (art. 12(3); `sis-sync requests`): done
    with a receipt (counts per object, nothing personal), or failed with NOT_FOUND.
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
    reference = record_export_request(settings, subject.hashes, data)
    if data is None:
        who = ", ".join(f"{kind} hash {h}" for h, kind in subject.hashes)
        erased = _tombstoned(settings, [h for h, _ in subject.hashes])
        if erased:
            # Art. 15: what is held is the tombstone itself — a keyed hash, kept so that no
            # sync recreates the person; say so rather than "nothing".
            err.print(
                f"{who}: erased — local state holds only its erasure tombstone ({erased} keyed "
                "hash(es), no value), kept so that no sync recreates the person; nothing else "
                "in local state or Salesforce"
            )
        else:
            err.print(f"nobody with {who} in local state or Salesforce; nothing to export")
        err.print(f"request {reference}: failed (NOT_FOUND)")
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
    err.print(f"request {reference}: done; receipt in {requests_folder(settings)}")


def _tombstoned(settings: Any, hashes: list[str]) -> int:
    """How many of ``hashes`` carry an erasure tombstone."""
    from connector.state import open_existing

    store = open_existing(settings.state.url)
    try:
        return len(store.suppressed(hashes))
    finally:
        store.close()


def requests_folder(settings: Any) -> Path:
    """Where receipts go (beside the state)."""
    from connector.gdpr.requests import receipts_dir

    return receipts_dir(settings)


def record_export_request(
    settings: Any, hashes: list[tuple[str, str]], data: PersonExport | None
) -> str:
    """Record the access request (art. 12(3), 15): done with a receipt counting the exported
    records per object, or failed with NOT_FOUND. Returns its reference."""
    from connector.gdpr import requests
    from connector.gdpr.receipts import Receipt
    from connector.state import open_store

    now = settings.clock()
    with open_store(settings.state.url) as store:
        if data is None:
            folder = requests.receipts_dir(settings)
            req = requests.open_request(store, "export", hashes, now=now, folder=folder)
            return requests.fail(store, req, error="NOT_FOUND", now=now).reference
        # A record two mappings write (a student who was a visitor) counts once.
        counts = Counter(
            obj
            for obj, _ in {
                (r.object, r.sf_id)
                for r in (
                    *data.salesforce,
                    *data.campaign_memberships,
                    *data.activities,
                    *data.consent_records,
                )
                if r.exists
            }
        )
        done = requests.record_done(
            store,
            "export",
            hashes,
            receipt=Receipt(action="exported", records=dict(counts)),
            now=now,
            folder=requests_folder(settings),
        )
        return done.reference


def register_commands(app: typer.Typer) -> None:
    """Mount export on the main app."""
    app.command("export")(export)
