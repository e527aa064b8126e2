"""The consent model's records in the deletion order of a graph (graph_batch.delete_many):
consents with the children, the Individual after the Contact, and kept with it when a child
was refused; which person records point at an Individual (pure)."""

from __future__ import annotations

from connector.gdpr.consent_graph import consent_items, owners_of
from connector.gdpr.erasure import GraphItem
from connector.gdpr.graph_batch import delete_many
from connector.records import WriteResult


class _Writer:
    """Deletes per object, refusing the objects named in ``refuse``; notes the order."""

    def __init__(self, refuse: frozenset[str] = frozenset()):
        self.refuse, self.calls = refuse, []

    def delete(self, obj, ids, *, hard=False):
        self.calls.append(obj)
        if obj in self.refuse:
            return [WriteResult(ok=False, sf_id=i, error_code="UNABLE_TO_LOCK_ROW") for i in ids]
        return [WriteResult(ok=True, sf_id=i) for i in ids]


def _graph() -> list[GraphItem]:
    return [
        GraphItem("Individual", "0PK1", "Contact.IndividualId"),
        GraphItem("Contact", "0031", "students", "students", "k1"),
        GraphItem("ContactPointTypeConsent", "0ZY1", "consent:recruitment_news"),
        GraphItem("Task", "00T1", "Task.WhoId"),
    ]


def test_consents_go_with_the_children_and_the_individual_after_the_contact() -> None:
    writer = _Writer()
    [result] = delete_many(writer, [_graph()])
    assert writer.calls == ["Task", "ContactPointTypeConsent", "Contact", "Individual"]
    assert result.complete and len(result.deleted) == 4


def test_a_refused_consent_keeps_the_contact_and_its_individual() -> None:
    writer = _Writer(refuse=frozenset({"ContactPointTypeConsent"}))
    [result] = delete_many(writer, [_graph()])
    assert writer.calls == ["Task", "ContactPointTypeConsent"]
    assert [i.object for i, _ in result.failed] == ["ContactPointTypeConsent"]
    assert {i.object for i in result.deleted} == {"Task"}


def test_owners_are_contacts_and_leads_by_their_15_character_id() -> None:
    owners = owners_of(
        {1: {"Contact": ["003000000000001AAA"], "Account": ["001X"]}, 2: {"Lead": ["00Q1"]}}
    )
    assert owners == {"003000000000001": [1], "00Q1": [2]}


def test_consent_items_forget_their_state_rows_by_purpose() -> None:
    consents = [
        {
            "Id": "0ZY1",
            "SIS_Consent_Key__c": "k-news",
            "DataUsePurpose": {"Name": "recruitment_news"},
        },
        {"Id": "0ZY2", "SIS_Consent_Key__c": None, "DataUsePurpose": None},  # staff-made
    ]
    items, individual, forget = consent_items("0PK1", consents, with_keys=True)
    assert [(i.object, i.sf_id, i.via) for i in items] == [
        ("ContactPointTypeConsent", "0ZY1", "consent:recruitment_news"),
        ("ContactPointTypeConsent", "0ZY2", "ContactPointTypeConsent.PartyId"),
    ]
    assert (individual.object, individual.sf_id) == ("Individual", "0PK1")
    assert forget == {"consent:recruitment_news": ["k-news"]}
    assert all(i.key_hash is None for i in [*items, individual])  # never tombstoned
