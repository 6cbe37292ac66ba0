"""The LLM's circuit breaker as the generative answerer uses it: open after failures in a row, one
trial call after the reset time, and a stream closed by its reader counted as no failure."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from rag.answering.breaker import CircuitBreaker, CircuitOpen


def fail(breaker: CircuitBreaker) -> None:
    with pytest.raises(ConnectionError), breaker.calling():  # the call's own error, even when it trips
        raise ConnectionError("down")


def test_breaker__opens_after_failures_and_a_trial_call_later_closes_it() -> None:
    breaker = CircuitBreaker(failures=2, reset_after_s=0.3)
    fail(breaker)
    assert breaker.current_state == "closed"
    fail(breaker)
    assert breaker.current_state == "open" and isinstance(breaker.last_failure.error, ConnectionError)
    with pytest.raises(CircuitOpen), breaker.calling():
        raise AssertionError("a call went through an open circuit")
    time.sleep(0.35)
    fail(breaker)  # the trial call fails: open again at once
    assert breaker.current_state == "open"
    time.sleep(0.35)
    with breaker.calling():
        pass
    assert breaker.current_state == "closed" and breaker.last_failure.error is None


def test_breaker__a_stream_closed_by_its_reader_is_no_failure() -> None:
    breaker = CircuitBreaker(failures=1)

    def tokens() -> Iterator[str]:
        with breaker.calling():
            yield "Amazon"
            yield "a investi"

    stream = tokens()
    assert next(stream) == "Amazon"
    stream.close()
    assert breaker.current_state == "closed" and breaker.last_failure.error is None
