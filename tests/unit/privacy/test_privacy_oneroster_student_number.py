"""The shipped ``oneroster_users.yaml`` declares the students mappings' ``student_number_format``
(issue #9 re-audit): a OneRoster ``identifier`` like 123456782 passes the BSN 11-check, and
without the format ``plan oneroster_users`` rejected it as a forbidden number."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = [ROOT / "mappings", ROOT / "connector" / "defaults" / "project" / "mappings"]
SAMPLES = ROOT.parent / "shared" / "samples" / "oneroster"


@pytest.mark.parametrize("folder", SHIPPED, ids=["mappings", "defaults"])
def test_shipped_oneroster_users_has_the_students_format(folder: Path) -> None:
    users = yaml.safe_load((folder / "oneroster_users.yaml").read_text("utf-8"))
    students = yaml.safe_load((folder / "students.yaml").read_text("utf-8"))
    assert users["student_number_format"] == students["student_number_format"] == "[0-9]{6,9}"


def test_plan_oneroster_users_keeps_a_nine_digit_identifier(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(ROOT / "connector" / "defaults" / "project", project)
    data = project / "data" / "oneroster"
    data.mkdir(parents=True, exist_ok=True)
    for f in (SAMPLES / "Test_full_data_set").glob("*.csv"):
        shutil.copy(f, data / f.name)
    users = data / "users.csv"
    text = users.read_text("utf-8")
    # A student's identifier that passes the 11-check (1*9+2*8+...+8*2-2*1 = 154 = 14*11).
    assert ",Jane,mary.jones," in text
    users.write_text(text.replace(",Jane,mary.jones,", ",Jane,123456782,"), "utf-8")
    env = {**os.environ, "SIS_SYNC_SECRET": "oneroster-format-test-secret-0123456789"}
    exe = Path(sys.executable).with_name("sis-sync")

    result = subprocess.run(
        [str(exe), "plan", "oneroster_users"], cwd=project, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "would create 3" in result.stdout and "rejected" not in result.stdout
    assert "123456782" not in result.stdout + result.stderr  # values masked
