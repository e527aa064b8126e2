"""Login flows, token expiry, API limits, injected faults, persistence, concurrency and the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)
from typer.testing import CliRunner

from connector.commands.emulator import emulator as emulator_command
from connector.emulator.testing import running_emulator
from connector.errors import ConfigError


class Redirect(requests.Session):
    """Sends the client's hard-coded https://*.salesforce.com login calls to the emulator."""

    def __init__(self, emu):
        super().__init__()
        self.base, self.verify, self.trust_env = emu.url, emu.ca_file, False
        self.hosts: list[str] = []

    def request(self, method, url, *args, **kwargs):
        m = re.match(r"^https://([^/]+\.salesforce\.com)", url)
        if m:
            self.hosts.append(m.group(1))
            url = self.base + url[m.end() :]
        return super().request(method, url, *args, **kwargs)


def _key_and_cert(tmp_path: Path, name: str) -> tuple[str, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / f"{name}.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, path


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("jwt")
    return _key_and_cert(d, "good"), _key_and_cert(d, "other")


@pytest.fixture(scope="module")
def locked(keys):
    """An emulator that only accepts one client id/secret and the 'good' JWT certificate."""
    (_, cert), _ = keys
    with running_emulator(
        jwt_cert=cert, client_id="cid", client_secret="csecret", users={"admin@school.nl": "pw"}
    ) as e:
        yield e


def test_jwt_bearer_accepts_the_right_key_and_rejects_another(locked, keys):
    (good_pem, _), (other_pem, _) = keys
    s = Redirect(locked)
    sf = Salesforce(username="admin@school.nl", consumer_key="cid", privatekey=good_pem, session=s)
    assert s.hosts == ["login.salesforce.com"]
    assert sf.sf_instance == locked.url.removeprefix("https://")
    assert sf.Contact.create({"LastName": "Jwt"})["success"]
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(
            username="admin@school.nl",
            consumer_key="cid",
            privatekey=other_pem,
            session=Redirect(locked),
        )
    assert exc.value.code == "invalid_grant"
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(
            username="admin@school.nl",
            consumer_key="other",
            privatekey=good_pem,
            session=Redirect(locked),
        )
    assert exc.value.code == "invalid_client_id"


def test_client_credentials_and_password_flows(locked):
    sf = Salesforce(
        consumer_key="cid", consumer_secret="csecret", domain="school.my", session=Redirect(locked)
    )
    assert sf.query("SELECT COUNT() FROM Contact")["done"] is True
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(
            consumer_key="cid",
            consumer_secret="wrong",
            domain="school.my",
            session=Redirect(locked),
        )
    assert exc.value.code == "invalid_client"
    raw = requests.post(
        f"{locked.url}/services/oauth2/token",
        verify=locked.ca_file,
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
    )
    assert raw.status_code == 400
    assert raw.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }
    pw = Salesforce(
        username="admin@school.nl",
        password="pw",
        consumer_key="cid",
        consumer_secret="csecret",
        session=Redirect(locked),
    )
    assert pw.describe()["sobjects"]
    with pytest.raises(SalesforceAuthenticationFailed):
        Salesforce(
            username="admin@school.nl",
            password="nope",
            consumer_key="cid",
            consumer_secret="csecret",
            session=Redirect(locked),
        )
    soap = Salesforce(
        username="admin@school.nl",
        password="pw",
        security_token="TOKEN123",
        session=Redirect(locked),
    )
    assert soap.session_id.startswith("00D") and soap.limits()["DailyApiRequests"]["Max"]
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(
            username="admin@school.nl", password="bad", security_token="T", session=Redirect(locked)
        )
    assert exc.value.code == "INVALID_LOGIN"


@pytest.fixture(scope="module")
def emu():
    with running_emulator(daily_api_limit=100_000) as e:
        yield e


@pytest.fixture
def fresh(emu):
    emu.reset()
    return emu


def test_expired_tokens_give_401_and_new_tokens_work(fresh):
    sf = fresh.client()
    sf.Contact.create({"LastName": "A"})
    fresh.faults(expire_tokens=True)
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.query("SELECT Id FROM Contact")
    assert exc.value.status == 401
    assert exc.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert fresh.client().query("SELECT Id FROM Contact")["totalSize"] == 1
    # A login-mode client refreshes by itself and carries on.
    login = Salesforce(
        consumer_key="a", consumer_secret="b", domain="school.my", session=Redirect(fresh)
    )
    fresh.faults(expire_tokens=True)
    assert login.query("SELECT Id FROM Contact")["totalSize"] == 1


def test_daily_limit_runs_out(fresh):
    sf = fresh.client()
    used = fresh.stats()["api_calls"]
    fresh.faults(daily_api_limit=used + 3)
    for _ in range(3):
        sf.query("SELECT Id FROM Contact")
    assert sf.api_usage["api-usage"].used == used + 3
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT Id FROM Contact")
    assert exc.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert fresh.stats()["api_calls"] == used + 3  # refused calls and control calls not counted
    fresh.reset()
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 0


def _pattern(emu, n=20):
    sf = emu.client()
    out = []
    for _ in range(n):
        try:
            sf.query("SELECT Id FROM Contact")
            out.append(True)
        except SalesforceGeneralError as exc:
            out.append((exc.status, exc.content[0]["errorCode"]))
    return out


