"""Reading a person's records for the export: every readable field, as few queries as fit.

Which fields: the object's describe (``GET sobjects/{obj}/describe``) — every field Salesforce
holds, staff-typed and custom ones included, not only those a mapping writes. Compound fields
(types ``address`` and ``location``: ``MailingAddress`` repeats ``MailingStreet`` … as one
structured value) and ``base64`` bodies (file contents, fetched through a separate blob URL, not
queryable in bulk) are left out: their parts or their metadata are already there.

How many queries: a SOQL query goes in the URL of a GET, and "the maximum length for the combined
URI and headers is 16,384 bytes" (414 URI Too Long beyond it; Salesforce Help, *Maximum number of
rows returned by SOQL queries over the REST API*, article 000386264). Fields are packed greedily
into statements whose encoded URL stays under :data:`URL_BUDGET` (half the limit: headers and the
server's own additions take the rest), records of one object by ``Id IN (...)``. Each statement
repeats ``Id``, and the parts are joined by it.

Reads go through ``queryAll`` with ``IsDeleted = false``: ``queryAll`` also returns archived
activities (Tasks and Events Salesforce archives after a year, which plain ``query`` skips), and
the condition keeps the recycle bin out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote_plus

from simple_salesforce import format_soql

from connector.gdpr.export_model import Value

# Describe field types that are not read one by one (see the module docstring).
SKIPPED_TYPES = frozenset({"address", "location", "base64"})
URL_BUDGET = 8192
# "/services/data/vNN.N/queryAll/?q=" and a host: counted against the budget as well.
_URL_OVERHEAD = 120
_MAX_IDS = 100  # ids per statement; one person's records are far fewer


@dataclass(frozen=True, slots=True)
class ObjectFields:
    """The readable fields of one object: API name → label, in describe order."""

    object: str
    labels: dict[str, str]


def readable_fields(describer: object, obj: str) -> ObjectFields | None:
    """The fields of ``obj`` the export reads; ``None`` when the org has no such object.

    Args:
        describer: A :class:`~connector.salesforce.describe.Describer` (``fields(obj)``).
        obj: sObject name.
    """
    described = describer.fields(obj)  # type: ignore[attr-defined]
    if described is None:
        return None
    labels = {
        name: str(entry.get("label") or name)
        for name, entry in described.items()
        if entry.get("type") not in SKIPPED_TYPES
    }
    return ObjectFields(obj, labels)


def _encoded(text: str) -> int:
    return len(quote_plus(text)) + _URL_OVERHEAD


def statements(
    obj: str, fields: Sequence[str], where: str, ids: Sequence[str], *, budget: int = URL_BUDGET
) -> list[str]:
    """SOQL statements that together read ``fields`` of the ``obj`` records with ``where`` IN
    ``ids``, each within ``budget`` bytes of encoded URL (pure; values escaped).

    Raises ValueError when even one field does not fit (a budget below any sensible size).
    """
    out: list[str] = []
    wanted = [f for f in dict.fromkeys(fields) if f != "Id"]
    for start in range(0, len(ids), _MAX_IDS):
        chunk = list(ids[start : start + _MAX_IDS])
        # Object and field names come from describe and constants; the ids are escaped.
        tail = format_soql(
            f" FROM {obj} WHERE {where} IN {{ids}} AND IsDeleted = false",
            ids=chunk,
        )
        cols: list[str] = ["Id"]
        for name in wanted:
            if _encoded(f"SELECT {', '.join([*cols, name])}{tail}") > budget:
                if len(cols) == 1:
                    raise ValueError(f"{obj}.{name} does not fit in a {budget}-byte query URL")
                out.append(f"SELECT {', '.join(cols)}{tail}")
                cols = ["Id"]
            cols.append(name)
        out.append(f"SELECT {', '.join(cols)}{tail}")
    return out


def read_records(
    writer: object, obj: str, fields: Iterable[str], where: str, ids: Sequence[str]
) -> dict[str, dict[str, Value]]:
    """Id → field → value of the live ``obj`` records whose ``where`` is one of ``ids``.

    Archived activities included (``queryAll``); a relationship path such as ``Campaign.Name``
    comes back as its own key with the parent's value (``None`` without a parent).
    """
    if not ids:
        return {}
    wanted = list(fields)
    # A relationship path's parent comes back as an object, or null without a parent.
    paths = {p.split(".", 1)[0]: p for p in wanted if "." in p}
    out: dict[str, dict[str, Value]] = {}
    for soql in statements(obj, wanted, where, list(dict.fromkeys(ids))):
        for record in writer.query(soql, include_deleted=True):  # type: ignore[attr-defined]
            row = out.setdefault(str(record["Id"]), {})
            for key, value in record.items():
                if key in paths:
                    parent = value if isinstance(value, dict) else {}
                    row[paths[key]] = _scalar(parent.get(paths[key].split(".", 1)[1]))
                else:
                    row[key] = _scalar(value)
    return out


def _scalar(value: object) -> Value:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
