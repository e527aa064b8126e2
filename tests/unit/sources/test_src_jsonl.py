"""JsonLinesSource: good and bad lines, nested keys, flattening, check()."""

from __future__ import annotations

import pytest

from connector.errors import InputError
from connector.records import Reject, SourceRecord
from connector.sources import open_source
from connector.sources.jsonl import (
    KEY_NOT_SCALAR,
    MAX_DEPTH,
    NAME_CLASH,
    TOO_DEEP,
    UNREAD_FIELD,
    flatten,
)


def src(tmp_path, text: str | bytes, **opts):
    data = text if isinstance(text, bytes) else text.encode()
    (tmp_path / "events.jsonl").write_bytes(data)
    spec = {"kind": "jsonl", "path": "events.jsonl", "key": "id", **opts}
    return open_source(spec, base_dir=tmp_path)


def test_flatten_nested_objects_keeps_lists():
    assert flatten({"a": 1, "p": {"e": "x", "q": {"r": None}}, "tags": [1, {"z": 2}]}) == {
        "a": 1,
        "p.e": "x",
        "p.q.r": None,
        "tags": [1, {"z": 2}],
    }


def test_good_and_bad_lines(tmp_path):
    text = (
        '{"id": 1, "person": {"email": "a@example.org"}, "tags": ["x"]}\n'
        "\n"
        '{"id": 2, "oops": }\n'
        "[1, 2]\n"
        '{"id": "", "x": 1}\n'
        '{"id": " 4 "}\n'
    )
    s = src(tmp_path, text)
    s.check()
    out = list(s.read())
    recs = [r for r in out if isinstance(r, SourceRecord)]
    rejs = [r for r in out if isinstance(r, Reject)]
    assert [(r.key, r.origin.line) for r in recs] == [("1", 1), ("4", 6)]
    assert recs[0].fields == {"id": 1, "person.email": "a@example.org", "tags": ["x"]}
    assert [(r.origin.line, r.column) for r in rejs] == [(3, ""), (4, ""), (5, "id")]
    assert rejs[0].reason.startswith("invalid JSON: Expecting value")
    assert rejs[1].reason == "not a JSON object (a list)"
    assert rejs[2].reason == "empty key"
    assert recs[0].origin.file == "events.jsonl"


def test_dotted_key_into_nested_object(tmp_path):
    s = src(
        tmp_path, '{"person": {"email": "a@example.org"}}\n{"person": {}}\n', key="person.email"
    )
    out = list(s.read())
    assert out[0].key == "a@example.org"
    assert (out[1].column, out[1].reason) == ("person.email", "empty key")


def test_check_refuses_missing_key_field_and_undecodable_file(tmp_path):
    with pytest.raises(InputError) as err:
        src(tmp_path, 'not json\n{"ID": 1}\n').check()
    assert (err.value.line, err.value.column) == (2, "id")
    with pytest.raises(InputError) as err:
        src(tmp_path, b'{"id": 1}\n{"id": "\xff"}\n').check()
    assert err.value.line == 2
    with pytest.raises(InputError, match="file not found"):
        open_source({"kind": "jsonl", "path": "x.jsonl", "key": "id"}, base_dir=tmp_path).check()