def test_503_injection_is_deterministic_per_seed(fresh):
    fresh.faults(http_503_rate=0.5, seed=42)
    first = _pattern(fresh)
    fresh.faults(seed=42)
    assert _pattern(fresh) == first
    failures = [r for r in first if r is not True]
    assert 0 < len(failures) < 20
    assert set(failures) == {(503, "SERVER_UNAVAILABLE")}
    fresh.faults(http_503_rate=1.0)
    assert fresh.stats()["records"]["Contact"] == 0  # control is never faulted
    fresh.faults(http_503_rate=0)
    assert all(_pattern(fresh, 3))


def test_lock_errors_per_record(fresh):
    sf = fresh.client()
    fresh.faults(lock_error_rate=0.3, seed=1)
    recs = [{"attributes": {"type": "Contact"}, "LastName": f"L{i}"} for i in range(100)]
    res = sf.restful("composite/sobjects", method="POST", json={"records": recs})
    locked = [r for r in res if not r["success"]]
    assert 10 < len(locked) < 60
    assert {r["errors"][0]["statusCode"] for r in locked} == {"UNABLE_TO_LOCK_ROW"}
    assert fresh.stats()["records"]["Contact"] == 100 - len(locked)
    fresh.faults(lock_error_rate=1.0)
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "X"})
    assert exc.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    res = sf.bulk2.Contact.insert(records=[{"LastName": "B"}], wait=0.1)
    failed = sf.bulk2.Contact.get_failed_records(res[0]["job_id"])
    assert "UNABLE_TO_LOCK_ROW:" in failed


def test_latency_and_stats(fresh):
    sf = fresh.client()
    fresh.faults(latency_ms=150)
    t0 = time.perf_counter()
    sf.query("SELECT Id FROM Contact")
    assert time.perf_counter() - t0 >= 0.15
    fresh.faults(latency_ms=0)
    stats = fresh.stats()
    assert stats["requests"]["GET query"] == 1 and stats["api_calls"] == 1
    assert set(stats["records"]) >= {"Contact", "Campaign", "CampaignMember"}
    bad = requests.post(f"{fresh.url}/__emulator__/faults", json={"bogus": 1}, verify=fresh.ca_file)
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"


def test_concurrent_requests(fresh):
    def work(n):
        sf = fresh.client()
        ids = [
            sf.Contact.create({"LastName": f"T{n}-{i}", "SIS_Sync_Key__c": f"t{n}-{i}"})["id"]
            for i in range(10)
        ]
        recs = [
            {"attributes": {"type": "Contact"}, "LastName": "U", "SIS_Sync_Key__c": f"u{n}-{i}"}
            for i in range(50)
        ]
        res = sf.restful(
            "composite/sobjects/Contact/SIS_Sync_Key__c", method="PATCH", json={"records": recs}
        )
        return ids + [r["id"] for r in res]

    with ThreadPoolExecutor(8) as pool:
        ids = [i for chunk in pool.map(work, range(8)) for i in chunk]
    assert len(ids) == len(set(ids)) == 480
    assert fresh.stats()["records"]["Contact"] == 480


def test_restart_keeps_the_org(tmp_path):
    with running_emulator(tmp_path) as first:
        sf = first.client()
        keep = sf.Contact.create({"LastName": "Blijft", "SIS_Student_Number__c": "123"})["id"]
        sf.Contact.update(keep, {"FirstName": "Ik"})
        gone = sf.Contact.create({"LastName": "Weg"})["id"]
        sf.Contact.delete(gone)
        ca = Path(first.ca_file).read_bytes()
    with running_emulator(tmp_path) as second:
        assert Path(second.ca_file).read_bytes() == ca
        sf2 = second.client()
        assert sf2.Contact.get(keep)["Name"] == "Ik Blijft"
        assert sf2.Contact.get_by_custom_id("SIS_Student_Number__c", "123")["Id"] == keep
        deleted = sf2.query_all(
            "SELECT Id FROM Contact WHERE IsDeleted = true", include_deleted=True
        )
        assert [r["Id"] for r in deleted["records"]] == [gone]
        new = sf2.Contact.create({"LastName": "Nieuw"})["id"]
        assert new not in (keep, gone)
        with pytest.raises(SalesforceMalformedRequest):  # unique index survived the restart
            sf2.Contact.create({"LastName": "Dubbel", "SIS_Student_Number__c": "123"})


def test_cli_command_serves_and_rejects_bad_options(tmp_path):
    app = typer.Typer()
    app.command()(emulator_command)
    result = CliRunner().invoke(app, ["--data", str(tmp_path), "--jwt-cert", str(tmp_path / "x")])
    assert isinstance(result.exception, ConfigError)
    code = (
        "import typer, sys\nfrom connector.commands.emulator import emulator\n"
        "app = typer.Typer(); app.command()(emulator); app()\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "--port",
            "0",
            "--data",
            str(tmp_path),
            "--daily-api-limit",
            "50",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"https://127\.0\.0\.1:\d+", line).group(0)
        tok = requests.post(
            f"{url}/services/oauth2/token",
            verify=tmp_path / "ca.pem",
            data={"grant_type": "client_credentials"},
        ).json()
        r = requests.get(
            f"{url}/services/data/v59.0/limits",
            verify=tmp_path / "ca.pem",
            headers={"Authorization": f"Bearer {tok['access_token']}"},
        )
        assert r.json()["DailyApiRequests"]["Max"] == 50
        assert r.headers["Sforce-Limit-Info"] == "api-usage=1/50"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
