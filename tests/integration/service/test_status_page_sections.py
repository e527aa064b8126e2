"""The status page's open data-subject requests, data-quality figures and bounce counts
(issue 12 items 1 and 3): what each section shows over a real state, and that nothing personal
is on it."""

from __future__ import annotations

import json
import re
import stat
from datetime import date, timedelta

from svcfixtures import leaked
from syncfixtures import student
from test_status_page import T0, _state_by_hand, charts

from connector import status_page
from connector.quality import FieldQuality, Quality

SUBJECT_HASH = "9f" * 32  # a keyed hash of a student number, as `erase` stores it


def test_open_requests_are_listed_with_their_days_left(tmp_path):
    store = _state_by_hand(tmp_path)
    now = T0 + timedelta(days=2, hours=12)  # 2026-11-04 in Amsterdam
    erase = store.add_request(
        "erase", [("student_number", SUBJECT_HASH)], received_at=T0, due_on=date(2026, 12, 2)
    )
    store.update_request(erase.id, status="open", last_error="UNABLE_TO_REACH_SALESFORCE")
    late = store.add_request(
        "object", [("email", SUBJECT_HASH)], received_at=T0 - timedelta(days=40),
        due_on=date(2026, 11, 1),
    )  # fmt: skip
    done = store.add_request(
        "erase", [("email", "ab" * 32)], received_at=T0, due_on=date(2026, 12, 2)
    )
    store.update_request(done.id, status="done", done_at=T0)

    data = status_page.collect(store, now=now)
    page = status_page.render(data)

    assert [r.reference for r in data.open_requests] == [erase.reference, late.reference]
    section = page[page.index('id="requests"') : page.index('id="bounces"')]
    assert re.search(
        rf"<td>{erase.reference}</td><td>erase</td><td>2026-12-02</td><td>28 days left</td>"
        r'<td class="n">1</td><td>UNABLE_TO_REACH_SALESFORCE</td>',
        section,
    ), section
    assert f"<td>{late.reference}</td><td>object</td><td>2026-11-01</td><td>overdue by 3 days" in (
        section
    )
    assert done.reference not in page  # done: not open any more
    assert SUBJECT_HASH not in page and "None open" not in section


def _quality_page(tmp_path, *fields: FieldQuality) -> str:
    data = status_page.collect(_state_by_hand(tmp_path), now=T0)
    data.quality = Quality(today=T0.date(), fields=list(fields))
    return status_page.render(data)


def test_what_is_not_100_percent_never_shows_as_100(tmp_path):
    page = _quality_page(
        tmp_path,
        FieldQuality("students", "Email", rows=1000, filled=1000, valid=998),  # 99.8 %
        FieldQuality("students", "Phone", rows=2500, filled=2500, valid=2499),  # 99.96 %
        FieldQuality("students", "LastName", rows=1000, filled=999, valid=999),  # filled 99.9 %
        FieldQuality("students", "City", rows=10, filled=10, valid=10),  # perfect: not listed
    )
    drawn = charts(page)["quality"]
    assert drawn == ["students.Email: 99.8 %", "students.Phone: 99.9 %", "students.LastName: 100 %"]
    cells = r'<td>students</td><td>{}</td><td class="n">[\d,]+</td><td class="n">{}</td>'
    assert re.search(cells.format("Email", "100 %") + r'<td class="n">99.8 %</td>', page)
    assert re.search(cells.format("Phone", "100 %") + r'<td class="n">99.9 %</td>', page)
    assert re.search(cells.format("LastName", "99.9 %") + r'<td class="n">100 %</td>', page)
    assert "<td>City</td>" not in page
    # The bars measure against 100 %, not against the best of the worst: 99.8 % is not full.
    widths = dict(re.findall(r'width="([\d.]+)"[^>]*><title>(students\.\w+):', page))
    assert {v: float(k) for k, v in widths.items()} == {
        "students.Email": 397.2, "students.Phone": 397.8, "students.LastName": 398.0
    }  # fmt: skip
    alone = _quality_page(tmp_path, FieldQuality("students", "Email", 1000, 1000, 998))
    assert re.search(r'width="397.2"[^>]*><title>students\.Email: 99.8 %', alone)


def test_bounces_never_read_say_how_to_get_them(tmp_path):
    data = status_page.collect(_state_by_hand(tmp_path), now=T0)
    page = status_page.render(data)
    section = page[page.index('id="bounces"') : page.index('id="records"')]
    assert 'id="bounces-unknown"' in section and "<code>sis-sync quality</code>" in section
    data.bounces_error = "bounces.json could not be read (JSONDecodeError)"
    assert "Not available: bounces.json could not be read" in status_page.render(data)


def _bounce(project, number: str, reason: str | None, when: str | None) -> str:
    (rec,) = project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{number}'")
    project.emulator.client().Contact.update(
        rec["Id"], {"EmailBouncedDate": when, "EmailBouncedReason": reason}
    )
    return str(rec["Id"])


def test_the_page_shows_the_bounce_counts_quality_last_read(project):
    project.write_students([student(n) for n in ("600001", "600002", "600003")])
    project.run("nightly")
    settings = project.settings()
    assert 'id="bounces-unknown"' in status_page.status_page(settings)
    ids = [
        _bounce(project, "600001", "550 5.1.1 <s600001@school.example>: user unknown",
                "2026-11-10T08:00:00.000+0000"),
        _bounce(project, "600002", "552 mailbox full", "2026-06-01T08:00:00.000+0000"),
    ]  # fmt: skip
    done = project.cli("quality", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert all(i in done.stdout for i in ids)  # the command lists them; the page will not

    kept = project.state_dir / "reports" / "bounces.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text("utf-8")) == {
        "as_of": "2026-11-20T09:00:00+00:00",
        "total": 2,
        "reasons": {"mailbox does not exist": 1, "mailbox full": 1},
        "ages": {"under 30 days": 1, "90 days to 1 year": 1},
    }
    page = status_page.status_page(settings)
    section = page[page.index('id="bounces"') : page.index('id="records"')]
    assert 'id="bounces-total">2</span>' in section
    assert sorted(charts(section)["bounces"]) == ["mailbox does not exist: 1", "mailbox full: 1"]
    assert '<td>90 days to 1 year</td><td class="n">1</td>' in section
    assert "as of 2026-11-20 10:00" in section  # SIS_SYNC_NOW, in the school's time zone
    assert not [i for i in ids if i[:15] in page] and leaked(page) == []

    # --offline reads nothing from Salesforce: the last figures stay.
    assert project.cli("quality", "--offline").returncode == 0
    assert json.loads(kept.read_text("utf-8"))["total"] == 2
    # Bounces cleared in Salesforce: the next read says none, with its time.
    for n in ("600001", "600002"):
        _bounce(project, n, None, None)
    assert project.cli("quality").returncode == 0
    page = status_page.status_page(settings)
    assert "None: no Contact this connector syncs has a bounced address" in page
    assert 'id="bounces-as-of"' in page
