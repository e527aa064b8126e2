"""Throughput of ``Policy.decide`` on synthetic 10-field Contact records.

    .venv/bin/python scripts/bench_policy.py [--records 100000] [--repeat 3] [--seed 7]

The purposes are realistic: two purposes on another basis (enrolment under a legal obligation
retained one month after the lifecycle ends, event registration under contract) and two consent
purposes (news by e-mail, phone contact, with the UAVG art. 5 age rule). Values come from Faker
nl_NL (names, e-mail addresses, E.164 mobile numbers, postcodes, dates, short notes); the facts
mix lifecycle phases, birthdates either side of 16 and consents that are given, withdrawn,
missing, undated or given by a parent. Nothing here is real personal data.

Generation is not timed; the figure is ``decide()`` alone, in CPU time of this one thread (so
other load on the machine does not count against it). The target for mapping +
policy together is 100,000 records/s, so ``decide()`` should stay well above 250,000/s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta

from faker import Faker

from connector.privacy.facts import ConsentFact, Phase, SubjectFacts
from connector.privacy.policy import Policy
from connector.privacy.purposes import PurposesSpec

PURPOSES = PurposesSpec.model_validate(
    {
        "controller": "ROC Voorbeeld",
        "purposes": {
            "enrolment": {
                "lawful_basis": "legal_obligation",
                "retention": {"after": "lifecycle_end", "keep": "P1M"},
            },
            "event_registration": {
                "lawful_basis": "contract",
                "active_in": ["prospect", "applied"],
                "retention": {"after": "event_date", "keep": "P3M"},
            },
            "recruitment_news": {
                "lawful_basis": "consent",
                "consent": {
                    "field": "toestemming_nieuws",
                    "at": "toestemming_nieuws_op",
                    "source": "toestemming_nieuws_bron",
                },
                "retention": {"after": "consent_withdrawn", "keep": "P1M"},
            },
            "phone_contact": {
                "lawful_basis": "consent",
                "consent": {
                    "field": "toestemming_bellen",
                    "at": "toestemming_bellen_op",
                    "by": "toestemming_bellen_door",
                    "source": "toestemming_bellen_bron",
                },
                # A consent purpose must say how long its data lives (art. 5(1)(e)), as the
                # shipped purposes.yaml does: one month after a withdrawal.
                "retention": {"after": "consent_withdrawn", "keep": "P1M"},
            },
        },
    }
)
FIELD_PURPOSES = {
    "SIS_Student_Number__c": ["enrolment"],
    "FirstName": ["enrolment", "event_registration"],
    "LastName": ["enrolment", "event_registration"],
    "Email": ["enrolment", "event_registration", "recruitment_news"],
    "MobilePhone": ["phone_contact"],
    "MailingPostalCode": ["enrolment"],
    "MailingCity": ["enrolment"],
    "Birthdate": ["enrolment"],
    "Description": ["event_registration"],
    "HasOptedOutOfEmail": ["recruitment_news"],
}
TODAY = date(2025, 3, 1)


def _values(fake: Faker, rng: random.Random) -> dict:
    return {
        "SIS_Student_Number__c": str(rng.randrange(100_000, 9_999_999)),
        "FirstName": fake.first_name(),
        "LastName": fake.last_name(),
        "Email": fake.email(),
        "MobilePhone": f"+316{rng.randrange(10_000_000, 99_999_999)}",
        "MailingPostalCode": fake.postcode(),
        "MailingCity": fake.city(),
        "Birthdate": fake.date_of_birth(minimum_age=13, maximum_age=25),
        "Description": rng.choice(
            [
                None,
                "Open dag 14-03-2025, belt terug op 06-12345678",
                f"Meeloopdag {fake.date()} opleiding {fake.word()}",
                fake.sentence(nb_words=8),
            ]
        ),
        "HasOptedOutOfEmail": rng.choice([True, False, None]),
    }


def _consent(rng: random.Random) -> ConsentFact | None:
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(500))
    return rng.choice(
        [
            None,
            ConsentFact(True, moment, "self", "open dag"),
            ConsentFact(True, moment, "parent", "formulier"),
            ConsentFact(False, moment),
            ConsentFact(True, None),
            ConsentFact(None),
        ]
    )


def _facts(rng: random.Random, birthdate: date) -> SubjectFacts:
    consents = {}
    for purpose in ("recruitment_news", "phone_contact"):
        fact = _consent(rng)
        if fact is not None:
            consents[purpose] = fact
    phase = rng.choice([None, *Phase])
    phase_at = TODAY - timedelta(days=rng.randrange(90)) if phase is Phase.ENDED else None
    return SubjectFacts(birthdate, phase, phase_at, consents, TODAY - timedelta(days=30))


def main(argv: list[str] | None = None) -> int:
    """Generate the records, time ``decide()`` and print records per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best counts")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    fake = Faker("nl_NL")
    fake.seed_instance(args.seed)
    distinct = [_values(fake, rng) for _ in range(min(args.records, 5_000))]
    records = [distinct[i % len(distinct)] for i in range(args.records)]
    facts = [_facts(rng, r["Birthdate"]) for r in records]
    policy = Policy(
        PURPOSES,
        FIELD_PURPOSES,
        opt_out_fields={"HasOptedOutOfEmail"},
        always_send={"SIS_Student_Number__c"},
    )
    decide = policy.decide
    best = float("inf")
    sent = withheld = 0
    for _ in range(args.repeat):
        started = time.process_time()
        for values, fact in zip(records, facts, strict=True):
            decide(values, fact, TODAY)
        best = min(best, time.process_time() - started)
    for values, fact in zip(records, facts, strict=True):
        d = decide(values, fact, TODAY)
        sent += len(d.payload)
        withheld += len(d.withheld)
    rate = args.records / best
    print(
        f"decide(): {args.records:,} records x 10 fields in {best:.3f} s = {rate:,.0f} records/s "
        f"(best of {args.repeat}; {sent:,} fields sent, {withheld:,} withheld)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
