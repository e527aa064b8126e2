"""Source fingerprints (connector/sync/fingerprint.py): the keyed row hash a nightly run skips by.

A skipped row is never mapped, so the hash must change with everything that could map it
otherwise: a value, a column name, the key, the mapping, the secret and the project (mappings
and purposes). And it must not change between runs for the same row, or nothing is ever skipped.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from pathlib import Path

import pytest

from connector.hashing import KeyHasher
from connector.mapping.loader import load_project
from connector.records import Origin, SourceRecord
from connector.sync.fingerprint import SourceHasher, project_digest

SHIPPED = Path(__file__).resolve().parents[3] / "connector" / "defaults" / "project" / "mappings"
SECRET = "fingerprint-test-secret"
DIGEST = b"\x01" * 32  # a stand-in for project_digest(): the hasher only needs bytes
HEADER = ("studentnummer", "achternaam", "email")
CELLS = ("1001", "Jansen", "a.jansen@example.nl")


def sig(header=HEADER, cells=CELLS) -> str:
    """A signature as CsvSource builds it: header and raw cells, unit- and record-separated."""
    return "\x1f".join(header) + "\x1e" + "\x1f".join(cells)


def csv_rec(key="1001", header=HEADER, cells=CELLS, line=2) -> SourceRecord:
    fields = dict(zip(header, [c or None for c in cells], strict=True))
    return SourceRecord(key, fields, Origin("studenten.csv", line), signature=sig(header, cells))


def json_rec(fields: dict, key="1001", line=2) -> SourceRecord:
    return SourceRecord(key, fields, Origin("users.jsonl", line))


def hasher(secret=SECRET, digest=DIGEST, mapping="students") -> SourceHasher:
    return SourceHasher(KeyHasher(secret), digest, mapping)


@pytest.fixture(scope="module")
def shipped():
    return load_project(SHIPPED)


def test_same_row_hashes_alike_across_hashers_and_lines():
    first = hasher().of(csv_rec(line=2))
    # Another run builds its own hasher and reads the row at another line: still the same row.
    again = hasher().of(csv_rec(line=917))
    assert first == again
    assert len(first) == 32 and int(first, 16) >= 0


@pytest.mark.parametrize(
    ("what", "other"),
    [
        ("a changed value", lambda: hasher().of(csv_rec(cells=("1001", "Jansen", "b@x.nl")))),
        ("an emptied value", lambda: hasher().of(csv_rec(cells=("1001", "Jansen", "")))),
        (
            "a renamed column",
            lambda: hasher().of(csv_rec(header=("studentnummer", "achternaam", "e_mail"))),
        ),
        (
            "swapped columns",
            lambda: hasher().of(
                csv_rec(
                    header=("studentnummer", "email", "achternaam"),
                    cells=("1001", "a.jansen@example.nl", "Jansen"),
                )
            ),
        ),
        ("another key", lambda: hasher().of(csv_rec(key="1002"))),
        ("another mapping", lambda: hasher(mapping="registrants").of(csv_rec())),
        ("another secret", lambda: hasher(secret="another-secret").of(csv_rec())),
        ("another project", lambda: hasher(digest=b"\x02" * 32).of(csv_rec())),
    ],
)
def test_anything_that_could_map_otherwise_changes_the_hash(what, other):
    assert other() != hasher().of(csv_rec()), what


def test_rows_without_signature_hash_from_their_fields():
    h = hasher()
    base = {"sourcedId": "u1", "givenName": "Sanne", "grade": 1, "active": True, "tags": ["a"]}
    assert h.of(json_rec(base)) == h.of(json_rec(dict(base), line=40))
    variants = [
        {**base, "givenName": None},
        {**base, "givenName": ""},
        {**base, "grade": "1"},
        {**base, "grade": 1.0},
        {**base, "grade": None},
        {**base, "active": 1},
        {**base, "active": "true"},
        {**base, "tags": ["a", "b"]},
        {**base, "tags": "a"},
        {"sourcedId": "u1", "firstName": "Sanne", "grade": 1, "active": True, "tags": ["a"]},
        {k: v for k, v in base.items() if k != "tags"},
    ]
    hashes = [h.of(json_rec(base))] + [h.of(json_rec(v)) for v in variants]
    assert len(set(hashes)) == len(hashes)  # every variant apart from the base and each other
    assert h.of(json_rec(base, key="u2")) != h.of(json_rec(base))


def test_a_batch_hashes_each_row_as_one_at_a_time():
    """The engine hashes per batch (``of_many``): the same hashes, in order, as ``of``."""
    h = hasher()
    batch = [
        csv_rec(),
        json_rec({"sourcedId": "u1", "givenName": None}),
        csv_rec(key="1002", cells=("1002", "Bakker", "")),
        json_rec({"sourcedId": "u1", "givenName": ""}),
        csv_rec(line=30),
    ]
    hashes = h.of_many(batch)
    assert hashes == [h.of(r) for r in batch]
    assert hashes[0] == hashes[4]
    assert len(set(hashes)) == 4
    assert h.of_many([]) == []


def test_non_json_values_without_signature_are_hashed_not_refused():
    h = hasher()
    one = h.of(json_rec({"geboortedatum": date(2008, 4, 3)}))
    assert one == h.of(json_rec({"geboortedatum": date(2008, 4, 3)}))
    assert one != h.of(json_rec({"geboortedatum": date(2008, 4, 4)}))


def test_project_digest_is_stable_for_an_identical_reload_elsewhere(shipped, tmp_path):
    assert project_digest(load_project(SHIPPED)) == project_digest(shipped)
    # A copy in another folder with a comment added maps every row alike: no re-mapping.
    folder = tmp_path / "mappings"
    shutil.copytree(SHIPPED, folder)
    students = folder / "students.yaml"
    students.write_text("# reviewed by the FG\n" + students.read_text("utf-8"), "utf-8")
    assert project_digest(load_project(folder)) == project_digest(shipped)


def test_project_digest_changes_with_a_mapping_field(shipped):
    spec = shipped.mappings["students"]
    first = spec.fields["FirstName"]
    changed = {
        "transform": first.model_copy(update={"transform": ["strip", "upper"]}),
        "purposes": first.model_copy(update={"purposes": ["enrolment", "phone_contact"]}),
        "from": first.model_copy(update={"from_": "voornaam"}),
    }
    base = project_digest(shipped)
    seen = {base}
    for what, field in changed.items():
        fields = {**spec.fields, "FirstName": field}
        mappings = {**shipped.mappings, "students": spec.model_copy(update={"fields": fields})}
        digest = project_digest(dataclasses.replace(shipped, mappings=mappings))
        assert digest not in seen, what
        seen.add(digest)
    # A mapping dropped from the project (or added) changes it too.
    fewer = {n: m for n, m in shipped.mappings.items() if n != "registration_tasks"}
    assert project_digest(dataclasses.replace(shipped, mappings=fewer)) != base


def test_project_digest_changes_with_a_purpose_edited_in_yaml(shipped, tmp_path):
    folder = tmp_path / "mappings"
    shutil.copytree(SHIPPED, folder)
    purposes = folder / "purposes.yaml"
    text = purposes.read_text("utf-8")
    assert text.count("retention: {after: lifecycle_end, keep: P1M}") == 1
    purposes.write_text(
        text.replace(
            "retention: {after: lifecycle_end, keep: P1M}",
            "retention: {after: lifecycle_end, keep: P2M}",
        ),
        "utf-8",
    )
    edited = load_project(folder)
    assert edited.purposes.purposes["enrolment"].retention.keep == "P2M"
    assert project_digest(edited) != project_digest(shipped)
    # And the hash of one and the same row follows the digest.
    row, key = csv_rec(), KeyHasher(SECRET)
    edited_hash = SourceHasher(key, project_digest(edited), "students").of(row)
    assert edited_hash != SourceHasher(key, project_digest(shipped), "students").of(row)


def test_project_digest_changes_with_a_purpose_model_copy(shipped):
    register = shipped.purposes
    news = register.purposes["recruitment_news"]
    purposes = {**register.purposes, "recruitment_news": news.model_copy(update={"min_age": 18})}
    edited = dataclasses.replace(
        shipped, purposes=register.model_copy(update={"purposes": purposes})
    )
    assert project_digest(edited) != project_digest(shipped)


def test_header_key_and_cells_cannot_trade_characters():
    """A signed row hashes as head, key, cells with the header absorbed once: a header one
    character shorter and a key one character longer must not make the same text."""
    at = ("studenten.csv", 2)
    one = SourceRecord.from_row("c", ["x"], ["c"], at, "v", "ab")
    other = SourceRecord.from_row("bc", ["x"], ["bc"], at, "v", "a")
    h = hasher()
    assert h.of(one) != h.of(other)
    # Read twice, in two batches: the header's hash state is reused, the hash the same.
    assert h.of_many([one, one]) == [h.of(one)] * 2
    # A row without a signature never hashes like a signed one.
    assert h.of(SourceRecord("c", {"x": "c"}, Origin(*at))) != h.of(one)
