"""Counts after a retention purge (GDPR art. 5(1)(e)): what `status` and the status page say.

Purged records stay in local state (marked deleted, so a later sync does not recreate them) but
are no longer in Salesforce: neither `status` nor the page may count them there, and both give
the purge run the same "written" figure (deleted + records whose fields were cleared).
"""

from __future__ import annotations

import json
import re

from gdprfixtures import emulator, invoke, project_fixture
from syncfixtures import SyncProject, registration
from typer.testing import CliRunner

from connector.cli import app

__all__ = ["emulator"]

project = project_fixture(SyncProject)


def _cli(project: SyncProject, *args: str):
    return CliRunner().invoke(
        app, ["--config", str(project.folder / "sync.yaml"), *args], env=project.env
    )


def test_status_and_page_count_only_what_salesforce_holds_after_a_purge(
    project: SyncProject, tmp_path
) -> None:
    stays = registration(
        "R-000001", "vera.p@bezoeker.example", toestemming_nieuws="ja",
        toestemming_nieuws_op="2026-10-01T12:00:00+02:00", toestemming_nieuws_bron="aanmelding",
    )  # fmt: skip
    goes = [registration(f"R-00001{i}", f"bezoeker{i}@bezoeker.example") for i in range(3)]
    project.write_registrations([stays, *goes])
    assert project.run().exit_code() == 0
    project.env["SIS_SYNC_NOW"] = "2027-03-14T09:00:00+00:00"  # the open day + P3M has passed
    result = invoke(project, "purge", "--apply")
    assert result.exit_code == 0, result.output
    org = {
        obj: len(project.query(f"SELECT Id FROM {obj}"))
        for obj in ("Contact", "CampaignMember", "Task")
    }
    assert org == {"Contact": 1, "CampaignMember": 0, "Task": 0}, org

    status = _cli(project, "status")
    page_file = tmp_path / "status.html"
    assert _cli(project, "status", "--html", str(page_file)).exit_code == 0
    page = page_file.read_text()

    assert status.exit_code == 0, status.output
    line = next(ln for ln in status.stdout.splitlines() if "per mapping:" in ln)
    assert line.startswith("Records in Salesforce per mapping:"), line
    counts = dict(part.rsplit(" ", 1) for part in line.split(": ", 1)[1].split(", "))
    assert counts["registrants"] == "1" and counts["events"] == "1", counts
    assert "registrations" not in counts and "registration_tasks" not in counts, counts
    rows = dict(re.findall(r'<tr><td>([a-z_:]+)</td><td class="n">([\d,]+)</td></tr>', page))
    assert rows.get("registrants") == "1" and "registrations" not in rows, rows
    # The purge run: the records it deleted plus the one whose fields it cleared, on both.
    run = json.loads(_cli(project, "status", "--json").stdout)["runs"][0]
    assert run["job"] == "purge" and run["counts"]["minimised"] == 1, run
    written = run["counts"]["deleted"] + 1
    purge = next(ln for ln in status.stdout.splitlines() if " purge " in ln)
    assert re.search(rf"\bok\s+{written}\s", purge), (written, purge)
    card = page[page.index('data-job="purge"') :]
    assert re.search(rf"written {written}\b", card), (written, card[:400])
