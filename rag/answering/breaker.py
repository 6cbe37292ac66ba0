"""A circuit breaker: after repeated failures, stop calling a dead endpoint for a while."""

from __future__ import annotations

import time
from collections.abc import Callable
from threading import Lock


class CircuitBreaker:
    """Closed (calls go through), open (calls skipped until `reset_after_s`), then half-open
    (one trial call; success closes, failure opens again)."""

    def __init__(
        self, *, failures: int = 3, reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = failures
        self.reset_after_s = reset_after_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.last_error: str | None = None
        self._lock = Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self.opened_at is None:
                return "closed"
            return "half-open" if self.clock() - self.opened_at >= self.reset_after_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def record_success(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None
            self.last_error = None

    def record_failure(self, reason: str) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = reason
            if self.failures >= self.max_failures or self.opened_at is not None:
                self.opened_at = self.clock()
