"""Many SOQL queries for few API calls: IN lists cut by URI length, five queries per call.

Reading the graphs of thousands of persons (purge, erasure) means asking for the children of
thousands of Ids. Two documented Salesforce limits shape how:

* **URI length.** Query is a GET (``/query/?q=`` or ``/queryAll/?q=``); Salesforce answers
  ``414`` "The length of the URI exceeds the 16,384 byte limit" (REST API Developer Guide,
  Status Codes and Error Responses,
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm; wire
  spec §4). The SOQL text itself may hold 100,000 characters (SOQL and SOSL Reference, SOQL
  limits), so the URI is the tighter bound. :func:`in_list_queries` cuts an ``IN (...)`` list so
  that every query's URI, as ``requests`` encodes it, stays under :data:`URI_BUDGET`.
* **Composite.** ``POST /composite`` carries up to 25 subrequests, "up to 5 of these subrequests
  can be sObject Collections or query operations, including Query and QueryAll requests", and
  "the entire series of requests counts as a single call toward your API limits" (Composite,
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-composite-post.html).
  :func:`query_many` sends :data:`QUERIES_PER_CALL` queries per call; each subrequest's URI is
  kept under the same budget. Further pages (``nextRecordsUrl``, more than 2,000 rows) are
  plain GETs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote_plus, urlsplit

from simple_salesforce import format_soql

from connector import errors
from connector.salesforce.client import SalesforceClient, error_parts

URI_LIMIT = 16_384
# The query's own budget: the limit less the longest path in front of it
# ("/services/data/v59.0/queryAll/?q=", 34 bytes) and a margin for longer API versions.
URI_BUDGET = 16_000
QUERY_PATH = "/services/data/vNN.N/queryAll/?q="
QUERIES_PER_CALL = 5
_SEPARATOR = len(quote_plus(","))


def uri_length(soql: str) -> int:
    """Bytes of the URI path and query of ``soql`` sent to ``queryAll`` (the longer resource)."""
    return len(QUERY_PATH) + len(quote_plus(soql))


def in_list_queries(template: str, ids: Sequence[str], *, budget: int = URI_BUDGET) -> list[str]:
    """SOQL texts of ``template`` with ``{ids}`` replaced by chunks of ``ids``, in order.

    Each text's URI (:func:`uri_length`) stays within ``budget``; values are escaped with
    ``format_soql``. Pure: no call is made.

    Raises:
        ValueError: The template alone, with one id, exceeds the budget.
    """
    base = uri_length(format_soql(template, ids=[]))  # "IN ()": the list's parentheses counted
    out: list[str] = []
    chunk: list[str] = []
    size = base
    for value in ids:
        cost = len(quote_plus(format_soql("{}", value))) + (_SEPARATOR if chunk else 0)
        if chunk and size + cost > budget:
            out.append(format_soql(template, ids=chunk))
            chunk, size = [], base
            cost -= _SEPARATOR
        if base + cost > budget:
            raise ValueError("one id does not fit a query's URI budget")
        chunk.append(value)
        size += cost
    if chunk:
        out.append(format_soql(template, ids=chunk))
    return out


def strip_attributes(record: Any) -> Any:
    """A query record without its (and its nested records') ``attributes``."""
    if isinstance(record, dict):
        return {k: strip_attributes(v) for k, v in record.items() if k != "attributes"}
    if isinstance(record, list):
        return [strip_attributes(v) for v in record]
    return record


def query_many(
    client: SalesforceClient, soqls: Sequence[str], *, include_deleted: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every record of every query in ``soqls``, as ``(query index, record)``, queries in order.

    Up to :data:`QUERIES_PER_CALL` queries go in one ``/composite`` call (one API call); a
    lone query is a plain GET. Pages beyond the first are read with their ``nextRecordsUrl``.

    Raises:
        errors.SalesforceError: Salesforce refused a query (its errorCode in ``.code``; a 5xx
            subrequest is retriable).
    """
    resource = "queryAll" if include_deleted else "query"
    version_path = urlsplit(client.base_url).path  # "/services/data/v59.0/"
    for start in range(0, len(soqls), QUERIES_PER_CALL):
        group = soqls[start : start + QUERIES_PER_CALL]
        if len(group) == 1:
            pages = [client.json("GET", f"{resource}/", params={"q": group[0]})]
        else:
            body = {
                "allOrNone": False,
                "compositeRequest": [
                    {
                        "method": "GET",
                        "url": f"{version_path}{resource}/?q={quote_plus(soql)}",
                        "referenceId": f"q{n}",
                    }
                    for n, soql in enumerate(group)
                ],
            }
            answer = client.json("POST", "composite", json=body)
            pages = [_page(entry) for entry in answer.get("compositeResponse", [])]
            if len(pages) != len(group):
                raise errors.SalesforceError(
                    f"composite answered {len(pages)} results for {len(group)} queries",
                    code="BAD_RESPONSE",
                )
        for offset, page in enumerate(pages):
            yield from ((start + offset, r) for r in _all_pages(client, page))


def _page(entry: dict[str, Any]) -> dict[str, Any]:
    status = int(entry.get("httpStatusCode") or 0)
    body = entry.get("body")
    if status >= 400 or not isinstance(body, dict):
        code, message = error_parts(body, status)
        kind = errors.RetriableSalesforceError if status >= 500 else errors.SalesforceError
        raise kind(f"query refused: {message}", code=code, status=status)
    return body


def _all_pages(client: SalesforceClient, page: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        for record in page.get("records", []):
            yield strip_attributes(record)
        next_url = page.get("nextRecordsUrl")
        if page.get("done", True) or not next_url:
            return
        page = client.json("GET", next_url)
