"""One student number, one record of a mapping (`duplicates: report`), without a database.

A OneRoster export keys its users on ``sourcedId``; two users with one ``identifier`` would
write one student's Contact. The planner's rule (``PersonRules.taken``): the record that holds
the number first keeps it — in state, or the earlier row of the batch — and the other row is
rejected with the holder's line.
"""

from __future__ import annotations

from test_sync_planner import COMPILED, HASHER, NOW, PROJECT, TODAY, person

from connector.privacy.policy import Policy
from connector.records import Origin, SourceRecord
from connector.state.rows import PersonMatches
from connector.sync.batch_state import BatchState
from connector.sync.plan import Item, Planner
from connector.sync.plan_persons import DUPLICATE_NUMBER, NUMBER_HELD, Taken

MAPPING = "oneroster_users"


def user(sourced_id: str, identifier: str, family: str, line: int) -> Item:
    row = {
        "sourcedId": sourced_id, "identifier": identifier, "givenName": "Anna",
        "familyName": family, "middleName": "", "email": f"{sourced_id}@school.example",
        "enabledUser": "true",
    }  # fmt: skip
    compiled = COMPILED[MAPPING]
    rec = SourceRecord(sourced_id, row, Origin("users.csv", line))
    res = compiled.apply(rec)
    assert res is not None and not res.errors, res and res.errors
    policy = Policy(PROJECT.purposes, compiled.field_purposes)
    return Item(rec, res, policy.decide(res.values, res.facts, TODAY))


def planner(duplicates: str = "report") -> Planner:
    spec = PROJECT.mappings[MAPPING].model_copy(update={"duplicates": duplicates})
    return Planner(MAPPING, spec, COMPILED, HASHER, now=NOW)


def test_two_keys_with_one_number_in_a_batch_write_the_first_and_reject_the_second() -> None:
    first, second = user("u-1", "100001", "Bakker", 2), user("u-2", "100001", "Visser", 3)
    p = planner()
    assert p.query([first, second]).holders
    plan = p.plan([first, second], BatchState(persons=PersonMatches({}, {})))
    assert [w.key_hash for w in plan.writes] == [first.res.key_hash]
    # Not written: the engine rejects it with the reason, or plans it again at the end of a
    # source that may still mark the first key deleted (held_rows.py).
    assert plan.rejects == []
    assert plan.held == [
        (second, Taken("identifier", f"{DUPLICATE_NUMBER}: line 2 has it under another key"))
    ]


def holder_and_newcomer(new_line: int) -> tuple[Item, Item, PersonMatches]:
    """Two keys with student number 100001: the holder (line 2, person 5 in state, Contact
    003AAA) and a newcomer at ``new_line``; the persons state matches on the number."""
    held, new = user("u-1", "100001", "Bakker", 2), user("u-2", "100001", "Visser", new_line)
    student_hash = held.res.identity[0]
    assert student_hash is not None
    persons = PersonMatches({student_hash: person(5, "003AAA", student_hash, None)}, {})
    return held, new, persons


def test_a_number_another_live_record_holds_in_state_is_not_written() -> None:
    held, new, persons = holder_and_newcomer(7)
    state = BatchState(persons=persons, holders={5: (held.res.key_hash,)})
    plan = planner().plan([new], state)
    # Held, not rejected: the engine rejects it with NUMBER_HELD, or plans it again when the
    # source may still mark the holder deleted (held_rows.py).
    assert plan.writes == [] and plan.rejects == []
    assert plan.held == [(new, Taken("identifier", NUMBER_HELD))]
    # The holder was read earlier in this run: its line is named.
    seen = BatchState(persons=persons, holders=state.holders, holder_lines={held.res.key_hash: 2})
    [(_, taken)] = planner().plan([new], seen).held
    assert taken.reason == f"{DUPLICATE_NUMBER}: line 2 has it under another key"


def test_the_holder_itself_and_a_number_no_live_record_holds_are_written() -> None:
    held, new, persons = holder_and_newcomer(3)
    own = BatchState(persons=persons, holders={5: (held.res.key_hash,)})
    [w] = planner().plan([held], own).writes
    assert (w.operation, w.row["Id"]) == ("update", "003AAA")
    # The old record left the export (no live holder): the SIS re-created the student under a
    # new key, who takes the Contact over.
    [w] = planner().plan([new], BatchState(persons=persons, holders={})).writes
    assert (w.operation, w.row["Id"], w.row["LastName"]) == ("update", "003AAA", "Visser")


def test_a_last_wins_mapping_asks_for_no_holders_and_rejects_nothing() -> None:
    first, second = user("u-1", "100001", "Bakker", 2), user("u-2", "100001", "Visser", 3)
    p = planner("last_wins")
    assert not p.query([first]).holders
    plan = p.plan([first, second], BatchState(persons=PersonMatches({}, {})))
    assert plan.rejects == [] and len(plan.writes) == 2


def test_a_mapping_keyed_on_the_number_itself_skips_the_check() -> None:
    # students: key studentnummer = identity.student_number. The key is the normalised number
    # after key_transform, so two keys never share a number; the check (and its look-ups)
    # would only cost time.
    spec = PROJECT.mappings["students"]
    assert spec.duplicates == "report" and spec.key_columns == ["studentnummer"]
    assert Planner("students", spec, COMPILED, HASHER, now=NOW).number_column is None
    assert planner().number_column == "identifier"
