"""Special-category target objects (issue 10.4, GDPR art. 9): a mapping that targets Education
Cloud's ContactProfile or a PersonDisability-like object is refused when the project loads,
naming file, line and key; an ordinary education object is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import MappingError
from connector.mapping.loader import load_project
from connector.privacy.identifiers import special_category_object

PURPOSES = """\
controller: ROC Test
purposes:
  enrolment:
    description: Inschrijving
    lawful_basis: contract
    retention: {after: lifecycle_end, keep: P1M}
"""

MAPPING = """\
name: target
source: {kind: csv, path: data/p.csv, key: nr}
target: {object: %s, external_id: SIS_Sync_Key__c}
fields:
  Name: {from: naam, purposes: [enrolment]}
"""


def _project(tmp_path: Path, obj: str) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(PURPOSES, encoding="utf-8")
    (folder / "target.yaml").write_text(MAPPING % obj, encoding="utf-8")
    return folder


@pytest.mark.parametrize("obj", ["ContactProfile", "PersonDisability", "Health_Condition__c"])
def test_a_special_category_target_object_is_refused_naming_file_line_and_key(
    tmp_path: Path, obj: str
) -> None:
    with pytest.raises(MappingError) as caught:
        load_project(_project(tmp_path, obj))
    problems = [str(p) for p in caught.value.problems]
    assert any(
        "target.yaml:3" in p and "target.object" in p and "GDPR art. 9" in p for p in problems
    ), problems


@pytest.mark.parametrize("obj", ["LearnerProgram", "IndividualApplication", "Contact"])
def test_education_objects_that_hold_no_special_category_load(tmp_path: Path, obj: str) -> None:
    assert special_category_object(obj) is None
    assert "target" in load_project(_project(tmp_path, obj)).mappings
