"""JsonLinesSource: good and bad lines, nested keys, flattening, check()."""

from __future__ import annotations

import pytest

from connector.errors import InputError
from connector.records import Reject, SourceRecord
from connector.sources import open_source
from connector.sources.jsonl import flatten


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
