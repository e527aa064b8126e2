"""Helpers for the service tests: a service on a project, HTTP scrapes, personal values to look for."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any

from connector.service import SyncService
from connector.state import open_existing

# Values the test rows hold (syncfixtures.student / registration defaults); none may leak.
PERSONAL = [
    "Sanne", "Vries", "Daan", "Bakker", "Dorpsstraat", "1234 AB", "1234AB", "06-12345678",
    "+31612345678", "14-03-2004", "2004-03-14", "111222333", "@school.example", "@mail.example",
]  # fmt: skip


def make_service(project: Any, **kwargs: Any) -> SyncService:
    """A service on the project's sync.yaml with exactly the project's environment."""
    env = {**project.env, **kwargs.pop("env", {})}
    return SyncService(project.folder / "sync.yaml", env=env, **kwargs)


@contextmanager
def serving(service: SyncService, *, start: bool = True) -> Iterator[str]:
    """Serve /healthz and /metrics on a free port (and start the scheduler); yields the base URL."""
    host, port = service.serve_http(port=0)
    if start:
        service.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        service.stop(timeout=10)


def get(url: str) -> tuple[int, str]:
    """GET ``url``: (status, body text), also for 4xx/5xx answers."""
    try:
        # A deadline for a hung server only: a busy machine may take seconds to answer.
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def health(base: str) -> tuple[int, dict[str, Any]]:
    """GET /healthz: (status, JSON body)."""
    code, text = get(base + "/healthz")
    return code, json.loads(text)


def job_health(body: dict[str, Any], name: str) -> dict[str, Any]:
    """One job's entry in a /healthz body."""
    return next(j for j in body["jobs"] if j["name"] == name)


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when it is absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if got == labels:
            return float(m.group(3))
    return None


def leaked(text: str) -> list[str]:
    """The personal test values that occur in ``text``."""
    return [v for v in PERSONAL if v.lower() in text.lower()]


def finished_at(project: Any, run_id: int) -> float:
    """When run ``run_id`` ended, as the state recorded it (``status --json`` does not say), as a
    POSIX timestamp."""
    store = open_existing(project.settings().state.url)
    try:
        row = next(r for r in store.recent_runs(10) if r.run_id == run_id)
    finally:
        store.close()
    assert row.finished_at is not None
    at = row.finished_at
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()  # SQLite: naive UTC
