"""`sis-sync rejects`: every rejected row and every Salesforce refusal of one run.

The run report lists the first few per mapping; this lists all of them, like the error CSV of
Salesforce's Data Loader (one line per failed row, with the reason) — but without the row's values:
file, line, column or field, and a reason code. Salesforce's refusals are stored by the recorder
with the reason ``salesforce refused: <errorCode>`` (the code, never Salesforce's message, which
can quote a value).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from connector.csv_cells import formula_safe
from connector.output import say

if TYPE_CHECKING:
    from connector.state import StateStore
    from connector.state.rows import RejectRow

REFUSED_PREFIX = "salesforce refused:"
PAGE = 5000  # rejects read per query: memory stays flat however many rows a run rejected
COLUMNS = ("run", "mapping", "kind", "file", "line", "column", "reason")


class Format(StrEnum):
    """Output formats of ``sis-sync rejects``."""

    text = "text"
    csv = "csv"
    json = "json"


def kind_of(reason: str) -> str:
    """``salesforce`` for a record Salesforce refused, ``source`` for a rejected source row."""
    return "salesforce" if reason.startswith(REFUSED_PREFIX) else "source"


def iter_rejects(store: StateStore, run_id: int, mapping: str | None) -> Iterator[RejectRow]:
    """Every reject of ``run_id`` (of one mapping when given) in the order they were stored."""
    offset = 0
    while True:
        page = store.list_rejects(run_id, limit=PAGE, offset=offset)
        for row in page:
            if mapping is None or row.mapping == mapping:
                yield row
        if len(page) < PAGE:
            return
        offset += PAGE


def _as_dict(row: RejectRow) -> dict[str, object]:
    return {
        "run": row.run_id,
        "mapping": row.mapping,
        "kind": kind_of(row.reason),
        "file": row.file,
        "line": row.line,
        "column": row.column,
        "reason": row.reason,
    }


def write_rejects(rows: Iterator[RejectRow], fmt: Format, out: TextIO) -> int:
    """Write ``rows`` to ``out`` in ``fmt``; returns how many were written."""
    n = 0
    if fmt is Format.csv:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: formula_safe(v) if isinstance(v, str) else v for k, v in _as_dict(row).items()}
            )
            n += 1
    elif fmt is Format.json:
        # One JSON array, streamed: a run with a million rejects does not build it in memory.
        out.write("[")
        for n, row in enumerate(rows, 1):
            out.write(("," if n > 1 else "") + "\n  " + json.dumps(_as_dict(row)))
        out.write("\n]\n" if n else "]\n")
    else:
        for row in rows:
            n += 1
            what = "refused" if kind_of(row.reason) == "salesforce" else "rejected"
            out.write(f"{row.mapping}: {what} {row.file}:{row.line} [{row.column}]: {row.reason}\n")
    return n


def rejects(
    ctx: typer.Context,
    run: Annotated[
        int | None,
        typer.Option("--run", help="run id (default: the newest run with rejects or refusals)"),
    ] = None,
    mapping: Annotated[str | None, typer.Option("--mapping", help="only this mapping")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text, csv or json")] = Format.text,
) -> None:
    """Every rejected row and Salesforce refusal of a run: file, line, column, reason; no value."""
    from connector.config import load_settings
    from connector.state import open_existing

    settings = load_settings((ctx.obj or {}).get("config"))
    url = settings.state.url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        say("no runs yet (no state file)")
        raise typer.Exit(0)
    store = open_existing(url)  # reads only: never migrates
    try:
        if run is None:
            last = store.recent_runs(1)
            if not last:
                say("no runs yet")
                raise typer.Exit(0)
            # The last run may have failed before reading anything: list the newest run that
            # has rejects or refusals, and say which on stderr (stdout stays the listing).
            found = store.last_run_with_rejects()
            run = found if found is not None else last[0].run_id
            note = "" if run == last[0].run_id else f" (the last run, {last[0].run_id}, has none)"
            say(f"rejects of run {run}{note}")
        n = write_rejects(iter_rejects(store, run, mapping), fmt, sys.stdout)
        if n == 0 and not any(r.run_id == run for r in store.recent_runs(1_000_000)):
            say(f"no run {run} in the state")
            raise typer.Exit(2)
    finally:
        store.close()
    if fmt is Format.text:
        typer.echo(f"{n} rejected or refused rows in run {run}")
