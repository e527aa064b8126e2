"""Throughput of mapping (``CompiledMapping.apply``) and mapping + policy on synthetic records.

    .venv/bin/python scripts/bench_mapping.py [--records 100000] [--repeat 3]

Three mappings over the same in-memory records:

- ``plain``: ten columns copied with ``strip``/``lower`` and one purpose — the engine's own
  cost per field (key hash, policy, forbidden-number scan) with nothing else;
- ``light`` (ten fields): strip/lower, an ISO-ish date, a template, a map, constants, a ref,
  one consent and a lifecycle: the engine's own overhead plus cheap transforms;
- ``shipped``: the shipped ``mappings/students.yaml`` (phone numbers through ``phonenumbers``,
  e-mail syntax checks, Dutch postcodes), as a real installation runs it.

Each is timed alone (``apply``) and with the policy (``apply`` + ``Policy.decide``), the
issue's measure. Generation is not timed; the figure is CPU time (``process_time``) on one
core, so other load on the machine does not distort it. The target for mapping + policy together is
100,000 records/s.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date
from pathlib import Path

from connector.hashing import KeyHasher
from connector.mapping import MappingSpec, compile_mapping, load_project
from connector.privacy.policy import Policy
from connector.records import Origin, SourceRecord

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2025, 3, 1)
LIGHT = {
    "name": "light",
    "source": {"kind": "csv", "path": "data/studenten.csv", "key": "studentnummer"},
    "target": {"object": "Contact", "external_id": "SIS_Student_Number__c"},
    "identity": {"student_number": "studentnummer", "email": "email"},
    "lifecycle": {"from": "status", "applied": ["aangemeld"], "enrolled": ["ingeschreven"],
                  "ended": ["uitgeschreven", "afgewezen"]},
    "fields": {
        "SIS_Student_Number__c": {"from": "studentnummer", "purposes": ["enrolment"]},
        "LastName": {"template": "{tussenvoegsel} {achternaam}", "required": True,
                     "purposes": ["enrolment"]},
        "FirstName": {"from": "roepnaam", "transform": ["strip"], "purposes": ["enrolment"]},
        "Email": {"from": "email", "transform": ["strip", "lower"], "purposes": ["enrolment"]},
        "MobilePhone": {"from": "mobiel", "transform": ["strip"], "purposes": ["phone_contact"]},
        "MailingCity": {"from": "woonplaats", "transform": ["strip"], "purposes": ["enrolment"]},
        "Birthdate": {"from": "geboortedatum", "transform": ["date:%d-%m-%Y"],
                      "purposes": ["enrolment"]},
        "Lifecycle_Status__c": {"from": "status", "transform": [{"map": {"values": {
            "aangemeld": "Aangemeld", "ingeschreven": "Ingeschreven",
            "uitgeschreven": "Uitgeschreven", "afgewezen": "Afgewezen"}}}],
            "purposes": ["enrolment"]},
        "LeadSource": {"value": "Other", "purposes": ["enrolment"]},
        "Study_Programme__c": {"from": "opleiding", "purposes": ["enrolment"]},
    },
}  # fmt: skip
PLAIN = {
    "name": "plain",
    "source": {"kind": "csv", "path": "data/studenten.csv", "key": "studentnummer"},
    "target": {"object": "Contact", "external_id": "SIS_Student_Number__c"},
    "fields": {
        "SIS_Student_Number__c": {"from": "studentnummer", "purposes": ["enrolment"]},
        "LastName": {"from": "achternaam", "transform": ["strip"], "purposes": ["enrolment"]},
        "FirstName": {"from": "roepnaam", "transform": ["strip"], "purposes": ["enrolment"]},
        "Email": {"from": "email", "transform": ["strip", "lower"], "purposes": ["enrolment"]},
        "MobilePhone": {"from": "mobiel", "transform": ["strip"], "purposes": ["enrolment"]},
        "MailingStreet": {"from": "straat", "transform": ["strip"], "purposes": ["enrolment"]},
        "MailingPostalCode": {"from": "postcode", "transform": ["strip"],
                              "purposes": ["enrolment"]},
        "MailingCity": {"from": "woonplaats", "transform": ["strip"], "purposes": ["enrolment"]},
        "Study_Programme__c": {"from": "opleiding", "purposes": ["enrolment"]},
        "Lifecycle_Status__c": {"from": "status", "purposes": ["enrolment"]},
    },
}  # fmt: skip
STATUSES = ("aangemeld", "ingeschreven", "uitgeschreven", "afgewezen")


def mobile(rng: random.Random) -> str:
    """A made-up Dutch mobile number as people type it (06 + 1-5 + seven digits)."""
    return f"06{rng.choice('12345')}{rng.randrange(10**7):07d}"


def records(n: int, seed: int = 7) -> list[SourceRecord]:
    """``n`` synthetic studenten.csv rows (made-up values, no real people)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        number = str(100000 + i)
        fields = {
            "studentnummer": number, "achternaam": f"Achternaam{i % 997}",
            "tussenvoegsel": "van" if i % 4 == 0 else "", "roepnaam": f" Naam{i % 251} ",
            "email": f" Persoon{i}@Voorbeeld.NL ", "mobiel": mobile(rng),
            "telefoon": "", "straat": "Dorpsstraat", "huisnummer": str(i % 200 + 1),
            "postcode": f"{1000 + i % 8999} AB", "woonplaats": "Utrecht",
            "geboortedatum": f"{i % 28 + 1:02d}-{i % 12 + 1:02d}-{2000 + i % 10}",
            "opleiding": "Verpleegkunde", "crebo": "25655", "status": STATUSES[i % 4],
            "status_datum": "01-09-2024", "toestemming_nieuws": "ja" if i % 3 else "",
            "toestemming_nieuws_op": "2024-05-01T10:00:00+02:00" if i % 3 else "",
            "toestemming_nieuws_bron": "website", "toestemming_bellen": "nee",
            "toestemming_bellen_op": "", "toestemming_bellen_door": "",
        }  # fmt: skip
        out.append(SourceRecord(number, fields, Origin("data/studenten.csv", i + 2)))
    return out


