"""CsvSource on broken input: unterminated quotes, empty and header-only files.

The quote pre-scan is checked against a character-by-character model of the ``csv`` reader's
states on generated text cut into arbitrary chunks, and against the reader itself.
"""

from __future__ import annotations

import csv
import io
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ConfigError, InputError
from connector.records import Reject
from connector.sources import open_source
from connector.sources.csv import Malformed, iter_rows
from connector.sources.long_cells import LongCells
from connector.sources.prescan import QuoteScan


def write(tmp_path: Path, text: str, name: str = "in.csv") -> str:
    (tmp_path / name).write_bytes(text.encode("utf-8"))
    return name


def src(tmp_path: Path, name: str, **opts):
    return open_source({"kind": "csv", "path": name, "key": "id", **opts}, base_dir=tmp_path)


def hundred_rows(bad_line: int, quoted: bool = True) -> str:
    lines = ["id,name,city"]
    for i in range(2, 102):
        name = f'"Name {i}"' if quoted else f"Name {i}"
        lines.append(f"{i},{name},Utrecht" if i != bad_line else f'{i},"Name {i},Utrecht')
    return "\n".join(lines) + "\n"


def test_an_unterminated_quote_is_refused_by_check_with_file_and_line(tmp_path):
    # No other quote further on: the reader would read rows 3-101 as one field.
    name = write(tmp_path, hundred_rows(bad_line=3, quoted=False))
    with pytest.raises(InputError, match=r"^in.csv:3: unterminated quote starting at line 3"):
        src(tmp_path, name).check()


def test_a_quote_closed_only_by_the_next_rows_quote_is_refused_too(tmp_path):
    # Every name quoted: the reader would take row 4's opening quote as row 3's closing one.
    name = write(tmp_path, hundred_rows(bad_line=3))
    with pytest.raises(InputError, match=r"^in.csv:3: unterminated quote starting at line 3"):
        src(tmp_path, name).check()


def test_read_refuses_it_too_before_yielding_a_row(tmp_path):
    name = write(tmp_path, hundred_rows(bad_line=50))
    rows = src(tmp_path, name).read()
    with pytest.raises(InputError, match="unterminated quote starting at line 50"):
        next(iter(rows))


def test_a_file_changed_after_check_is_scanned_again_by_read(tmp_path):
    name = write(tmp_path, hundred_rows(bad_line=0))
    s = src(tmp_path, name)
    s.check()
    write(tmp_path, hundred_rows(bad_line=7) + "x" * 10)  # another size: another stamp
    with pytest.raises(InputError, match="line 7"):
        list(s.read())


def test_well_formed_quoting_reads_every_row(tmp_path):
    text = (
        'id,note,city\n1,"two\nlines",Utrecht\n2,"a ""quoted"" word",x\n'
        '3,5" screen,y\n4,"",""""\n5,"a"b,c\n'
    )
    name = write(tmp_path, text)
    s = src(tmp_path, name)
    s.check()
    out = list(s.read())
    assert [(r.key, r.origin.line) for r in out] == [
        ("1", 2), ("2", 4), ("3", 5), ("4", 6), ("5", 7),
    ]  # fmt: skip
    assert [r.fields["note"] for r in out] == [
        "two\nlines",
        'a "quoted" word',
        '5" screen',
        None,
        "ab",
    ]


def test_an_open_quote_is_refused_once_it_runs_past_the_field_limit_not_at_the_end():
    # Memory stays bounded: the open field is not carried to the end of a large file.
    # A quoted cell's raw text is at most twice its characters plus the opening quote.
    qs = QuoteScan("big.csv", ",", '"', limit=100)
    qs.feed('id,note\n1,"' + "x\n" * 20)
    qs.feed("y\n" * 60)  # about 160 characters open: still carried (``""`` is one character)
    with pytest.raises(InputError, match="unterminated quote starting at line 2, or a quoted"):
        qs.feed("y\n" * 40)  # past 201: refused now, not at the end of the file
    assert len(qs.carry) < 300


def test_a_two_megabyte_file_with_an_open_quote_is_refused(tmp_path):
    name = write(tmp_path, 'id,note\n1,ok\n2,"' + "x,y\n" * 500_000)
    with pytest.raises(InputError, match="unterminated quote starting at line 3"):
        src(tmp_path, name).check()


