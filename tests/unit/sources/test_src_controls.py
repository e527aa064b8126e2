"""The control-character rule in every source: a NUL rejects the row (file, line, column,
never the value); other C0/C1 controls, DEL and U+2028/U+2029 are removed; tab, CR, LF stay."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
import responses

from connector.errors import InputError
from connector.records import Reject, SourceRecord
from connector.sources import open_source
from connector.sources.base import NUL_REASON, has_controls, scrub_cells, scrub_fields

STRIPPED = [
    "\x01",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
    "\u2029",
    # Invisible format characters (found attacking issue 8: "\u202eaidaN" reached Salesforce,
    # shown as "Nadia"): zero-width space, LRM/RLM, bidi embeddings/overrides/isolates, word
    # joiner, a BOM inside text.
    "\u200b",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202e",
    "\u2060",
    "\u2066",
    "\u2069",
    "\ufeff",
]


def split(items):
    items = list(items)
    recs = [i for i in items if isinstance(i, SourceRecord)]
    rejs = [i for i in items if isinstance(i, Reject)]
    return recs, rejs


@pytest.mark.parametrize("ch", STRIPPED)
def test_every_stripped_character_is_found_and_removed(ch):
    assert has_controls(f"abc{ch}def") and has_controls(f"é{ch}")
    assert scrub_cells(["1", f"An{ch}ne"]) == ["1", "Anne"]
    assert scrub_fields({"a": f"x{ch}", "b": [f"y{ch}"]}) == {"a": "x", "b": ["y"]}


def test_tab_cr_lf_and_ordinary_text_are_kept_untouched():
    # Zero-width (non-)joiners stay: scripts and emoji sequences need them.
    cells = ["1", "a\tb", "two\r\nlines", "Zoë ’t Hooft €", "\u00a0nbsp", "👩\u200d🎓", "a\u200cb"]
    assert not has_controls("".join(cells))
    assert scrub_cells(cells) is cells
    fields = {"a": "a\tb", "n": 3, "l": ["x", None], "o": {"k": "v"}}
    assert scrub_fields(fields) is fields


def test_a_nul_names_the_cell_or_field():
    assert scrub_cells(["1", "ok\x01", "b\x00d"]) == 2
    assert has_controls("\x00")
    assert scrub_fields({"a": "ok", "b": ["x", "y\x00"]}) == "b"
    assert scrub_fields({"a": [{"deep": "\x00"}]}) == "a"


def test_csv_nul_rejects_row_with_line_and_column_others_stripped(tmp_path, caplog):
    text = "id,name,city\n1,An\x00ne,Utrecht\n2,Bo\x1bb\u2028,Zwolle\x85\n3,Cor,Ede\n"
    (tmp_path / "in.csv").write_text(text, encoding="utf-8")
    s = open_source({"kind": "csv", "path": "in.csv", "key": "id"}, base_dir=tmp_path)
    s.check()
    with caplog.at_level(logging.WARNING):
        recs, rejs = split(s.read())
    assert [(str(r.origin), r.column, r.reason) for r in rejs] == [("in.csv:2", "name", NUL_REASON)]
    assert [r.fields for r in recs] == [
        {"id": "2", "name": "Bob", "city": "Zwolle"},
        {"id": "3", "name": "Cor", "city": "Ede"},
    ]
    assert recs[0].signature is not None and "\x1b" not in recs[0].signature
    assert "in.csv: control characters removed from 1 rows (first at line 3)" in caplog.text
    assert "Bo" not in caplog.text and "An" not in caplog.text


def test_csv_key_is_built_after_stripping(tmp_path):
    (tmp_path / "in.csv").write_text("id,name\n1\x0b,a\n\x7f,b\n", encoding="utf-8")
    s = open_source({"kind": "csv", "path": "in.csv", "key": "id"}, base_dir=tmp_path)
    recs, rejs = split(s.read())
    assert [r.key for r in recs] == ["1"]
    assert [(r.origin.line, r.column, r.reason) for r in rejs] == [(3, "id", "empty key")]


def test_csv_header_controls_stripped_and_nul_refused(tmp_path):
    (tmp_path / "a.csv").write_text("id,na\x01me\n1,x\n", encoding="utf-8")
    s = open_source({"kind": "csv", "path": "a.csv", "key": "id"}, base_dir=tmp_path)
    assert [r.fields for r in s.read()] == [{"id": "1", "name": "x"}]
    (tmp_path / "b.csv").write_text("id,na\x00me\n1,x\n", encoding="utf-8")
    s = open_source({"kind": "csv", "path": "b.csv", "key": "id"}, base_dir=tmp_path)
    with pytest.raises(InputError, match=r"^b.csv:1: header column 2 holds a NUL character$"):
        s.check()


def test_csv_clean_file_takes_the_fast_path(tmp_path, monkeypatch):
    # No control character anywhere: read() looks at the header only, never at a row's cells.
    import connector.sources.csv as csv_source

    seen: list[list[str]] = []
    monkeypatch.setattr(csv_source, "scrub_cells", lambda cells: seen.append(cells) or cells)
    (tmp_path / "in.csv").write_text("id,name\n1,a\n2,b\n", encoding="utf-8")
    s = open_source({"kind": "csv", "path": "in.csv", "key": "id"}, base_dir=tmp_path)
    s.check()
    seen.clear()
    assert [r.key for r in s.read()] == ["1", "2"]
    assert seen == [["id", "name"]]


def test_jsonl_nul_escape_rejects_record_and_others_are_stripped(tmp_path):
    lines = [
        json.dumps({"id": 1, "person": {"name": "An\u0000ne"}}),
        json.dumps({"id": 2, "person": {"name": "Bo\u001bb\u2029"}, "tags": ["a\u0085"]}),
        json.dumps({"id": 3, "person": {"name": "Cor"}}, ensure_ascii=False),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    s = open_source({"kind": "jsonl", "path": "in.jsonl", "key": "id"}, base_dir=tmp_path)
    s.check()
    s.require_columns(["id", "person.name", "tags"])
    recs, rejs = split(s.read())
    assert [(str(r.origin), r.column, r.reason) for r in rejs] == [
        ("in.jsonl:1", "person.name", NUL_REASON)
    ]
    assert recs[0].fields == {"id": 2, "person.name": "Bob", "tags": ["a"]}
    assert recs[1].fields["person.name"] == "Cor"


@responses.activate
def test_http_items_follow_the_same_rule(tmp_path):
    url = "https://events.example.org/api/items"
    responses.get(url, json=[{"id": "1\x00", "n": "x"}, {"id": "2", "n": "y\x9f"}])
    s = open_source({"kind": "http", "url": url, "key": "id"}, base_dir=tmp_path, env={})
    recs, rejs = split(s.read())
    assert [(str(r.origin), r.column) for r in rejs] == [("/api/items:1", "id")]
    assert [r.fields for r in recs] == [{"id": "2", "n": "y"}]


def test_oneroster_nul_rejects_row_and_others_are_stripped(tmp_path):
    folder = tmp_path / "or"
    folder.mkdir()
    (folder / "manifest.csv").write_text(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.users,bulk\n"
    )
    (folder / "users.csv").write_text(
        "sourcedId,status,role,givenName\nu1,,student,An\x00ne\nu2,,student,Bo\x1bb\n",
        encoding="utf-8",
    )
    s = open_source(
        {"kind": "oneroster", "path": "or", "entity": "users", "join": False}, base_dir=tmp_path
    )
    s.check()
    recs, rejs = split(s.read())
    assert [(str(r.origin), r.column, r.reason) for r in rejs] == [
        ("or/users.csv:2", "givenName", NUL_REASON)
    ]
    assert [r.fields["givenName"] for r in recs] == ["Bob"]


def test_oneroster_unterminated_quote_and_empty_files(tmp_path):
    folder = tmp_path / "or"
    folder.mkdir()
    (folder / "manifest.csv").write_text(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.users,bulk\n"
    )
    spec = {"kind": "oneroster", "path": "or", "entity": "users", "join": False}
    users = folder / "users.csv"
    users.write_text('sourcedId,status,role,givenName\nu1,,student,"Anne\nu2,,student,Bob\n')
    with pytest.raises(InputError, match=r"users.csv:2: unterminated quote starting at line 2"):
        open_source(spec, base_dir=tmp_path).check()
    users.write_text("")
    with pytest.raises(InputError, match=r"users.csv: empty file: no header line"):
        open_source(spec, base_dir=tmp_path).check()
    users.write_text("sourcedId,status,role,givenName\n")
    s = open_source(spec, base_dir=tmp_path)
    s.check()
    assert list(s.read()) == []


def test_jsonl_empty_or_blank_file_reads_zero_records(tmp_path):
    for text in ("", "\n\n"):
        (tmp_path / "in.jsonl").write_text(text)
        s = open_source({"kind": "jsonl", "path": "in.jsonl", "key": "id"}, base_dir=tmp_path)
        s.check()
        assert list(s.read()) == []


def test_reject_texts_never_carry_the_value(tmp_path):
    (tmp_path / "in.csv").write_text("id,name\n1,Geheim\x00naam\n", encoding="utf-8")
    s = open_source({"kind": "csv", "path": "in.csv", "key": "id"}, base_dir=tmp_path)
    (rej,) = list(s.read())
    assert isinstance(rej, Reject) and "Geheim" not in str(rej) and "naam" not in str(rej)
    assert Path(tmp_path / "in.csv").is_file()


def test_csv_bidi_override_in_a_value_and_a_second_bom_in_the_header_are_removed(tmp_path):
    # A BOM written twice: utf-8-sig drops one, the other stuck to the first header name and
    # the key column was "not in the header".
    text = "\ufeffid;roepnaam\n1;\u202eaidaN\n2;Jan\u200b\n"
    (tmp_path / "in.csv").write_text(text, encoding="utf-8-sig")
    s = open_source({"kind": "csv", "path": "in.csv", "key": "id"}, base_dir=tmp_path)
    s.check()
    recs, rejs = split(s.read())
    assert rejs == []
    assert [r.fields for r in recs] == [
        {"id": "1", "roepnaam": "aidaN"},
        {"id": "2", "roepnaam": "Jan"},
    ]


BIG = "x" * (csv.field_size_limit() + 1)


def _read_users(tmp_path, users: str):
    """Records and rejects of users.csv (``users``) in a OneRoster 1.1 bulk folder."""
    folder = tmp_path / "or"
    folder.mkdir()
    (folder / "manifest.csv").write_text(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.users,bulk\n"
    )
    (folder / "users.csv").write_text(users, encoding="utf-8")
    s = open_source(
        {"kind": "oneroster", "path": "or", "entity": "users", "join": False}, base_dir=tmp_path
    )
    s.check()
    return split(s.read())


def test_oneroster_cell_over_the_csv_field_limit_rejects_row_naming_the_column(tmp_path):
    users = f"sourcedId,status,role,givenName\nu1,,student,{BIG}\nu2,,student,Bob\n"
    recs, rejs = _read_users(tmp_path, users)
    assert [(str(r.origin), r.column) for r in rejs] == [("or/users.csv:2", "givenName")]
    assert [r.fields["givenName"] for r in recs] == ["Bob"]


def test_oneroster_long_cell_in_a_column_without_a_header_name_says_where_it_is(tmp_path):
    # OneRoster ignores a column its header does not name; a cell there too long to read
    # still rejects its row (the reader reads no cell of it), and the reject says which cell.
    users = f"sourcedId,status,role,givenName,\nu1,,student,Ann,{BIG}\nu2,,student,Bob,\n"
    recs, rejs = _read_users(tmp_path, users)
    assert [(str(r.origin), r.column) for r in rejs] == [
        ("or/users.csv:2", "column 5 (no header name)")
    ]
    assert [r.fields["givenName"] for r in recs] == ["Bob"]
