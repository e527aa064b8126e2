"""An export answers an access request (GDPR art. 12(3), 15): it is recorded as a request, done with
a receipt that counts what was handed over (nothing personal), or failed when nobody is found."""

from __future__ import annotations

import json

from gdprfixtures import EMAIL, NEEDLES, NUMBER, emulator, invoke, project_fixture, seed
from syncfixtures import SyncProject

__all__ = ["emulator"]

project = project_fixture(SyncProject)


def _requests(project: SyncProject) -> list[dict]:
    result = invoke(project, "requests", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_art12_3_an_export_is_a_done_request_with_a_receipt_of_counts(
    project: SyncProject,
) -> None:
    seed(project)

    result = invoke(project, "export", "--student-number", NUMBER)

    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # stdout stays the document alone
    [req] = [r for r in _requests(project) if r["kind"] == "export"]
    assert req["status"] == "done" and req["reference"].startswith("DSR-")
    receipts = list((project.folder / "state" / "receipts").glob(f"{req['reference']}*"))
    assert {p.suffix for p in receipts} == {".json", ".txt"}
    receipt = json.loads(next(p for p in receipts if p.suffix == ".json").read_text())
    assert receipt["exported"]["Contact"] == 1 and receipt["exported"]["CampaignMember"] == 1
    text = "".join(p.read_text() for p in receipts)
    for needle in (*NEEDLES, NUMBER, EMAIL):
        assert needle not in text


def test_art12_3_an_export_of_nobody_is_a_failed_request(project: SyncProject) -> None:
    seed(project)

    result = invoke(project, "export", "--student-number", "99999999")

    assert result.exit_code == 1
    [req] = [r for r in _requests(project) if r["kind"] == "export"]
    assert req["status"] == "failed" and req["last_error"] == "NOT_FOUND"


def test_art15_local_state_lists_field_names_not_state_bookkeeping(project: SyncProject) -> None:
    seed(project)

    result = invoke(project, "export", "--student-number", NUMBER)

    records = json.loads(result.stdout)["local_state"]["records"]
    assert records and all(r["fields"] for r in records)
    for r in records:
        assert not {"*", "#", "-"} & set(r["fields"]), r["fields"]
        assert r["cleared_by_purge"] == []


def test_art15_local_state_lists_what_the_persons_rows_withdrew(project: SyncProject) -> None:
    """Her open-day "nee" outweighs her intake "ja" (docs/privacy.md): state keeps it, so the
    access export names it — in JSON and in the CSV sheet."""
    from syncfixtures import registration

    seed(project)
    project.write_registrations([registration("R-000001", EMAIL)])  # "nee", without a date
    assert project.run().exit_code() == 0

    result = invoke(project, "export", "--student-number", NUMBER)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["local_state"]["withdrawals"]
    assert (row["mapping"], row["purpose"], row["undated"]) == (
        "registrants", "recruitment_news", True,
    )  # fmt: skip
    sheet = invoke(project, "export", "--student-number", NUMBER, "--format", "csv")
    assert sheet.exit_code == 0, sheet.output
    assert "local_state,withdrawal," in sheet.stdout


def test_art15_an_erased_persons_export_names_the_tombstone(project: SyncProject) -> None:
    """P5: after an erasure the answer to an access request is not "nothing": state holds the
    erasure tombstone (a keyed hash) so that no sync recreates the person — say so."""
    seed(project)
    assert invoke(project, "erase", "--student-number", NUMBER, "--apply").exit_code == 0

    result = invoke(project, "export", "--student-number", NUMBER)

    assert result.exit_code == 1
    assert "erased" in result.output and "tombstone" in result.output, result.output
    assert "nothing to export" not in result.output
    nobody = invoke(project, "export", "--student-number", "99999999")
    assert "nothing to export" in nobody.output and "tombstone" not in nobody.output
