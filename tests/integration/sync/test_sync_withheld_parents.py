"""Children of a parent the privacy policy did not write are skipped, not rejected (issue #10).

A student whose retention ran out before the first sync (a clean ``uitgeschreven`` row from
January) is never written: the policy justifies none of it (``plan_justified.not_justified``). Their
LearnerProgram and IndividualApplication have no parent to go under; that is the policy doing
its work, like a parent the purge deleted (``PARENT_PURGED``), so the run skips them with a
reason and exits 0. A parent missing for a real problem (its row rejected, no row with its key)
still rejects the child. Against the emulator with each model's org shape, the shipped sets and
the real simple-salesforce client.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pytest
from syncfixtures import NOW, SECRET, student

from connector.commands.mapping import model_folder
from connector.config import Settings, load_settings
from connector.demo import REGISTRATION_COLUMNS, STUDENT_COLUMNS
from connector.demo.dataset import generate
from connector.demo.org_setup import create_programmes
from connector.emulator.testing import EmulatorHandle
from connector.report import RunReport
from connector.sync.batch_state import WithheldParents
from connector.sync.job import run_job
from connector.sync.plan_parents import PARENT_WITHHELD

NOT_IN_SF = "parent record of mapping 'students' is not in Salesforce"


def _project(model: str, emu: EmulatorHandle, folder: Path, *, jobs: str = "") -> Settings:
    """The shipped set of ``model`` in ``folder`` on the reset org with its programmes
    (``jobs``: more job entries for sync.yaml)."""
    emu.reset()
    shutil.copytree(model_folder(model), folder)
    if jobs:
        text = (folder / "sync.yaml").read_text(encoding="utf-8")
        (folder / "sync.yaml").write_text(text.replace("jobs:\n", "jobs:\n" + jobs, 1))
    create_programmes(emu.client(), model)
    env = {
        **emu.sync_env(),
        "SIS_SYNC_SECRET": SECRET,
        "SIS_SYNC_NOW": NOW,  # 2026-11-20
    }
    return load_settings(folder / "sync.yaml", env=env)


def _write_students(folder: Path, rows: list[dict[str, str]]) -> None:
    (folder / "data").mkdir(exist_ok=True)
    with (folder / "data" / "studenten.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, STUDENT_COLUMNS, delimiter=";")
        w.writeheader()
        w.writerows(rows)
    with (folder / "data" / "aanmeldingen_opendag.csv").open("w", encoding="utf-8") as fh:
        fh.write(",".join(REGISTRATION_COLUMNS) + "\n")  # the events' file: no registration


def _reasons(report: RunReport, mapping: str) -> list[str]:
    return [r["reason"] for r in report.mappings[mapping].rejects]


def test_a_withheld_student_leaves_their_programme_alone(ec_org, tmp_path) -> None:
    folder = tmp_path / "ec"
    settings = _project("education-cloud", ec_org, folder)
    left = {"status": "uitgeschreven", "status_datum": "20-01-2026"}  # P1M ran out in February
    _write_students(folder, [student("250001"), student("250002", **left)])

    for run in ("plan", "run", "run again"):
        report = run_job(settings, job="nightly", dry_run=run == "plan")
        students, programmes = report.mappings["students"], report.mappings["learner_programs"]
        assert students.not_justified == 1, (run, report.summary())
        assert programmes.left_alone == {PARENT_WITHHELD: 1}, (run, report.summary())
        assert programmes.rejected == 0, (run, _reasons(report, "learner_programs"))
        assert report.exit_code() == 0, (run, report.summary())
        assert "skipped: parent withheld (privacy policy) ×1" in report.summary(), run
    rows = ec_org.client().query_all("SELECT LearnerAccount.Name FROM LearnerProgram")["records"]
    assert len(rows) == 1  # the enrolled student's programme only


def test_a_parent_missing_for_a_real_problem_still_rejects_the_child(ec_org, tmp_path) -> None:
    folder = tmp_path / "ec"
    settings = _project("education-cloud", ec_org, folder)
    # A birth date that is no date: the student row is rejected, so is the programme's, while
    # another student's withheld in the same run.
    left = {"status": "uitgeschreven", "status_datum": "20-01-2026"}
    _write_students(
        folder, [student("250003", geboortedatum="31-02-2008"), student("250005", **left)]
    )
    report = run_job(settings, job="nightly")
    programmes = report.mappings["learner_programs"]
    assert programmes.left_alone == {PARENT_WITHHELD: 1}
    assert _reasons(report, "learner_programs") == [NOT_IN_SF]
    assert report.exit_code() == 1


def test_a_job_without_the_parent_mapping_cannot_tell_and_rejects(ec_org, tmp_path) -> None:
    # Nothing in state tells a withheld student from a missing one: only the parent mapping's
    # run in the same job does (docs/mappings.md says so).
    folder = tmp_path / "ec"
    job = "  - {name: programmes_only, mappings: [learner_programs]}\n"
    settings = _project("education-cloud", ec_org, folder, jobs=job)
    left = {"status": "uitgeschreven", "status_datum": "20-01-2026"}
    _write_students(folder, [student("250004", **left)])
    report = run_job(settings, job="programmes_only")
    assert _reasons(report, "learner_programs") == [NOT_IN_SF]


@pytest.mark.parametrize("model", ["education-cloud", "eda"])
def test_the_shipped_sets_with_their_sample_data_exit_0(model, ec_org, eda_org, tmp_path) -> None:
    emu = ec_org if model == "education-cloud" else eda_org
    folder = tmp_path / model
    settings = _project(model, emu, folder)
    generate(folder, students=120, applicants=40, registrations=30, today=date(2026, 11, 20),
             malformed=False)  # fmt: skip
    report = run_job(settings, job="nightly")
    withheld = sum(m.left_alone.get(PARENT_WITHHELD, 0) for m in report.mappings.values())
    assert withheld > 0, report.summary()  # the data set holds students past their retention
    for name, m in report.mappings.items():
        assert not [r for r in m.rejects if "is not in Salesforce" in r["reason"]], name
    assert report.exit_code() == 0, report.summary()


def test_withheld_parents_forget_a_record_a_later_row_writes() -> None:
    run = WithheldParents(["students"])
    run.note("students", ["k1", "k2"], [])
    run.note("students", [], ["k1"])  # a later row of k1 is justified and planned as a write
    assert run.among("students", ["k1", "k2", "k3"]) == ["k2"]
    run.note("events", ["e1"], [])  # no mapping refers to events here: nothing kept
    assert run.among("events", ["e1"]) == []
