"""The status page: what the syncs did, for a school's IT admin and privacy officer, on one page.

Served at ``/`` by ``sis-sync serve`` (``service_http.py``) and written by ``sis-sync status
--html FILE``. It reads the state store only (runs, rejects, outbox, audit) plus the API usage
in the latest run reports and the bounce counts beside them (never Salesforce;
``status_data.py`` reads it all), and shows: runs over time per job (outcome, duration, records
by action), the org's daily API budget used and left, rejected rows by reason, Salesforce
refusals by error code, the purge and erasure audit, open data-subject requests, the data
quality of the sources, the bounce counts ``sis-sync quality`` last read from Salesforce
(``bounces.json``), the outbox and records per mapping. Charts are inline SVG drawn here
(``status_page_assets.py``); the page needs no script and no network, and reloads itself every
minute (``<meta http-equiv="refresh">``).

Like every report it names jobs, mappings, files, columns, reasons and Salesforce error codes,
and holds counts; never a personal value, a record key or a Salesforce id.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connector import status_page_assets as ui
from connector.config import Settings
from connector.quality import load_bounce_figures, percent
from connector.state import RejectSummary, RunRow, open_existing
from connector.state.db import write_private_text
from connector.status_data import AUDIT_DAYS, StatusData, collect, source_quality

RUNS_LISTED = 10  # rows per job in the runs table
QUALITY_LISTED = 12  # fields with the lowest fill or validity shown
REFRESH_SECONDS = 60
ACTIONS = ("created", "updated", "unchanged", "rejected", "failed", "deleted", "already_gone")


# -- rendering -------------------------------------------------------------------------------


def render(data: StatusData, *, refresh: int | None = REFRESH_SECONDS) -> str:
    """The page as one self-contained HTML document (inline CSS and SVG, no script)."""
    tz = ZoneInfo(data.timezone)
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        + (f'<meta http-equiv="refresh" content="{refresh}">' if refresh else "")
        + f"<title>sis-sync status</title><style>{ui.CSS}</style></head><body>"
    )
    parts = [head, _header(data, tz), "<main>"]
    if not data.runs:
        parts.append('<p class="card" id="no-runs">No runs yet: nothing has been synced.</p>')
    parts += [
        _overview(data, tz),
        _runs(data, tz),
        _rejects(data),
        _refusals(data),
        _audit_section(data, tz),
        _requests_section(data),
        _quality_section(data),
        _bounces_section(data, tz),
        _outbox(data),
        '</main><footer class="muted">This page shows job, mapping, file and field names, '
        "counts, reasons and Salesforce error codes: no personal data. "
        + (f"It reloads every {refresh} s." if refresh else "")
        + "</footer></body></html>",
    ]
    return "".join(parts)


def _local(at: datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone(tz).strftime(fmt) if at else "–"


def _seconds(run: RunRow) -> float:
    return (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    return f"{minutes} min {sec} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _header(data: StatusData, tz: ZoneInfo) -> str:
    line = f"Generated {_local(data.generated_at, tz, '%Y-%m-%d %H:%M:%S')} ({escape(str(tz))})"
    health = data.health
    if health:
        state = str(health.get("status") or "failing")  # the word /healthz says
        line += f" · service {ui.badge(state)} scheduler {escape(str(health.get('scheduler')))}"
        if health.get("failing_jobs"):
            line += " · failing: " + escape(", ".join(health["failing_jobs"]))
        if (health.get("config") or {}).get("error"):
            line += " · sync.yaml did not load at the last reload (see /healthz)"
    return f'<header><h1>sis-sync status</h1><p class="muted">{line}</p></header>'


def _job_health(data: StatusData, job: str) -> dict[str, Any]:
    for entry in (data.health or {}).get("jobs", []):
        if entry.get("name") == job:
            return dict(entry)
    return {}


def _overview(data: StatusData, tz: ZoneInfo) -> str:
    cards = []
    for job, runs in data.runs.items():
        last = runs[-1]
        c = last.counts
        written = last.written  # as `status` counts it (a purge's cleared fields too)
        info = _job_health(data, job)
        nxt = info.get("next_run")
        cards.append(
            f'<div class="card" data-job="{escape(job)}"><h3>{escape(job)} '
            f"{ui.badge(str(last.status))}</h3>"
            f'<p class="muted">{"state rebuild" if last.rebuild else "run"} {last.run_id} · '
            f"{_local(last.started_at, tz)} · "
            f"{_duration(_seconds(last))}</p>"
            f"<p>written {written:,} · unchanged {c.get('unchanged', 0):,} · rejected "
            f"{c.get('rejected', 0):,} · failed {c.get('failed', 0):,}</p>"
            + (f'<p class="cause">cause: {escape(str(c["cause"]))}</p>' if c.get("cause")
               else "")
            + (f'<p class="muted">next run {_local(datetime.fromisoformat(nxt), tz)}</p>' if nxt
               else "")
            + "</div>"
        )  # fmt: skip
    cards.append(_api_card(data, tz))
    return f'<h2 id="overview">Overview</h2><div class="cards">{"".join(cards)}</div>'


def _api_card(data: StatusData, tz: ZoneInfo) -> str:
    # Salesforce reports the org's use of its rolling 24-hour allocation on every REST response
    # as "Sforce-Limit-Info: api-usage=N/M" (https://developer.salesforce.com/docs/atlas.en-us.
    # api_rest.meta/api_rest/headers_api_usage.htm); runs keep the last value in their report.
    api = data.api
    body = f"<p>sis-sync used {data.api_calls_24h:,} calls in the last 24 hours.</p>"
    if api is None:
        body += '<p class="muted">The org\'s budget is not known yet (no run report with it).</p>'
    else:
        body += (
            f'<p><span class="big" id="api-left">{api.left:,}</span> left of {api.total:,} '
            f"(used {api.used:,})</p>"
            + ui.meter("api-budget", "Daily API requests used", api.used, api.total)
            + f'<p class="muted">as of run {api.run_id}, {_local(api.at, tz)}</p>'
        )
    return f'<div class="card" id="api"><h3>API budget (org, 24 h)</h3>{body}</div>'


def _runs(data: StatusData, tz: ZoneInfo) -> str:
    out = ['<h2 id="runs">Runs over time</h2>']
    for job, runs in data.runs.items():
        actions = [a for a in ACTIONS if any(r.counts.get(a) for r in runs)]
        label = [_local(r.started_at, tz, "%d-%m %H:%M") for r in runs]
        records = [(lab, {a: int(r.counts.get(a, 0)) for a in actions})
                   for lab, r in zip(label, runs, strict=True)]  # fmt: skip
        peak = max(_seconds(r) for r in runs)
        unit, per = ("h", 3600) if peak >= 7200 else ("min", 60) if peak >= 120 else ("s", 1)
        durations = [
            (lab, _seconds(r) / per, str(r.status)) for lab, r in zip(label, runs, strict=True)
        ]
        out.append(
            f'<section class="card job" data-job="{escape(job)}"><h3>{escape(job)}</h3>'
            + '<div class="charts"><div><p class="muted">Records by action per run</p>'
            + ui.stacked_bars(f"records-{job}", f"Records by action per run of {job}", records,
                              ui.ACTION_COLOURS)
            + ui.legend(actions, ui.ACTION_COLOURS)
            + '</div><div><p class="muted">Duration and outcome per run</p>'
            + ui.outcome_bars(f"duration-{job}", f"Duration and outcome per run of {job}",
                              durations, unit)
            + ui.legend([o for o in ui.OUTCOME_COLOURS if any(d[2] == o for d in durations)],
                        ui.OUTCOME_COLOURS)
            + "</div></div>"
            + _runs_table(runs[-RUNS_LISTED:][::-1], tz)
            + "".join(f'<p class="muted">warning: {escape(str(w))}</p>'
                      for w in runs[-1].counts.get("warnings", []))
            + "</section>"
        )  # fmt: skip
    return "".join(out) if data.runs else ""


def _runs_table(runs: list[RunRow], tz: ZoneInfo) -> str:
    cols = ("created", "updated", "unchanged", "rejected", "failed")
    head = "".join(f'<th class="n">{c}</th>' for c in cols)
    rows = []
    for r in runs:
        # A state rebuild created and updated nothing in the org: its "updated" were matched.
        cells = "".join(
            '<td class="n">–</td>'
            if r.rebuild and c in ("created", "updated")
            else f'<td class="n">{int(r.counts.get(c, 0)):,}</td>'
            for c in cols
        )
        kind = ' <span class="muted">state rebuild</span>' if r.rebuild else ""
        rows.append(
            f'<tr><td class="n">{r.run_id}</td><td>{_local(r.started_at, tz)}</td>'
            f'<td>{ui.badge(str(r.status))}{kind}</td><td class="n">{_duration(_seconds(r))}</td>'
            f'{cells}<td class="n">{r.api_calls:,}</td></tr>'
        )
    return (
        '<div class="scroll"><table><thead><tr><th class="n">run</th><th>started</th>'
        f'<th>outcome</th><th class="n">duration</th>{head}<th class="n">API calls</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _counted(rows: list[tuple[int, RejectSummary]]) -> list[tuple[str, int]]:
    total: Counter[str] = Counter()
    for _, r in rows:
        total[r.reason] += r.count
    return total.most_common(12)


def _summary_table(rows: list[tuple[int, RejectSummary]], column: str, reason: str) -> str:
    body = "".join(
        f'<tr><td class="n">{run}</td><td>{escape(r.mapping)}</td><td>{escape(r.column)}</td>'
        f'<td class="wrap">{escape(r.reason)}</td><td class="n">{r.count:,}</td></tr>'
        for run, r in rows
    )
    return (
        f'<div class="scroll"><table><thead><tr><th class="n">run</th><th>mapping</th>'
        f'<th>{column}</th><th>{reason}</th><th class="n">rows</th></tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _rejects(data: StatusData) -> str:
    head = '<h2 id="rejects">Rejected rows by reason</h2>'
    if not data.rejects:
        return head + '<p class="muted">No rejected rows in the latest run of any job.</p>'
    return (
        head
        + '<p class="muted">Latest run of each job; every row: <code>sis-sync rejects</code>.</p>'
        + ui.hbars("rejects", "Rejected rows by reason", _counted(data.rejects), "#ef8f00")
        + _summary_table(data.rejects, "column", "reason")
    )


def _refusals(data: StatusData) -> str:
    head = '<h2 id="refusals">Salesforce refusals by error code</h2>'
    if not data.refusals:
        return head + '<p class="muted">Salesforce refused no record in the latest runs.</p>'
    return (
        head
        + ui.hbars("refusals", "Records Salesforce refused, by error code",
                   _counted(data.refusals), "#c62828")
        + _summary_table(data.refusals, "field", "error code")
    )  # fmt: skip


def _audit_section(data: StatusData, tz: ZoneInfo) -> str:
    head = '<h2 id="audit">Purge and erasure audit</h2>'
    if not data.audit:
        return head + '<p class="muted">Nothing purged or erased yet.</p>'
    today = data.generated_at.date()
    days = [today - timedelta(days=n) for n in range(AUDIT_DAYS - 1, -1, -1)]
    columns = [(d.strftime("%d-%m"), dict(data.audit_days.get(d, {}))) for d in days]
    colours = {"purge": "#6a1b9a", "erase": "#c62828"}
    rows = "".join(
        f'<tr><td>{escape(a)}</td><td>{escape(o)}</td><td class="wrap">{escape(r)}</td>'
        f'<td class="n">{n:,}</td><td>{_local(at, tz)}</td></tr>'
        for a, o, r, n, at in data.audit
    )
    return (
        head
        + ui.stacked_bars("audit", f"Records purged and erased per day, last {AUDIT_DAYS} days",
                          columns, colours)
        + ui.legend(list(colours), colours)
        + '<div class="scroll"><table><thead><tr><th>action</th><th>object</th><th>reason</th>'
        '<th class="n">records</th><th>last</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )  # fmt: skip


def _requests_section(data: StatusData) -> str:
    """Open data-subject requests with their deadline (reference, kind, due; no subject)."""
    from connector.clock import school_date
    from connector.gdpr.requests import when_due

    head = '<h2 id="requests">Open data-subject requests</h2>'
    if not data.open_requests:
        return head + '<p class="muted">None open.</p>'
    today = school_date(data.generated_at)
    rows = "".join(
        f"<tr><td>{escape(r.reference)}</td><td>{escape(r.kind)}</td><td>{r.due_on}</td>"
        f'<td>{escape(when_due(r, today))}</td><td class="n">{r.attempts}</td>'
        f"<td>{escape(r.last_error)}</td></tr>"
        for r in data.open_requests
    )
    return (
        head + '<div class="scroll"><table><thead><tr><th>reference</th><th>kind</th>'
        '<th>due</th><th>deadline</th><th class="n">attempts</th><th>last error</th></tr>'
        f"</thead><tbody>{rows}</tbody></table></div>"
    )


def _outbox(data: StatusData) -> str:
    synced = "".join(
        f'<tr><td>{escape(k)}</td><td class="n">{v:,}</td></tr>' for k, v in data.synced.items()
    )
    pending = ", ".join(f"{escape(k)} {v:,}" for k, v in sorted(data.outbox.items()))
    return (
        '<h2 id="records">Records and outbox</h2><div class="cards"><div class="card">'
        '<h3>Records in Salesforce per mapping</h3><div class="scroll"><table><tbody>'
        f"{synced}</tbody></table></div></div>"
        f'<div class="card"><h3>Outbox</h3><p>{pending or "empty"}</p></div></div>'
    )


def _quality_section(data: StatusData) -> str:
    head = '<h2 id="quality">Data quality of the sources</h2>'
    if data.quality_error:
        return head + f'<p class="muted">Not available: {escape(data.quality_error)}</p>'
    q = data.quality
    if q is None:
        return ""
    worst = sorted(
        (f for f in q.fields if f.rows and min(f.filled_pct, f.valid_pct or 100.0) < 100.0),
        key=lambda f: (f.valid_pct if f.valid_pct is not None else 100.0, f.filled_pct),
    )[:QUALITY_LISTED]
    # One decimal rounded down below 100 (quality.percent): 99.8 % valid is not "100 %".
    rows = "".join(
        f"<tr><td>{escape(f.mapping)}</td><td>{escape(f.field)}</td>"
        f'<td class="n">{f.rows:,}</td><td class="n">{percent(f.filled_pct)}</td>'
        f'<td class="n">{"–" if f.valid_pct is None else percent(f.valid_pct)}</td></tr>'
        for f in worst
    )
    gaps = "".join(
        f"<tr><td>{escape(g.mapping)}</td><td>{escape(g.purpose)}</td>"
        f'<td>no {escape(g.missing)}</td><td class="n">{g.count:,}</td></tr>'
        for g in q.consents
        if g.count
    )
    out = [head]
    if worst:
        out.append(
            ui.hbars("quality", "Valid values, % of the filled ones, worst fields first",
                     [(f"{f.mapping}.{f.field}", f.valid_pct) for f in worst
                      if f.valid_pct is not None], "#1565c0", shown=percent, peak=100.0)
            + '<div class="scroll"><table><thead><tr><th>mapping</th><th>field</th>'
            '<th class="n">rows</th><th class="n">filled</th><th class="n">valid</th></tr>'
            f"</thead><tbody>{rows}</tbody></table></div>"
        )  # fmt: skip
    else:
        out.append('<p class="muted">Every mapped field is filled and valid in every row.</p>')
    if gaps:
        out.append(
            '<h3>Consents without proof</h3><div class="scroll"><table><thead><tr>'
            '<th>mapping</th><th>purpose</th><th>lacks</th><th class="n">rows</th></tr>'
            f"</thead><tbody>{gaps}</tbody></table></div>"
        )
    out += [f'<p class="muted">Unreadable: {escape(m)}: {escape(w)}</p>' for m, w in q.unreadable]
    return "".join(out)


def _bounces_section(data: StatusData, tz: ZoneInfo) -> str:
    """The bounce counts `sis-sync quality` last read (this page makes no Salesforce call)."""
    head = '<h2 id="bounces">Bounced e-mail addresses</h2>'
    b = data.bounces
    if b is None:
        why = f"Not available: {escape(data.bounces_error)}. " if data.bounces_error else ""
        return head + (
            f'<p class="muted" id="bounces-unknown">{why}Not read yet: this page makes no '
            "Salesforce call. Run <code>sis-sync quality</code>: it reads the bounced addresses "
            "from Salesforce, lists them masked with their Salesforce Ids, and keeps the counts "
            "for this page.</p>"
        )
    as_of = (
        f'<p class="muted" id="bounces-as-of">as of {_local(b.as_of, tz)}, read by '
        "<code>sis-sync quality</code> (who they are: run it again)</p>"
    )
    if not b.total:
        return head + "<p>None: no Contact this connector syncs has a bounced address.</p>" + as_of
    ages = "".join(
        f'<tr><td>{escape(k)}</td><td class="n">{v:,}</td></tr>' for k, v in b.ages.items()
    )
    return (
        head
        + f'<p><span class="big" id="bounces-total">{b.total:,}</span> Contacts with a bounced '
        "address</p>"
        + ui.hbars("bounces", "Bounced e-mail addresses by reason", list(b.reasons.items()),
                   "#6d4c41")
        + '<div class="scroll"><table><thead><tr><th>age of the bounce</th>'
        f'<th class="n">contacts</th></tr></thead><tbody>{ages}</tbody></table></div>'
        + as_of
    )  # fmt: skip


# -- entry points ----------------------------------------------------------------------------


def status_page(settings: Settings, *, health: dict[str, Any] | None = None) -> str:
    """The page for the state ``settings`` name (an absent SQLite file: an empty page)."""
    store = open_existing(settings.state.url)  # reads only: never migrates, never creates
    try:
        data = collect(store, timezone=settings.service.timezone, health=health)
    finally:
        store.close()
    latest = max((r.run_id for runs in data.runs.values() for r in runs), default=0)
    data.quality, data.quality_error = source_quality(settings, latest)
    data.bounces, data.bounces_error = load_bounce_figures(settings.reports_dir())
    return render(data)


def write_status_page(settings: Settings, path: Path) -> Path:
    """Write the page to ``path`` (owner-only, as every report) and return the path."""
    write_private_text(path, status_page(settings))
    return path
