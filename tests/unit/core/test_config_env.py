"""Settings from a handed environment without touching os.environ; SIS_SYNC_SECRET's length rule;
no secret value in any error of config loading."""

from __future__ import annotations

import logging
import os
import threading
import traceback
from pathlib import Path

import pytest

from connector.config import KEYGEN_COMMAND, MIN_SECRET_BYTES, load_settings, require_secret
from connector.errors import ConfigError

GOOD = """\
state: {url: "sqlite:///state/sync.db"}
salesforce:
  url: https://127.0.0.1:8443
  auth: client_credentials
  client_id: abc
"""
CLIENT = {"SIS_SYNC_SALESFORCE__CLIENT_SECRET": "client-secret-for-tests"}
LONG_SECRET = "k" * MIN_SECRET_BYTES
# A value that must never show up in a message, a traceback or a log line.
LEAK = "Leaky-Secret-Value-7f3a"


def project(tmp_path: Path, text: str = GOOD) -> Path:
    path = tmp_path / "sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class FrozenEnviron(dict):
    """os.environ that fails the test on any change (reads work as usual)."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError("os.environ was modified while loading settings")

    __setitem__ = __delitem__ = clear = update = pop = popitem = setdefault = _refuse


# -- settings without os.environ -------------------------------------------------------------


def test_load_never_writes_os_environ(tmp_path, monkeypatch):
    env = {
        **CLIENT,
        "SIS_SYNC_SALESFORCE__URL": "https://127.0.0.1:9999",
        "SIS_SYNC_SECRET": LONG_SECRET,
    }
    monkeypatch.setenv("SIS_SYNC_SALESFORCE__CLIENT_SECRET", "from-process")
    with monkeypatch.context() as patch:  # only around the load: pytest itself writes environ
        patch.setattr(os, "environ", FrozenEnviron(os.environ))
        s = load_settings(project(tmp_path), env=env)
        default = load_settings(project(tmp_path))  # env=None: a copy of os.environ
    assert s.salesforce.url == "https://127.0.0.1:9999"
    assert require_secret(s) == LONG_SECRET
    assert default.salesforce.client_id == "abc"


def test_handed_env_wins_over_process_env(tmp_path, monkeypatch):
    # A variable only in os.environ is not used when an environment is handed in, and the
    # process's own value is still there afterwards.
    monkeypatch.setenv("SIS_SYNC_SALESFORCE__URL", "https://process.example")
    monkeypatch.setenv("H2_SENTINEL", "still-here")
    s = load_settings(project(tmp_path), env=CLIENT)
    assert s.salesforce.url == "https://127.0.0.1:8443"
    assert os.environ["H2_SENTINEL"] == "still-here"
    assert os.environ["SIS_SYNC_SALESFORCE__URL"] == "https://process.example"
    assert "SIS_SYNC_SALESFORCE__CLIENT_SECRET" not in os.environ


def test_default_env_is_the_process_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SIS_SYNC_SALESFORCE__URL", "https://process.example")
    monkeypatch.setenv("SIS_SYNC_SALESFORCE__CLIENT_SECRET", "from-process")
    s = load_settings(project(tmp_path))
    assert s.salesforce.url == "https://process.example"


def test_names_are_case_insensitive_and_nested(tmp_path):
    env = {
        **CLIENT,
        "sis_sync_salesforce__url": "https://lower.example",
        "SIS_SYNC_SERVICE__PORT": "9100",
    }
    s = load_settings(project(tmp_path), env=env)
    assert s.salesforce.url == "https://lower.example"
    assert s.service.port == 9100


def test_a_thread_reading_os_environ_during_a_load_sees_no_change(tmp_path, monkeypatch):
    # The cron validator runs inside the settings' construction: from there another thread
    # reads os.environ, which must be the process's own, untouched.
    from apscheduler.triggers.cron import CronTrigger

    monkeypatch.setenv("H2_SENTINEL", "present")
    before, seen = dict(os.environ), []
    real = CronTrigger.from_crontab

    def from_crontab(*args, **kwargs):
        reader = threading.Thread(target=lambda: seen.append(dict(os.environ)))
        reader.start()
        reader.join()
        return real(*args, **kwargs)

    monkeypatch.setattr(CronTrigger, "from_crontab", from_crontab)
    text = GOOD + 'jobs: [{name: nightly, cron: "0 4 * * *"}]\n'
    s = load_settings(project(tmp_path, text), env={**CLIENT, "SIS_SYNC_SECRET": LONG_SECRET})
    assert s.jobs[0].cron == "0 4 * * *"
    assert seen == [before]


def test_concurrent_loads_each_see_their_own_environment(tmp_path):
    path, wrong = project(tmp_path), []

    def load(url: str) -> None:
        for _ in range(25):
            if (
                load_settings(path, env={**CLIENT, "SIS_SYNC_SALESFORCE__URL": url}).salesforce.url
                != url
            ):
                wrong.append(url)

    threads = [threading.Thread(target=load, args=(f"https://h{i}.example",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


# -- SIS_SYNC_SECRET length -------------------------------------------------------------------


def test_short_secret_is_refused_with_a_command_to_generate_one(tmp_path):
    short = "s" * (MIN_SECRET_BYTES - 1)
    with pytest.raises(ConfigError) as info:
        load_settings(project(tmp_path), env={**CLIENT, "SIS_SYNC_SECRET": short})
    msg = str(info.value)
    assert info.value.exit_code == 2
    assert msg.startswith("SIS_SYNC_SECRET: secret:")
    assert KEYGEN_COMMAND in msg and f"{MIN_SECRET_BYTES} bytes" in msg
    assert short not in msg


def test_secret_length_counts_bytes_not_characters(tmp_path):
    # 16 characters, 32 bytes in UTF-8: long enough.
    s = load_settings(project(tmp_path), env={**CLIENT, "SIS_SYNC_SECRET": "é" * 16})
    assert require_secret(s) == "é" * 16
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        load_settings(project(tmp_path), env={**CLIENT, "SIS_SYNC_SECRET": "é" * 15 + "x"})


def test_secret_of_exactly_the_minimum_is_accepted(tmp_path):
    s = load_settings(project(tmp_path), env={**CLIENT, "SIS_SYNC_SECRET": LONG_SECRET})
    assert require_secret(s) == LONG_SECRET


def test_short_secret_from_a_file_names_the_file_variable(tmp_path):
    key = tmp_path / "key"
    key.write_text(LEAK + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(project(tmp_path), env={**CLIENT, "SIS_SYNC_SECRET_FILE": str(key)})
    assert str(info.value).startswith("SIS_SYNC_SECRET_FILE: secret:")
    assert LEAK not in str(info.value)


def test_empty_secret_is_unset_and_a_run_says_how_to_make_one(tmp_path):
    s = load_settings(project(tmp_path), env={**CLIENT, "SIS_SYNC_SECRET": ""})
    assert s.secret is None
    with pytest.raises(ConfigError, match="is not set") as info:
        require_secret(s)
    assert KEYGEN_COMMAND in str(info.value)


# -- no secret value in errors ----------------------------------------------------------------

LEAK_CASES = {
    "short SIS_SYNC_SECRET": ({"SIS_SYNC_SECRET": LEAK}, GOOD),
    "block as broken JSON": ({"SIS_SYNC_SALESFORCE": '{"client_secret": "' + LEAK}, GOOD),
    "block as JSON with an unknown key": (
        {"SIS_SYNC_SALESFORCE": '{"url": "https://x.example", "secret_x": "' + LEAK + '"}'},
        GOOD,
    ),
    "misspelled secret variable": ({"SIS_SYNC_SALESFORCE__CLIENT_SECRETT": LEAK}, GOOD),
    "secret pasted into the URL variable": ({"SIS_SYNC_SALESFORCE__URL": LEAK}, GOOD),
    "secret in sync.yaml": ({}, GOOD + f"  password: {LEAK}\n"),
    "secret in sync.yaml under a wrong key": ({}, GOOD + f"  client_secrets: {LEAK}\n"),
    "secret in a broken sync.yaml": ({}, GOOD + f"  client_secret: '{LEAK}\n"),
}


@pytest.mark.parametrize("case", list(LEAK_CASES))
def test_no_secret_value_in_config_errors(case, tmp_path, caplog):
    env, text = LEAK_CASES[case]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as info:
        load_settings(project(tmp_path, text), env={**CLIENT, **env})
    shown = "".join(traceback.format_exception(info.value))
    assert info.value.exit_code == 2
    assert LEAK not in shown
    assert LEAK not in caplog.text


# -- the service's reload (SIGHUP, every firing) ----------------------------------------------


def service_project(tmp_path: Path):
    from connector.service import SyncService

    text = GOOD + 'jobs: [{name: nightly, cron: "0 4 * * *"}]\n'
    path = project(tmp_path, text)
    secret = tmp_path / "secret"
    secret.write_text(LONG_SECRET, encoding="utf-8")
    env = {**CLIENT, "SIS_SYNC_SECRET_FILE": str(secret)}
    return SyncService(path, env=env), path, secret, text


def test_service_reload_leaves_os_environ_alone(tmp_path, monkeypatch):
    service, path, _, text = service_project(tmp_path)
    path.write_text(text.replace("0 4", "0 5"), encoding="utf-8")
    with monkeypatch.context() as patch:
        patch.setattr(os, "environ", FrozenEnviron(os.environ))
        settings = service.reload()
    assert service.config_error == ""
    assert settings.jobs[0].cron == "0 5 * * *"


def test_service_reload_with_a_short_secret_keeps_the_old_settings_quietly(tmp_path, caplog):
    service, path, secret, text = service_project(tmp_path)
    secret.write_text(LEAK, encoding="utf-8")  # an admin replaced the secret file with a short one
    path.write_text(text.replace("0 4", "0 5"), encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    settings = service.reload()
    assert settings.jobs[0].cron == "0 4 * * *"  # the settings that last loaded
    assert "SIS_SYNC_SECRET_FILE" in service.config_error
    assert KEYGEN_COMMAND in caplog.text
    assert LEAK not in caplog.text and LEAK not in service.config_error
