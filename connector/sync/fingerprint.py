"""Source fingerprints: a nightly run does not map a row it has already synced, unchanged.

Most of a nightly export is what it was yesterday. The engine remembers, per source row that
maps to what Salesforce now holds for its record, a keyed hash of the row (table
``source_rows``: source hash → record, the record hash it produced, and the day from which the
same row could be decided otherwise). A remembered row whose recheck day has not come is
unchanged without being mapped, checked by the policy or diffed: reading it and hashing it is
the whole cost. A record may have many such rows (an event named on every one of its
registration rows): the last row of a record in a batch is planned, the earlier ones that come
to the same outcome are remembered with it.

What the hash covers, so that a skip is never wrong:

- the row itself: every column name and value as the source read it (a CSV source passes its
  raw cells and header as :attr:`~connector.records.SourceRecord.signature`; other sources are
  hashed from their fields);
- the project: every mapping and the purposes register as loaded, a digest of the connector's
  own source files, the Python version, the versions of the libraries that shape values
  (phonenumbers, email-validator, tzdata, …) and of the packages providing transforms and
  sources. Editing a mapping or a purpose, or changing or upgrading the code, maps every row
  once more;
- the secret (the hash is keyed, like every hash in state).

What the day changes is not in the hash but in ``recheck_on``: the policy names the day a
consent dated ahead starts to count or an ended record's retention runs out
(:meth:`~connector.privacy.policy.Policy.recheck_on`), and a transform that reads today names
the day its result may change (``age_band``: the next birthday; see
:meth:`~connector.mapping.transforms.TransformContext.recheck`).

The engine remembers a row only when its mapping raised no warning and Salesforce accepted the
record (or it was unchanged): rejected, held-for-review and failed rows are mapped every run,
as before; nor when the run's clock (``SIS_SYNC_NOW``) is ahead of the real one. A write of
other content forgets the record's rows that produced the old content.

What lies outside the row but decides its outcome deletes the rows it touches, so the planner
sees it on the next run: an erasure tombstone (the rows of that key or person), a purge (the
purged records' rows, and every row of the mappings that refer to a purged mapping), an e-mail
address that a new or moved person now shares with another (the rows of everyone sharing it:
their match became ambiguous), and forgetting a record.
"""

from __future__ import annotations

import hashlib
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from connector import __version__
from connector.hashing import KeyHasher
from connector.records import SourceRecord

if TYPE_CHECKING:
    from connector.mapping import Project


def project_digest(project: Project) -> bytes:
    """A digest of everything that decides how a row maps: mappings, purposes, code versions.

    Args:
        project: A loaded ``connector.mapping.Project``.
    """
    from connector.mapping.transforms import registry as transforms
    from connector.sources.base import registry as sources

    h = hashlib.sha256()
    h.update(f"sis-sync {__version__} {_code_digest()} {sys.version}\n".encode())
    for package in _LIBRARIES:
        h.update(f"{package} {_package_version(package)}\n".encode())
    plugins = [(e.name, e.package) for e in transforms.entries()]
    plugins += [(e.name, e.package) for e in sources.entries()]
    for name, package in plugins:
        h.update(f"{name} {package} {_package_version(package)}\n".encode())
    h.update(project.purposes.model_dump_json().encode())
    for name in sorted(project.mappings):
        h.update(f"\n{name}\n".encode())
        h.update(project.mappings[name].model_dump_json().encode())
    return h.digest()


# Libraries whose behaviour decides a mapped value (validation, normalisation, time zones).
_LIBRARIES = ("phonenumbers", "email-validator", "tzdata", "pydantic", "PyYAML")


@cache
def _code_digest() -> str:
    """A digest of this connector's own source files: any code change, released under a new
    version or not, maps every row once more (a fix in the policy must reach unchanged rows)."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@cache
def _package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except (metadata.PackageNotFoundError, ValueError):
        return "?"  # in-process registrations and the like


class SourceHasher:
    """Keyed hashes of source rows under one project digest (32 hex characters each).

    Args:
        hasher: The run's keyed hasher (the hash is keyed by ``SIS_SYNC_SECRET``).
        digest: :func:`project_digest` of the project being run.
        mapping: The mapping's name (the same file read by two mappings hashes apart).
    """

    __slots__ = ("_bases", "_key")

    def __init__(self, hasher: KeyHasher, digest: bytes, mapping: str):
        self._key = hashlib.blake2b(
            digest + mapping.encode(), key=hasher.derive("source rows"), digest_size=32
        ).digest()
        # Signature head (a CSV file's header) → the keyed hash state that has absorbed it.
        self._bases: dict[str, hashlib.blake2b] = {}

    def of(self, rec: SourceRecord) -> str:
        """The hash of one row: equal exactly when the source row is the same."""
        return self.of_many([rec])[0]

    def of_many(self, records: list[SourceRecord]) -> list[str]:
        """:meth:`of` for a batch (one loop: this runs for every row of every nightly run).

        A signed row hashes as ``head, key, cells``: the head (the file's header, the same for
        every row) is absorbed once and its state copied per row — half the hashing of a
        nightly, whose rows are short beside a header of 28 column names.
        """
        bases, key = self._bases, self._key
        out: list[str] = []
        for rec in records:
            cells = rec.sig_cells
            if cells is None:
                h = hashlib.blake2b(
                    _text(rec).encode("utf-8", "surrogatepass"), key=key, digest_size=16
                )
            else:
                head = rec.sig_head
                base = bases.get(head)
                if base is None:
                    base = bases[head] = self._base(head)
                h = base.copy()
                h.update((rec.key + "\x1d" + cells).encode("utf-8", "surrogatepass"))
            out.append(h.hexdigest())
        return out

    def _base(self, head: str) -> hashlib.blake2b:
        """The keyed hash state of signed rows under ``head``: its length first, so that head
        and row cannot trade characters, and a prefix no fields text starts with."""
        data = head.encode("utf-8", "surrogatepass")
        base = hashlib.blake2b(key=self._key, digest_size=16)
        base.update(b"\x00signed\x1d" + len(data).to_bytes(8, "big") + data)
        if len(self._bases) > 64:  # a source with ever-new heads: keep the cache bounded
            self._bases.clear()
        return base


def _text(rec: SourceRecord) -> str:
    """Unambiguous text of a record without a signature: key, column names, typed values."""
    # repr, not JSON: it tells a tuple from a list and a date from its text; an object without
    # a stable repr (one naming its address) only means the row is never recognised.
    fields = rec.fields
    return "\x1d".join(("fields", rec.key, repr(tuple(fields.items()))))