def test_hostile_lines_are_rejected_with_their_line_and_reading_goes_on(tmp_path):
    # Found attacking issue 8: each of the first four stopped the whole run with exit 70 (a
    # ValueError past 4,300 digits, RecursionError, UnicodeEncodeError while hashing), and
    # NaN / 1e400 / a list / true became external ids ("nan", "inf", "['S1']", "True").
    lines = [
        '{"id": "1", "n": ' + "9" * 5000 + "}",
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        '{"id": "4", "x": "\\ud800"}',
        '{"id": "5", "tags": ["ok", "\\udfff"]}',
        '{"id": NaN}',
        '{"id": 1e400}',
        '{"id": -Infinity}',
        '{"id": ["S1"]}',
        '{"id": true}',
        '{"id": 7.5}',
        '{"id": "ok", "x": "fine"}',
        '{"id": 12}',
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    s = open_source({"kind": "jsonl", "path": "in.jsonl", "key": "id"}, base_dir=tmp_path)
    s.check()
    s.require_columns(["id", "x", "tags"])  # fields the mapping reads: rejects name them
    items = list(s.read())
    got = [(i.origin.line, i.column, i.reason) for i in items if isinstance(i, Reject)]
    assert got == [
        (1, "", "invalid JSON: a number with too many digits"),
        (2, "", "invalid JSON: nested too deeply"),
        (3, "", "invalid JSON: nested too deeply"),
        (4, "x", "a lone surrogate escape (\\ud800-\\udfff) is no character"),
        (5, "tags", "a lone surrogate escape (\\ud800-\\udfff) is no character"),
        (6, "", "invalid JSON: NaN and Infinity are no JSON numbers"),
        (7, "", "invalid JSON: a number too large for a float"),
        (8, "", "invalid JSON: NaN and Infinity are no JSON numbers"),
        (9, "id", KEY_NOT_SCALAR),
        (10, "id", KEY_NOT_SCALAR),
        (11, "id", KEY_NOT_SCALAR),
    ]
    assert [i.key for i in items if isinstance(i, SourceRecord)] == ["ok", "12"]


@pytest.mark.parametrize(
    "line",
    [
        '{"id": 1, "person.email": "a@example.org", "person": {"email": "b@example.org"}}',
        '{"id": 1, "person": {"email": "b@example.org"}, "person.email": "a@example.org"}',
        '{"id": 1, "a": {"b.c": 1, "b": {"c": 2}}}',
    ],
)
def test_a_dotted_name_and_a_nested_object_with_one_name_reject_the_row(tmp_path, line):
    # Which of the two values a mapping reads must not depend on the order of the members.
    s = src(tmp_path, line + '\n{"id": 2, "person": {"email": "c@example.org"}}\n')
    s.check()
    s.require_columns(["id", "person.email", "a.b.c"])
    first, second = list(s.read())
    assert isinstance(first, Reject) and first.origin.line == 1
    assert first.column in ("person.email", "a.b.c")
    assert "example.org" not in first.reason and "two values" in first.reason
    assert isinstance(second, SourceRecord) and second.fields["person.email"] == "c@example.org"


def test_a_name_clash_in_the_first_object_is_left_to_read(tmp_path):
    # check() looks for the key in the first object it can use; a clashing one is read (and
    # rejected) by read(), the file is not refused for it.
    s = src(tmp_path, '{"id": 1, "x.y": 1, "x": {"y": 2}}\n{"id": 2}\n')
    s.check()
    assert [type(r).__name__ for r in s.read()] == ["Reject", "SourceRecord"]


def test_a_reject_names_only_fields_the_mapping_reads(tmp_path):
    # Found attacking issue 8: exports key objects by e-mail address, number or name, and the
    # member name of a refused value reached rejects, reports, state and `sis-sync status`.
    lines = [
        '{"id": 1, "contacts": {"leak-canary@example.org": "a\\u0000b"}}',
        '{"id": 2, "contacts": {"Zyxwvutsrq": "\\ud800"}}',
        '{"id": 3, "p.0687654321": 1, "p": {"0687654321": 2}}',
        '{"id": 4, "email": "x\\u0000y"}',
    ]
    s = src(tmp_path, "\n".join(lines) + "\n")
    s.check()
    s.require_columns(["id", "email"])
    rejects = [r for r in s.read() if isinstance(r, Reject)]
    assert [(r.origin.line, r.column) for r in rejects] == [
        (1, UNREAD_FIELD),
        (2, UNREAD_FIELD),
        (3, UNREAD_FIELD),
        (4, "email"),
    ]
    text = repr(rejects)
    assert not any(v in text for v in ("leak-canary", "Zyxwvutsrq", "0687654321"))


def test_a_repeated_member_name_rejects_the_line_without_naming_it(tmp_path):
    # json.loads keeps the last of two values without a word; the first was silently lost.
    s = src(tmp_path, '{"id": 1, "achternaam": "A", "achternaam": "B"}\n{"id": 2}\n')
    s.check()
    first, second = list(s.read())
    assert isinstance(first, Reject) and (first.origin.line, first.column) == (1, "")
    assert first.reason == NAME_CLASH
    assert isinstance(second, SourceRecord)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 450, 900])
def test_a_line_nested_past_the_limit_is_rejected_and_reading_goes_on(tmp_path, depth):
    # A list nested ~450 deep passed json.loads and stopped the mapping (RecursionError in
    # the control rule, exit 70).
    deep = "[" * depth + "]" * depth
    ok = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    s = src(tmp_path, f'{{"id": 1, "x": {deep}}}\n{{"id": 2, "x": {ok}}}\n')
    s.check()
    first, second = list(s.read())
    assert isinstance(first, Reject) and first.reason == TOO_DEEP
    assert isinstance(second, SourceRecord) and second.key == "2"
