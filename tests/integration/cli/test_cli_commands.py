"""`sis-sync plan`, `status`, `init` + `validate` and `--help`, through the real command line."""

from __future__ import annotations

import json
import re

from relfixtures import CliProject, registration, student
from typer.testing import CliRunner

from connector.cli import app

# Values no output may show (the plan prints masked examples: first character and asterisks).
SURNAME = "Zwanenburgh"
EMAIL = "zeldzaam.adres@voorbeeld.example"
STUDENT_NUMBER = "90817263"
BAD_EMAIL = "kapot-adres-zonder-apenstaart"

# DESIGN §4: every command of the contract; those the build has must all be listed by --help.
DESIGN_COMMANDS = [
    "init", "validate", "plan", "run", "status", "purge", "erase", "export", "register",
    "serve", "emulator", "demo",
]  # fmt: skip
# Those that exist today (the sync engine's and the mapping language's).
REQUIRED_COMMANDS = ["init", "validate", "plan", "run", "status", "register", "emulator", "demo"]


def _personal_rows() -> list[dict[str, str]]:
    rows = [student(f"14{i:04d}") for i in range(4)]
    rows.append(student(STUDENT_NUMBER, achternaam=SURNAME, tussenvoegsel="", email=EMAIL))
    return rows


def test_plan_writes_nothing_and_prints_counts_and_masked_examples(project: CliProject) -> None:
    project.write_students(_personal_rows())
    before = project.emulator.stats()

    result = project.cli("plan", "nightly")

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "plan (dry run, nothing written)" in out
    assert re.search(r"students → Contact.*\n\s+5 read, would create 5", out)
    assert "e.g. create" in out
    assert re.search(r'"LastName":\s*"d\*\*\*"', out)  # the examples are masked …
    for value in (SURNAME, EMAIL, STUDENT_NUMBER, "s140001@school.example"):  # … never plain
        assert value not in out
    # Nothing anywhere: no state folder, no report, no request to Salesforce (not even a token).
    assert not project.state_dir.exists()
    after = project.emulator.stats()
    assert after["api_calls"] == before["api_calls"]
    assert after["requests"] == before["requests"]


def test_plan_of_a_first_sync_counts_children_of_new_parents_as_creates(
    project: CliProject,
) -> None:
    # The run would create the Campaign and the prospect Contact first and then their
    # CampaignMember and Task; the plan must say so instead of rejecting the children.
    project.write_registrations([registration("REG-000001", "bezoeker@mail.example")])
    result = project.cli("plan", "nightly")
    out = result.stdout + result.stderr
    assert "is not in Salesforce" not in out
    assert re.search(r"registrations → CampaignMember.*\n\s+1 read, would create 1", out), out
    assert re.search(r"registration_tasks → Task.*\n\s+1 read, would create 1", out), out
    assert result.returncode == 0, out
    assert not project.state_dir.exists()


def test_status_after_two_runs_lists_runs_and_rejects_by_reason(project: CliProject) -> None:
    rows = _personal_rows()
    rows[1]["email"] = BAD_EMAIL
    project.write_students(rows)
    assert project.cli("run", "nightly").returncode == 1
    assert project.cli("run", "nightly").returncode == 1

    text = project.cli("status")
    assert text.returncode == 0, text.stderr
    as_json = project.cli("status", "--json")
    assert as_json.returncode == 0, as_json.stderr

    data = json.loads(as_json.stdout)
    assert [r["run_id"] for r in data["runs"]] == [2, 1]
    assert {r["job"] for r in data["runs"]} == {"nightly"}
    assert [r["counts"]["rejected"] for r in data["runs"]] == [1, 1]
    # 4 Contacts, and per Contact the consent model's records (docs/privacy.md "Consent in
    # Salesforce's consent model": run counts include consent:individual and consent:<purpose>):
    # one Individual and a ContactPointTypeConsent for recruitment_news and phone_contact.
    assert [r["counts"]["created"] for r in data["runs"]] == [0, 4 + 4 * (1 + 2)]
    [reject] = data["rejects"]
    assert (reject["mapping"], reject["column"], reject["count"]) == ("students", "email", 1)
    assert reject["reason"]
    assert data["synced"]["students"] == 4

    assert "Recent runs" in text.stdout
    assert "Rejected rows of run 2 by reason" in text.stdout
    assert reject["reason"][:20] in text.stdout
    for out in (text.stdout + text.stderr, as_json.stdout + as_json.stderr):
        for value in (SURNAME, EMAIL, STUDENT_NUMBER, BAD_EMAIL):
            assert value not in out


def test_init_then_validate_passes_without_any_environment(project: CliProject, tmp_path) -> None:
    folder = tmp_path / "nieuw"
    bare = {k: None for k in project.env}  # not one SIS_SYNC_* variable
    created = project.cli("init", str(folder), cwd=tmp_path, **bare)
    assert created.returncode == 0, created.stdout + created.stderr
    assert (folder / "sync.yaml").is_file()
    assert (folder / "mappings" / "purposes.yaml").is_file()

    checked = project.cli("validate", cwd=folder, **bare)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok:" in checked.stdout
    assert "students" in checked.stdout
    # validate writes nothing: the folder holds exactly what init wrote.
    assert not (folder / "state").exists()

    again = project.cli("init", str(folder), cwd=tmp_path, **bare)
    assert again.returncode == 2  # not empty: refuses to overwrite without --force
    assert "not empty" in again.stderr


def test_help_lists_every_command_that_exists() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert top.exit_code == 0
    listed = set(re.findall(r"^│ ([a-z][a-z-]+) ", top.output, flags=re.MULTILINE))
    existing = [
        name
        for name in DESIGN_COMMANDS
        if runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"}).exit_code == 0
    ]
    assert set(REQUIRED_COMMANDS) <= set(existing)
    missing = [name for name in existing if name not in listed]
    assert not missing, f"--help does not list: {missing}"


def test_a_missing_ca_bundle_is_a_configuration_error_for_validate_and_run(
    project: CliProject, tmp_path
) -> None:
    """An outsider's F1: `run` exited 70 ("a bug") on requests' bare OSError, and `validate`
    passed the setting."""
    missing = str(tmp_path / "nowhere" / "ca.pem")
    for command in ("validate", "run"):
        done = project.cli(command, SIS_SYNC_SALESFORCE__CA_BUNDLE=missing)
        assert done.returncode == 2, (command, done.stdout + done.stderr)
        assert f"salesforce.ca_bundle {missing}: not a readable file" in done.stderr
