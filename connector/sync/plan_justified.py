"""Whether a planned record may be written at all: the planner's justification rule.

Pure (no store, no I/O). The planner (``plan.py``) skips such a record as "not justified"; its
opt-out rules (``plan_opt_outs.py``) read no CRM opt-out for it, as it is never written.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.privacy.policy import RETENTION_EXPIRED, Decision
from connector.state.rows import KnownRow


def not_justified(
    decision: Decision,
    prev: KnownRow | None,
    required: Sequence[str],
    content_fields: Sequence[str],
) -> bool:
    """Whether a record must not be written at all.

    - a required field is withheld: Salesforce would refuse the record without it. A record
      Salesforce holds (``prev``) whose required fields only a retention withholds is still
      written (its withdrawal or opt-out must reach Salesforce): the fields stay as they are,
      as the purge keeps them (``connector.privacy.retention``: protected fields);
    - a new record whose every field the retention withholds: the purge would delete it the
      next night (an open-day registration from months ago in a first load).
    """
    withheld = decision.withheld
    missing = [f for f in required if f in withheld]
    if missing:
        return prev is None or any(withheld[f] != RETENTION_EXPIRED for f in missing)
    if prev is not None or not content_fields:
        return False
    expired = [f for f in content_fields if withheld.get(f) == RETENTION_EXPIRED]
    return bool(expired) and not any(f in decision.payload for f in content_fields)
