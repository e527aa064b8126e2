"""Exit codes of `sis-sync run` (DESIGN §4): 0 all synced or deliberately skipped, 1 some records
rejected or failed, 2 configuration or input error with nothing written anywhere.

Run as a real subprocess, because the mapping of errors onto exit codes happens in the console
script's entry point.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from relfixtures import CliProject, student

from connector.emulator.testing import running_emulator

NO_TRACEBACK = "Traceback"


def _insert_after(path: Path, anchor: str, text: str) -> int:
    """Insert ``text`` as a new line after the first line starting with ``anchor``; its line no."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(anchor)) + 1
    lines.insert(at, text + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return at + 1


def _unknown_sync_key(p: CliProject) -> tuple[dict[str, str | None], list[str]]:
    line = _insert_after(p.folder / "sync.yaml", "salesforce:", "  colour: blue")
    return {}, [f"sync.yaml:{line}", "salesforce.colour"]


def _secret_in_sync_yaml(p: CliProject) -> tuple[dict[str, str | None], list[str]]:
    line = _insert_after(
        p.folder / "sync.yaml", "salesforce:", '  client_secret: "Geheim-Wachtwoord-123"'
    )
    return {}, [
        f"sync.yaml:{line}",
        "salesforce.client_secret",
        "SIS_SYNC_SALESFORCE__CLIENT_SECRET",
    ]


def _bsn_mapped(p: CliProject) -> tuple[dict[str, str | None], list[str]]:
    line = _insert_after(
        p.folder / "mappings" / "students.yaml",
        "fields:",
        "  Description: {from: bsn, purposes: [enrolment]}",
    )
    return {}, [f"students.yaml:{line}", "fields.Description.from", "BSN"]


def _unknown_transform(p: CliProject) -> tuple[dict[str, str | None], list[str]]:
    path = p.folder / "mappings" / "students.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = "FirstName:   {from: roepnaam, transform: [strip]"
    assert anchor in text
    line = text[: text.index(anchor)].count("\n") + 1
    path.write_text(
        text.replace(anchor, "FirstName:   {from: roepnaam, transform: [strip, shout]"),
        encoding="utf-8",
    )
    return {}, [f"students.yaml:{line}", "FirstName", "shout"]


def _no_secret(p: CliProject) -> tuple[dict[str, str | None], list[str]]:
    return {"SIS_SYNC_SECRET": None}, ["SIS_SYNC_SECRET"]


BROKEN: dict[str, Callable[[CliProject], tuple[dict[str, str | None], list[str]]]] = {
    "unknown key in sync.yaml": _unknown_sync_key,
    "secret in sync.yaml": _secret_in_sync_yaml,
    "mapping sends the bsn column": _bsn_mapped,
    "unknown transform": _unknown_transform,
    "SIS_SYNC_SECRET missing": _no_secret,
}


def _org_footprint(p: CliProject) -> tuple[int, int]:
    """(API calls, all requests incl. token requests) the emulator has seen."""
    stats = p.emulator.stats()
    return stats["api_calls"], sum(stats["requests"].values())


def test_clean_run_exits_0(project: CliProject) -> None:
    project.write_students([student(f"11{i:04d}") for i in range(5)])
    result = project.cli("run", "nightly")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "create 5" in result.stdout
    assert project.live_records("Contact") == 5


def test_rejected_rows_exit_1_and_the_rest_lands(project: CliProject) -> None:
    rows = [student(f"12{i:04d}") for i in range(5)]
    rows[2]["email"] = "geen-apenstaartje"
    project.write_students(rows)
    result = project.cli("run", "nightly")
    assert result.returncode == 1, result.stdout + result.stderr
    assert NO_TRACEBACK not in result.stderr
    assert re.search(r"rejected data/studenten\.csv:4 \[email\]", result.stdout)
    assert "geen-apenstaartje" not in result.stdout + result.stderr
    assert project.live_records("Contact") == 4


@pytest.mark.parametrize("case", list(BROKEN))
def test_configuration_errors_exit_2_and_write_nothing(project: CliProject, case: str) -> None:
    project.write_students([student(f"13{i:04d}") for i in range(3)])
    env, expected = BROKEN[case](project)
    before = _org_footprint(project)

    result = project.cli("run", "nightly", **env)

    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr
    for part in expected:
        assert part in message, f"{part!r} missing from: {message}"
    assert NO_TRACEBACK not in result.stdout + message
    assert "Geheim-Wachtwoord-123" not in result.stdout + message
    # Nothing written anywhere: no state folder (state, lock, reports), not one request.
    assert not project.state_dir.exists()
    assert _org_footprint(project) == before
    assert project.live_records("Contact") == 0


def test_refused_credentials_exit_2_and_write_nothing(tmp_path: Path) -> None:
    # An org that only accepts its own connected app: the project's client secret is wrong.
    with running_emulator(tmp_path / "org", client_id="tests", client_secret="other") as emu:
        project = CliProject(tmp_path / "project", emu)
        project.write_students([student("160001")])
        result = project.cli("run", "nightly")
        assert result.returncode == 2, result.stdout + result.stderr
        assert "invalid_client" in result.stderr
        assert NO_TRACEBACK not in result.stdout + result.stderr
        assert emu.stats()["api_calls"] == 0
        # Nothing written: no state file, lock file or report left behind by the refused run.
        assert not project.state_dir.exists(), sorted(
            str(p.relative_to(project.folder)) for p in project.state_dir.rglob("*")
        )


@pytest.mark.parametrize("damage", ["garbage", "half", "emptied"])
def test_a_damaged_state_file_exits_2_naming_the_file_and_the_way_back(project: CliProject, damage):
    # Found attacking issue 8: a truncated or overwritten sync.db gave exit 1 ("some records
    # failed") with no file and no word of recovery; `status` and `state rebuild` still did
    # (a second attack), and a file emptied to 0 bytes passed for a first run: every record
    # re-sent, the persons erased since recreated (their tombstones were in it).
    project.write_students([student("610001"), student("610002")])
    assert project.cli("run", "nightly").returncode == 0
    state = project.state_file
    if damage == "garbage":
        state.write_bytes(b"not a database at all " * 200)
    elif damage == "half":
        data = state.read_bytes()
        state.write_bytes(b"\0" * 100 + data[100 : len(data) // 2])  # header gone, half left
    else:
        state.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    before = project.emulator.stats()["api_calls"]
    commands = [("run", "nightly"), ("status",)]
    if damage != "emptied":  # rebuild is the way back: an empty file is what it fills
        commands.append(("state", "rebuild", "nightly"))
    for command in commands:
        result = project.cli(*command)
        out = result.stdout + result.stderr
        assert result.returncode == 2, (command, out)
        assert str(state.resolve()) in out and "sis-sync state rebuild" in out, (command, out)
        assert NO_TRACEBACK not in out
    assert project.emulator.stats()["api_calls"] == before


def test_plan_gives_the_exit_code_of_the_run_it_previews(project: CliProject) -> None:
    # Found attacking issue 8: an unterminated quote made `run` exit 2 and `plan` exit 1.
    path = project.write_students([student(f"16{i:04d}") for i in range(3)])
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines[2] = lines[2].replace(";", ';"', 1)
    path.write_text("".join(lines), encoding="utf-8-sig")
    planned = project.cli("plan", "nightly")
    ran = project.cli("run", "nightly")
    assert "unterminated quote" in planned.stdout + planned.stderr
    assert (planned.returncode, ran.returncode) == (2, 2), planned.stdout + ran.stdout
