"""What erase and purge tell the user matches what they do (issue #10 re-audit), pure: the
erase preview lists a graph in the order it is deleted, ``erase --help`` names the person record
of every model, and a record purged while its person stays does not say "with its person"."""

from __future__ import annotations

from typer.testing import CliRunner

from connector.commands import erase
from connector.gdpr.erasure import GraphItem
from connector.gdpr.graph_batch import _object_order, in_deletion_order
from connector.privacy.retention import Expiry, with_person


def _item(obj: str, n: int, via: str = "") -> GraphItem:
    return GraphItem(obj, f"{obj[:3]}{n:012d}", via or obj)


def _order_of(items: list[GraphItem]) -> list[str]:
    return list(dict.fromkeys(i.object for i in items))


def test_the_eda_graph_is_shown_contact_first_then_its_administrative_account() -> None:
    # As the education graph builds it: found records put in front, the account among them.
    items = [
        _item("hed__Program_Enrollment__c", 1),
        _item("Account", 2, "Contact.AccountId (Administrative)"),
        _item("ContactPointTypeConsent", 3),
        _item("Task", 4),
        _item("hed__Affiliation__c", 5),
        _item("Contact", 6),
        _item("Individual", 7),
    ]
    shown = _order_of(in_deletion_order(items))
    assert shown == _object_order([items])  # what delete_many sends, object by object
    assert shown.index("Contact") < shown.index("Account") < shown.index("Individual")
    assert shown.index("hed__Program_Enrollment__c") < shown.index("hed__Affiliation__c")


def test_a_person_account_is_shown_after_its_education_records() -> None:
    items = [
        _item("Account", 1),
        _item("LearnerProgram", 2),
        _item("Individual", 3),
        _item("CampaignMember", 4),
        _item("LearnerProgram", 5),
    ]
    ordered = in_deletion_order(items)
    assert _order_of(ordered) == _object_order([items])
    assert [i.object for i in ordered][-2:] == ["Account", "Individual"]
    # The records of one object keep their order (the Ids go to Salesforce in it).
    assert [i.sf_id for i in ordered if i.object == "LearnerProgram"] == [
        items[1].sf_id,
        items[4].sf_id,
    ]


def test_erase_help_names_the_person_record_of_every_model() -> None:
    import typer

    app = typer.Typer()
    app.callback()(lambda: None)
    erase.register_commands(app)
    text = " ".join(
        CliRunner().invoke(app, ["erase", "--help"], env={"COLUMNS": "200"}).output.split()
    )
    assert "then the Contact." not in text
    assert "person account" in text and "Administrative Account" in text
    assert "in this order" in text


def test_a_record_purged_while_its_person_stays_says_so() -> None:
    open_ended = [Expiry("enrolment", "lifecycle_end", None, False)]
    [goes] = with_person(open_ended, frozenset({"enrolment"}))
    [stays] = with_person(open_ended, frozenset({"enrolment"}), person_stays=True)
    assert goes.expired and "with its person" in goes.reason
    assert stays.expired and "with its person" not in stays.reason
    assert stays.reason == (
        "enrolment: expired for its person (no lifecycle_end of its own); the person stays"
    )
