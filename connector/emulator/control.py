"""Test control under ``/__emulator__/`` (DESIGN §8, contract): reset, faults, stats.

These routes need no token, are never subject to injected faults and are not API calls.
Random faults draw from one ``random.Random`` seeded by ``seed``, so a given seed and request
sequence gives the same faults every time.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any

from connector.emulator.rest import parse_json
from connector.emulator.wire import ApiError, Response, json_response

if TYPE_CHECKING:
    from connector.emulator.server import App, Request

FAULT_KEYS = {
    "latency_ms",
    "http_503_rate",
    "lock_error_rate",
    "expire_tokens",
    "daily_api_limit",
    "seed",
}


class Faults:
    """Injected faults; rates are probabilities in [0, 1]."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """No faults: every rate zero, no seed, a fresh lock and the seed-0 random sequence."""
        self.latency_ms = 0
        self.http_503_rate = 0.0
        self.lock_error_rate = 0.0
        self.seed: int | None = None
        self._rng = random.Random(0)
        self._lock = threading.Lock()

    def _draw(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def server_unavailable(self) -> bool:
        """Whether this request gets an injected 503."""
        return self._draw(self.http_503_rate)

    def lock_error(self) -> bool:
        """Whether this record gets an injected UNABLE_TO_LOCK_ROW."""
        return self._draw(self.lock_error_rate)

    def reseed(self, seed: int | None) -> None:
        """Restart the random sequence."""
        with self._lock:
            self.seed = seed
            self._rng = random.Random(seed or 0)

    def state(self) -> dict[str, Any]:
        """Current settings."""
        return {
            "latency_ms": self.latency_ms,
            "http_503_rate": self.http_503_rate,
            "lock_error_rate": self.lock_error_rate,
            "seed": self.seed,
        }


def _number(body: dict[str, Any], key: str, *, rate: bool = False) -> float:
    value = body[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (rate and value > 1)
    ):
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"{key} must be a number" + (" between 0 and 1" if rate else " >= 0"),
            [key],
        )
    return value


def faults(app: App, req: Request) -> Response:
    """``POST /__emulator__/faults``: set any of the fault keys; returns the current settings."""
    body = parse_json(req.body)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    unknown = sorted(set(body) - FAULT_KEYS)
    if unknown:
        raise ApiError(400, "INVALID_FIELD", f"Unknown fault keys: {', '.join(unknown)}", unknown)
    f = app.faults
    if "seed" in body:
        if body["seed"] is not None and not isinstance(body["seed"], int):
            raise ApiError(400, "INVALID_FIELD", "seed must be an integer", ["seed"])
        f.reseed(body["seed"])
    if "latency_ms" in body:
        f.latency_ms = int(_number(body, "latency_ms"))
    if "http_503_rate" in body:
        f.http_503_rate = float(_number(body, "http_503_rate", rate=True))
    if "lock_error_rate" in body:
        f.lock_error_rate = float(_number(body, "lock_error_rate", rate=True))
    if "daily_api_limit" in body:
        app.limits.daily_limit = int(_number(body, "daily_api_limit"))
    if body.get("expire_tokens") is True:
        app.tokens.expire_all()
    return json_response(200, {**f.state(), "daily_api_limit": app.limits.daily_limit})


def reset(app: App, req: Request) -> Response:
    """``POST /__emulator__/reset``: empty the org; clear jobs, cursors, faults and counters."""
    with app.store.lock:
        app.store.reset()
        app.jobs.clear()
        app.cursors.open.clear()
    app.faults.reset()
    app.limits.daily_limit = app.config.daily_api_limit
    app.limits.reset()
    with app.stats_lock:
        app.requests.clear()
    return json_response(200, {"reset": True})


def stats(app: App, req: Request) -> Response:
    """``GET /__emulator__/stats``: API calls, requests per route and live records per object."""
    with app.store.lock:
        records = app.store.counts()
    with app.stats_lock:
        requests = dict(app.requests)
    return json_response(
        200,
        {
            "api_calls": app.limits.used,
            "requests": requests,
            "records": records,
            "jobs": len(app.jobs),
            "daily_api_limit": app.limits.daily_limit,
        },
    )
