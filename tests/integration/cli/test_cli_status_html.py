"""`sis-sync status --html FILE`: the service's status page without a service."""

from __future__ import annotations

import re
import stat

from relfixtures import CliProject, student

BAD_EMAIL = "geen-apenstaartje"


def test_status_html_writes_the_page_of_the_real_state(project: CliProject) -> None:
    project.write_students([student("500001"), student("500002", email=BAD_EMAIL)])
    assert project.cli("run", "students").returncode == 1  # one row rejected
    out = project.folder / "status.html"

    result = project.cli("status", "--html", str(out))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"status page written to {out}" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert re.search(r'data-job="students"><h3>students <span class="badge"[^>]*>partial<', page)
    assert 'data-chart="records-students"' in page and 'data-chart="rejects"' in page
    assert '<meta http-equiv="refresh" content="60">' in page
    assert BAD_EMAIL not in page and "Sanne" not in page and "Vries" not in page
    # Owner-only, as every report sis-sync writes.
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_status_html_before_any_run_writes_an_empty_page_and_no_state(
    project: CliProject,
) -> None:
    out = project.folder / "status.html"

    result = project.cli("status", "--html", str(out))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No runs yet" in out.read_text(encoding="utf-8")
    assert not project.state_file.exists()
