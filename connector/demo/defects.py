"""Deliberately malformed rows: where they go in a file and how they are reported."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MalformedRow:
    """A deliberately bad row: file, 1-based physical line (header = 1), wrong column, problem.

    ``column`` is ``""`` when the row as a whole is wrong (a wrong number of columns). ``problem``
    is one of ``bad_date``, ``bad_email``, ``empty_key``, ``column_count``, ``bad_postcode``,
    ``bad_phone``.
    """

    file: str
    line: int
    column: str
    problem: str


def insert_defects(
    rng: random.Random,
    rows: list[list[str]],
    bad_rows: Sequence[list[str]],
    file: str,
    defects: Sequence[tuple[str, str]],
) -> tuple[list[list[str]], tuple[MalformedRow, ...]]:
    """Spread ``bad_rows`` (one per defect) over the file at seeded positions.

    Returns the merged rows and a report with each bad row's line; the header is line 1 and no
    generated value contains a line break, so a row's index + 2 is its physical line.
    """
    total = len(rows) + len(bad_rows)
    positions = sorted(rng.sample(range(total), len(bad_rows)))
    at = dict(zip(positions, zip(bad_rows, defects, strict=True), strict=True))
    good = iter(rows)
    merged: list[list[str]] = []
    report: list[MalformedRow] = []
    for index in range(total):
        if index in at:
            bad, (problem, column) = at[index]
            merged.append(bad)
            report.append(MalformedRow(file=file, line=index + 2, column=column, problem=problem))
        else:
            merged.append(next(good))
    return merged, tuple(report)
