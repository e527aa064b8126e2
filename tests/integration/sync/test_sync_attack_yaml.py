"""An alias bomb made of one long string (found by attacking issue 8).

The alias limit counts *values* (connector/yamlsafe.py, MAX_NODES = 100,000), not their size:
20,000 aliases of one 10,000-character string stay under it, in a 72 KB mapping file. Loading
shares the string, but ``project_digest`` (connector/sync/fingerprint.py) dumps every mapping
to JSON: 200 MB here, and 9 GB for 90,000 aliases of a 100 KB string (``sis-sync plan`` then
aborts on a 3.3 GB allocation). docs/sources.md promises such a file is refused with exit 2 in
well under a second, before anything is validated.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from connector.commands.mapping import DEFAULTS
from connector.errors import UsageError
from connector.mapping.loader import load_project

ENDED = "  ended: [uitgeschreven, afgewezen, ingetrokken]\n"


def test_aliases_of_one_long_string_are_refused_as_an_alias_bomb(tmp_path: Path):
    shutil.copytree(DEFAULTS / "mappings", tmp_path / "mappings")
    path = tmp_path / "mappings" / "students.yaml"
    text = path.read_text(encoding="utf-8")
    assert ENDED in text, "the shipped students mapping changed: adapt this test"
    bomb = f'&a "{"x" * 10_000}", ' + ", ".join(["*a"] * 20_000)
    path.write_text(
        text.replace(ENDED, f"  ended: [uitgeschreven, afgewezen, ingetrokken, {bomb}]\n"),
        encoding="utf-8",
    )
    problem = None
    try:
        load_project(tmp_path / "mappings")
    except UsageError as err:
        problem = str(err)
    assert problem is not None, (
        "BUG: 20,000 aliases of a 10,000-character string (200 MB once expanded) were "
        "accepted; the alias limit must count the expanded size, not only the values"
    )
    assert "students.yaml" in problem and "alias" in problem
