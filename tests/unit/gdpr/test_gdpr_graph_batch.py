"""The batched graph: which queries many persons need (pure), how answers form each person's
graph (pure), and deletes per object across persons with erasure's children-first rule."""

from __future__ import annotations

from datetime import UTC, date, datetime

from connector.gdpr.erasure import GraphItem
from connector.gdpr.graph_batch import assemble_graph, delete_many, owner_ids, plan_queries
from connector.records import WriteResult
from connector.state import PersonRow, SyncedRow

T = datetime(2026, 1, 1, tzinfo=UTC)


def _person(pid: int, sf_id: str | None = None) -> PersonRow:
    return PersonRow(pid, sf_id, f"s{pid}", None, None, None)


def _row(mapping: str, obj: str, sf_id: str, pid: int) -> SyncedRow:
    return SyncedRow(
        mapping, f"k-{sf_id}", obj, sf_id, pid, {}, T, T, None, None, None, None, {}, None
    )


def _cid(n: int) -> str:
    return f"003{n:012d}AAA"


def test_queries_for_many_persons_grow_with_chunks_not_persons() -> None:
    owners = [{"Contact": [_cid(n)]} for n in range(2_000)]
    state = {"Contact": [_cid(n) for n in range(2_000)]}

    queries = plan_queries(owners, state, lambda obj: ["Ext__c"] if obj == "Task" else [])

    kinds = {(q.kind, q.obj, q.relation) for q in queries}
    assert kinds == {
        ("child", "Task", "WhoId"),
        ("child", "Event", "WhoId"),
        ("child", "CampaignMember", "ContactId"),
        ("live", "Contact", "Id"),
    }  # fmt: skip  (no Lead: CampaignMember.LeadId is not asked for)
    assert len(queries) == 4 * 4  # 2,000 ids → 4 chunks of ≤ ~590 per relation
    task = next(q.soql for q in queries if q.obj == "Task")
    assert task.startswith("SELECT Id, WhoId, Ext__c FROM Task WHERE WhoId IN ('003")
    assert task.endswith("AND IsDeleted = false")


def test_leads_are_asked_for_by_whoid_and_leadid() -> None:
    queries = plan_queries([{"Lead": ["00Q1"]}], {}, lambda obj: [])
    assert {(q.obj, q.relation) for q in queries} == {
        ("Task", "WhoId"), ("Event", "WhoId"), ("CampaignMember", "LeadId"),
    }  # fmt: skip


def test_owner_ids_add_the_person_contact_state_does_not_link() -> None:
    rows = [_row("students", "Contact", "C1", 1), _row("tasks", "Task", "T1", 1)]
    assert owner_ids(_person(1, "C9"), rows) == {"Contact": ["C1", "C9"]}
    assert owner_ids(_person(1, "C1"), rows) == {"Contact": ["C1"]}


def test_a_graph_lists_children_then_other_records_then_the_person() -> None:
    rows = [
        _row("students", "Contact", "C1", 1),
        _row("registrants", "Contact", "C1", 1),  # one Contact two mappings write
        _row("registrations", "CampaignMember", "M1", 1),  # also found as a child
        _row("notes", "Note__c", "N1", 1),
    ]
    children = [
        GraphItem("Task", "T1", "Task.WhoId"),
        GraphItem("Task", "T1", "Task.WhoId"),  # found through two owners
        GraphItem("CampaignMember", "M1", "registrations", "registrations", "k-M1"),
    ]

    graph = assemble_graph(_person(1), rows, children, live={"C1"})

    assert [(i.object, i.sf_id, i.exists) for i in graph.items] == [
        ("Task", "T1", True),
        ("CampaignMember", "M1", True),
        ("Note__c", "N1", False),  # not in Salesforce any more: already gone
        ("Contact", "C1", True),
    ]
    assert graph.items[-1].via == "students, registrants"


class _Writer:
    """Deletes everything except the ids it is told to refuse; notes each call."""

    def __init__(self, refuse: dict[str, str] | None = None):
        self.refuse = refuse or {}
        self.calls: list[tuple[str, list[str]]] = []

    def delete(self, obj, ids, *, hard=False):
        self.calls.append((obj, list(ids)))
        return [
            WriteResult(ok=False, sf_id=i, error_code=self.refuse[i])
            if i in self.refuse
            else WriteResult(ok=True, sf_id=i)
            for i in ids
        ]


