"""The emulator stands alone: it loads nothing else of ``connector``, and nothing else loads it."""

from __future__ import annotations

import json
import subprocess
import sys


def _loaded_after(code: str) -> list[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_emulator_imports_nothing_else_of_connector():
    modules = _loaded_after(
        "import connector.emulator.server, connector.emulator.testing, connector.emulator.userinfo"
    )
    assert "connector.emulator.server" in modules
    others = [
        m for m in modules if m.startswith("connector.") and not m.startswith("connector.emulator")
    ]
    assert others == []


def test_cli_help_does_not_import_the_emulator():
    modules = _loaded_after(
        "import sys\nfrom connector import cli\nsys.argv = ['sis-sync', '--help']\n"
        "try:\n    cli.app()\nexcept SystemExit:\n    pass"
    )
    assert "connector.cli" in modules
    assert [m for m in modules if m.startswith("connector.emulator")] == []
