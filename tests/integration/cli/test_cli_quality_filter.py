"""Data quality counts the rows a mapping maps (a2-F12): rows its `filter` skips are not its
data, so an applications mapping's enrolled students do not make its Status "33 % valid"."""

from __future__ import annotations

import csv
from datetime import date

from relfixtures import CliProject

from connector.mapping.loader import load_project
from connector.quality import gather


def test_filtered_rows_are_neither_rows_nor_invalid(project: CliProject, tmp_path) -> None:
    folder = tmp_path / "school"
    init = project.cli(
        "init", str(folder), "--model", "education-cloud", "--sample-data", cwd=tmp_path
    )
    assert init.returncode == 0, init.stdout + init.stderr
    mappings = load_project(folder / "mappings")
    spec = mappings.mappings["applications"]
    assert spec.filter is not None and spec.filter.in_  # aangemeld, afgewezen, ingetrokken
    with (folder / spec.source["path"]).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    wanted = {v.casefold() for v in spec.filter.in_}
    mapped = sum((r.get("status") or "").strip().casefold() in wanted for r in rows)
    assert 0 < mapped < len(rows)

    quality = gather(mappings, folder, today=date(2026, 11, 20), secret=None)
    status = next(q for q in quality.fields if (q.mapping, q.field) == ("applications", "Status"))
    assert status.valid_pct == 100.0, status
    assert status.filled == status.valid  # every application's status is in the map's table
    assert status.rows <= mapped  # the ragged rows of the sample data are rejects, not rows
    assert status.rows >= mapped - 3, (status.rows, mapped)


def test_the_filter_rule_is_the_mapping_s() -> None:
    from connector.mapping.models import FilterSpec

    keep = FilterSpec.model_validate({"column": "status", "in": ["Aangemeld"]})
    assert keep.keeps(" aangemeld ") and not keep.keeps("ingeschreven") and not keep.keeps(None)
    drop = FilterSpec.model_validate({"column": "status", "not_in": ["ingeschreven"]})
    assert drop.keeps("aangemeld") and drop.keeps(None) and not drop.keeps("Ingeschreven")
