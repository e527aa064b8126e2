"""Per-field minimisation by the retention purge (GDPR art. 5(1)(c), issue 9.6).

A record that stays (a consent or another purpose still holds) loses the fields whose every
purpose has expired: an ended student with a news consent keeps the consent's fields, not their
e-mail address, birth date, address or programme. The plan is
:func:`connector.gdpr.purge_plan.plan_minimise`; this module sends it.

How a field is cleared: an update by Salesforce Id with the field set to null — the same way the
sync clears a field (``connector.sync.diff``): sObject Collections take JSON ``null``, Bulk API
2.0 takes ``#N/A`` (the writer translates; Bulk API 2.0 Developer Guide, "Prepare CSV Files").
Only what Salesforce confirmed is recorded: the field hashes become empty in state
(:func:`connector.state.anchors.clear_fields`) and one audit line per record (action
``minimise``) names the fields and the expired purposes — never a value. A refused update stays
in the plan of the next purge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.gdpr.purge_plan import Minimise
from connector.state import AuditEntry, StateStore
from connector.state.anchors import clear_fields

EXAMPLES = 3


@dataclass(slots=True)
class FieldGroup:
    """Records of one mapping whose same fields are (to be) cleared for the same reason."""

    mapping: str
    object: str
    fields: tuple[str, ...]
    reason: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass(slots=True)
class MinimiseOutcome:
    """What the minimisation found and did: groups (names, ids, counts), and when applied the
    records cleared and those Salesforce refused (object, Id, error code)."""

    groups: list[FieldGroup] = field(default_factory=list)
    records: int = 0
    fields: int = 0
    cleared: int = 0
    fields_cleared: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def summarise(items: Sequence[Minimise]) -> MinimiseOutcome:
    """Group the planned clears for the dry run and the report."""
    groups: dict[tuple[str, str, tuple[str, ...], str], FieldGroup] = {}
    for m in items:
        key = (m.row.mapping, m.row.object, tuple(m.fields), m.reason)
        g = groups.setdefault(key, FieldGroup(*key))
        g.count += 1
        if m.row.sf_id and len(g.examples) < EXAMPLES:
            g.examples.append(m.row.sf_id)
    return MinimiseOutcome(
        sorted(groups.values(), key=lambda g: (g.mapping, g.fields)),
        records=len(items),
        fields=sum(len(m.fields) for m in items),
    )


def apply_minimise(
    writer: Any,
    store: StateStore,
    items: Sequence[Minimise],
    out: MinimiseOutcome,
    *,
    now: datetime,
    run_id: int | None,
) -> None:
    """Clear the planned fields in Salesforce (one update call per object and chunk), then
    record what Salesforce confirmed (state and audit); refusals go to ``out.failed``."""
    by_object: dict[str, list[Minimise]] = {}
    for m in items:
        if m.row.sf_id:
            by_object.setdefault(m.row.object, []).append(m)
    for obj, group in sorted(by_object.items()):
        rows = [{"Id": m.row.sf_id, **dict.fromkeys(m.fields)} for m in group]
        results = writer.update(obj, rows)
        done: dict[str, dict[str, list[str]]] = {}
        audit: list[AuditEntry] = []
        for m, r in zip(group, results, strict=True):
            if not r.ok:
                out.failed.append((obj, m.row.sf_id or "", r.error_code or "UNKNOWN"))
                continue
            done.setdefault(m.row.mapping, {})[m.row.key_hash] = m.fields
            audit.append(AuditEntry("minimise", obj, m.row.sf_id, m.reason[:255], now, "", run_id))
            out.cleared += 1
            out.fields_cleared += len(m.fields)
        for mapping, cleared in done.items():
            clear_fields(store, mapping, cleared)
        store.add_audit(audit)


def counts(out: MinimiseOutcome) -> dict[str, int]:
    """Counts for the run history (``status``): records minimised and fields cleared."""
    return {"minimised": out.cleared, "fields_cleared": out.fields_cleared}