def test_an_empty_file_is_an_input_error_naming_the_file(tmp_path):
    for text in ("", "\ufeff"):
        name = write(tmp_path, text)
        with pytest.raises(InputError, match=r"^in.csv: empty file: no header line$"):
            src(tmp_path, name).check()
        with pytest.raises(InputError, match="empty file"):
            list(src(tmp_path, name).read())


def test_a_header_only_file_reads_zero_rows_without_error(tmp_path):
    for text in ("id,name\n", "id,name", "id,name\r\n\r\n"):
        name = write(tmp_path, text)
        s = src(tmp_path, name)
        s.check()
        assert list(s.read()) == []


# -- the quote scan against a model of the reader ------------------------------------------


def model_unterminated(
    text: str, delimiter: str = ",", q: str = '"', *, delimiter_after_break: bool = True
) -> int | None:
    """Line of the first quoted field still open at the end, or closed only after a line
    break and followed by more text in the same field, per the csv reader's states; with
    ``delimiter_after_break`` also one holding the delimiter after a line break (the scan's
    rule against a stray quote that swallowed whole rows)."""
    seps = (delimiter, "\r", "\n")
    state, line, start, multiline, prev = "S", 1, 0, False, ""
    for ch in text:
        if state == "S":
            state = "Q" if ch == q else ("S" if ch in seps else "U")
            start, multiline = line, False
        elif state == "U":
            state = "S" if ch in seps else "U"
        elif state == "Q":
            if delimiter_after_break and multiline and ch == delimiter:
                return start
            state = "QQ" if ch == q else "Q"
            multiline = multiline or ch in "\r\n"
        else:  # QQ: a quote inside a quoted field
            if ch != q and ch not in seps and multiline:
                return start
            state = "Q" if ch == q else ("S" if ch in seps else "U")
        # Lines as the reader's line_num counts them: CR LF, a lone CR, a lone LF.
        line += ch == "\r" or (ch == "\n" and prev != "\r")
        prev = ch
    return start if state == "Q" else None


def scan(text: str, cuts: list[int], dense_every: int = 24) -> int | None:
    qs = QuoteScan("f.csv", ",", '"', limit=10_000)
    qs.dense_every = dense_every  # 0: always the sparse form; 10**6: always the dense one
    pos = 0
    try:
        for cut in sorted(set(cuts)):
            qs.feed(text[pos:cut])
            pos = cut
        qs.feed(text[pos:])
        qs.finish()
    except InputError as exc:
        return exc.line
    return None


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet='ab",\n\r', max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
    dense_every=st.sampled_from([0, 24, 10**6]),
)
def test_quote_scan_agrees_with_the_reader_model_for_any_chunking(text, cuts, dense_every):
    assert scan(text, cuts, dense_every) == model_unterminated(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet='ab",\n', max_size=40))
def test_the_model_agrees_with_python_csv_on_unterminated_quotes(text):
    # csv in strict mode raises "unexpected end of data" exactly when EOF is inside quotes
    # (other strict-only complaints are skipped: they do not concern the end of the file).
    try:
        list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            assert model_unterminated(text, delimiter_after_break=False) is not None
        return
    assert model_unterminated(text, delimiter_after_break=False) is None


def test_a_cell_over_the_field_size_limit_rejects_its_row_naming_the_column(tmp_path):
    # The csv reader only says "field larger than field limit": the reject names the column
    # (a record with a line break in a quoted cell before it, a doubled quote, a long cell
    # after a closed quote), and every other row is read.
    big = "x" * (csv.field_size_limit() + 1)
    name = write(
        tmp_path,
        'id,name,city\n1,"two\nlines",Utrecht\n'
        f"2,{big},Utrecht\n3,c,Delft\n"
        f'4,"q""uote",{big}\n5,f,Gouda\n'
        f'6,"closed"{big},Ede\n',
    )
    rows = list(src(tmp_path, name).read())
    rejects = [(str(r.origin), r.column, r.reason) for r in rows if isinstance(r, Reject)]
    reason = f"cell longer than {csv.field_size_limit():,} characters"
    assert rejects == [
        ("in.csv:4", "name", reason),
        ("in.csv:6", "city", reason),
        ("in.csv:8", "name", reason),
    ]
    assert [r.key for r in rows if not isinstance(r, Reject)] == ["1", "3", "5"]


