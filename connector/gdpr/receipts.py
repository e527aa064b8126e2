"""Receipts of data-subject requests: what was done, when, under which reference — nothing personal.

One receipt per finished request, in a ``receipts/`` folder beside the state (``state/receipts``
for the default SQLite state), as JSON for machines and a text the privacy officer can attach
to the answer to the person: ``DSR-2026-0007.json`` and ``DSR-2026-0007.txt``. Both are
owner-only files (0600) in an owner-only folder, like every file sis-sync keeps beside its state.

A receipt holds the reference, the kind, the dates, the objects and how many records of each,
the tombstones by kind, the purposes (an objection) and notes in words. Never a name, e-mail
address, student number, keyed hash or Salesforce id: it may be handed to the person or their
representative, and it must not link them to anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.state.db import make_private_dir, write_private_text
from connector.state.requests import RequestRow

_TITLES = {
    "erase": "Erasure (GDPR art. 17)",
    "export": "Access and portability (GDPR art. 15 and 20)",
    "object": "Objection (GDPR art. 21)",
}


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a finished request did, in counts and words only.

    ``action`` is the verb of ``records`` (``removed``, ``exported``, ``marked``); ``records``
    counts them per Salesforce object; ``already_gone`` counts records found already deleted;
    ``tombstones`` counts the suppression entries per kind (student, email, key);
    ``forgotten`` the local-state rows removed; ``purposes`` the purposes of an objection.
    """

    action: str = "removed"
    records: Mapping[str, int] = field(default_factory=dict)
    already_gone: Mapping[str, int] = field(default_factory=dict)
    tombstones: Mapping[str, int] = field(default_factory=dict)
    forgotten: int = 0
    purposes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def receipt_data(
    request: RequestRow, receipt: Receipt, *, completed_at: datetime
) -> dict[str, Any]:
    """The JSON document of a receipt."""
    return {
        "reference": request.reference,
        "kind": request.kind,
        "received_at": request.received_at.isoformat(),
        "due_on": request.due_on.isoformat(),
        "completed_at": completed_at.isoformat(),
        "attempts": request.attempts + 1,
        receipt.action: dict(sorted(receipt.records.items())),
        "already_gone": dict(sorted(receipt.already_gone.items())),
        "tombstones": dict(sorted(receipt.tombstones.items())),
        "local_records_forgotten": receipt.forgotten,
        "purposes": list(receipt.purposes),
        "notes": list(receipt.notes),
    }


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{obj} {n}" for obj, n in sorted(counts.items())) or "none"


def receipt_text(request: RequestRow, receipt: Receipt, *, completed_at: datetime) -> str:
    """The readable text of a receipt (what the officer can attach to the answer)."""
    lines = [
        f"{_TITLES.get(request.kind, request.kind)} — request {request.reference}",
        "",
        f"Received:   {request.received_at:%Y-%m-%d %H:%M} UTC",
        f"Due:        {request.due_on:%Y-%m-%d} (one month after receipt, GDPR art. 12(3))",
        f"Completed:  {completed_at:%Y-%m-%d %H:%M} UTC (attempt {request.attempts + 1})",
        "",
        f"Records {receipt.action} in Salesforce: {_counts(receipt.records)}",
    ]
    if receipt.already_gone:
        lines.append(f"Records already gone: {_counts(receipt.already_gone)}")
    if receipt.tombstones:
        lines.append(
            f"Suppression entries kept so no later sync recreates the person: "
            f"{_counts(receipt.tombstones)}"
        )
    if request.kind == "erase":
        lines.append(f"Local records forgotten: {receipt.forgotten}")
    if receipt.purposes:
        lines.append(f"Purposes: {', '.join(receipt.purposes)}")
    lines.extend(receipt.notes)
    lines += ["", "This receipt holds no personal data: only counts, dates and the reference."]
    return "\n".join(lines) + "\n"


def write_receipt(
    folder: Path, request: RequestRow, receipt: Receipt, *, completed_at: datetime
) -> Path:
    """Write ``REFERENCE.json`` and ``REFERENCE.txt`` (owner-only) into ``folder``; return the
    JSON file's path."""
    make_private_dir(folder)
    data = receipt_data(request, receipt, completed_at=completed_at)
    path = folder / f"{request.reference}.json"
    write_private_text(path, json.dumps(data, indent=2) + "\n")
    text = receipt_text(request, receipt, completed_at=completed_at)
    write_private_text(path.with_suffix(".txt"), text)
    return path
