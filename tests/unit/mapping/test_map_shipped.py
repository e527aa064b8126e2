"""The shipped mapping set: it loads, it is what `init` writes, and it maps real-looking data."""

from __future__ import annotations

import filecmp
import json
from datetime import date
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from connector.commands.mapping import DEFAULTS, register_commands
from connector.config import load_settings
from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.mapping.checks import mapping_columns
from connector.mapping.json_schema import mapping_json_schema, purposes_json_schema
from connector.records import Reject
from connector.sources import open_source

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT.parent / "shared" / "samples" / "oneroster"
HASHER = KeyHasher("shipped-test")
TODAY = date(2025, 3, 1)
NIGHTLY = ["students", "events", "registrants", "registrations", "registration_tasks"]


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(
        ctx: typer.Context, config: Annotated[Path | None, typer.Option("--config")] = None
    ) -> None:
        ctx.obj = {"config": config}

    register_commands(app)
    return app


@pytest.fixture(scope="module")
def shipped():
    return load_project(ROOT / "mappings")


def test_packaged_copy_is_the_top_level_set():
    packaged = sorted(p.name for p in (DEFAULTS / "mappings").iterdir())
    top = sorted(p.name for p in (ROOT / "mappings").iterdir())
    assert packaged == top
    _match, mismatch, errors = filecmp.cmpfiles(
        DEFAULTS / "mappings", ROOT / "mappings", packaged, shallow=False
    )
    assert mismatch == [] and errors == []


def test_shipped_set_loads_in_parent_order(shipped):
    assert set(NIGHTLY) | {"oneroster_users", "oneroster_enrollments"} == set(shipped.mappings)
    order = shipped.order(NIGHTLY)
    for parent, child in [
        ("events", "registrations"),
        ("registrants", "registrations"),
        ("events", "registration_tasks"),
        ("registrants", "registration_tasks"),
    ]:
        assert order.index(parent) < order.index(child)
    assert shipped.order(["oneroster_enrollments", "oneroster_users"]) == [
        "oneroster_users",
        "oneroster_enrollments",
    ]


def test_shipped_sync_yaml_names_existing_mappings(shipped):
    settings = load_settings(DEFAULTS / "sync.yaml", env={})
    assert settings.mappings == (DEFAULTS / "mappings").resolve()
    jobs = {job.name: job for job in settings.jobs}
    assert jobs["nightly"].mappings == NIGHTLY
    assert jobs["nightly"].cron == "0 4 * * *"
    assert set(jobs["oneroster"].mappings) <= set(shipped.mappings)
    text = (DEFAULTS / "sync.yaml").read_text(encoding="utf-8")
    assert "client_secret" not in text and "password:" not in text


def test_students_never_reads_bsn_or_geslacht(shipped):
    for name, spec in shipped.mappings.items():
        columns = {column for _path, column in mapping_columns(spec)}
        assert not columns & {"bsn", "geslacht"}, name


def test_every_consent_purpose_is_complete(shipped):
    for name in ("recruitment_news", "phone_contact"):
        purpose = shipped.purposes.purposes[name]
        assert purpose.lawful_basis == "consent" and purpose.min_age == 16
        assert purpose.consent is not None and purpose.consent.at
    assert shipped.purposes.purposes["phone_contact"].consent.by == "toestemming_bellen_door"
    for purpose in shipped.purposes.purposes.values():
        assert purpose.retention is not None and purpose.recipients and purpose.description


def run_mapping(project, name, base_dir, source=None):
    """Read the source and apply the compiled mapping: (ok, {line: reasons}, filtered)."""
    mapping = project.compile(name, hasher=HASHER, today=TODAY)
    src = open_source(source or project.mappings[name].source, base_dir=base_dir)
    src.check()
    ok, rejected, filtered = [], {}, 0
    for item in src.read():
        if isinstance(item, Reject):
            rejected[item.origin.line] = [(item.column, item.reason)]
            continue
        result = mapping.apply(item)
        if result is None:
            filtered += 1
        elif result.errors:
            rejected[item.origin.line] = [(e.column, e.reason) for e in result.errors]
        else:
            ok.append(result)
    return ok, rejected, filtered


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from connector.demo.dataset import generate

    folder = tmp_path_factory.mktemp("demo")
    return folder, generate(
        folder, students=40, applicants=20, registrations=60, seed=3, today=TODAY
    )


