"""A withdrawal the school knows of outweighs an older "ja" in any export (pure, no I/O).

A person may answer the same consent purpose in two exports: "ja" on the intake form the student
export carries (with its date and source), "nee" on an open-day registration in November. The
newest statement stands (GDPR art. 7(3): withdrawing must be as easy as giving, and it holds
from then on), whichever mapping's row carries it and in whatever order the job runs them — the
rule Salesforce's consent record already follows (``sync/consent_records.py``: the latest
capture stands, and an OptOut wins a tie). Without it the student mapping, which owns the
Contact's consent fields, kept sending its older "ja" while the consent record said OptOut.

:func:`with_withdrawals` applies it to one row's facts; :func:`stated_withdrawals` says what a
row withdraws, for state to remember (``connector/state/withdrawals.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time

from connector.privacy.facts import ConsentFact, SubjectFacts


def moment(at: date | datetime) -> datetime:
    """A consent moment as an aware UTC datetime (a bare date: its start, in UTC)."""
    if isinstance(at, datetime):
        return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return datetime.combine(at, time.min, tzinfo=UTC)


def with_withdrawals(
    facts: SubjectFacts,
    withdrawn: Mapping[str, datetime],
    *,
    undated: Collection[str] = (),
    sources: Mapping[str, str] | None = None,
    own: Mapping[str, datetime] | None = None,
) -> SubjectFacts | None:
    """``facts`` with each "ja" older than the person's newest known withdrawal of its purpose
    turned into that withdrawal; None when no consent of the row changes.

    A "ja" with a moment after the withdrawal stands (a new consent, with its proof). A "ja"
    without a moment is no consent anyway (``consent_without_timestamp``) and is turned too,
    so the row withdraws rather than leaving the person's fields as they were. A row that says
    nothing about a purpose, or "nee" itself, is left as it is. A tie goes to the withdrawal,
    as in Salesforce's consent record.

    ``undated``: purposes whose withdrawal gave no moment of its own (its moment is the clock of
    the run that first saw it): the turned fact has none either, as the "nee" it stands for,
    so its consent record is dated as an undated withdrawal is (``sync/consent_records.py``)
    and no retention anchor rests on a run's clock. ``sources``: purpose → where the school
    learnt the withdrawal (the consent record's CaptureSource, as the mapping that stated it
    writes it for a "nee" without one). ``own``: purpose → when the school first learnt the
    row's own undated "nee" (state): it becomes the fact's ``since``.
    """
    changed: dict[str, ConsentFact] = {}
    for purpose, first in (own or {}).items():
        fact = facts.consents.get(purpose)
        if fact is not None and fact.given is False and fact.at is None and fact.since is None:
            changed[purpose] = replace(fact, since=first)
    for purpose, when in withdrawn.items():
        fact = facts.consents.get(purpose)
        if fact is None or fact.given is not True:
            continue
        if fact.at is not None and moment(fact.at) > when:
            continue
        source = (sources or {}).get(purpose)
        if purpose in undated:
            changed[purpose] = ConsentFact(False, by=fact.by, source=source, since=when)
        else:
            changed[purpose] = ConsentFact(False, at=when, by=fact.by, source=source)
    if not changed:
        return None
    return replace(facts, consents={**facts.consents, **changed})


def stated_withdrawals(facts: SubjectFacts) -> dict[str, datetime | None]:
    """Purpose → moment of each withdrawal the row states (None: a "nee" without a date)."""
    return {
        purpose: None if fact.at is None else moment(fact.at)
        for purpose, fact in facts.consents.items()
        if fact.given is False
    }
