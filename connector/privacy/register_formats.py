"""How the record of processing activities is printed: Markdown, CSV and a standalone HTML page.

The rows come from :func:`connector.privacy.register.build_register`; these functions only lay
them out. Everything is escaped for its format; output is sorted and so repeatable.
"""

from __future__ import annotations

import csv
import html
import io
from itertools import groupby

from connector.csv_cells import safe_row
from connector.privacy.register import FieldRow, PurposeRow, Register
from connector.privacy.register_art30 import is_missing


def _per_mapping(fields: tuple[FieldRow, ...]) -> list[tuple[tuple[str, str], list[FieldRow]]]:
    return [(k, list(g)) for k, g in groupby(fields, key=lambda f: (f.mapping, f.source))]


def _properties(p: PurposeRow) -> list[tuple[str, str]]:
    """A purpose's property table (label, value), the same in Markdown and HTML."""
    return [
        ("Lawful basis", p.basis_words),
        ("Legal reference", p.legal_reference or "—"),
        ("Data subjects", p.data_subjects),
        ("Recipients", p.recipients),
        ("Retention", p.retention),
        ("Consent", p.consent),
        ("Proof of consent kept", p.proof),
    ]


# -- Markdown --------------------------------------------------------------------------------


def _md(text: str) -> str:
    """A table cell or line: one line, pipes escaped, and no HTML (``<``, ``>`` and ``&`` as
    entities): a Markdown viewer renders inline HTML, and the controller's name or a purpose's
    description must not become an ``<img onerror=…>``."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


PERSON_OBJECTS_TEXT = (
    "The Salesforce objects that hold a person's data for these mappings. Erasure (AVG art. 17) "
    "and the retention purge (art. 5(1)(e)) delete them with the person, children first; the "
    "export (art. 15, 20) lists them. Individual and ContactPointTypeConsent only where the org "
    "has Salesforce's consent model."
)


def render_markdown(reg: Register) -> str:
    """The register as Markdown: headings, a property table per purpose, a field table."""
    out = [
        "# Record of processing activities (AVG/GDPR art. 30)",
        "",
        f"- **Controller:** {_md(reg.controller_text)}",
        f"- **Data protection officer (FG):** {_md(reg.dpo_text)}",
        f"- **Generated on:** {reg.generated_on.isoformat()} by sis-sync from purposes.yaml "
        "and the mappings",
        "",
        "## Art. 30(1) at a glance",
        "",
        "| Art. 30(1) | Item | In this register |",
        "|---|---|---|",
    ]
    out += [f"| ({i.letter}) | {_md(i.title)} | {_md(i.text)} |" for i in reg.art30]
    out.append("")
    for p in reg.purposes:
        out += [f"## Purpose: {_md(p.name)}", "", _md(p.description), ""]
        out += ["| | |", "|---|---|"]
        out += [f"| {k} | {_md(v)} |" for k, v in _properties(p)]
        out += ["", "### Categories of personal data (Salesforce fields)", ""]
        if not p.fields:
            out += ["No Salesforce field is sent for this purpose by the current mappings.", ""]
            continue
        for (mapping, source), rows in _per_mapping(p.fields):
            out += [f"#### Mapping {_md(mapping)} ({_md(source)})", ""]
            out += ["| Field | Label | Source columns |", "|---|---|---|"]
            out += [f"| {_md(f.field)} | {_md(f.label)} | {_md(f.columns)} |" for f in rows]
            out.append("")
    out += ["## Read to apply the rules, not transferred", ""]
    if reg.read_not_sent:
        out += ["| Mapping | Column | Why it is read |", "|---|---|---|"]
        out += [f"| {_md(m)} | {_md(c)} | {_md(w)} |" for m, c, w in reg.read_not_sent]
    else:
        out.append("Nothing.")
    out += ["", "## Where a person's data is held, and what erasure and the purge delete", ""]
    out += [_md(PERSON_OBJECTS_TEXT), ""]
    out += [f"- {_md(o)}" for o in reg.person_objects]
    out += ["", "## Never transferred", ""]
    out += [f"- {_md(s)}" for s in reg.special_categories]
    out += ["", _md(reg.forbidden_rule), ""]
    out += _refused_lines(reg, bullet="- ")
    out += ["", "## Processor and transfers", ""]
    out += [f"- {_md(t)}" for t in reg.processor]
    out += ["", "Transfers outside the EEA (AVG art. 30(1)(e), 44-49):", ""]
    if reg.transfers:
        out += ["| Recipient | Country | Safeguard |", "|---|---|---|"]
        out += [
            f"| {_md(t.recipient)} | {_md(t.country)} | {_md(t.mechanism)} |" for t in reg.transfers
        ]
    else:
        out.append(_md(reg.transfers_text))
    out += ["", "## Security measures (AVG art. 30(1)(g), 32)", ""]
    if reg.security_measures:
        out += [f"- {_md(m)}" for m in reg.security_measures]
    else:
        out.append(_md(reg.measures_text))
    out += ["", _md(reg.built_in_measures)]
    return "\n".join(out) + "\n"


def _refused_lines(reg: Register, *, bullet: str) -> list[str]:
    if not reg.refused_columns:
        return [
            "None of the columns the mappings read is such a column (the loader refuses them; "
            "columns a source holds but no mapping names are never read)."
        ]
    lines = ["Columns named in the mappings that are refused:"]
    lines += [f"{bullet}{m}: {c} — {r}" for m, c, r in reg.refused_columns]
    return lines


# -- CSV -------------------------------------------------------------------------------------

CSV_HEADER = (
    "purpose",
    "description",
    "lawful_basis",
    "lawful_basis_words",
    "legal_reference",
    "data_subjects",
    "recipients",
    "retention",
    "consent",
    "proof_of_consent",
    "mapping",
    "source",
    "object",
    "field",
    "label",
    "source_columns",
    "controller",
    "data_protection_officer",
    "third_country_transfers",
    "security_measures",
    "objects_erasure_and_purge_reach",
)


def render_csv(reg: Register) -> str:
    """One row per (purpose, mapping, field); a purpose without fields gets one row of its own.

    The items of art. 30(1) that hold for the whole register (controller, DPO, transfers,
    security measures) are repeated on every row, so a filtered sheet still shows them.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    tail = [
        reg.controller_text,
        reg.dpo_text,
        reg.transfers_text,
        reg.measures_text,
        ", ".join(reg.person_objects),
    ]
    for p in reg.purposes:
        head = [
            p.name,
            p.description,
            p.basis,
            p.basis_words,
            p.legal_reference,
            p.data_subjects,
            p.recipients,
            p.retention,
            p.consent,
            p.proof,
        ]
        if not p.fields:
            writer.writerow(safe_row([*head, "", "", "", "", "", "", *tail]))
        for f in p.fields:
            row = [f.mapping, f.source, f.object, f.field, f.label, f.columns]
            writer.writerow(safe_row([*head, *row, *tail]))
    return buf.getvalue()


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;
max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #999}
h3{font-size:1rem}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}table.props th{width:14rem}.missing{background:#fff8d0;font-weight:600}
section{page-break-inside:avoid}
@media print{body{margin:0;max-width:none;font-size:11px}h2{page-break-after:avoid}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _td(text: str) -> str:
    """A table cell; an item purposes.yaml does not state is highlighted."""
    css = ' class="missing"' if is_missing(text) else ""
    return f"<td{css}>{_e(text)}</td>"


def render_html(reg: Register) -> str:
    """A standalone, printable page: inline CSS, no scripts, every text escaped."""
    title = f"Record of processing activities — {reg.controller}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        "<h1>Record of processing activities (AVG/GDPR art. 30)</h1>",
        '<table class="props">',
        f"<tr><th>Controller</th>{_td(reg.controller_text)}</tr>",
        f"<tr><th>Data protection officer (FG)</th>{_td(reg.dpo_text)}</tr>",
        f"<tr><th>Generated on</th><td>{reg.generated_on.isoformat()} by sis-sync from "
        "purposes.yaml and the mappings</td></tr>",
        "</table>",
        '<section id="art30"><h2>Art. 30(1) at a glance</h2>',
        "<table><tr><th>Art. 30(1)</th><th>Item</th><th>In this register</th></tr>",
    ]
    out += [f"<tr><td>({i.letter})</td><td>{_e(i.title)}</td>{_td(i.text)}</tr>" for i in reg.art30]
    out.append("</table></section>")
    for p in reg.purposes:
        out.append(f'<section id="purpose-{_e(p.name)}"><h2>Purpose: {_e(p.name)}</h2>')
        css = ' class="missing"' if is_missing(p.description) else ""
        out.append(f"<p{css}>{_e(p.description)}</p>")
        out.append('<table class="props">')
        out += [f"<tr><th>{_e(k)}</th>{_td(v)}</tr>" for k, v in _properties(p)]
        out.append("</table><h3>Categories of personal data (Salesforce fields)</h3>")
        if p.fields:
            for (mapping, source), rows in _per_mapping(p.fields):
                out.append(f"<h4>Mapping {_e(mapping)} ({_e(source)})</h4>")
                out.append("<table><tr><th>Field</th><th>Label</th><th>Source columns</th></tr>")
                out += [
                    f"<tr><td>{_e(f.field)}</td><td>{_e(f.label)}</td><td>{_e(f.columns)}</td></tr>"
                    for f in rows
                ]
                out.append("</table>")
        else:
            out.append(
                "<p>No Salesforce field is sent for this purpose by the current mappings.</p>"
            )
        out.append("</section>")
    out.append("<section><h2>Read to apply the rules, not transferred</h2>")
    if reg.read_not_sent:
        out.append("<table><tr><th>Mapping</th><th>Column</th><th>Why it is read</th></tr>")
        out += [
            f"<tr><td>{_e(m)}</td><td>{_e(c)}</td><td>{_e(w)}</td></tr>"
            for m, c, w in reg.read_not_sent
        ]
        out.append("</table>")
    else:
        out.append("<p>Nothing.</p>")
    out.append(
        "</section><section><h2>Where a person's data is held, and what erasure and the purge "
        f"delete</h2><p>{_e(PERSON_OBJECTS_TEXT)}</p><ul>"
    )
    out += [f"<li>{_e(o)}</li>" for o in reg.person_objects]
    out.append("</ul></section><section><h2>Never transferred</h2><ul>")
    out += [f"<li>{_e(s)}</li>" for s in reg.special_categories]
    out.append(f"</ul><p>{_e(reg.forbidden_rule)}</p>")
    refused = _refused_lines(reg, bullet="")
    out.append(f"<p>{_e(refused[0])}</p>")
    if len(refused) > 1:
        out.append("<ul>" + "".join(f"<li>{_e(line)}</li>" for line in refused[1:]) + "</ul>")
    out.append("</section><section><h2>Processor and transfers</h2><ul>")
    out += [f"<li>{_e(t)}</li>" for t in reg.processor]
    out.append("</ul><p>Transfers outside the EEA (AVG art. 30(1)(e), 44-49):</p>")
    if reg.transfers:
        out.append("<table><tr><th>Recipient</th><th>Country</th><th>Safeguard</th></tr>")
        out += [
            f"<tr><td>{_e(t.recipient)}</td><td>{_e(t.country)}</td><td>{_e(t.mechanism)}</td></tr>"
            for t in reg.transfers
        ]
        out.append("</table>")
    else:
        out.append(f'<p class="missing">{_e(reg.transfers_text)}</p>')
    out.append("</section><section><h2>Security measures (AVG art. 30(1)(g), 32)</h2>")
    if reg.security_measures:
        out.append("<ul>" + "".join(f"<li>{_e(m)}</li>" for m in reg.security_measures) + "</ul>")
    else:
        out.append(f'<p class="missing">{_e(reg.measures_text)}</p>')
    out.append(f"<p>{_e(reg.built_in_measures)}</p></section></body></html>")
    return "\n".join(line for line in out if line) + "\n"