def test_students_reject_exactly_the_malformed_rows(shipped, demo):
    folder, summary = demo
    ok, rejected, _ = run_mapping(shipped, "students", folder)
    bad = {m.line: m.column for m in summary.malformed["studenten.csv"]}
    assert set(rejected) == set(bad)
    for line, column in bad.items():
        assert column in {c for c, _ in rejected[line]}
    assert len(ok) == summary.students + summary.applicants
    values = ok[0].values
    assert {"SIS_Student_Number__c", "LastName", "Email", "Lifecycle_Status__c"} <= set(values)
    assert all(r.facts.phase is not None and r.identity[0] for r in ok)
    assert any(r.facts.consents.get("phone_contact") for r in ok)


def test_registration_mappings_map_the_event_export(shipped, demo):
    folder, summary = demo
    bad = {m.line for m in summary.malformed["aanmeldingen_opendag.csv"]}
    for name in ("events", "registrants", "registrations", "registration_tasks"):
        ok, rejected, filtered = run_mapping(shipped, name, folder)
        assert set(rejected) <= bad, name
        assert ok, name
    ok, _, filtered = run_mapping(shipped, "registration_tasks", folder)
    assert filtered > 0 and all(r.values["Status"] == "Completed" for r in ok)
    assert all(set(r.refs) == {"WhoId", "WhatId"} for r in ok)
    ok, _, _ = run_mapping(shipped, "registrations", folder)
    assert {r.values["Status"] for r in ok} == {"Attended", "Registered"}
    assert all(r.refs["ContactId"][1] == r.refs["ContactId"][1].lower() for r in ok)


@pytest.mark.parametrize(
    "sample",
    ["Test_full_data_set", "Test_minimal_data_set", "oneroster_test_data", "v1p2_full_dataset"],
)
def test_oneroster_mappings_on_real_samples(shipped, sample):
    for name in shipped.order(["oneroster_users", "oneroster_enrollments"]):
        source = {**shipped.mappings[name].source, "path": str(SAMPLES / sample)}
        ok, rejected, _ = run_mapping(shipped, name, ROOT, source)
        assert ok, (sample, name)
        assert all(reason for reasons in rejected.values() for _c, reason in reasons)
        if name == "oneroster_users":
            assert all(r.values["SIS_Student_Number__c"] and r.values["LastName"] for r in ok)
        else:
            assert all(r.refs["WhoId"][0] == "oneroster_users" for r in ok)


def test_init_then_validate(tmp_path, monkeypatch):
    runner = CliRunner()
    target = tmp_path / "school"
    result = runner.invoke(cli(), ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "sync.yaml").is_file() and (target / "README.txt").is_file()
    assert sorted(p.name for p in (target / "mappings").iterdir()) == sorted(
        p.name for p in (ROOT / "mappings").iterdir()
    )
    monkeypatch.chdir(target)
    for var in ("SIS_SYNC_CONFIG", "SIS_SYNC_MAPPINGS"):
        monkeypatch.delenv(var, raising=False)
    result = runner.invoke(cli(), ["validate"])
    assert result.exit_code == 0, result.output
    assert "students: csv data/studenten.csv" in result.output
    assert "ok: 7 mapping(s)" in result.output
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    runner.invoke(cli(), ["validate"])
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before  # writes nothing


def test_init_refuses_a_non_empty_folder(tmp_path):
    runner = CliRunner()
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(cli(), ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert not (tmp_path / "sync.yaml").exists()
    result = runner.invoke(cli(), ["init", str(tmp_path), "--force"])
    assert result.exit_code == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "mappings" / "purposes.yaml").is_file()


def test_validate_prints_every_problem_and_exits_2(tmp_path):
    runner = CliRunner()
    runner.invoke(cli(), ["init", str(tmp_path)])
    students = tmp_path / "mappings" / "students.yaml"
    text = students.read_text(encoding="utf-8")
    text = text.replace("  FirstName:   {from: roepnaam,", "  FirstName:   {from: bsn,")
    students.write_text(text, encoding="utf-8")
    events = tmp_path / "mappings" / "events.yaml"
    events.write_text(events.read_text().replace("purposes: [event_administration]}", "}", 1))
    result = runner.invoke(cli(), ["--config", str(tmp_path / "sync.yaml"), "validate"])
    assert result.exit_code == 2
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "from: bsn" in t)
    assert f"mappings/students.yaml:{line}: fields.FirstName.from: refused" in result.output
    assert "mappings/events.yaml:" in result.output and "names no purpose" in result.output
    assert "2 problem(s)" in result.output


