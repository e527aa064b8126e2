"""Every file a run or a rebuild leaves in state/ is owner-only (issue 8, Deliver 7).

Found by attacking issue 8: the run reports are 0600, but the rebuild's list of unmatched rows
(``rebuild-NNNNNN-unmatched.txt``, connector/sync/rebuild.py ``_write_list``) was written with
the process umask (0644 under the usual 022). docs/recovery.md says to keep the reports with
the backups, where the folder's 0700 no longer protects them.
"""

from __future__ import annotations

import os
import shutil
import stat

from syncfixtures import SyncProject, student

from connector.sync.rebuild import rebuild_state


def _modes(folder) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode)
        for p in [folder, *folder.rglob("*")]
    }


def test_run_and_rebuild_leave_only_owner_only_files_under_a_permissive_umask(
    project: SyncProject,
) -> None:
    old = os.umask(0o022)
    try:
        project.write_students([student("860001"), student("860002", email="geen-adres")])
        assert project.run("students").exit_code() == 1  # the bad e-mail: a listed row
        shutil.rmtree(project.folder / "state")
        result = rebuild_state(project.settings(), job="students")
    finally:
        os.umask(old)
    assert result.list_file is not None and result.list_file.exists()
    modes = _modes(project.folder / "state")
    loose = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode & 0o077
        or (stat.S_ISDIR((project.folder / "state" / name).stat().st_mode) and mode != 0o700)
    }
    assert not loose, f"BUG: state files readable by others: {loose}"
