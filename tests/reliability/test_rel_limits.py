"""Daily API limit (DESIGN §7, §9): a run stops cleanly before its share of the daily allocation
(``daily_api_share``, 0.8 in the shipped sync.yaml), exits 1, says so and how much is pending;
once the allocation allows, the next run writes the rest — and only the rest — without duplicates.
"""

from __future__ import annotations

from collections import Counter

from relfixtures import CliProject, registration, student

STUDENTS = 1_200  # 6 collection calls of 200
VISITORS = 50  # one call each for registrants, events, registrations, tasks
DAILY_LIMIT = 5  # 80 % of 5: the guard stops after the 4th call, in the middle of the students


def test_daily_api_share_stops_the_run_and_the_next_run_completes(project: CliProject) -> None:
    project.write_students([student(f"7{i:05d}") for i in range(STUDENTS)])
    project.write_registrations(
        [registration(f"REG-{i:06d}", f"gast{i}@mail.example") for i in range(VISITORS)]
    )
    project.emulator.faults(daily_api_limit=DAILY_LIMIT)

    first = project.cli("run", "nightly")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "Traceback" not in first.stdout + first.stderr
    # It stopped itself at the share: Salesforce never had to refuse a call.
    used = project.api_calls()
    assert used <= 0.8 * DAILY_LIMIT
    assert "REQUEST_LIMIT_EXCEEDED" not in first.stdout + first.stderr

    report = project.last_report()
    assert report["exit_code"] == 1
    assert "daily API share" in report["stopped"]
    assert "stopped early: daily API share" in first.stdout
    landed = project.live_records("Contact")
    # One call is the lost-state check of a never-run state (sync/recovery.py): a query of the
    # Contacts carrying the person mappings' external ids. Every other call landed 200.
    assert landed == 200 * (used - 1)
    pending = report["totals"]["pending"]
    # Every record that did not land is pending (none failed, none silently dropped), the
    # later mappings included, and the summary says how many.
    assert report["totals"]["failed"] == 0
    assert report["mappings"]["students"]["pending"] == STUDENTS - landed
    assert report["mappings"]["registrations"]["pending"] == VISITORS
    assert pending == (STUDENTS - landed) + VISITORS + 1 + VISITORS + VISITORS
    assert f"pending {STUDENTS - landed}" in first.stdout

    project.emulator.faults(daily_api_limit=100_000)
    second = project.cli("run", "nightly")
    assert second.returncode == 0, second.stdout + second.stderr
    report = project.last_report()
    students = report["mappings"]["students"]
    # Only what was pending went out; what landed before the stop is known and unchanged.
    assert students["created"] + students["updated"] == STUDENTS - landed
    assert students["unchanged"] == landed
    assert report["totals"]["pending"] == 0

    numbers = project.external_ids("Contact", "SIS_Student_Number__c")
    assert len(numbers) == STUDENTS + VISITORS
    assert not [n for n, c in Counter(n for n in numbers if n).items() if c > 1]
    assert project.live_records("CampaignMember") == VISITORS
    assert project.live_records("Task") == VISITORS