def test_validate_reports_a_job_naming_a_missing_mapping(tmp_path):
    runner = CliRunner()
    runner.invoke(cli(), ["init", str(tmp_path)])
    (tmp_path / "mappings" / "registration_tasks.yaml").unlink()
    result = runner.invoke(cli(), ["--config", str(tmp_path / "sync.yaml"), "validate"])
    assert result.exit_code == 2
    assert "jobs.nightly: no mapping called 'registration_tasks'" in result.output


def test_mapping_schema_command_and_export():
    runner = CliRunner()
    result = runner.invoke(cli(), ["mapping-schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema == mapping_json_schema()
    assert schema["additionalProperties"] is False
    assert {"name", "source", "target", "fields"} <= set(schema["required"])
    field = schema["$defs"]["FieldSpec"]
    assert {"from", "value", "template", "ref", "transform", "purposes"} <= set(field["properties"])
    assert field["additionalProperties"] is False
    result = runner.invoke(cli(), ["mapping-schema", "--purposes"])
    assert json.loads(result.output) == purposes_json_schema()
    assert "purposes" in json.loads(result.output)["properties"]


def test_plugins_lists_both_registries_with_packages():
    result = CliRunner().invoke(cli(), ["plugins"])
    assert result.exit_code == 0
    for name in ("sources", "transforms", "csv", "oneroster", "phone_e164", "strip", "sis-sync"):
        assert name in result.output


def test_register_command_renders_the_loaded_project(tmp_path, monkeypatch):
    import sys
    import types

    calls = []

    def render_register(project, fmt, *, generated_on=None):
        calls.append((sorted(project.mappings), fmt, generated_on))
        return f"register of {project.purposes.controller_party.name} as {fmt}\n"

    fake = types.ModuleType("connector.privacy.register")
    fake.render_register = render_register
    monkeypatch.setitem(sys.modules, "connector.privacy.register", fake)
    runner = CliRunner()
    runner.invoke(cli(), ["init", str(tmp_path)])
    config = str(tmp_path / "sync.yaml")
    result = runner.invoke(cli(), ["--config", config, "register", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output == "register of ROC Voorbeeld as csv\n"
    out = tmp_path / "register.html"
    result = runner.invoke(cli(), ["--config", config, "register", "-f", "html", "-o", str(out)])
    assert out.read_text() == "register of ROC Voorbeeld as html\n"
    assert calls[0][0] == sorted([*NIGHTLY, "oneroster_users", "oneroster_enrollments"])
    result = runner.invoke(cli(), ["--config", config, "register", "--format", "pdf"])
    assert result.exit_code == 2
    # Its date is the configured clock's, as every command's (a preview with SIS_SYNC_NOW).
    later = {"SIS_SYNC_NOW": "2027-03-01T23:30:00+00:00"}
    result = runner.invoke(cli(), ["--config", config, "register"], env=later)
    assert result.exit_code == 0, result.output
    assert calls[-1][2] == date(2027, 3, 2)  # half past midnight in Amsterdam


def test_every_model_ships_the_same_purposes_yaml():
    """One register for every model (a2-F1): the opt-outs are named as on Contact and a
    person-account mapping translates them (compile.person_account_field)."""
    models = DEFAULTS.parent
    copies = [ROOT / "mappings" / "purposes.yaml"]
    copies += sorted(models.glob("*/mappings/purposes.yaml"))
    assert {p.parent.parent.name for p in copies[1:]} >= {"project", "eda", "education-cloud"}
    texts = {p: p.read_bytes() for p in copies}
    assert all(t == texts[copies[0]] for t in texts.values()), [
        str(p) for p, t in texts.items() if t != texts[copies[0]]
    ]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("project", {"recruitment_news": "HasOptedOutOfEmail", "phone_contact": "DoNotCall"}),
        ("eda", {"recruitment_news": "HasOptedOutOfEmail", "phone_contact": "DoNotCall"}),
        (
            "education-cloud",  # students are person accounts: the Account's Person… fields
            {"recruitment_news": "PersonHasOptedOutOfEmail", "phone_contact": "PersonDoNotCall"},
        ),
    ],
)
def test_withdrawal_sets_an_opt_out_in_every_model(model, expected):
    from connector.mapping import compile_mapping

    project = load_project(DEFAULTS.parent / model / "mappings")
    students = compile_mapping(
        project.mappings["students"], project.purposes, hasher=HASHER, today=TODAY
    )
    assert students.purpose_opt_outs == expected
