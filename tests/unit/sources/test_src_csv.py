"""CsvSource: encodings, delimiter sniffing, quoting and line numbers, rejects, check()."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import ConfigError, InputError, UnknownPluginError
from connector.hashing import join_key
from connector.records import Reject, SourceRecord
from connector.sources import Source, open_source, options_model, registry
from connector.sources.csv import CsvSource, sniff_delimiter


def write(tmp_path: Path, text: str | bytes, name: str = "in.csv", encoding="utf-8") -> str:
    data = text if isinstance(text, bytes) else text.encode(encoding)
    (tmp_path / name).write_bytes(data)
    return name


def src(tmp_path: Path, name: str, **opts) -> Source:
    spec = {"kind": "csv", "path": name, "key": "id", **opts}
    return open_source(spec, base_dir=tmp_path)


def records(items) -> list[SourceRecord]:
    return [i for i in items if isinstance(i, SourceRecord)]


def rejects(items) -> list[Reject]:
    return [i for i in items if isinstance(i, Reject)]


def test_registry_lists_the_four_builtin_kinds_from_entry_points():
    assert registry.names() == ["csv", "http", "jsonl", "oneroster"]
    assert registry.get("csv") is CsvSource
    assert options_model("csv") is CsvSource.Options


def test_unknown_kind_and_bad_options_are_usage_errors(tmp_path):
    with pytest.raises(UnknownPluginError, match="known: csv, http, jsonl, oneroster"):
        open_source({"kind": "xlsx", "path": "a", "key": "id"}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="delimitr: Extra inputs are not permitted"):
        open_source({"kind": "csv", "path": "a", "key": "id", "delimitr": ";"}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="encoding"):
        open_source(
            {"kind": "csv", "path": "a", "key": "id", "encoding": "nope"}, base_dir=tmp_path
        )
    with pytest.raises(ConfigError, match="kind"):
        open_source({"path": "a", "key": "id"}, base_dir=tmp_path)


def test_comma_file_with_bom_reads_values_and_none_for_empty(tmp_path):
    name = write(tmp_path, "\ufeffid, name ,city\r\n1,Anne,\r\n2,Bob,Utrecht\r\n")
    s = src(tmp_path, name)
    s.check()
    out = list(s.read())
    assert [r.key for r in out] == ["1", "2"]
    assert out[0].fields == {"id": "1", "name": "Anne", "city": None}
    assert [r.origin.line for r in out] == [2, 3]
    assert out[0].origin.file == "in.csv"


def test_semicolon_is_sniffed_from_the_header(tmp_path):
    name = write(tmp_path, "id;naam;plaats\n7;Jan, de Vries;Breda\n")
    (rec,) = list(src(tmp_path, name).read())
    assert rec.fields["naam"] == "Jan, de Vries"
    assert sniff_delimiter("a,b;c,d") == ","
    assert sniff_delimiter("a;b;c,d") == ";"


def test_cp1252_file_read_with_explicit_encoding(tmp_path):
    name = write(tmp_path, "id;naam\n1;Zoë Müller – €\n", encoding="cp1252")
    s = src(tmp_path, name, encoding="cp1252")
    s.check()
    (rec,) = list(s.read())
    assert rec.fields["naam"] == "Zoë Müller – €"


def test_undecodable_file_refused_at_check_naming_the_line(tmp_path):
    name = write(tmp_path, b"id,name\n1,ok\n2,ok\n3,bad \xe9 byte\n4,ok\n")
    with pytest.raises(InputError) as err:
        src(tmp_path, name).check()
    assert err.value.line == 4
    assert "utf-8-sig" in str(err.value)
    assert "bad" not in str(err.value)


def test_undecodable_byte_beyond_the_first_chunk_gets_the_right_line(tmp_path):
    body = "".join(f"{i},{'x' * 50}\n" for i in range(1, 30_000))  # ~1.6 MB: several chunks
    name = write(tmp_path, b"id,v\n" + body.encode() + b"30000,\xff\n")
    with pytest.raises(InputError) as err:
        src(tmp_path, name).check()
    assert err.value.line == 30_001


def test_read_of_an_undecodable_file_without_check_refuses_it_before_any_row(tmp_path):
    # read() runs the pre-scan itself when check() did not (or the file changed since).
    name = write(tmp_path, b"id,name\n1,\xff\n")
    with pytest.raises(InputError, match=r"in.csv:2: not valid utf-8-sig"):
        next(iter(src(tmp_path, name).read()))


def test_quoted_multiline_fields_keep_physical_line_numbers(tmp_path):
    text = 'id,note\n1,"line one\nline two\nline three"\n2,plain\n3,"a ""quoted"" word"\n'
    name = write(tmp_path, text)
    out = list(src(tmp_path, name).read())
    assert [(r.key, r.origin.line) for r in out] == [("1", 2), ("2", 5), ("3", 6)]
    assert out[0].fields["note"] == "line one\nline two\nline three"
    assert out[2].fields["note"] == 'a "quoted" word'


def test_ragged_rows_rejected_with_line_and_reading_continues(tmp_path):
    name = write(tmp_path, "id,a,b\n1,x,y\n2,x\n3,x,y,z\n4,x,y\n")
    out = list(src(tmp_path, name).read())
    assert [r.key for r in records(out)] == ["1", "4"]
    bad = rejects(out)
    assert [(r.origin.line, r.reason) for r in bad] == [
        (3, "row has 2 cells, header has 3"),
        (4, "row has 4 cells, header has 3"),
    ]


def test_blank_lines_skipped_by_default_and_rejected_when_not(tmp_path):
    name = write(tmp_path, "id,a\n1,x\n\n,\n2,y\n")
    assert [r.key for r in src(tmp_path, name).read()] == ["1", "2"]
    out = list(src(tmp_path, name, skip_blank_lines=False).read())
    assert [(r.origin.line, r.column) for r in rejects(out)] == [(3, ""), (4, "id")]


def test_empty_key_rejected_with_the_key_column(tmp_path):
    name = write(tmp_path, "id,a\n  ,x\n 5 ,y\n")
    out = list(src(tmp_path, name).read())
    (bad,) = rejects(out)
    assert (bad.origin.line, bad.column, bad.reason) == (2, "id", "empty key")
    assert records(out)[0].key == "5"  # key stripped
    assert records(out)[0].fields["id"] == " 5 "  # values as read


def test_composite_key_joined_with_unit_separator(tmp_path):
    name = write(tmp_path, "school;nr;x\nA;1;p\nB;;q\n")
    out = list(src(tmp_path, name, key=["school", "nr"]).read())
    assert records(out)[0].key == join_key(["A", "1"])
    assert rejects(out)[0].column == "nr"


def test_missing_key_column_refused_at_check(tmp_path):
    name = write(tmp_path, "studentnummer;naam\n1;x\n")
    with pytest.raises(InputError) as err:
        src(tmp_path, name).check()
    assert err.value.column == "id"
    assert err.value.line == 1


def test_duplicate_header_refused(tmp_path):
    name = write(tmp_path, "id,a, a\n1,x,y\n")
    with pytest.raises(InputError, match="header columns 2 and 3 have the same name") as err:
        src(tmp_path, name).check()
    assert err.value.line == 1


def test_an_export_without_header_line_never_shows_its_first_row_in_the_error(tmp_path):
    # Found attacking issue 8: line 1 is a person's row; its mobile number twice (also the
    # phone column) made the error, the run report, state and `status` show the number.
    name = write(tmp_path, "100011,Jan,+31622851025,+31622851025\n100012,Piet,,\n")
    with pytest.raises(InputError) as err:
        src(tmp_path, name).check()
    assert "31622851025" not in str(err.value)
    assert not err.value.column
    assert "header columns 3 and 4 have the same name" in str(err.value)


def test_missing_and_empty_files_refused(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        src(tmp_path, "nope.csv").check()
    name = write(tmp_path, "")
    with pytest.raises(InputError, match="no header"):
        src(tmp_path, name).check()


def test_custom_quotechar(tmp_path):
    name = write(tmp_path, "id;a\n1;'x;y'\n")
    (rec,) = list(src(tmp_path, name, quotechar="'").read())
    assert rec.fields["a"] == "x;y"


def test_hundred_thousand_rows_read_fast(tmp_path):
    import time

    header = ",".join(f"c{i}" for i in range(15))
    row = ",".join(["v"] * 14)
    lines = "".join(f"{i},{row}\n" for i in range(100_000))
    name = write(tmp_path, header + "\n" + lines)
    s = CsvSource(CsvSource.Options(path=name, key="c0"), base_dir=tmp_path)
    t0 = time.perf_counter()
    n = sum(1 for _ in s.read())
    assert n == 100_000
    assert time.perf_counter() - t0 < 3.0  # measured ~0.4 s; generous for a busy CI box


def test_a_symlink_loop_a_device_and_a_folder_are_input_errors_that_say_what_they_are(tmp_path):
    # Found attacking issue 8: a link to itself crashed the run (RuntimeError, exit 70) and a
    # link to /dev/zero said "file not found".
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    (tmp_path / "dir.csv").mkdir()
    expected = {
        "loop.csv": "loop.csv: a symbolic link that leads nowhere (or to itself)",
        "zero.csv": "not a regular file (a folder, device or pipe)",
        "dir.csv": "dir.csv: not a regular file (a folder, device or pipe)",
    }
    for name, message in expected.items():
        with pytest.raises(InputError) as err:
            src(tmp_path, name).check()
        assert message in str(err.value)


def test_a_header_renamed_between_check_and_read_is_refused_before_any_row(tmp_path):
    # The export job may overwrite the file while a sync starts: read() reads the header
    # again, and a column the mapping reads must still be in it (else it clears its field).
    name = write(tmp_path, "id,email\n1,a@school.example\n")
    s = src(tmp_path, name)
    s.check()
    s.require_columns(["id", "email"])
    write(tmp_path, "id,e-mail\n1,a@school.example\n2,b@school.example\n", name)
    with pytest.raises(InputError, match=r"in\.csv:1: email: a column the mapping reads"):
        next(iter(s.read()))


def test_require_columns_refuses_a_missing_column_at_check_time(tmp_path):
    s = src(tmp_path, write(tmp_path, "id,naam\n1,x\n"))
    s.check()
    s.require_columns(["id", "naam"])
    with pytest.raises(InputError, match=r"in\.csv:1: email: a column the mapping reads"):
        s.require_columns(["id", "email"])
