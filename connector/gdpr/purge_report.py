"""The report of an applied retention purge: ``purge-<run>-<time>.json`` and ``.txt`` in the
reports folder, beside the sync runs' reports (owner-only files, like theirs).

What it holds: the date, the run, per mapping and object what was deleted and why (purposes,
anchors), the fields cleared on records that stay (art. 5(1)(c)), persons purged and kept,
mappings never purged and why, and Salesforce's refusals (object, Id, error code). Names, Ids and
counts only — never a personal value (GDPR art. 5(1)(f); the same rule as the audit trail).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from connector.state.db import make_private_dir, write_private_text


def report_data(outcome: Any) -> dict[str, Any]:
    """The report as JSON-able data (a ``PurgeOutcome``; ids, names and counts only)."""
    m = outcome.minimise
    return {
        "kind": "purge",
        "run_id": outcome.run_id,
        "as_of": outcome.on.isoformat(),
        "applied": outcome.applied,
        "deleted": outcome.deleted,
        "already_gone": outcome.already_gone,
        "persons": outcome.persons,
        "kept_persons": outcome.kept_persons,
        "groups": [
            {**asdict(g), "until": g.until.isoformat() if g.until else None} for g in outcome.groups
        ],
        "minimised": {
            "records": m.cleared,
            "fields_cleared": m.fields_cleared,
            "groups": [{**asdict(g), "fields": list(g.fields)} for g in m.groups],
            "refused": [{"object": o, "id": i, "code": c} for o, i, c in m.failed],
        },
        "never_purged": dict(sorted(outcome.notes.items())),
        "refused": [{"object": o, "id": i, "code": c} for o, i, c in outcome.failed],
    }


def report_text(data: dict[str, Any]) -> str:
    """The same report for people."""
    lines = [
        f"retention purge {data['run_id']} as of {data['as_of']}: deleted {data['deleted']} "
        f"records ({data['persons']} persons), already gone {data['already_gone']}, "
        f"refused {len(data['refused'])}; kept persons {data['kept_persons']}",
    ]
    for g in data["groups"]:
        lines.append(f"  deleted {g['mapping']} ({g['object']}): {g['count']} - {g['reason']}")
    m = data["minimised"]
    lines.append(
        f"fields cleared on records that stay (art. 5(1)(c)): {m['fields_cleared']} fields on "
        f"{m['records']} records, refused {len(m['refused'])}"
    )
    for g in m["groups"]:
        lines.append(f"  {g['mapping']} ({g['object']}): {g['count']} - {g['reason']}")
    for mapping, why in data["never_purged"].items():
        lines.append(f"{mapping}: never purged ({why})")
    for r in [*data["refused"], *m["refused"]]:
        lines.append(f"refused: {r['object']} {r['id']}: {r['code']}")
    return "\n".join(lines) + "\n"


def write_purge_report(outcome: Any, folder: Path, started: Any) -> Path:
    """Write the report of an applied purge into ``folder``; return the JSON file's path."""
    make_private_dir(folder)
    stem = f"purge-{outcome.run_id or 0:06d}-{started:%Y%m%dT%H%M%S}"
    data = report_data(outcome)
    path = folder / f"{stem}.json"
    write_private_text(path, json.dumps(data, indent=2))
    write_private_text(folder / f"{stem}.txt", report_text(data))
    return path
