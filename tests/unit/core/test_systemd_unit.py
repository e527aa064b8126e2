"""deploy/sis-sync.service and deploy/sis-sync.env work as written (issue 12, deployment).

``systemd-analyze verify`` checks the unit where the binary exists (Debian's systemd package);
the directives this deployment relies on are checked by parsing the unit in every case, so the
rules hold on a machine without systemd too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connector.commands.mapping import DEFAULTS
from connector.config import load_settings
from connector.gdpr.requests import receipts_dir

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "deploy" / "sis-sync.service"
ENV = ROOT / "deploy" / "sis-sync.env"
DOC = ROOT / "docs" / "service.md"


def _directives(text: str) -> dict[str, list[str]]:
    """``Section.Key`` → values in order (a unit may repeat a key, e.g. Environment=)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if m := re.fullmatch(r"\[(\w+)\]", line):
            section = m[1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a directive: {line}"
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def _env(values: list[str]) -> dict[str, str]:
    return dict(v.split("=", 1) for v in values)


def test_state_lives_in_the_state_directory_and_config_stays_read_only():
    d = _directives(UNIT.read_text("utf-8"))
    service_env = _env(d["Service.Environment"])
    assert d["Service.StateDirectory"] == ["sis-sync"]  # systemd creates /var/lib/sis-sync
    assert d["Service.StateDirectoryMode"] == ["0700"]
    assert d["Service.ProtectSystem"] == ["strict"]  # /etc and /usr read-only
    # whatever sync.yaml says, state and reports go where the service may write
    assert service_env["SIS_SYNC_STATE__URL"] == "sqlite:////var/lib/sis-sync/sync.db"
    assert service_env["SIS_SYNC_REPORTS"].startswith("/var/lib/sis-sync/")
    assert service_env["SIS_SYNC_CONFIG"].startswith("/etc/sis-sync/")
    writable = " ".join(d.get("Service.ReadWritePaths", []))
    assert "/etc" not in writable
    assert d["Service.WorkingDirectory"] == ["/var/lib/sis-sync"]
    assert d["Service.UMask"] == ["0077"]  # state and reports owner-only
    assert d["Service.ExecStart"][0].endswith("sis-sync serve")
    assert d["Service.ExecReload"] == ["/bin/kill -HUP $MAINPID"]


@pytest.mark.parametrize(
    "state_url",
    [None, "postgresql://sis_sync@db.school.example/sis_sync"],
    ids=["shipped-sqlite", "postgresql-from-the-environment-file"],
)
def test_everything_written_beside_the_state_lands_in_the_state_directory(tmp_path, state_url):
    # What the connector writes outside the database (reports, data-subject request receipts)
    # goes to Settings.state_dir()/reports_dir(): under the unit both must be in the folder
    # systemd makes writable (StateDirectory=), also when sis-sync.env switches to PostgreSQL
    # (EnvironmentFile= overrides Environment=, systemd.exec). They were /etc/sis-sync/state.
    d = _directives(UNIT.read_text("utf-8"))
    env = _env(d["Service.Environment"])
    if state_url:
        env["SIS_SYNC_STATE__URL"] = state_url
    etc = tmp_path / "etc" / "sis-sync"  # stands in for the read-only /etc/sis-sync
    shutil.copytree(DEFAULTS, etc)  # what `sis-sync init` writes: a relative SQLite state
    settings = load_settings(etc / "sync.yaml", env=env)
    writable = Path("/var/lib") / d["Service.StateDirectory"][0]
    assert env["SIS_SYNC_STATE__DIR"] == str(writable)
    for folder in (settings.state_dir(), settings.reports_dir(), receipts_dir(settings)):
        assert folder.is_relative_to(writable), folder
        assert not folder.is_relative_to(etc)


def test_the_environment_file_is_the_one_the_unit_reads_and_holds_no_secret():
    d = _directives(UNIT.read_text("utf-8"))
    first = ENV.read_text("utf-8").splitlines()[0]
    assert d["Service.EnvironmentFile"] == [first.split()[1]]
    assigned = [
        line for line in ENV.read_text("utf-8").splitlines() if line and not line.startswith("#")
    ]
    assert assigned, "the example names no variable"
    for line in assigned:
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"SIS_SYNC_[A-Z_]+", name), line
        assert value == "", f"{name}: the example must not ship a value"
    assert "SIS_SYNC_SECRET=" in assigned


def test_the_guide_shows_the_shipped_unit():
    guide = DOC.read_text("utf-8")
    assert "deploy/sis-sync.service" in guide and "StateDirectory=sis-sync" in guide
    assert "/etc/sis-sync/state" not in guide
    # The guide's copies are the shipped files, word for word (they drifted once).
    assert UNIT.read_text("utf-8") in guide and ENV.read_text("utf-8") in guide


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze absent: the parse tests above still check the directives",
)
def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    # verify checks that ExecStart exists: point it at this checkout's console script.
    exe = Path(sys.executable).parent / "sis-sync"
    text = UNIT.read_text("utf-8").replace("/opt/sis-sync/.venv/bin/sis-sync", str(exe))
    unit = tmp_path / "sis-sync.service"
    unit.write_text(text, "utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    own = [line for line in done.stderr.splitlines() if "sis-sync.service" in line]
    assert done.returncode == 0 and not own, done.stderr
