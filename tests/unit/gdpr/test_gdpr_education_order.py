"""The education graph's deletion order across persons (pure): a child before whatever
restricts on it, whatever order the persons' graphs list them in; links only for objects the
org has or the mappings target; no describe call for a contacts model."""

from __future__ import annotations

from connector.gdpr.erasure import GraphItem
from connector.gdpr.graph_batch import _object_order
from connector.privacy.person_objects import active_links, education_model


def _item(obj: str, n: int) -> GraphItem:
    return GraphItem(obj, f"{obj[:3]}{n:012d}", obj)


def test_children_go_before_the_records_they_restrict_on_across_persons() -> None:
    units = [
        [_item("Account", 1)],  # a person account listed first by one person
        [_item("hed__Affiliation__c", 2), _item("Contact", 2)],
        [_item("hed__Program_Enrollment__c", 3), _item("LearnerProgram", 3), _item("Task", 3)],
    ]
    order = _object_order(units)
    assert order.index("hed__Program_Enrollment__c") < order.index("hed__Affiliation__c")
    assert order.index("LearnerProgram") < order.index("Account")  # LearnerAccountId restricts
    assert order.index("Contact") < order.index("Account")  # the Administrative Account last
    assert order.index("Task") < order.index("Contact")


def test_links_follow_what_the_org_has_and_what_the_mappings_target() -> None:
    eda = {link.object for link in active_links({"hed__Affiliation__c", "Contact"}, [])}
    assert eda == {"hed__Affiliation__c"}
    assert {link.object for link in active_links(None, ["LearnerProgram"])} == {"LearnerProgram"}
    assert active_links({"Contact", "Task"}, ["Contact"]) == []


def test_only_an_education_model_pays_for_the_describe_call() -> None:
    assert not education_model(["Contact", "Campaign", "CampaignMember", "Task"])
    assert education_model(["Account", "CampaignMember"])  # person accounts
    assert education_model(["Contact", "hed__Affiliation__c"])