def test_a_long_quoted_cell_over_many_lines_is_one_reject_and_reading_goes_on_after_it(tmp_path):
    # The reader fails inside the cell and would go on there, reading its lines as rows.
    lines = "line\n" * (csv.field_size_limit() // 5 + 10)
    name = write(tmp_path, f'id,note,city\n1,"{lines}",Delft\n2,"""a""\nb",Ede\n3,c,Gouda\n')
    rows = list(src(tmp_path, name).read())
    first_after = 2 + lines.count("\n") + 1
    assert [(str(r.origin), r.column) for r in rows if isinstance(r, Reject)] == [
        ("in.csv:2", "note")
    ]
    records = [r for r in rows if not isinstance(r, Reject)]
    assert [(r.key, r.line) for r in records] == [("2", first_after), ("3", first_after + 2)]
    assert records[0].fields["note"] == '"a"\nb'


def test_a_cell_at_the_limit_is_read(tmp_path):
    cell = "x" * csv.field_size_limit()
    name = write(tmp_path, f"id,name\n1,{cell}\n")
    (row,) = list(src(tmp_path, name).read())
    assert not isinstance(row, Reject) and len(row.fields["name"]) == len(cell)


def test_long_cells_are_found_in_one_forward_pass():
    # Asked about records in order, the second handle is never rewound: many long rows cost
    # one more read of the file, not one per row.
    lines = ["id,a,b"] + [f"{i},{'y' * 20},{'z' * 30}" for i in range(2, 200)]
    path = Path(tempfile.mkdtemp()) / "f.csv"
    path.write_text("\n".join(lines) + "\n")
    finder = LongCells(path, "utf-8", ",", '"')
    with closing(finder):
        found = [finder.find(line) for line in (10, 50, 51, 199)]
        assert found == [None] * 4  # no cell over the limit: the reader failed for another reason
        assert finder._line == 200  # one pass: at the line after the last record asked about
    small = csv.field_size_limit(25)
    try:
        finder = LongCells(path, "utf-8", ",", '"')
        with closing(finder):
            assert [finder.find(line) for line in (3, 150)] == [(2, 3), (2, 150)]
    finally:
        csv.field_size_limit(small)


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet='ab",\n\r', max_size=80))
def test_long_cells_agree_with_the_reader_at_a_larger_limit(text, tmp_path_factory):
    # With a limit of 4 characters, every record the reader reads at a large limit comes out
    # of iter_rows as it is, or — a cell over 4 — as one Malformed naming that cell, at the
    # record's first line; the records after it follow on the right lines.
    if model_unterminated(text) is not None:
        return  # the pre-scan refuses such a file before any row is read
    path = tmp_path_factory.mktemp("long") / "f.csv"
    path.write_bytes(text.encode())
    old = csv.field_size_limit(10**6)
    try:
        expected: list[tuple[int, object]] = []
        with path.open(newline="") as fh:
            reader, start = csv.reader(fh), 1
            for row in reader:
                over = [i for i, c in enumerate(row) if len(c) > 4]
                expected.append((start, ("long", over[0]) if over else row))
                start = reader.line_num + 1
        csv.field_size_limit(4)
        got = [
            (line, ("long", row.cell) if isinstance(row, Malformed) else row)
            for line, row in iter_rows(path, "f.csv", encoding="utf-8", delimiter=",")
        ]
    finally:
        csv.field_size_limit(old)
    assert got == expected


@pytest.mark.parametrize(
    ("record", "cell"),
    [
        ('"a""bb",xxxxx\n', 1),  # a doubled quote is one character: the first cell is 4
        ('"a\nbc",xxxxx\n', 1),  # a line break inside quotes is one character
        ('"ab"cd,xxxxx\n', 1),  # after the closing quote the cell goes on: 4 characters
        ('"ab"cde,x\n', 0),
        ('a"bc,xxxxx\n', 1),  # a quote inside an unquoted cell is a character: 4
        ('a"bcd\n', 0),
        (',,"",xxxxx\r\n', 3),
    ],
)
def test_long_cells_count_characters_as_the_reader_does(tmp_path, record, cell):
    path = tmp_path / "f.csv"
    path.write_text("h\n" + record, newline="")
    old = csv.field_size_limit(4)
    try:
        with closing(LongCells(path, "utf-8", ",", '"')) as finder:
            assert finder.find(2) == (cell, 2 + record.count("\n") - 1)
    finally:
        csv.field_size_limit(old)


