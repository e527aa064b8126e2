"""The loader: one invalid fixture per rule, every problem at once with file, line and key."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from connector.errors import MappingError, Problem
from connector.mapping import load_project

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mappings"
VALID = FIXTURES / "valid"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
MARK = re.compile(r"#\s*expect:\s*(?P<key>[^|]*?)\s*\|\s*(?P<fragment>.+?)\s*$")


def expectations(path: Path) -> list[tuple[int, str, str]]:
    """(line, key, fragment) for every `# expect: key | fragment` marker in a fixture."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = MARK.search(line)
        if m:
            found.append((number, m["key"], m["fragment"]))
    return found


def project_dir(tmp_path: Path, *extra: Path) -> Path:
    """A mappings folder holding the valid fixture set plus ``extra`` files."""
    folder = tmp_path / "mappings"
    shutil.copytree(VALID, folder)
    for path in extra:
        shutil.copy(path, folder / path.name)
    return folder


def problems_of(folder: Path) -> list[Problem]:
    with pytest.raises(MappingError) as info:
        load_project(folder)
    return info.value.problems


def test_valid_fixture_set_loads_with_parents_first():
    project = load_project(VALID)
    assert sorted(project.mappings) == ["people", "trips", "visitors", "visits"]
    order = project.order()
    assert order.index("trips") < order.index("visits")
    assert order.index("visitors") < order.index("visits")
    assert project.order(["visits", "trips"]) == ["trips", "visits"]
    assert project.files["visitors"].name == "visitors.yml"
    assert set(project.purposes.purposes) == {"enrolment", "visits", "news", "calls"}


def test_every_fixture_names_its_rule_and_expectation():
    assert len(INVALID) >= 20
    for path in INVALID:
        assert expectations(path), f"{path.name} has no `# expect:` marker"


@pytest.mark.parametrize("fixture", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_reports_file_line_and_key(tmp_path, fixture):
    extra = [fixture]
    if fixture.stem == "duplicate_name":
        twin = tmp_path / "duplicate_name.yml"
        shutil.copy(fixture, twin)
        extra.append(twin)
    problems = problems_of(project_dir(tmp_path, *extra))
    mine = [p for p in problems if Path(p.file).stem == fixture.stem]
    assert mine, problems
    for line, key, fragment in expectations(fixture):
        hits = [p for p in mine if p.line == line and p.key == key and fragment in p.message]
        assert hits, f"expected {key!r} at line {line} with {fragment!r}; got {mine}"
        assert hits[0].file.startswith("mappings/")
    assert len(mine) == len(expectations(fixture)), mine
    # the valid files beside it are not blamed
    assert all(Path(p.file).stem == fixture.stem for p in problems), problems


def test_all_files_reported_at_once(tmp_path):
    chosen = [INVALID[i] for i in range(0, len(INVALID), 5)]
    problems = problems_of(project_dir(tmp_path, *chosen))
    assert {Path(p.file).stem for p in problems} >= {p.stem for p in chosen}


def test_three_problems_in_one_file(tmp_path):
    folder = project_dir(tmp_path)
    (folder / "three.yaml").write_text(
        "name: three\n"  # 1
        "source: {kind: csv, path: data/x.csv, key: nummer}\n"  # 2
        "target: {object: Contact, external_id: SIS_Sync_Key__c}\n"  # 3
        "fields:\n"  # 4
        "  LastName: {from: achternaam, purposes: [enrolment], colour: red}\n"  # 5
        "  Email: {from: email, transform: [strip, nonsense], purposes: [enrolment]}\n"  # 6
        "  MobilePhone: {from: mobiel, purposes: [telemarketing]}\n",  # 7
        encoding="utf-8",
    )
    problems = problems_of(folder)
    assert [(p.line, p.key) for p in problems] == [
        (5, "fields.LastName.colour"),
    ], "pydantic errors stop the semantic checks of that file"
    # fix the model error: the two semantic problems appear together
    text = (folder / "three.yaml").read_text().replace(", colour: red", "")
    text = text.replace(
        "  LastName:", "  Religion__c: {from: geloof, purposes: [enrolment]}\n  LastName:"
    )
    (folder / "three.yaml").write_text(text)
    problems = problems_of(folder)
    got = sorted((p.line, p.key, p.message.split(":")[0]) for p in problems)
    assert [(line, key) for line, key, _ in got] == [
        (5, "fields.Religion__c"),
        (5, "fields.Religion__c.from"),
        (7, "fields.Email.transform[1]"),
        (8, "fields.MobilePhone.purposes[0]"),
    ]
    assert all(p.file == "mappings/three.yaml" for p in problems)


def test_messages_carry_no_values(tmp_path):
    folder = project_dir(tmp_path)
    (folder / "leaky.yaml").write_text(
        "name: leaky\n"
        "source: {kind: csv, path: data/x.csv, key: nummer}\n"
        "target: {object: Contact, external_id: SIS_Sync_Key__c}\n"
        "fields:\n"
        "  LastName: {value: Jan de Vries-Geheim, template: '{a}', purposes: [enrolment]}\n"
        "  Birthdate: {from: gd, transform: [{truncate: {length: Geheim123}}], purposes: [enrolment]}\n",
        encoding="utf-8",
    )
    problems = problems_of(folder)
    assert problems
    assert not any("Geheim" in str(p) for p in problems)


def test_missing_purposes_file_and_folder(tmp_path):
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(VALID / "trips.yaml", folder / "trips.yaml")
    problems = problems_of(folder)
    assert [p.file for p in problems] == ["mappings/purposes.yaml"]
    assert "missing" in problems[0].message
    problems = problems_of(tmp_path / "nowhere")
    assert "not found" in problems[0].message


def test_invalid_purposes_file_names_line_and_key(tmp_path):
    folder = project_dir(tmp_path)
    text = (folder / "purposes.yaml").read_text()
    text = text.replace("    consent: {field: nieuws, at: nieuws_op, source: nieuws_bron}\n", "")
    text = text.replace("keep: P3M", "keep: three months")
    (folder / "purposes.yaml").write_text(text)
    problems = problems_of(folder)
    by_key = {p.key: p for p in problems}
    assert by_key["purposes.news"].line == 14
    assert "consent" in by_key["purposes.news"].message
    assert by_key["purposes.visits.retention.keep"].line == 13


def test_forbidden_consent_column_in_purposes(tmp_path):
    folder = project_dir(tmp_path)
    text = (folder / "purposes.yaml").read_text().replace("source: nieuws_bron", "source: bsn")
    (folder / "purposes.yaml").write_text(text)
    (problem,) = problems_of(folder)
    assert (problem.key, problem.line) == ("purposes.news.consent.source", 17)


def test_yes_no_stay_text(tmp_path):
    """YAML 1.1 would read `yes`/`no`/`on` as booleans; value lists keep them as text."""
    folder = project_dir(tmp_path)
    (folder / "flags.yaml").write_text(
        "name: flags\n"
        "source: {kind: csv, path: data/x.csv, key: nummer}\n"
        "target: {object: Contact, external_id: SIS_Sync_Key__c}\n"
        "filter: {column: actief, in: [yes, on, 1]}\n"
        "fields:\n"
        "  LastName: {from: achternaam, purposes: [enrolment]}\n",
        encoding="utf-8",
    )
    project = load_project(folder)
    assert project.mappings["flags"].filter.in_ == ["yes", "on", "1"]


def test_order_rejects_unknown_names():
    from connector.errors import ConfigError

    with pytest.raises(ConfigError, match="known: people"):
        load_project(VALID).order(["nobody"])
