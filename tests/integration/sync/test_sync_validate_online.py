"""`sis-sync validate --online` checks every mapped field against the org's describe."""

from __future__ import annotations

import os

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
    assert "students.yaml: Contact.Opleiding__c: no such field" in result.output
    assert os.path.exists(project.folder / "state") is False