def test_a_quoted_cell_within_the_limit_is_read_though_its_raw_text_is_longer(tmp_path):
    # 70,001 characters, 140,002 raw (doubled quotes), over a line break, at the end of the
    # file without one: the pre-scan carries it; the reader reads it.
    cell = '""' * 70_000 + "\nx"
    name = write(tmp_path, f'id,name,city\n1,a,b\n2,c,"{cell}"')
    rows = list(src(tmp_path, name).read())
    assert [len(r.fields["city"]) for r in rows if not isinstance(r, Reject)] == [1, 70_002]


def test_cr_line_ends_are_sniffed_and_read(tmp_path):
    name = write(tmp_path, "id;name;city\r1;a;b\r2;c;d\r")
    rows = list(src(tmp_path, name).read())
    assert [(r.key, r.line, r.fields["city"]) for r in rows] == [("1", 2, "b"), ("2", 3, "d")]


@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"])
def test_pre_scan_errors_name_the_line_whatever_the_line_ends(tmp_path, end):
    """An old Mac export ends its lines with a lone CR: the reader counts those as lines, so
    the pre-scan's errors must too (they said line 1 for every CR-only file)."""
    quote = write(tmp_path, hundred_rows(bad_line=40, quoted=False).replace("\n", end))
    with pytest.raises(InputError, match=r"^in.csv:40: unterminated quote starting at line 40"):
        src(tmp_path, quote).check()
    text = hundred_rows(bad_line=0).replace("\n", end).encode("utf-8")
    at = text.index(b"Name 30")
    (tmp_path / "bad.csv").write_bytes(text[:at] + b"\xff" + text[at:])
    with pytest.raises(InputError, match=r"^bad.csv:30: not valid utf-8"):
        src(tmp_path, "bad.csv").check()


@pytest.mark.parametrize("cut", range(1, 12))
def test_a_cr_lf_cut_between_chunks_counts_once(cut):
    scan = QuoteScan("in.csv", ",", '"')
    text = 'a,b\r\nc,d\r\ne,"f\r\n'
    scan.feed(text[:cut])
    scan.feed(text[cut:])
    with pytest.raises(InputError, match=r"^in.csv:3: unterminated quote starting at line 3"):
        scan.finish()


def test_a_wide_header_is_sniffed_though_one_delimiter_reads_it_as_one_long_cell(tmp_path):
    header = ";".join(["id", *(f"column_{i}" for i in range(14_000))])
    name = write(tmp_path, f"{header}\n1;{';' * 13_999}\n")
    (row,) = list(src(tmp_path, name).read())
    assert row.key == "1" and len(row.fields) == 14_001


@pytest.mark.parametrize("opts", [{}, {"delimiter": ","}])
def test_a_header_cell_over_the_limit_is_an_input_error_naming_the_column(tmp_path, opts):
    name = write(tmp_path, f"id,{'x' * (csv.field_size_limit() + 1)},city\n1,a,b\n")
    with pytest.raises(InputError, match=r"^in.csv:1: the header line cannot be read \(column 2\)"):
        src(tmp_path, name, **opts).check()


@pytest.mark.parametrize("quote", ["\n", "\r"])
def test_a_line_break_is_no_quote_character(tmp_path, quote):
    with pytest.raises(ConfigError, match="a line break cannot be the quote character"):
        src(tmp_path, write(tmp_path, "id\n1\n"), quotechar=quote)


def test_the_fast_scan_counts_no_lines_and_an_open_quote_is_scanned_again_for_its_line(
    tmp_path, monkeypatch
):
    """The pre-scan's first pass counts no lines (a nightly's file has no open quote); the
    line an error names comes from a second pass. A file fixed between the passes (its
    export rewritten) is still refused, without a line it no longer has."""
    import connector.sources.prescan as prescan_mod

    name = write(tmp_path, hundred_rows(bad_line=40))
    assert QuoteScan("f.csv", ",", '"', lines=False).lines is False
    with pytest.raises(InputError, match=r"^in.csv:40: unterminated quote starting at line 40"):
        src(tmp_path, name).check()

    real, passes = prescan_mod.scan_decodable, []

    def then_fixed(path, *args, **kwargs):
        real(path, *args, **kwargs)
        passes.append(path)
        path.write_text(hundred_rows(bad_line=0), encoding="utf-8")

    monkeypatch.setattr(prescan_mod, "scan_decodable", then_fixed)
    with pytest.raises(InputError, match=r"^in.csv: unterminated quote \(the file changed"):
        src(tmp_path, name).check()
    assert len(passes) == 2
