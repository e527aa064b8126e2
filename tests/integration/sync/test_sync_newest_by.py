"""``newest_by``: the row with the newest moment wins, not the last in the file.

Found by an outsider: the 20,000-student demo's registrations export, its rows shuffled, made
the next run opt 619 prospects out of e-mail (an older registration's undated "nee" now came
last), and putting the order back could not undo it — the CRM owns opt-outs.
"""

from __future__ import annotations

from syncfixtures import registration

from connector.sync import engine

EMAIL = "p.jansen@mail.example"
OLD_NO = {  # an earlier registration: "no news", without its moment
    "aangemeld_op": "2026-09-01T12:00:00+02:00",
    "toestemming_nieuws": "nee",
}
NEW_YES = {  # a later one: "yes", with its moment and source
    "aangemeld_op": "2026-10-05T09:30:00+02:00",
    "toestemming_nieuws": "ja",
    "toestemming_nieuws_op": "2026-10-05T09:30:00+02:00",
    "toestemming_nieuws_bron": "aanmeldformulier",
}


def _rows(order: str) -> list[dict[str, str]]:
    old = registration("R-0001", EMAIL, **OLD_NO)
    new = registration("R-0002", EMAIL, **NEW_YES)
    others = [registration(f"R-1{i:03d}", f"other{i}@mail.example") for i in range(3)]
    return [old, *others, new] if order == "old first" else [new, *others, old]


def _contact(project) -> dict:
    [row] = project.query(
        f"SELECT HasOptedOutOfEmail, Consent_News__c FROM Contact WHERE Email = '{EMAIL}'"
    )
    return {k: v for k, v in row.items() if k != "attributes"}


def test_a_reordered_export_changes_nothing(project, monkeypatch):
    monkeypatch.setattr(engine, "BATCH", 2)  # the person's two rows in different batches
    project.write_registrations(_rows("old first"))
    first = project.run("registrants")
    assert first.exit_code() == 0, first.summary()
    assert _contact(project) == {"HasOptedOutOfEmail": False, "Consent_News__c": True}
    project.write_registrations(_rows("new first"))
    again = project.run("registrants")
    assert again.exit_code() == 0, again.summary()
    writes = {n: m.created + m.updated for n, m in again.mappings.items() if m.created + m.updated}
    assert writes == {}, again.summary()
    assert _contact(project) == {"HasOptedOutOfEmail": False, "Consent_News__c": True}


def test_the_newest_row_wins_when_it_comes_first(project):
    project.write_registrations(_rows("new first"))
    report = project.run("registrants")
    assert report.exit_code() == 0, report.summary()
    assert _contact(project) == {"HasOptedOutOfEmail": False, "Consent_News__c": True}
