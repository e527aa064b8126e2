"""`sis-sync demo --keep DIR` (a2-F14): a non-empty folder the demo did not make is refused
(exit 2, nothing written); a kept demo saves its secret owner-only with an env file pointing at
it, so the kept project runs again with the same keyed hashes (nothing to write); a folder a
previous demo kept may be used again."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys

from rich.console import Console

from connector.demo.keep import ENV_FILE, MARKER, SECRET_FILE
from connector.demo.run import run_demo
from connector.emulator.testing import running_emulator


def _demo(folder):
    out = io.StringIO()
    code = run_demo(keep=folder, students=40, console=Console(file=out, width=200))
    return code, out.getvalue()


def test_a_folder_the_demo_did_not_make_is_refused(tmp_path):
    folder = tmp_path / "school"
    folder.mkdir()
    (folder / "sync.yaml").write_text("# the school's own\n", encoding="utf-8")
    code, text = _demo(folder)
    assert code == 2, text
    assert "not empty and no previous demo made it" in " ".join(text.split())
    assert sorted(p.name for p in folder.iterdir()) == ["sync.yaml"]
    assert (folder / "sync.yaml").read_text(encoding="utf-8") == "# the school's own\n"


def test_a_kept_demo_runs_again_with_its_secret(tmp_path):
    folder = tmp_path / "demo"
    code, text = _demo(folder)
    assert code == 0, text
    secret, env_file = folder / SECRET_FILE, folder / ENV_FILE
    assert (folder / MARKER).is_file()
    for path in (secret, env_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert str(env_file) in " ".join(text.split())
    assert secret.read_text(encoding="utf-8").strip() not in text  # never printed
    env = dict(
        line.split("=", 1)
        for line in env_file.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert env["SIS_SYNC_SECRET_FILE"] == str(secret.resolve())

    # Its org again (the emulator's data folder), on a new port: the run has nothing to write,
    # which it could not know without the demo's secret.
    with running_emulator(folder / "emulator") as emu:
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("SIS_SYNC_")}
        run_env |= env | {
            "SIS_SYNC_SALESFORCE__URL": emu.url,
            "SIS_SYNC_SALESFORCE__CA_BUNDLE": emu.ca_file,
        }
        done = subprocess.run(
            [sys.executable, "-m", "connector", "run", "nightly"],
            cwd=folder,
            env=run_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert " create 0, update 0," in done.stdout, done.stdout

    again, text = _demo(folder)  # a previous demo's folder may be used again
    assert again == 0, text
