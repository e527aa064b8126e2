"""`plan` of a target.mode mapping (a2-F9): a plan asks Salesforce nothing, so records state
knows no Id of are said to be matched at run time and counted — not shown as 0 created, 0
updated, nor as skipped for want of a match. What state knows, the plan counts as the run does."""

from __future__ import annotations

from orgmodel import MODE_CONTACTS as CONTACTS
from orgmodel import edu_emulator, org_project

from connector.sync.job import run_job

__all__ = ["edu_emulator"]

ROWS = [["1001", "Jansen"], ["1002", "Bakker"], ["1003", "Smit"]]


def _project(emulator, tmp_path, mode):
    p = org_project(emulator, tmp_path / "p", contacts=CONTACTS % mode)
    # Contacts the school made in the org itself, carrying the student number.
    p.create("Contact", {"LastName": "Oud", "SIS_Student_Number__c": "1001"})
    p.create("Contact", {"LastName": "Ouder", "SIS_Student_Number__c": "1002"})
    p.data("contacts", ["nr", "last"], ROWS)
    return p


def _plan(p):
    return run_job(p.settings(), job="nightly", dry_run=True)


def test_update_only_plan_says_the_run_matches_and_counts_them(edu_emulator, tmp_path):
    p = _project(edu_emulator, tmp_path, "update_only")
    calls = edu_emulator.stats()["api_calls"]
    plan = _plan(p)
    assert edu_emulator.stats()["api_calls"] == calls  # the plan asked the org nothing
    rep, text = plan.mappings["contacts"], plan.summary()
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, 0)
    assert (
        "update_only: 3 records would be matched in Salesforce at run time (plan makes no call)"
        in text
    ), text
    assert "skipped by target.mode" not in text, text  # nothing is known to have no match

    run = p.run().mappings["contacts"]
    assert (run.created, run.updated, dict(run.left_alone)) == (0, 2, {"update_only: no match": 1})

    # Now state knows the two matched records: the plan counts their update as the run does.
    p.data("contacts", ["nr", "last"], [["1001", "Jansen-Smit"], *ROWS[1:]])
    again = _plan(p)
    rep = again.mappings["contacts"]
    assert (rep.created, rep.updated, rep.unchanged) == (0, 1, 1), again.summary()
    assert "update_only: 1 records would be matched in Salesforce" in again.summary()
    second = p.run().mappings["contacts"]
    assert (second.created, second.updated, second.unchanged) == (0, 1, 1)


def test_insert_only_plan_leaves_unknown_records_to_the_run(edu_emulator, tmp_path):
    p = _project(edu_emulator, tmp_path, "insert_only")
    plan = _plan(p)
    rep, text = plan.mappings["contacts"], plan.summary()
    assert (rep.created, rep.updated) == (0, 0), text
    assert "insert_only: 3 records would be matched in Salesforce at run time" in text, text
    run = p.run().mappings["contacts"]
    assert (run.created, dict(run.left_alone)) == (1, {"insert_only: exists": 2})
