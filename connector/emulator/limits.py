"""Daily API allocation: counted per authenticated API call, really runs out (403)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from connector.emulator.wire import ApiError


class ApiLimits:
    """Counts API calls per UTC day against ``daily_limit``."""

    def __init__(self, daily_limit: int):
        self.daily_limit = daily_limit
        self.used = 0
        self._day = datetime.now(UTC).date()
        self._lock = threading.Lock()

    def _roll(self) -> None:
        today = datetime.now(UTC).date()
        if today != self._day:  # Salesforce's window is rolling 24 h; a UTC day is close enough
            self._day, self.used = today, 0

    def consume(self) -> None:
        """Count one API call.

        Raises:
            ApiError: 403 REQUEST_LIMIT_EXCEEDED once the allocation is used up (not counted).
        """
        with self._lock:
            self._roll()
            if self.used >= self.daily_limit:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.used += 1

    def header(self) -> str:
        """The ``Sforce-Limit-Info`` value."""
        return f"api-usage={self.used}/{self.daily_limit}"

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.used = 0

    def body(self) -> dict[str, dict[str, int]]:
        """The ``/limits`` resource (subset)."""
        remaining = max(self.daily_limit - self.used, 0)
        return {
            "DailyApiRequests": {"Max": self.daily_limit, "Remaining": remaining},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
        }
