"""The status page at `/` of the service, over a real state: real syncs against the emulator, a
row rejected, a record Salesforce refuses, an erasure; what the page shows and never shows."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from svcfixtures import get, leaked, make_service, serving
from syncfixtures import student

from connector import status_page
from connector.records import Origin, Reject
from connector.state import AuditEntry, open_store

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
    # the first run's three Contacts, each with an Individual and two ContactPointTypeConsents
    assert any(t.endswith("created 12") for t in nightly), nightly
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
    # Data quality of the sources: the bad address makes students.Email 4 valid of 5 filled.
    assert re.search(r"<td>students</td><td>Email</td><td class=\"n\">5</td>"
                     r"<td class=\"n\">100 %</td><td class=\"n\">80.0 %</td>", page)  # fmt: skip
    assert "students.Email: 80.0 %" in drawn["quality"]
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


# -- the page's rules over a state written by hand (no emulator) --------------------------------

T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def _state_by_hand(tmp_path):
    store = open_store("sqlite://")
    for day in range(3):
        run = store.start_run("nightly", T0 + timedelta(days=day))
        store.finish_run(
            run,
            status="ok",
            counts={"created": 5, "updated": 1, "unchanged": 20, "warnings": []},
            api_calls=4,
            report_path=None,
            finished_at=T0 + timedelta(days=day, minutes=5),
        )
    report = tmp_path / "run.json"
    report.write_text(json.dumps({"api_usage": "1200/15000"}), encoding="utf-8")
    purge = store.start_run("purge", T0 + timedelta(days=2, hours=1))
    store.finish_run(
        purge,
        status="ok",
        counts={"deleted": 774, "already_gone": 0, "failed": 0, "persons": 300},
        api_calls=0,
        report_path=None,
        finished_at=T0 + timedelta(days=2, hours=1, minutes=1),
    )
    # Started before the last 24 hours, ended within them (or the run's clock was set back).
    failed = store.start_run("events", T0 + timedelta(days=1))
    cause = "TLS: certificate verify failed for https://127.0.0.1:8443"
    store.finish_run(
        failed,
        status="failed",
        counts={"cause": cause, "warnings": []},
        api_calls=2,
        report_path=str(report),
        finished_at=T0 + timedelta(days=2, seconds=10),
    )
    store.add_rejects(
        failed,
        [
            Reject(Origin("data/x.csv", 7), "<b>naam</b>", "<script>alert(1)</script>", "events"),
            Reject(
                Origin("data/x.csv", 8), "Name", "salesforce refused: STRING_TOO_LONG", "events"
            ),
            Reject(
                Origin("data/x.csv", 9), "Name", "salesforce refused: STRING_TOO_LONG", "events"
            ),
        ],
    )
    store.add_audit(
        [AuditEntry("purge", "Contact", f"003{n:015d}", "retention ran out", T0, "", purge)
         for n in range(774)]
        + [AuditEntry("erase", "Contact", "003000000000000999", "erasure on request", T0, "", None)]
    )  # fmt: skip
    return store


def test_the_page_counts_what_a_state_holds(tmp_path):
    store = _state_by_hand(tmp_path)
    data = status_page.collect(store, now=T0 + timedelta(days=2, hours=12))
    page = status_page.render(data)
    drawn = charts(page)

    # Each job's runs, oldest first; a purge's deletions count as written (not "written 0").
    assert [r.run_id for r in data.runs["nightly"]] == [1, 2, 3]
    assert re.search(r'data-job="purge">.*?written 774 ·', page)
    # API budget from the newest report that has it: left = allocation - used.
    assert (data.api.used, data.api.total, data.api.left) == (1200, 15000, 13800)
    assert re.search(r'id="api-left">13,800</span> left of 15,000', page)
    # Calls of runs that ended in the last 24 hours: nightly run 3 and the events run.
    assert data.api_calls_24h == 4 + 2
    # Refusals by Salesforce's code, apart from the source rejects.
    assert drawn["refusals"] == ["STRING_TOO_LONG: 2"]
    assert [r.reason for _, r in data.rejects] == ["<script>alert(1)</script>"]
    # The audit counted per (action, object, reason) and per day.
    assert ("purge", "Contact", "retention ran out", 774) in [a[:4] for a in data.audit]
    assert data.audit_days[T0.date()] == {"purge": 774, "erase": 1}
    assert f"{T0:%d-%m}: purge 774" in drawn["audit"]
    # A failed run's cause, in words, on its card.
    assert "cause: TLS: certificate verify failed for https://127.0.0.1:8443" in page
    # Durations in a readable unit: five minutes is "5 min", the axis is in minutes.
    assert "5 min 0 s" in page and any(t.endswith("5.0 min") for t in drawn["duration-nightly"])
    # Whatever a source file names is text, never markup; and no Salesforce id.
    assert "<script>" not in page and "<b>naam" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "003000000000000" not in page


def test_write_status_page_is_owner_only(tmp_path, project):
    out = tmp_path / "page.html"
    assert status_page.write_status_page(project.settings(), out) == out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "No runs yet" in out.read_text(encoding="utf-8")


def test_source_quality_is_read_once_per_finished_run(project):
    project.write_students([student("800001"), student("800002", email=BAD_EMAIL)])
    settings = project.settings()
    first, problem = status_page.source_quality(settings, 7)
    assert problem == "" and first is not None
    assert status_page.source_quality(settings, 7)[0] is first  # the page reloads: cached
    again = status_page.source_quality(settings, 8)[0]  # a new run: the sources read again
    assert again is not first
    email = next(f for f in again.fields if (f.mapping, f.field) == ("students", "Email"))
    assert (email.rows, email.filled, email.valid) == (2, 2, 1)
