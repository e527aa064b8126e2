"""Identity rules: student number first, e-mail joins a prospect, never two student numbers."""

from __future__ import annotations

from connector.sync.identity import Match, Person, resolve

PROSPECT = Person(1, "003A", None, "e1")
STUDENT = Person(2, "003B", "s1", "e1")
OTHER_STUDENT = Person(3, "003C", "s2", "e2")


def test_student_number_wins():
    r = resolve("s1", "e9", STUDENT, [])
    assert r.match is Match.KNOWN and r.person is STUDENT


def test_new_when_nothing_matches():
    assert resolve("s9", "e9", None, []).match is Match.NEW
    assert resolve(None, None, None, []).match is Match.NEW


def test_prospect_joins_student_by_email():
    r = resolve("s1", "e1", None, [PROSPECT])
    assert r.match is Match.JOIN and r.person is PROSPECT


def test_email_never_joins_a_different_student_number():
    # Siblings sharing a parent's address are two people.
    assert resolve("s9", "e2", None, [OTHER_STUDENT]).match is Match.NEW


def test_registrant_finds_existing_student_by_email():
    r = resolve(None, "e1", None, [STUDENT])
    assert r.match is Match.KNOWN and r.person is STUDENT


def test_prospect_seen_again_is_known():
    r = resolve(None, "e1", None, [PROSPECT])
    assert r.match is Match.KNOWN


def test_several_candidates_are_ambiguous():
    twin = Person(4, "003D", None, "e1")
    r = resolve(None, "e1", None, [PROSPECT, twin])
    assert r.match is Match.AMBIGUOUS and r.candidates == 2 and r.person is None
