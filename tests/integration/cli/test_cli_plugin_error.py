"""A source plugin that raises an exception outside its contract (issue #12): the command line
names the plugin and the exception type (exit 70, a bug), never the exception's text, shows the
frames only under -v, and records the run as failed with that cause for `status`.

The plugin is installed for real: a distribution's ``entry_points.txt`` on PYTHONPATH, found by
``importlib.metadata`` in the child process exactly as a pip-installed plugin would be.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from relfixtures import CliProject

SECRET = "secret-value-0612345678"  # what the plugin's KeyError carries: never shown anywhere

PLUGIN = '''
"""Sources with a bug: for the sis-sync tests only."""
from connector.api import FileSource, SourceOptions


class BoomOptions(SourceOptions):
    path: str
    delimiter: str = ";"


class BoomSource(FileSource):
    kind = "boom"
    Options = BoomOptions

    def check(self):
        pass

    def read(self):
        value = self.path.read_text(encoding="utf-8").split()[0]  # a value of the export
        yield {}[value]


class BoomAtStartSource(BoomSource):
    kind = "boom_at_start"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        raise KeyError(self.path.read_text(encoding="utf-8").split()[0])
'''


def install_plugin(folder: Path) -> str:
    """A distribution with the two sources as entry points; returns the PYTHONPATH to use."""
    site = folder / "site"
    dist = site / "boom_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "boom_plugin.py").write_text(PLUGIN, encoding="utf-8")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: boom-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [connector.sources]
            boom = boom_plugin:BoomSource
            boom_at_start = boom_plugin:BoomAtStartSource
            """
        )
    )
    return str(site)


def use_kind(project: CliProject, kind: str) -> None:
    """The students mapping reads with ``kind``; its export's first word is the secret value."""
    (project.folder / "data" / "studenten.csv").write_text(f"{SECRET};x\n", encoding="utf-8")
    students = project.folder / "mappings" / "students.yaml"
    text = students.read_text(encoding="utf-8")
    students.write_text(text.replace("kind: csv,", f"kind: {kind},", 1), encoding="utf-8")


def test_a_source_plugin_bug_is_named_recorded_and_never_shows_its_value(
    project: CliProject, tmp_path: Path
) -> None:
    path = install_plugin(tmp_path)
    use_kind(project, "boom")

    ran = project.cli("run", "students", PYTHONPATH=path)
    out = ran.stdout + ran.stderr
    assert ran.returncode == 70, out  # a bug: neither rejects (1), input (2) nor Salesforce (3)
    assert "error: source plugin boom failed (KeyError)" in ran.stderr
    assert SECRET not in out and "Traceback" not in out

    verbose = project.cli("-v", "run", "students", PYTHONPATH=path)
    assert verbose.returncode == 70
    assert "Traceback (most recent call last)" in verbose.stderr  # where, for the developer
    assert "boom_plugin.py" in verbose.stderr and "in read" in verbose.stderr
    assert SECRET not in verbose.stdout + verbose.stderr

    status = project.cli("status", "--json")
    runs = json.loads(status.stdout)["runs"]
    assert [r["status"] for r in runs] == ["failed", "failed"]
    assert {r["counts"]["cause"] for r in runs} == {"source plugin boom failed (KeyError)"}
    text = project.cli("status")
    assert f"run {runs[0]['run_id']} failed: source plugin boom failed (KeyError)" in text.stdout

    as_json = project.cli("--log-format", "json", "run", "students", PYTHONPATH=path)
    assert as_json.returncode == 70
    lines = [json.loads(line) for line in as_json.stderr.splitlines()]  # every line JSON
    assert lines[-1]["exit_code"] == 70
    assert lines[-1]["message"] == "source plugin boom failed (KeyError)"
    assert SECRET not in as_json.stdout + as_json.stderr


def test_any_other_unexpected_exception_is_exit_70_by_its_type_only(
    project: CliProject, tmp_path: Path
) -> None:
    path = install_plugin(tmp_path)
    use_kind(project, "boom_at_start")  # raises while being built, before any run starts

    ran = project.cli("run", "students", PYTHONPATH=path)
    assert ran.returncode == 70, ran.stdout + ran.stderr
    assert "error: unexpected KeyError" in ran.stderr
    assert SECRET not in ran.stdout + ran.stderr and "Traceback" not in ran.stderr

    verbose = project.cli("-v", "run", "students", PYTHONPATH=path)
    assert "boom_plugin.py" in verbose.stderr and "__init__" in verbose.stderr
    assert SECRET not in verbose.stdout + verbose.stderr
