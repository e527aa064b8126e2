"""`sis-sync validate --online` checks every mapped field against the org's describe."""

from __future__ import annotations

import os
import re

from typer.testing import CliRunner

from connector.cli import app


def _validate(project, monkeypatch):
    for key, value in project.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.folder)
    return CliRunner().invoke(app, ["validate", "--online"])


def test_shipped_mappings_fit_the_default_org(project, monkeypatch):
    result = _validate(project, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "every mapped field exists" in result.output


def test_missing_field_is_reported_with_file(project, monkeypatch):
    path = project.folder / "mappings" / "students.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Study_Programme__c:", "Opleiding__c:"), encoding="utf-8")
    result = _validate(project, monkeypatch)
    assert result.exit_code == 2
    # file:line: key, then the problem (every validate --online error names all three)
    assert re.search(
        r"students\.yaml:\d+: fields\.Opleiding__c: Contact\.Opleiding__c: no such field",
        result.output,
    )
    assert os.path.exists(project.folder / "state") is False
