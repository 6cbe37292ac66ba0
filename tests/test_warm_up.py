"""Warm-up at start: /readyz must not say ready while BM25 is still being built over the collection."""

from __future__ import annotations

import threading

import pytest

from rag.engine import Engine
from rag.readiness import Readiness


def test_status__not_ready_while_warming_up_then_ready(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = threading.Event()
    build = engine.retriever.bm25

    def slow_bm25():  # the real build, held until the test has looked at the status
        gate.wait(10)
        return build()

    monkeypatch.setattr(engine.retriever, "bm25", slow_bm25)
    readiness = Readiness(engine)
    thread = readiness.start_warm_up()
    status = readiness.status()
    assert status.ready is False and "Warming up" in (status.reason or "")
    gate.set()
    thread.join(30)
    assert not thread.is_alive()
    assert readiness.status().ready is True
