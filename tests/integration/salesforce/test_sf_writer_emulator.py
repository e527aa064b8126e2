"""The Writer against the emulator over real HTTPS: volumes, call budgets, faults, limits."""

from __future__ import annotations

from typing import Any

import pytest
from sffixtures import connect
from tenacity import wait_none

from connector import errors
from connector.salesforce import SalesforceClient, SalesforceSettings, Writer

EXT = "SIS_Student_Number__c"


def writer_for(client: SalesforceClient, **kw: Any) -> Writer:
    return Writer(client, poll_initial=0.2, lock_backoff=0.01, **kw)


def contacts(n: int, start: int = 0) -> list[dict[str, Any]]:
    # Synthetic values only: no personal data in tests.
    return [
        {EXT: f"T{i:07d}", "LastName": f"Test{i}", "Email": f"t{i}@example.org"}
        for i in range(start, start + n)
    ]


def count(writer: Writer, where: str = "") -> int:
    return sum(1 for _ in writer.query(f"SELECT Id FROM Contact {where}".strip()))


@pytest.mark.slow
def test_10k_new_contacts_through_collections_within_55_calls(emu):
    client = connect(emu)
    before = emu.stats()["api_calls"]
    results = writer_for(client, bulk_threshold=20_000).upsert("Contact", EXT, contacts(10_000))

    assert len(results) == 10_000
    assert all(r.ok and r.created and r.sf_id.startswith("003") for r in results)
    assert len({r.sf_id for r in results}) == 10_000
    assert client.calls_made + client.auth_calls <= 55
    assert emu.stats()["api_calls"] - before <= 55
    assert emu.stats()["records"]["Contact"] == 10_000


@pytest.mark.slow
def test_10k_new_contacts_through_bulk_within_10_calls(emu):
    client = connect(emu)
    before = emu.stats()["api_calls"]
    rows = contacts(10_000)
    results = writer_for(client).upsert("Contact", EXT, rows)

    assert all(r.ok and r.created for r in results)
    assert client.calls_made + client.auth_calls <= 10
    assert emu.stats()["api_calls"] - before <= 10
    # Ids map back to the right rows: look a few up by external id.
    writer = writer_for(client)
    for index in (0, 4_321, 9_999):
        found = list(writer.query(f"SELECT Id FROM Contact WHERE {EXT} = '{rows[index][EXT]}'"))
        assert found == [{"Id": results[index].sf_id}]


@pytest.mark.parametrize("bulk", [False, True])
def test_update_clears_a_field_and_upsert_updates(emu, bulk):
    client = connect(emu)
    writer = writer_for(client)
    created = writer.upsert("Contact", EXT, contacts(3), bulk=bulk)
    ids = [r.sf_id for r in created]

    again = writer.upsert("Contact", EXT, [{EXT: "T0000001", "Email": None}], bulk=bulk)
    assert (again[0].ok, again[0].created, again[0].sf_id) == (True, False, ids[1])
    updated = writer.update("Contact", [{"Id": ids[2], "Email": None, "Title": "x"}], bulk=bulk)
    assert updated[0].ok

    rows = {r["Id"]: r for r in writer.query("SELECT Id, Email, Title FROM Contact")}
    assert rows[ids[0]]["Email"] == "t0@example.org"  # untouched
    assert rows[ids[1]]["Email"] is None  # cleared by upsert (JSON null / Bulk #N/A)
    assert (rows[ids[2]]["Email"], rows[ids[2]]["Title"]) == (None, "x")


@pytest.mark.parametrize("bulk", [False, True])
def test_delete(emu, bulk):
    writer = writer_for(connect(emu))
    ids = [r.sf_id for r in writer.upsert("Contact", EXT, contacts(5))]
    results = writer.delete("Contact", ids[:3], bulk=bulk)
    assert all(r.ok for r in results)
    assert [r.sf_id for r in results] == ids[:3]
    assert count(writer) == 2


def test_per_record_errors_come_back_in_order(emu):
    writer = writer_for(connect(emu))
    rows = contacts(3)
    rows[1]["Email"] = "not-an-email"
    del rows[2]["LastName"]
    results = writer.upsert("Contact", EXT, rows)
    assert results[0].ok
    assert (results[1].ok, results[1].error_code) == (False, "INVALID_EMAIL_ADDRESS")
    assert "not-an-email" not in results[1].message
    assert (results[2].ok, results[2].error_code) == (False, "REQUIRED_FIELD_MISSING")
    assert "LastName" in results[2].fields


def test_token_expiring_mid_run_is_refreshed_and_the_run_continues(emu):
    client = connect(emu)
    fired: list[int] = []

    def expire_after_second_call(response: Any, *args: Any, **kwargs: Any) -> None:
        if client.calls_made == 2 and not fired:
            fired.append(1)
            emu.faults(expire_tokens=True)

    client.session.hooks["response"].append(expire_after_second_call)
    results = writer_for(client, bulk_threshold=20_000).upsert("Contact", EXT, contacts(1_000))
    assert fired
    assert all(r.ok for r in results)
    assert client.refreshes == 1
    assert client.auth_calls == 2
    assert emu.stats()["records"]["Contact"] == 1_000


@pytest.mark.parametrize("bulk", [False, True])
def test_503_and_row_locks_are_retried_until_everything_lands(emu, bulk):
    client = connect(emu, max_retries=8)
    emu.faults(http_503_rate=0.2, lock_error_rate=0.1, seed=11)
    writer = writer_for(client, lock_attempts=8)
    results = writer.upsert("Contact", EXT, contacts(1_000), bulk=bulk)
    emu.faults(http_503_rate=0, lock_error_rate=0)

    assert [r.error_code for r in results if not r.ok] == []
    assert emu.stats()["records"]["Contact"] == 1_000
    # The faults were really there: more calls than the fault-free minimum.
    assert client.calls_made > (5 if not bulk else 6)


def test_daily_limit_stops_cleanly_with_partial_results(emu):
    client = connect(emu, daily_api_share=0.8)
    writer = writer_for(client, bulk_threshold=20_000)
    count(writer)  # learn the current usage from Sforce-Limit-Info
    emu.faults(daily_api_limit=client.api_used + 10)

    with pytest.raises(errors.LimitReached) as info:
        writer.upsert("Contact", EXT, contacts(4_000))
    results = info.value.results
    written = sum(r.ok for r in results)
    assert 0 < written < 4_000
    assert {r.error_code for r in results if not r.ok} == {"NOT_SENT"}
    assert emu.stats()["records"]["Contact"] == written
    # The guard stopped before the org's allocation ran out.
    assert client.api_used < client.api_max


@pytest.mark.parametrize("flow", ["jwt", "password"])
def test_other_login_flows_reach_the_emulator(emu, tmp_path, flow):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key_file = tmp_path / "jwt.key"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    extra = (
        {"private_key_file": key_file}
        if flow == "jwt"
        else {"password": "not-a-real-password", "security_token": "TOKEN"}
    )
    settings = SalesforceSettings(
        url=emu.url,
        auth=flow,
        client_id="sis-sync-tests",
        client_secret="not-a-real-secret",
        username="integration@school.example",
        ca_bundle=emu.ca_file,
        **extra,
    )
    client = SalesforceClient(settings, retry_wait=wait_none())
    assert client.instance_url == emu.url
    assert count(writer_for(client)) == 0
