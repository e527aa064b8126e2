"""The status page at `/` of the service, over a real state: real syncs against the emulator, a
row rejected, a record Salesforce refuses, an erasure; what the page shows and never shows."""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser

from svcfixtures import get, leaked, make_service, serving
from syncfixtures import student

from connector.state import open_store

LONG_NAME = "Achternaam" * 9  # Contact.LastName holds 80: Salesforce refuses it (STRING_TOO_LONG)
BAD_EMAIL = "geen-apenstaartje"


class _Charts(HTMLParser):
    """Every ``<svg data-chart>`` with its ``rect.bar`` children and their ``<title>`` texts."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[str]] = {}
        self._chart: str | None = None
        self._in_bar = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("data-chart"):
            self._chart = str(a["data-chart"])
            self.charts[self._chart] = []
        elif tag == "rect" and a.get("class") == "bar" and self._chart:
            self._in_bar = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        elif tag == "rect":
            self._in_bar = False

    def handle_data(self, data: str) -> None:
        if self._in_bar and self._chart:
            self.charts[self._chart].append(data)


def charts(page: str) -> dict[str, list[str]]:
    """Chart name → the titles of its bars (what each drawn bar says it is)."""
    parser = _Charts()
    parser.feed(page)
    return parser.charts


def seed_runs(project) -> None:
    """Two nightly runs (the second changes one record), with one source reject and one refusal
    in the latest, then an erasure of one student: every section of the page has something."""
    project.write_students([student("100001"), student("100002"), student("100003")])
    service = make_service(project)
    assert service.run_now("nightly").status == "ok"
    project.write_students(
        [
            student("100001", roepnaam="Sanna"),  # updated
            student("100002"),
            student("100003"),
            student("100004", email=BAD_EMAIL),  # rejected by the mapping (line 5)
            student("100005", achternaam=LONG_NAME),  # refused by Salesforce (line 6)
        ]
    )
    assert service.run_now("nightly").status == "partial"
    erased = project.cli("erase", "--student-number", "100002", "--apply")
    assert erased.returncode == 0, erased.stdout + erased.stderr


def test_the_page_shows_runs_budget_rejects_refusals_and_audit(project):
    seed_runs(project)
    service = make_service(project)
    with serving(service) as base:
        code, page = get(base + "/")
        assert code == 200
        assert get(base + "/healthz")[0] == 200  # the other endpoints stay as they were
        assert get(base + "/nothing")[0] == 404

    # Refreshes itself and fits a phone.
    assert '<meta http-equiv="refresh" content="60">' in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    # Runs over time: both nightly runs as bars, the latest with its outcome and counts.
    drawn = charts(page)
    nightly = drawn["records-nightly"]
    assert any(t.endswith("created 3") for t in nightly)  # the first run's three Contacts
    assert any(t.endswith("updated 1") for t in nightly)
    assert any(t.endswith("rejected 1") for t in nightly)
    assert [t.split(": ")[1].split(",")[0] for t in drawn["duration-nightly"]] == ["ok", "partial"]
    assert re.search(r'data-job="nightly"><h3>nightly <span class="badge"[^>]*>partial<', page)
    # The org's budget as the emulator's Sforce-Limit-Info gave it (100,000 a day by default).
    assert re.search(r'id="api-left">[\d,]+</span> left of 100,000', page)
    assert "api-budget" in drawn
    # Rejects by reason and refusals by code, with mapping and column, never the value.
    assert drawn["rejects"] and drawn["refusals"] == ["STRING_TOO_LONG: 1"]
    assert ">email</td>" in page and ">LastName</td>" in page
    # The erasure is in the audit, counted per object.
    assert re.search(r"<td>erase</td><td>Contact</td><td[^>]*>erasure on request", page)
    assert sum(int(t.rsplit(" ", 1)[1]) for t in drawn["audit"]) >= 1
    # Records per mapping and the outbox.
    assert "<td>students</td>" in page and 'id="records"' in page
    # Nothing personal: no test value, no rejected or refused value, no Salesforce id, no hash.
    assert leaked(page) == []
    assert BAD_EMAIL not in page and LONG_NAME not in page
    ids = {r["Id"] for r in project.query("SELECT Id FROM Contact")}
    with open_store(f"sqlite:///{project.state_file}") as store:
        ids |= {a.sf_id for _, a in store.audit_log() if a.sf_id}
    with sqlite3.connect(project.state_file) as db:
        hashes = {h for (h,) in db.execute("SELECT key_hash FROM synced")}
    assert ids and not [i for i in ids if i[:15] in page]
    assert hashes and not [h for h in hashes if h in page]


def test_the_page_before_any_run_says_so_and_creates_no_state(project):
    service = make_service(project)
    with serving(service, start=False) as base:
        code, page = get(base + "/")
    assert code == 200
    assert 'id="no-runs"' in page and "No runs yet" in page
    assert not project.state_file.exists()  # looking does not create the state


def test_an_unreadable_state_is_503_with_the_cause(project):
    project.state_dir.mkdir(parents=True, exist_ok=True)
    project.state_file.write_bytes(b"this is not an SQLite database" * 100)
    service = make_service(project)
    with serving(service, start=False) as base:
        code, page = get(base + "/")
    assert code == 503
    assert "The state could not be read" in page