def bench(name: str, mapping, recs: list[SourceRecord], repeat: int, policy=None) -> float:
    """Best records/s of ``repeat`` passes of ``apply`` (and ``policy.decide``) over ``recs``."""
    apply = mapping.apply
    decide = policy.decide if policy is not None else None
    best = 0.0
    for _ in range(repeat):
        start = time.process_time()
        rejected = 0
        for rec in recs:
            res = apply(rec)
            if res.errors:
                rejected += 1
            elif decide is not None:
                decide(res.values, res.facts, TODAY)
        rate = len(recs) / (time.process_time() - start)
        best = max(best, rate)
    label = f"{name} + policy" if policy is not None else name
    print(f"{label:18s} {best:>10,.0f} records/s  ({len(recs):,} records, {rejected} rejected)")
    return best


def policy_for(mapping, purposes) -> Policy:
    """The policy the engine builds for ``mapping``."""
    return Policy(
        purposes,
        mapping.field_purposes,
        opt_out_fields=mapping.opt_out_fields,
        crm_owned=mapping.crm_owned,
        always_send={mapping.external_id},
    )


def main() -> None:
    """Parse arguments, build the mappings and records, print records/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    project = load_project(ROOT / "mappings")
    hasher = KeyHasher("bench-secret")
    recs = records(args.records)
    light = compile_mapping(
        MappingSpec.model_validate(LIGHT), project.purposes, hasher=hasher, today=TODAY
    )
    shipped = project.compile("students", hasher=hasher, today=TODAY)
    plain = compile_mapping(
        MappingSpec.model_validate(PLAIN), project.purposes, hasher=hasher, today=TODAY
    )
    for name, mapping in (("plain", plain), ("light", light), ("shipped", shipped)):
        bench(name, mapping, recs, args.repeat)
        bench(name, mapping, recs, args.repeat, policy_for(mapping, project.purposes))


if __name__ == "__main__":
    main()
