"""`sis-sync demo --keep DIR`: a folder the demo may write, and what it leaves there to run again.

The demo writes a whole project into DIR (mappings, data, state, reports, the emulator's org).
A folder that holds anything else is refused (exit 2): the demo must never overwrite a
school's own project. A folder a previous demo kept carries :data:`MARKER` and is emptied and
written afresh.

The demo hashes with a random secret of its own. Kept, that secret is what the state's keyed
hashes were made with, so it is saved beside the state in ``DIR/.secret`` (owner-only), and
``DIR/demo.env`` (owner-only) points the project at it and at the emulator's org:
``set -a; . ./demo.env; set +a`` then ``sis-sync run nightly`` runs the kept project again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

MARKER = ".sis-sync-demo"
SECRET_FILE = ".secret"  # noqa: S105 - the file name, not a secret
ENV_FILE = "demo.env"
CLIENT_ID, CLIENT_SECRET = "sis-sync-demo", "demo"  # the demo emulator's own, not a real org's


def prepare(folder: Path) -> str | None:
    """Make ``folder`` ready for a kept demo; the reason it may not be used, or None.

    An absent or empty folder is used as it is; a previous demo's (with :data:`MARKER`) is
    emptied; any other non-empty folder, or a file, is refused.
    """
    if folder.exists() and not folder.is_dir():
        return f"--keep {folder}: not a folder"
    if not folder.exists() or not any(folder.iterdir()):
        return None
    if not (folder / MARKER).is_file():
        return (
            f"--keep {folder}: the folder is not empty and no previous demo made it; "
            "nothing was written (name a new or empty folder)"
        )
    for item in folder.iterdir():
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        else:
            item.unlink()
    return None


def _private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600 from the start)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    path.chmod(0o600)  # an existing file keeps its mode through O_CREAT


def save(folder: Path, *, secret: str, url: str, ca_file: str, emulator_flags: str) -> Path:
    """Mark ``folder`` as a demo's and save what running it again needs; returns the env file."""
    folder = folder.resolve()
    (folder / MARKER).write_text("made by sis-sync demo --keep\n", encoding="utf-8")
    _private(folder / SECRET_FILE, secret + "\n")
    port = urlsplit(url).port
    flags = f" {emulator_flags}" if emulator_flags else ""
    env = folder / ENV_FILE
    _private(
        env,
        "# The kept sis-sync demo project. To run it again:\n"
        f"#   sis-sync emulator --data {folder / 'emulator'} --port {port}{flags} &\n"
        "#   set -a; . ./demo.env; set +a; sis-sync run nightly\n"
        f"SIS_SYNC_SECRET_FILE={folder / SECRET_FILE}\n"
        f"SIS_SYNC_SALESFORCE__URL={url}\n"
        "SIS_SYNC_SALESFORCE__AUTH=client_credentials\n"
        f"SIS_SYNC_SALESFORCE__CLIENT_ID={CLIENT_ID}\n"
        f"SIS_SYNC_SALESFORCE__CLIENT_SECRET={CLIENT_SECRET}\n"
        f"SIS_SYNC_SALESFORCE__CA_BUNDLE={ca_file}\n",
    )
    return env


def emulator_flags(model: str) -> str:
    """The `sis-sync emulator` flags of the org shape ``model`` (demo/org_setup.py)."""
    return {"education-cloud": "--person-accounts", "eda": "--schema eda"}.get(model, "")
