"""A record's consents follow its last row, wherever the run's batches cut the file.

Found at 20,000 demo students: a registrant whose first row (an old open day, its retention over,
"no news" with its moment) fell in an earlier batch than their later rows had that opt-out
written one run late — 283 Individuals and 305 consents on the second run, and again after
every `state rebuild`. The first run met the old row before the record existed (not
justified: nothing to attach an opt-out to); the second met it with the record in state, and its
consent entries stayed queued after the later rows replaced its write.
"""

from __future__ import annotations

from syncfixtures import registration

from connector.sync import engine

OLD_DAY = {
    "registratie_id": "R-0001",
    "evenement_id": "OD-2025-03-01-UTR",
    "evenement_naam": "Open dag Utrecht 1 maart",
    "evenement_datum": "2025-03-01",  # event_registration keeps P3M: over by 2026-11
    "aangemeld_op": "2025-02-01T12:00:00+01:00",
    "ingecheckt_op": "2025-03-01T10:05:00+01:00",
    "toestemming_nieuws": "nee",
    "toestemming_nieuws_op": "2025-02-01T12:00:00+01:00",
    "toestemming_nieuws_bron": "aanmeldformulier",
}


def _rows(batch: int) -> list[dict[str, str]]:
    """The person's old row, then ``batch`` - 1 other people (the rest of the first batch),
    then the person's new row (no word on news) in the next batch."""
    rows = [registration("R-0001", "p.jansen@mail.example", **OLD_DAY)]
    rows += [registration(f"R-1{i:03d}", f"other{i}@mail.example") for i in range(batch - 1)]
    rows.append(registration("R-0002", "p.jansen@mail.example", toestemming_nieuws=""))
    return rows


def _consent_writes(report) -> dict[str, int]:
    return {
        name: m.created + m.updated
        for name, m in report.mappings.items()
        if name.startswith("consent:") and m.created + m.updated
    }


def test_an_earlier_batchs_row_does_not_write_consents_a_run_late(project, monkeypatch):
    monkeypatch.setattr(engine, "BATCH", 3)
    project.write_registrations(_rows(3))
    first = project.run("registrants")
    assert first.exit_code() == 0, first.summary()
    assert first.mappings["registrants"].created == 3
    consents = project.query("SELECT Id FROM ContactPointTypeConsent")
    second = project.run("registrants")
    assert second.exit_code() == 0, second.summary()
    assert _consent_writes(second) == {}, second.summary()
    assert project.query("SELECT Id FROM ContactPointTypeConsent") == consents


def test_the_batch_size_does_not_change_the_outcome(project, monkeypatch):
    """All rows in one batch (the last wins there, as it always did), then cut in two: the
    second run finds everything as the first left it."""
    project.write_registrations(_rows(3))
    monkeypatch.setattr(engine, "BATCH", 10)
    one_batch = project.run("registrants")
    assert one_batch.exit_code() == 0, one_batch.summary()
    monkeypatch.setattr(engine, "BATCH", 2)
    again = project.run("registrants")
    assert again.exit_code() == 0, again.summary()
    assert _consent_writes(again) == {}, again.summary()
    assert again.mappings["registrants"].created + again.mappings["registrants"].updated == 0
