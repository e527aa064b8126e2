"""`sis-sync quality`: data-quality figures to fix at the source (connector/quality.py).

Renders :class:`~connector.quality.Quality` as Markdown (default), HTML or CSV. Output holds
counts, field names, file:line, bounce categories and, for bounced addresses, Salesforce Ids
with masked addresses: staff open the record by its Id; no value leaves in clear. The bounce
counts (by reason and age, nothing else) are also kept for the status page (``bounces.json``).
"""

from __future__ import annotations

import csv
import io
from html import escape
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from connector.csv_cells import safe_row
from connector.output import say
from connector.quality import Quality
from connector.quality import percent as _pct


def _tables(q: Quality) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) per section, shared by every format."""
    out = [
        (
            "Fields: filled and valid",
            ["mapping", "field", "rows", "filled", "valid (of filled)"],
            [
                [f.mapping, f.field, str(f.rows), _pct(f.filled_pct), _pct(f.valid_pct)]
                for f in q.fields
            ],
        ),
        (
            "Rejected rows of the last run, by reason",
            ["mapping", "column", "reason", "rows"],
            [[m, c, r, str(n)] for m, c, r, n in q.rejects],
        ),
        (
            "Consents without proof",
            ["mapping", "purpose", "missing", "rows", "first lines"],
            [
                [g.mapping, g.purpose, g.missing, str(g.count), " ".join(g.lines)]
                for g in q.consents
            ],
        ),
    ]
    if q.unreadable:
        out.insert(0, ("Sources that could not be read", ["mapping", "problem"],
                       [[m, why] for m, why in q.unreadable]))  # fmt: skip
    if q.bounces is not None:
        out += [
            (
                "Bounced e-mail addresses by reason",
                ["reason", "contacts"],
                [[k, str(v)] for k, v in q.bounce_reasons().most_common()],
            ),
            (
                "Bounced e-mail addresses by age",
                ["age", "contacts"],
                [[k, str(v)] for k, v in q.bounce_ages().most_common()],
            ),
            (
                "To reach through another channel",
                ["Salesforce Id", "e-mail (masked)", "reason", "bounced on", "other channels"],
                [
                    [
                        b.sf_id,
                        b.masked_email,
                        b.reason,
                        b.bounced_on.isoformat() if b.bounced_on else "",
                        ", ".join(b.channels) or "none",
                    ]
                    for b in q.bounces
                ],
            ),
        ]
    return out


def render_md(q: Quality) -> str:
    """Markdown: one table per section."""
    lines = [f"# Data quality, {q.today.isoformat()}", ""]
    if q.bounces is None:
        lines += ["Bounced e-mail addresses: not read (--offline).", ""]
    else:
        lines += [f"Read back from Salesforce in {q.api_calls} API call(s).", ""]
    for title, header, rows in _tables(q):
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["None.", ""]
            continue
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def render_csv(q: Quality) -> str:
    """CSV: one row per table row, the section and its header names in the first columns."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "c1", "c2", "c3", "c4", "c5"])
    for title, header, rows in _tables(q):
        w.writerow(safe_row([title, *header]))
        for row in rows:
            w.writerow(safe_row([title, *row]))
    return buf.getvalue()


def render_html(q: Quality) -> str:
    """A self-contained page (no script), readable on a phone."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>sis-sync data quality {q.today.isoformat()}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:1rem;max-width:60rem}"
        "table{border-collapse:collapse;width:100%;margin-bottom:1.5rem;font-size:.9rem}"
        "th,td{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}"
        "div.t{overflow-x:auto}</style></head><body>",
        f"<h1>Data quality, {q.today.isoformat()}</h1>",
    ]
    for title, header, rows in _tables(q):
        parts.append(f"<h2>{escape(title)}</h2>")
        if not rows:
            parts.append("<p>None.</p>")
            continue
        parts.append("<div class='t'><table><tr>")
        parts += [f"<th>{escape(h)}</th>" for h in header]
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
        parts.append("</table></div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def quality(
    ctx: typer.Context,
    fmt: Annotated[
        Literal["md", "html", "csv"], typer.Option("--format", help="md (default), html or csv")
    ] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to this file (owner-only)")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="do not read bounced addresses from Salesforce")
    ] = False,
    mapping: Annotated[
        list[str] | None, typer.Option("--mapping", "-m", help="only this mapping (repeatable)")
    ] = None,
) -> None:
    """Data quality: filled and valid % per field, rejects, consents without proof, bounces.

    Per mapping and field the share of rows that fill it and the share its transforms accept
    (one pass over each source), the last run's rejects by reason, consents that say yes
    without their proof, and the bounced e-mail addresses Salesforce holds for the persons
    this connector syncs (by reason and age; masked, with Salesforce Ids so staff can reach
    them through another channel). Writes nothing to Salesforce or the state; keeps the bounce
    counts (no Id, no address) in bounces.json beside the run reports for the status page.
    """
    from connector.clock import school_date
    from connector.config import load_settings
    from connector.errors import ConfigError
    from connector.mapping.loader import load_project
    from connector.quality import gather
    from connector.state import open_existing

    settings = load_settings((ctx.obj or {}).get("config"))
    project = load_project(settings.mappings)
    unknown = sorted(set(mapping or []) - set(project.mappings))
    if unknown:
        raise ConfigError(f"no mapping called {', '.join(unknown)}")
    client = None
    if not offline:
        from connector.salesforce import SalesforceClient

        client = SalesforceClient(settings.salesforce)
    store = open_existing(settings.state.url)  # reads only: never migrates, never creates
    try:
        q = gather(
            project,
            settings.project_dir,
            today=school_date(settings.now),
            secret=settings.secret.get_secret_value() if settings.secret else None,
            store=store,
            client=client,
            mappings=mapping or None,
        )
    finally:
        store.close()
    _keep_bounce_figures(q, settings)
    text = {"md": render_md, "html": render_html, "csv": render_csv}[fmt](q)
    if output is None:
        typer.echo(text)
        return
    from connector.state.db import write_private_text

    write_private_text(output, text)  # Salesforce Ids and masked addresses: owner-only
    typer.echo(f"data quality written to {output}")


def _keep_bounce_figures(q: Quality, settings: Any) -> None:
    """Keep the bounce counts where the status page reads them; a failure only warns."""
    from connector.quality import bounce_figures, save_bounce_figures

    figures = bounce_figures(q, settings.clock())
    if figures is None:
        return  # --offline: the figures the page has stay as they were
    try:
        save_bounce_figures(figures, settings.reports_dir())
    except OSError as exc:
        say(f"warning: bounce figures not kept for the status page ({exc.strerror})")


def register_commands(app: typer.Typer) -> None:
    """Mount ``quality`` on the main app."""
    app.command("quality")(quality)
