"""`plan` shows org reference data as sent (a2-F8): the record type by DeveloperName, the
external id of a looked-up org record (a programme's crebo) under its relationship key, and a
field the mapping declares `personal: false` (a programme's name); persons stay masked."""

from __future__ import annotations

import json
import re

from relfixtures import CliProject

from connector.commands.mapping import model_folder
from connector.mapping.loader import load_project
from connector.mapping.models import MappingSpec
from connector.mapping.project import Project
from connector.plan_examples import example_values, shown_fields


def _examples(stdout: str) -> list[dict]:
    found = re.findall(r"e\.g\. \w+ [0-9a-f]+…: (\{.*\})$", stdout, flags=re.M)
    return [json.loads(text) for text in found]


def test_education_cloud_plan_shows_record_type_crebo_and_programme(
    project: CliProject, tmp_path
) -> None:
    folder = tmp_path / "school"
    init = project.cli(
        "init", str(folder), "--model", "education-cloud", "--sample-data", cwd=tmp_path
    )
    assert init.returncode == 0, init.stdout + init.stderr
    done = project.cli("plan", cwd=folder)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    examples = _examples(done.stdout)
    learners = [e for e in examples if "LearningProgramPlan.Crebo__c" in e]
    persons = [e for e in examples if "PersonEmail" in e]
    assert learners and persons, done.stdout
    for e in learners:
        assert re.fullmatch(r"\d{5}", e["LearningProgramPlan.Crebo__c"]), e
        assert "***" not in e["Name"] and e["Name"].endswith(")"), e  # "Verpleegkunde (25480)"
        assert e["LearnerAccountId"].endswith("***"), e  # a reference to a person
    for e in persons:
        assert e["RecordTypeId"] == "(record type PersonAccount)", e
        assert e["PersonEmail"].endswith("***") and e["LastName"].endswith("***"), e


def test_a_lookup_to_a_person_stays_masked(tmp_path) -> None:
    project = load_project(model_folder("education-cloud") / "mappings")
    spec = project.mappings["learner_programs"]
    doc = spec.model_dump(by_alias=True, exclude_none=True)
    doc["fields"]["Mentor__c"] = {
        "from": "mentor",
        "lookup": {"object": "Contact", "external_id": "Employee_Number__c"},
        "purposes": ["enrolment"],
    }
    doc["fields"]["Contact_By_Number__c"] = {
        "from": "studentnummer",
        "lookup": {"object": "Account", "external_id": "SIS_Student_Number__pc"},
        "purposes": ["enrolment"],
    }
    changed = Project(
        directory=project.directory,
        purposes=project.purposes,
        mappings={**project.mappings, "learner_programs": MappingSpec.model_validate(doc)},
        files=project.files,
    )
    shown = shown_fields(changed, "learner_programs")
    assert "LearningProgramPlan.Crebo__c" in shown and "Name" in shown
    assert not {"Mentor__c", "Mentor__r.Employee_Number__c"} & shown
    assert not {"Contact_By_Number__c", "Contact_By_Number__r.SIS_Student_Number__pc"} & shown
    row = {"Mentor__r.Employee_Number__c": "E12345", "LearningProgramPlan.Crebo__c": "25480"}
    assert example_values(row, shown) == {
        "LearningProgramPlan.Crebo__c": "25480",
        "Mentor__r.Employee_Number__c": "E***",
    }
