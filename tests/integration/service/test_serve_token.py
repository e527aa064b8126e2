"""`serve` beyond loopback: refused without SIS_SYNC_SERVE__TOKEN, bearer token for /, /metrics
and /healthz details with it (connector/service_auth.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from svcfixtures import make_service

from connector.errors import ConfigError
from connector.service_auth import TOKEN_VAR, is_loopback

TOKEN = "t" * 40


def _get(url: str, token: str | None = None) -> tuple[int, str, dict[str, str]]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_binding_beyond_loopback_without_a_token_is_refused(project):
    service = make_service(project, env={TOKEN_VAR: ""})
    with pytest.raises(ConfigError, match=TOKEN_VAR):
        service.serve_http(host="0.0.0.0", port=0)


def test_serve_command_beyond_loopback_without_a_token_exits_2(project):
    done = project.cli("serve", "--host", "0.0.0.0", "--port", "0", **{TOKEN_VAR: None})
    assert done.returncode == 2, done.stderr
    assert TOKEN_VAR in done.stderr and "127.0.0.1" in done.stderr


def test_a_short_token_is_refused_with_a_command_to_make_one(project):
    service = make_service(project, env={TOKEN_VAR: "short"})
    with pytest.raises(ConfigError, match=r"secrets\.token_hex"):
        service.serve_http(host="0.0.0.0", port=0)


def test_with_a_token_every_endpoint_but_the_health_status_needs_it(project):
    service = make_service(project, env={TOKEN_VAR: TOKEN})
    _, port = service.serve_http(host="0.0.0.0", port=0)
    service.start()
    try:
        base = f"http://127.0.0.1:{port}"
        for path in ("/", "/metrics"):
            code, body, headers = _get(base + path)
            assert code == 401, path
            assert headers.get("WWW-Authenticate", "").startswith("Bearer")
            assert TOKEN not in body
            assert _get(base + path, token="x" * 40)[0] == 401, path  # a wrong token
        assert _get(base + "/metrics", TOKEN)[0] == 200
        # /healthz: the status for any probe, the details only with the token
        code, body, _ = _get(base + "/healthz")
        assert code == 200 and json.loads(body) == {"status": "ok"}
        code, body, _ = _get(base + "/healthz", TOKEN)
        detail = json.loads(body)
        assert code == 200 and detail["status"] == "ok" and "jobs" in detail and "config" in detail
    finally:
        service.stop(timeout=10)


def test_on_loopback_without_a_token_nothing_changes(project):
    service = make_service(project, env={TOKEN_VAR: ""})
    host, port = service.serve_http(port=0)
    try:
        _, body, _ = _get(f"http://{host}:{port}/healthz")
        assert "jobs" in json.loads(body)
        assert _get(f"http://{host}:{port}/metrics")[0] == 200
    finally:
        service.stop(timeout=10)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
     ("sis.school.example", False), ("", False)],
)  # fmt: skip
def test_what_counts_as_loopback(host, loopback):
    assert is_loopback(host) is loopback
