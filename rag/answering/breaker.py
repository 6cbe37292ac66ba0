"""The LLM's circuit breaker (pybreaker): after `failures` failed calls in a row, calls are refused
for `reset_after_s`; then a trial call closes it again, or opens it anew."""

from __future__ import annotations

import pybreaker

CircuitOpen = pybreaker.CircuitBreakerError


class LastFailure(pybreaker.CircuitBreakerListener):
    """The exception of the last failed call, forgotten at the first success (readiness shows it)."""

    error: BaseException | None = None

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        self.error = exc

    def success(self, cb: pybreaker.CircuitBreaker) -> None:
        self.error = None


class CircuitBreaker(pybreaker.CircuitBreaker):
    """Used as `with breaker.calling(): ...`, which raises CircuitOpen while the circuit is open. A
    stream that its reader closes (GeneratorExit) is not a failure, and the call's own exception is
    raised even when it opens the circuit."""

    def __init__(self, *, failures: int = 3, reset_after_s: float = 30.0) -> None:
        self.last_failure = LastFailure()
        super().__init__(
            fail_max=failures,
            reset_timeout=reset_after_s,
            exclude=[GeneratorExit],
            throw_new_error_on_trip=False,
            listeners=[self.last_failure],
        )