def _unit(n: int) -> list[GraphItem]:
    return [
        GraphItem("Task", f"T{n}", "x"),
        GraphItem("CampaignMember", f"M{n}", "x"),
        GraphItem("Contact", f"C{n}", "x"),
    ]


def test_one_delete_per_object_across_persons_children_first() -> None:
    writer = _Writer()
    units = [_unit(n) for n in range(3)]
    units[1] = [units[1][2], units[1][1], units[1][0]]  # a unit's own order does not matter

    results = delete_many(writer, units)

    assert writer.calls == [
        ("Task", ["T0", "T1", "T2"]),
        ("CampaignMember", ["M0", "M1", "M2"]),
        ("Contact", ["C0", "C1", "C2"]),
    ]
    assert all(len(r.deleted) == 3 and r.complete for r in results)


def test_a_person_whose_child_was_refused_keeps_their_contact_others_do_not() -> None:
    writer = _Writer(refuse={"T1": "UNABLE_TO_LOCK_ROW", "M2": "ENTITY_IS_DELETED"})
    units = [_unit(n) for n in range(3)]
    units[0].insert(0, GraphItem("Task", "T9", "x", exists=False))

    results = delete_many(writer, units)

    assert writer.calls[-1] == ("Contact", ["C0", "C2"])  # C1 stays: its Task was refused
    assert [i.sf_id for i, _ in results[1].failed] == ["T1"] and not results[1].complete
    assert {i.sf_id for i in results[2].already_gone} == {"M2"} and results[2].complete
    assert {i.sf_id for i in results[0].already_gone} == {"T9"}
    assert ("Task", ["T0", "T1", "T2"]) in writer.calls  # T9 is not sent


def test_an_id_in_two_units_is_sent_once_and_counted_in_both() -> None:
    writer = _Writer()
    shared = GraphItem("Task", "T0", "x")

    results = delete_many(writer, [[shared], [shared, GraphItem("Contact", "C1", "x")]])

    assert writer.calls == [("Task", ["T0"]), ("Contact", ["C1"])]
    assert [len(r.deleted) for r in results] == [1, 2]


class _Expiry:
    def __init__(self, expired: bool):
        self.expired = expired


class _Rule:
    """A mapping's retention rule: records whose key starts with ``live`` are still justified."""

    def __init__(self, never: str | None = None):
        self.never = never

    def never_expires(self):
        return self.never

    def judge(self, row, on):
        return [_Expiry(not row.key_hash.startswith("live"))]


class _Store:
    def __init__(self, rows: dict[str, dict[str, SyncedRow]]):
        self.rows, self.lookups = rows, []

    def lookup(self, mapping, keys):
        self.lookups.append((mapping, list(keys)))
        return {k: self.rows[mapping][k] for k in keys if k in self.rows.get(mapping, {})}


def test_children_still_justified_are_found_with_one_look_up_per_mapping() -> None:
    from dataclasses import replace

    from connector.gdpr.purge_plan import justified_children

    def row(key: str, **kw) -> SyncedRow:
        return replace(_row("tasks", "Task", key, 1), key_hash=key, **kw)

    tasks = {k: row(k) for k in ("live1", "old1", "live2")}
    tasks["live2"] = row("live2", deleted_at=T)  # purged already: justifies nothing
    store = _Store({"tasks": tasks, "members": {"old9": row("old9")}, "kept": {"x": row("x")}})
    rules = {"tasks": _Rule(), "members": _Rule(), "kept": _Rule(never="no retention")}
    asked = [("tasks", "live1"), ("tasks", "old1"), ("tasks", "live2"), ("members", "old9"),
             ("kept", "x"), ("tasks", "unknown")]  # fmt: skip

    found = justified_children(store, rules, asked, date(2027, 1, 1))

    assert found == {("tasks", "live1"), ("kept", "x")}
    assert sorted(m for m, _ in store.lookups) == ["kept", "members", "tasks"]
