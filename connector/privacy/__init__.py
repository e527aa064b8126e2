"""Privacy: the purposes register, the per-record policy, forbidden identifiers, the art. 30 record.

::

    policy = Policy(project.purposes, field_purposes, opt_out_fields=..., crm_owned=...,
                    always_send={external_id, *refs})
    decision = policy.decide(values, facts, today)   # → Decision(payload, withheld{field: reason})
    clear = {f for f, r in decision.withheld.items() if r in CLEARING}
    text = render_register(project, "html")          # GDPR art. 30, for the privacy officer
"""

from __future__ import annotations

from connector.privacy.facts import ConsentFact, Phase, SubjectFacts
from connector.privacy.identifiers import (
    contains_forbidden_number,
    forbidden_fields,
    is_bsn,
    is_onderwijsnummer,
    looks_forbidden,
)
from connector.privacy.policy import (
    ACTIVE,
    CLEARING,
    CONSENT_IN_FUTURE,
    CONSENT_MISSING,
    CONSENT_WITHDRAWN,
    CONSENT_WITHOUT_TIMESTAMP,
    CRM_OWNED,
    FORBIDDEN_NUMBER,
    MINOR_WITHOUT_PARENT,
    NO_ACTIVE_PURPOSE,
    OPT_OUT_ONE_WAY,
    REASONS,
    Decision,
    Policy,
    age_on,
)
from connector.privacy.purposes import (
    ConsentSpec,
    Duration,
    PurposeSpec,
    PurposesSpec,
    RetentionSpec,
)
from connector.privacy.register import build_register, render_register

__all__ = [
    "ACTIVE",
    "CLEARING",
    "CONSENT_IN_FUTURE",
    "CONSENT_MISSING",
    "CONSENT_WITHDRAWN",
    "CONSENT_WITHOUT_TIMESTAMP",
    "CRM_OWNED",
    "FORBIDDEN_NUMBER",
    "MINOR_WITHOUT_PARENT",
    "NO_ACTIVE_PURPOSE",
    "OPT_OUT_ONE_WAY",
    "REASONS",
    "ConsentFact",
    "ConsentSpec",
    "Decision",
    "Duration",
    "Phase",
    "Policy",
    "PurposeSpec",
    "PurposesSpec",
    "RetentionSpec",
    "SubjectFacts",
    "age_on",
    "build_register",
    "contains_forbidden_number",
    "forbidden_fields",
    "is_bsn",
    "is_onderwijsnummer",
    "looks_forbidden",
    "render_register",
]
