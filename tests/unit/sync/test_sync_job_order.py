"""`sis-sync run` without a JOB runs every mapping in the jobs' order, parents first."""

from __future__ import annotations

import shutil
from pathlib import Path

from connector.config import load_settings
from connector.mapping import load_project
from connector.sync.job import job_mappings

SHIPPED = Path(__file__).resolve().parents[3] / "connector" / "defaults" / "project"


def test_every_mapping_runs_students_before_registrants_and_parents_first(tmp_path: Path) -> None:
    shutil.copytree(SHIPPED, tmp_path / "p")
    settings = load_settings(tmp_path / "p" / "sync.yaml", env={})
    project = load_project(settings.mappings)

    name, order = job_mappings(settings, project, None)

    assert name == "all" and sorted(order) == sorted(project.mappings)
    # The SIS before the event tool: a registrant joins the student's Contact by e-mail hash.
    assert order.index("students") < order.index("registrants")
    for child in order:  # refs still put every parent first
        for parent in project.mappings[child].parents():
            if parent in project.mappings and parent != child:
                assert order.index(parent) < order.index(child), (parent, child)
    # The nightly job's own list, in its order, comes first.
    nightly = next(j.mappings for j in settings.jobs if j.name == "nightly")
    assert nightly is not None
    assert order[: len(nightly)] == project.order(nightly)
