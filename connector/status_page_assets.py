"""The status page's inline style and its charts: SVG drawn on the server, no script, no CDN.

Every chart is an ``<svg class="chart" data-chart=NAME>`` with a ``viewBox`` and ``width:100%``,
so it scales from a 375-px phone to a desktop; its ``<title>`` and each bar's ``<title>`` say in
words what the shapes show (screen readers, hover). Labels are job, mapping, reason and error-code
names and counts only: whatever a caller passes is escaped here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

from connector.quality import percent

# Outcome and action colours; the same hue means the same thing in every chart and badge.
OUTCOME_COLOURS = {
    "ok": "#2e7d32",
    "partial": "#ef8f00",
    "failed": "#c62828",
    "aborted": "#6d4c41",
    "running": "#1565c0",
}
ACTION_COLOURS = {
    "created": "#2e7d32",
    "updated": "#1565c0",
    "unchanged": "#b0bec5",
    "rejected": "#ef8f00",
    "failed": "#c62828",
    "deleted": "#6a1b9a",
    "already_gone": "#9e9e9e",
}

CSS = """
:root{color-scheme:light;--ink:#1b1f23;--muted:#5f6b76;--line:#dde3e8;--card:#fff;--bg:#f4f6f8}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--ink);background:var(--bg)}
header,main{max-width:72rem;margin:0 auto;padding:0 1rem}
header{padding-top:1rem}
h1{font-size:1.4rem;margin:.2rem 0}
h2{font-size:1.15rem;margin:1.6rem 0 .5rem}
h3{font-size:1rem;margin:.8rem 0 .3rem}
p{margin:.3rem 0}
.muted{color:var(--muted);font-size:.9rem}
.cause{color:#c62828;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.8rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.8rem}
.badge{display:inline-block;border-radius:1rem;padding:0 .6rem;color:#fff;font-weight:600;
font-size:.85rem;white-space:nowrap}
.big{font-size:1.5rem;font-weight:700}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.9rem;background:var(--card)}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.wrap{white-space:normal;min-width:12rem}
svg.chart{display:block;width:100%;max-width:36rem;height:auto;margin:.3rem 0}
svg.chart text{font:14px system-ui,"DejaVu Sans",sans-serif;fill:#37474f}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:0 1.2rem}
.legend{display:flex;flex-wrap:wrap;gap:.2rem .8rem;font-size:.85rem;margin:.2rem 0}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:.15rem;margin-right:.25rem;
vertical-align:-.1rem}
footer{max-width:72rem;margin:2rem auto 1rem;padding:0 1rem}
"""


def badge(outcome: str) -> str:
    """A coloured badge for a run outcome (ok, partial, failed, aborted, running)."""
    colour = OUTCOME_COLOURS.get(outcome, "#607d8b")
    return f'<span class="badge" style="background:{colour}">{escape(outcome)}</span>'


def legend(names: Sequence[str], colours: Mapping[str, str]) -> str:
    """A row of colour keys for the charts above it."""
    items = "".join(
        f'<span><i style="background:{colours.get(n, "#607d8b")}"></i>{escape(n)}</span>'
        for n in names
    )
    return f'<div class="legend">{items}</div>'


def stacked_bars(
    name: str,
    title: str,
    columns: Sequence[tuple[str, Mapping[str, int]]],
    colours: Mapping[str, str],
) -> str:
    """Vertical bars, one per column (a run), each stacked by key (an action), oldest left.

    ``columns`` is ``[(label, {action: count})]``; the y axis runs from 0 to the tallest bar.
    """
    width, height, top, bottom, left = 400, 170, 14, 22, 36
    plot_h = height - top - bottom
    peak = max((sum(c.values()) for _, c in columns), default=0) or 1
    n = max(len(columns), 1)
    slot = (width - left - 4) / n
    bar = max(min(slot * 0.75, 40), 2)
    parts = [_axis(left, top, width, plot_h, peak)]
    for i, (label, counts) in enumerate(columns):
        x = left + i * slot + (slot - bar) / 2
        y: float = top + plot_h
        for key, value in counts.items():
            if value <= 0:
                continue
            h = plot_h * value / peak
            y -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colours.get(key, "#607d8b")}"><title>{escape(label)}: '
                f"{escape(key)} {value:,}</title></rect>"
            )
    if columns:
        parts.append(_xlabels(columns[0][0], columns[-1][0], left, width, height))
    return _svg(name, title, width, height, parts)


def outcome_bars(
    name: str, title: str, columns: Sequence[tuple[str, float, str]], unit: str = "s"
) -> str:
    """Vertical bars of one value per column (a run's duration), coloured by its outcome."""
    width, height, top, bottom, left = 400, 130, 14, 22, 48
    plot_h = height - top - bottom
    peak = max((v for _, v, _ in columns), default=0) or 1
    n = max(len(columns), 1)
    slot = (width - left - 4) / n
    bar = max(min(slot * 0.75, 40), 2)
    parts = [_axis(left, top, width, plot_h, peak, f" {unit}")]
    for i, (label, value, outcome) in enumerate(columns):
        h = max(plot_h * value / peak, 1.5)
        x = left + i * slot + (slot - bar) / 2
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
            f'height="{h:.1f}" fill="{OUTCOME_COLOURS.get(outcome, "#607d8b")}">'
            f"<title>{escape(label)}: {escape(outcome)}, {value:,.1f} {unit}</title></rect>"
        )
    if columns:
        parts.append(_xlabels(columns[0][0], columns[-1][0], left, width, height))
    return _svg(name, title, width, height, parts)


def hbars(
    name: str,
    title: str,
    items: Sequence[tuple[str, float]],
    colour: str,
    *,
    shown: Callable[[float], str] = "{:,}".format,
    peak: float | None = None,
) -> str:
    """Horizontal bars, one per labelled value, in the order given; each label sits above its
    bar at full width, so a long reason stays legible on a phone.

    ``shown`` writes a value as text (a percentage: ``quality.percent``, so 99.8 is never drawn
    as "100 %"); bars are as long as value / ``peak`` (default: the largest value; 100 for
    percentages, so 99.8 % is not a full bar).
    """
    row, width = 40, 400
    height = max(len(items), 1) * row + 4
    top = peak or max((v for _, v in items), default=0) or 1
    parts = []
    for i, (label, value) in enumerate(items):
        y = 2 + i * row
        w = max((width - 2) * min(value / top, 1.0), 1.5)
        short = label if len(label) <= 46 else label[:45] + "…"
        text = escape(shown(value))
        parts.append(
            f'<text x="1" y="{y + 14}">{escape(short)}</text>'
            f'<text x="{width - 1}" y="{y + 14}" text-anchor="end">{text}</text>'
            f'<rect class="bar" x="1" y="{y + 20}" width="{w:.1f}" height="14" rx="2" '
            f'fill="{colour}"><title>{escape(label)}: {text}</title></rect>'
        )
    return _svg(name, title, width, height, parts)


def meter(name: str, title: str, used: int, total: int) -> str:
    """A horizontal gauge of ``used`` out of ``total``: green, amber above 75 %, red above 90 %."""
    width, height = 400, 34
    share = min(used / total, 1.0) if total > 0 else 0.0
    colour = "#2e7d32" if share < 0.75 else "#ef8f00" if share < 0.9 else "#c62828"
    w = max((width - 2) * share, 1.5)
    # quality.percent's rule: 99.6 % used is not "100 %" (the org is not yet out of calls).
    shown = percent(used / total * 100 if total > 0 else 0.0)
    parts = [
        f'<rect x="1" y="4" width="{width - 2}" height="26" rx="4" fill="#eceff1" '
        'stroke="#cfd8dc"/>',
        f'<rect class="bar" x="1" y="4" width="{w:.1f}" height="26" rx="4" fill="{colour}">'
        f"<title>{used:,} of {total:,} used</title></rect>",
        f'<text x="{width / 2}" y="22" text-anchor="middle">{shown} used</text>',
    ]
    return _svg(name, title, width, height, parts)


def _svg(name: str, title: str, width: int, height: int, parts: Sequence[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" role="img" viewBox="0 0 {width} '
        f'{height}" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def _axis(left: int, top: int, width: int, plot_h: float, peak: float, unit: str = "") -> str:
    base = top + plot_h
    return (
        f'<line x1="{left}" y1="{base}" x2="{width}" y2="{base}" stroke="#90a4ae"/>'
        f'<line x1="{left}" y1="{top}" x2="{width}" y2="{top}" stroke="#eceff1"/>'
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_short(peak)}{unit}</text>'
        f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>'
    )


def _xlabels(first: str, last: str, left: int, width: int, height: int) -> str:
    y = height - 6
    out = f'<text x="{left}" y="{y}">{escape(first)}</text>'
    if last != first:
        out += f'<text x="{width}" y="{y}" text-anchor="end">{escape(last)}</text>'
    return out


def _short(value: float) -> str:
    """1234 → 1.2k, 2500000 → 2.5M: the y-axis label stays inside the left margin."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
