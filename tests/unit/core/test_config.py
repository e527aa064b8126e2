"""sync.yaml + environment: contract names, env overrides, secrets refused in the file, errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import load_settings, require_secret
from connector.errors import ConfigError
from connector.gdpr.requests import receipts_dir

GOOD = """\
mappings: ./mappings
state: {url: "sqlite:///state/sync.db"}
salesforce:
  url: https://127.0.0.1:8443
  auth: client_credentials
  client_id: abc
  ca_bundle: emu/ca.pem
  daily_api_share: 0.5
jobs:
  - {name: nightly, mappings: [students], cron: "0 2 * * *"}
  - {name: purge, purge: true, cron: "30 3 * * *"}
"""


SECRET_ENV = {"SIS_SYNC_SALESFORCE__CLIENT_SECRET": "x"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_contract_names_and_relative_paths(tmp_path):
    s = load_settings(write(tmp_path, GOOD), env=SECRET_ENV)
    assert s.mappings == tmp_path / "mappings"
    assert s.state.url == f"sqlite:///{tmp_path}/state/sync.db"
    assert s.salesforce.ca_bundle == tmp_path / "emu" / "ca.pem"
    assert s.salesforce.auth == "client_credentials"
    assert s.salesforce.daily_api_share == 0.5
    assert [j.name for j in s.jobs] == ["nightly", "purge"]


def test_environment_overrides_file(tmp_path):
    env = {
        "SIS_SYNC_SALESFORCE__URL": "https://127.0.0.1:9999",
        "SIS_SYNC_STATE__URL": "postgresql://127.0.0.1/test",
        "SIS_SYNC_SALESFORCE__CLIENT_SECRET": "s3cret",
        "SIS_SYNC_MAPPINGS": "/srv/mappings",
        "SIS_SYNC_SECRET": "hash-key-0123456789abcdef0123456789",
        "SIS_SYNC_NOW": "2027-01-31T10:00:00+01:00",
    }
    s = load_settings(write(tmp_path, GOOD), env=env)
    assert s.salesforce.url == "https://127.0.0.1:9999"
    assert s.state.url == "postgresql://127.0.0.1/test"
    assert s.salesforce.client_secret.get_secret_value() == "s3cret"
    assert s.mappings == Path("/srv/mappings")
    assert require_secret(s) == "hash-key-0123456789abcdef0123456789"
    assert s.clock().isoformat() == "2027-01-31T10:00:00+01:00"
    assert "s3cret" not in repr(s)


def test_state_dir_holds_receipts_and_reports_whatever_the_state_store(tmp_path):
    pg = {**SECRET_ENV, "SIS_SYNC_STATE__URL": "postgresql://127.0.0.1/test"}
    # Unset: the SQLite file's folder, or state/ next to sync.yaml for PostgreSQL.
    assert load_settings(write(tmp_path, GOOD), env=SECRET_ENV).state_dir() == tmp_path / "state"
    assert load_settings(write(tmp_path, GOOD), env=pg).state_dir() == tmp_path / "state"
    # Set (SIS_SYNC_STATE__DIR or state.dir): that folder, relative to sync.yaml's.
    s = load_settings(write(tmp_path, GOOD), env={**pg, "SIS_SYNC_STATE__DIR": "/var/lib/x"})
    assert s.state_dir() == Path("/var/lib/x")
    assert s.reports_dir() == Path("/var/lib/x/reports")
    assert receipts_dir(s) == Path("/var/lib/x/receipts")
    filed = GOOD.replace('state: {url: "sqlite:///state/sync.db"}', "state: {dir: ./files}")
    s = load_settings(write(tmp_path, filed), env=SECRET_ENV)
    assert (s.state_dir(), s.state.url) == (
        tmp_path / "files",
        f"sqlite:///{tmp_path}/state/sync.db",
    )
    # An explicit reports folder still wins for reports.
    s = load_settings(
        write(tmp_path, GOOD), env={**pg, "SIS_SYNC_STATE__DIR": "/a", "SIS_SYNC_REPORTS": "/b"}
    )
    assert (s.reports_dir(), receipts_dir(s)) == (Path("/b"), Path("/a/receipts"))


def test_secret_from_file(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-a-file-0123456789abcdef0123456789\n")
    s = load_settings(
        write(tmp_path, GOOD), env={**SECRET_ENV, "SIS_SYNC_SECRET_FILE": str(secret)}
    )
    assert require_secret(s) == "from-a-file-0123456789abcdef0123456789"


def test_secret_in_file_is_refused_with_line(tmp_path):
    text = GOOD.replace("  client_id: abc\n", "  client_id: abc\n  client_secret: oops\n")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env={})
    msg = str(info.value)
    assert "sync.yaml:7" in msg and "salesforce.client_secret" in msg
    assert "SIS_SYNC_SALESFORCE__CLIENT_SECRET" in msg
    assert "oops" not in msg


def test_every_error_reported_with_line(tmp_path):
    text = GOOD.replace("0.5", "1.5").replace('cron: "30 3 * * *"', 'cron: "every night"')
    text += "unknown_setting: 1\n"
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env={})
    msg = str(info.value)
    assert "sync.yaml:8: salesforce.daily_api_share" in msg
    assert "sync.yaml:11: jobs.1.cron" in msg
    assert "unknown_setting" in msg


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="sis-sync init"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_run_refuses_without_secret(tmp_path):
    s = load_settings(write(tmp_path, GOOD), env=SECRET_ENV)
    with pytest.raises(ConfigError, match="SIS_SYNC_SECRET"):
        require_secret(s)


def test_unknown_job_lists_known(tmp_path):
    s = load_settings(write(tmp_path, GOOD), env=SECRET_ENV)
    with pytest.raises(ConfigError, match="nightly, purge"):
        s.job("weekly")


def test_a_key_set_twice_is_refused_with_its_line(tmp_path):
    """An outsider's F6: a second `state:` block silently won and pointed runs at an empty
    state; a mapping file or purposes.yaml refused the same."""
    twice = GOOD + 'state: {url: "sqlite:///elsewhere/other.db"}\n'
    with pytest.raises(ConfigError, match=r"sync.yaml:12: state: duplicate key"):
        load_settings(write(tmp_path, twice), env=SECRET_ENV)
    nested = GOOD.replace(
        "  auth: client_credentials\n", "  auth: client_credentials\n  auth: jwt\n"
    )
    with pytest.raises(ConfigError, match=r"sync.yaml:6: salesforce.auth: duplicate key"):
        load_settings(write(tmp_path, nested), env=SECRET_ENV)


@pytest.mark.parametrize(
    ("tail", "message"),
    [(b"# a\x01b\n", "not valid YAML: a control character"), (b"# caf\xe9\n", "not valid UTF-8")],
)
def test_a_hostile_byte_is_named_with_its_line(tmp_path, tail, message):
    path = write(tmp_path, GOOD)
    with path.open("ab") as fh:
        fh.write(tail)
    with pytest.raises(ConfigError, match=rf"sync.yaml:12: {message}"):
        load_settings(path, env=SECRET_ENV)
