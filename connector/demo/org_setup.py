"""What a school's Salesforce admin set up before the first sync, for each org shape (DESIGN §11).

``sis-sync init --model education-cloud|eda`` maps students to programmes the org already holds:
the connector looks them up by crebo and never creates them. The demo (and the tests) play that
admin: through the plain simple-salesforce client, not through sis-sync, they create

- ``education-cloud``: one ``LearningProgram`` per programme with its crebo in ``Crebo__c``, and
  the ``LearningProgramPlan`` new learners follow (``LearnerProgram`` reaches a programme only
  through a plan: Education Cloud Developer Guide, LearnerProgram);
- ``eda``: one Account of record type ``Academic_Program`` per programme (EDA models a programme
  as an Account: ``hed__Program_Enrollment__c.hed__Account__c`` is labelled "Program"), with its
  crebo in ``Crebo__c``.

The ``contacts`` model needs nothing: its mappings write only Contacts, Campaigns, members and
Tasks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from connector.demo.people import PROGRAMMES

Model = Literal["contacts", "education-cloud", "eda"]
MODELS: tuple[Model, ...] = ("contacts", "education-cloud", "eda")


def emulator_options(model: Model) -> dict[str, Any]:
    """The ``running_emulator`` options of the org shape ``model`` runs on."""
    if model == "education-cloud":
        return {"person_accounts": True}
    if model == "eda":
        from connector.emulator.schemas import builtin_schema

        return {"schema_file": builtin_schema("eda")}
    return {}


def _programmes() -> Iterable[tuple[str, str]]:
    """(name, crebo) of every programme the demo data set uses."""
    return ((name, crebo) for name, crebo, _level in PROGRAMMES)


def create_programmes(sf: Any, model: Model) -> int:
    """Create the org's programmes as its admin would (``sf``: a simple-salesforce client).

    Returns:
        How many programme records were created (plans not counted).
    """
    count = 0
    if model == "education-cloud":
        for name, crebo in _programmes():
            program = sf.LearningProgram.create({"Name": name, "Crebo__c": crebo})
            sf.LearningProgramPlan.create(
                {
                    "Name": f"{name} (instroom)",
                    "LearningProgramId": program["id"],
                    "IsActive": True,
                    "Crebo__c": crebo,
                }
            )
            count += 1
    elif model == "eda":
        found = sf.query(
            "SELECT Id FROM RecordType WHERE SobjectType = 'Account' "
            "AND DeveloperName = 'Academic_Program'"
        )["records"]
        record_type = found[0]["Id"]
        for name, crebo in _programmes():
            sf.Account.create({"Name": name, "RecordTypeId": record_type, "Crebo__c": crebo})
            count += 1
    return count
