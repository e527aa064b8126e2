"""`sis-sync quality`: fill and validity per field, consents without proof, and the bounced
e-mail addresses read back from the emulator's Contacts (connector/quality.py)."""

from __future__ import annotations

import csv
import io
from datetime import date

import typer
from relfixtures import CliProject
from syncfixtures import student
from typer.testing import CliRunner

from connector.commands import quality as quality_command
from connector.quality import PAGE, age_band, bounce_category, percent, read_bounces

PERSONAL = ["Vries", "Sanne", "s100001@school.example", "s100002@school.example", "geen-adres",
            "Dorpsstraat", "06-12345678", "14-03-2004"]  # fmt: skip


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """The quality command alone (the same function `sis-sync quality` runs)."""

    quality_command.register_commands(app)
    return app


def _quality(project: CliProject, *args: str) -> str:
    env = {**project.env, "SIS_SYNC_CONFIG": str(project.folder / "sync.yaml")}
    done = CliRunner().invoke(_app(), ["quality", *args], env=env, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done.output


def _bounce(project: CliProject, number: str, reason: str, when: str) -> str:
    sf = project.emulator.client()
    (rec,) = project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{number}'")
    sf.Contact.update(rec["Id"], {"EmailBouncedDate": when, "EmailBouncedReason": reason})
    return rec["Id"]


def _rows(text: str, section: str) -> list[list[str]]:
    return [r[1:] for r in csv.reader(io.StringIO(text)) if r and r[0] == section][1:]


def test_quality_names_the_bounced_addresses_and_the_fields_to_fix(project: CliProject):
    project.write_students(
        [
            student("100001"),
            student("100002"),
            student("100003"),
            student("100004", email="geen-adres"),  # not an e-mail address
            student("100005", email=""),
            student("100006", toestemming_nieuws_op=""),  # yes without a timestamp
            student("100007", toestemming_nieuws_bron=""),  # yes without a source
        ]
    )
    project.run("nightly")
    assert project.query("SELECT IsEmailBounced FROM Contact LIMIT 1")[0]["IsEmailBounced"] is False
    first = _bounce(project, "100001", "550 5.1.1 <s100001@school.example>: user unknown",
                    "2026-11-10T08:00:00.000+0000")  # fmt: skip
    second = _bounce(project, "100002", "552 mailbox full", "2026-06-01T08:00:00.000+0000")
    # a bounced Contact this connector does not sync is none of its business
    project.emulator.client().Contact.create(
        {"LastName": "Ander", "EmailBouncedDate": "2026-11-01T08:00:00.000+0000"}
    )
    assert len(project.query("SELECT Id FROM Contact WHERE IsEmailBounced = true")) == 3

    calls = project.api_calls()
    text = _quality(project, "--format", "csv", "--mapping", "students")
    assert project.api_calls() - calls == 1  # one query for up to 2,000 bounced Contacts

    persons = _rows(text, "To reach through another channel")
    assert sorted(p[0] for p in persons) == sorted([first, second])
    assert {p[1] for p in persons} == {"s***@s***"}
    assert all("mobile" in p[4] and "post" in p[4] for p in persons)
    assert dict(_rows(text, "Bounced e-mail addresses by reason")) == {
        "mailbox does not exist": "1",
        "mailbox full": "1",
    }
    assert dict(_rows(text, "Bounced e-mail addresses by age")) == {
        "under 30 days": "1",
        "90 days to 1 year": "1",
    }
    fields = {r[1]: r for r in _rows(text, "Fields: filled and valid") if r[0] == "students"}
    assert fields["Email"][2:] == ["7", "85.7 %", "83.3 %"]  # 6 of 7 filled, 5 of 6 valid
    assert fields["LastName"][2:] == ["7", "100 %", "100 %"]
    gaps = {(r[1], r[2]): r for r in _rows(text, "Consents without proof")}
    assert gaps[("recruitment_news", "timestamp")][3] == "1"
    assert gaps[("recruitment_news", "source")][3] == "1"
    assert gaps[("recruitment_news", "timestamp")][4] == "data/studenten.csv:7"
    rejects = _rows(text, "Rejected rows of the last run, by reason")
    assert [r[0] for r in rejects] == ["students"] and rejects[0][3] == "1", rejects  # geen-adres
    leaked = [v for v in PERSONAL if v.lower() in text.lower()]
    assert not leaked, leaked


def test_quality_formats_and_offline(project: CliProject, tmp_path):
    project.write_students([student("100001", email="geen-adres")])
    calls = project.api_calls()
    md = _quality(project, "--offline")
    assert project.api_calls() == calls  # offline: not one call
    assert "# Data quality, 2026-11-20" in md and "not read (--offline)" in md
    assert "| students | Email | 1 | 100 % | 0.0 % |" in md
    # a mapping whose input is missing is named, and the others are still measured
    assert "| oneroster_users | data/oneroster: OneRoster folder not found |" in md
    out = tmp_path / "q.html"
    _quality(project, "--offline", "--format", "html", "--output", str(out))
    page = out.read_text("utf-8")
    assert page.startswith("<!doctype html>") and "<td>Email</td>" in page
    assert out.stat().st_mode & 0o777 == 0o600
    assert "geen-adres" not in md + page


class _Pages:
    """A client answering a query in pages, as Salesforce does with nextRecordsUrl."""

    def __init__(self, total: int):
        self.total, self.calls = total, []

    def json(self, method, path, **kwargs):
        self.calls.append((path, kwargs.get("headers")))
        start = 0 if path == "query/" else int(path.rsplit("-", 1)[1])
        end = min(start + PAGE, self.total)
        recs = [{"Id": f"003{i:015d}", "Email": "a@b.example", "EmailBouncedDate": None}
                for i in range(start, end)]  # fmt: skip
        done = end >= self.total
        return {"records": recs, "done": done, "nextRecordsUrl": None if done else f"/q-{end}"}


def test_the_read_back_costs_one_call_per_2000_bounced_contacts(project: CliProject):
    from connector.mapping.loader import load_project

    proj = load_project(project.folder / "mappings")
    for total, calls in ((0, 1), (2000, 1), (2001, 2), (4500, 3)):
        client = _Pages(total)
        bounces, used = read_bounces(client, proj)
        assert len(bounces) == total and used == calls == len(client.calls), total
        assert all(h == {"Sforce-Query-Options": "batchSize=2000"} for _, h in client.calls)


def test_bounce_reasons_become_categories_without_the_text():
    assert bounce_category("550 5.1.1 <x@y.example>: Recipient address rejected") == (
        "mailbox does not exist"
    )
    assert bounce_category("452 4.2.2 over quota") == "temporary failure"
    assert bounce_category("552 5.2.2 mailbox full") == "mailbox full"
    assert bounce_category("554 5.7.1 rejected as spam") == "refused as spam or by policy"
    assert bounce_category("Host or domain name not found") == "domain does not exist"
    assert bounce_category("x@y.example") == "other"
    assert bounce_category(None) == "no reason given"
    today = date(2026, 11, 20)
    assert age_band(date(2026, 11, 1), today) == "under 30 days"
    assert age_band(date(2025, 1, 1), today) == "over 1 year"
    assert age_band(None, today) == "date unknown"


def test_a_share_below_100_never_reads_100():
    # One decimal rounded down: one bad value in 2,500 is 99.9 %, not "100.0 %" (issue 12).
    assert percent(100 * 2499 / 2500) == "99.9 %"
    assert percent(99.8) == "99.8 %" and percent(100 * 5 / 6) == "83.3 %"
    assert percent(100.0) == "100 %" and percent(0.0) == "0.0 %" and percent(None) == "n/a"
