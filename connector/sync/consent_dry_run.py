"""The consent stage of ``sis-sync plan``: counts the consent records a run would write.

A plan's counts are the run's counts (issue #12): where the run writes an ``Individual`` and a
``ContactPointTypeConsent`` per person and consent purpose (``consent_stage.py``), the plan
reports them under the same names (``consent:individual``, ``consent:<purpose>``), created or
updated, from the same entries and the same field hashes state remembers. It writes nothing
and makes no Salesforce call:

* a Contact the plan would create has no Id yet; it stands in as ``planned:<key hash>``, so its
  Individual and consents count as created (their external ids hash the Contact Id);
* the plan cannot ask the org whether it has Salesforce's consent objects (describe is a call):
  it counts them as an org that has them receives them. In an org without them the run writes
  the consent fields only, and its counts have no ``consent:*`` lines (docs/privacy.md).
"""

from __future__ import annotations

from connector.salesforce.consent_objects import CONSENT, INDIVIDUAL
from connector.sync.consent_records import INDIVIDUALS, ConsentEntry, ConsentPlan, state_name
from connector.sync.consent_stage import ConsentStage

PLANNED = "planned:"  # the stand-in Id of a Contact the plan would create


class PlannedConsents(ConsentStage):
    """A :class:`ConsentStage` that counts instead of writing (construct it with ``org=None``)."""

    def _contact_ids(self, contact_keys: list[str]) -> dict[str, str]:
        known = super()._contact_ids(contact_keys)
        return {k: known.get(k) or PLANNED + k for k in contact_keys}

    def _confirm(self, contact_keys: set[str]) -> None:
        """A plan writes no state: nothing is held back to be remembered."""
        self.deferred.clear()

    def _send_plan(self, plan: ConsentPlan, entries: list[ConsentEntry]) -> set[str]:
        """Count what :meth:`ConsentStage._send` would write: created unless state knows it."""
        if plan.individuals:
            rep = self._report(INDIVIDUALS, INDIVIDUAL)
            for w in plan.individuals:
                if w.known_id is None:
                    rep.created += 1
                else:
                    rep.updated += 1
        by_purpose: dict[str, list[str]] = {}
        for c in plan.consents:
            by_purpose.setdefault(c.purpose, []).append(c.key)
        for purpose, keys in by_purpose.items():
            rep = self._report(state_name(purpose), CONSENT)
            known = self.store.known(state_name(purpose), sorted(set(keys)))
            for key in keys:
                if key in known:
                    rep.updated += 1
                else:
                    rep.created += 1
        return set()
