"""What the policy needs to know about one data subject, extracted from a source record.

The mapping engine builds these from the columns that purposes.yaml and the mapping's
``lifecycle`` and ``subject_birthdate`` name; the policy reads nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Phase(StrEnum):
    """Where a person stands with the school, from the mapping's lifecycle column."""

    PROSPECT = "prospect"  # known from an event or enquiry only
    APPLIED = "applied"  # aangemeld
    ENROLLED = "enrolled"  # ingeschreven
    ENDED = "ended"  # uitgeschreven, afgewezen, ingetrokken


@dataclass(frozen=True, slots=True)
class ConsentFact:
    """One consent as the source recorded it (GDPR art. 7(1): it must be demonstrable).

    ``given`` is True for yes, False for an explicit no or withdrawal, None when the source says
    nothing. ``at`` is when it was given or withdrawn; ``by`` is ``"self"`` or ``"parent"``.
    ``since``: for a withdrawal without ``at``, when the school first learnt of it (state
    keeps it: ``connector/state/withdrawals.py``) — the moment its consent record carries, so
    it does not move to each run's clock; the policy never reads it.
    """

    given: bool | None
    at: datetime | None = None
    by: str | None = None
    source: str | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """Facts about the data subject of one record.

    ``phase`` is None when the mapping declares no lifecycle: every record the source holds is
    then in its active phase (DESIGN §6). ``objected`` names the purposes the person objected to
    (GDPR art. 21, ``sis-sync object``): never active for them again, whatever a row says.
    """

    birthdate: date | None = None
    phase: Phase | None = None
    phase_at: date | None = None
    consents: Mapping[str, ConsentFact] = field(default_factory=dict)
    event_date: date | None = None
    objected: frozenset[str] = frozenset()
