"""Describe checks for ``sis-sync validate``: every problem at once, one call per object."""

from __future__ import annotations

from connector.salesforce.describe import Describer

FIELDS = [
    {"name": "Id", "createable": False, "updateable": False, "idLookup": True},
    {"name": "LastName", "createable": True, "updateable": True},
    {"name": "Email", "createable": True, "updateable": True},
    {"name": "SIS_Student_Number__c", "createable": True, "updateable": True, "externalId": True},
    {"name": "Name", "createable": False, "updateable": False},
    {"name": "TaskSubtype", "createable": True, "updateable": False},
]


def test_check_reports_every_problem_and_caches(client, org):
    org.route(
        "GET",
        "sobjects/Contact/describe",
        lambda request: (200, {"name": "Contact", "fields": FIELDS}),
    )
    describer = Describer(client)
    problems = describer.check(
        "Contact",
        ["lastname", "Email", "Name", "Foo__c", "TaskSubtype"],
        external_id_field="SIS_Student_Number__c",
    )
    assert problems == [
        "Contact.Name: not createable",
        "Contact.Name: not updateable",
        "Contact.Foo__c: no such field",
        "Contact.TaskSubtype: not updateable",
    ]
    assert describer.check("Contact", ["Email"], external_id_field="Email") == [
        "Contact.Email: not an external id field"
    ]
    assert "SIS_Student_Number__c" in describer.field_names("Contact")
    assert len(org.calls_to("/describe")) == 1


def test_unknown_object_is_a_problem_not_an_exception(client, org):
    org.route(
        "GET",
        "sobjects/Nope__c/describe",
        lambda request: (
            404,
            [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
        ),
    )
    describer = Describer(client)
    assert describer.check("Nope__c", ["X"]) == ["Nope__c: no such object in the org"]
    assert describer.field_names("Nope__c") == set()
