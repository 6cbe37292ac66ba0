"""Prometheus metrics of the service (prometheus-client): requests, the time of each step of an
answer, refusals and degraded answers, ingest and BM25 work, feedback; and, read at each scrape,
the index size and the LLM circuit state of one engine (`service_registry`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, ParamSpec, Protocol, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric, StateSetMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from rag.types import Answer

log = logging.getLogger(__name__)

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STEPS = ("embed", "retrieve", "answer", "total")

HTTP_REQUESTS = Counter(
    "rag_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "rag_http_request_duration_seconds",
    "Time to answer an HTTP request (a stream: until its end).",
    ["route", "method"],
    buckets=SECONDS,
)
STEP_SECONDS = Histogram(
    "rag_answer_step_seconds",
    "Time of each step of an answer: embed, retrieve, answer, total.",
    ["step"],
    buckets=SECONDS,
)
LLM_SECONDS = Histogram("rag_llm_call_seconds", "Time of an LLM call, to its last token.", buckets=SECONDS)
LLM_TTFT = Histogram(
    "rag_llm_time_to_first_token_seconds",
    "Time from an LLM call to its first streamed token.",
    buckets=SECONDS,
)
ANSWERS = Counter("rag_answers", "Questions answered (refusals included), by answerer.", ["answerer"])
REFUSALS = Counter("rag_refusals", "Answers that refused: the articles do not answer.", ["answerer"])
DEGRADED = Counter(
    "rag_degraded_answers", "Answers written extractively because the LLM failed.", ["answerer"]
)
UNSUPPORTED = Counter(
    "rag_unsupported_sentences", "Generated sentences no cited passage supports (marked or dropped)."
)
INGEST_RUNS = Counter("rag_ingest_runs", "Ingest runs, by outcome (ok, failed).", ["outcome"])
INGEST_CHUNKS = Counter("rag_ingest_chunks", "Chunks written or deleted by ingest.", ["change"])
BM25_REBUILDS = Counter("rag_bm25_rebuilds", "BM25 index rebuilds (the store's contents changed).")
BM25_SECONDS = Histogram("rag_bm25_rebuild_seconds", "Time of a BM25 index rebuild.", buckets=SECONDS)
FEEDBACK = Counter("rag_feedback", "Feedback given on answers, by rating (up, down).", ["rating"])


def record_answer(answer: Answer) -> None:
    """Count an answer and observe the time of its steps."""
    ANSWERS.labels(answer.answerer).inc()
    if answer.refused:
        REFUSALS.labels(answer.answerer).inc()
    if answer.degraded:
        DEGRADED.labels(answer.answerer).inc()
    for step in STEPS:
        if step in answer.timings_ms:
            STEP_SECONDS.labels(step).observe(answer.timings_ms[step] / 1000)


def record_ingest(*, ok: bool, written: int = 0, deleted: int = 0) -> None:
    INGEST_RUNS.labels("ok" if ok else "failed").inc()
    INGEST_CHUNKS.labels("written").inc(written)
    INGEST_CHUNKS.labels("deleted").inc(deleted)


class _IngestReport(Protocol):
    chunks_written: int
    chunks_deleted: int


R = TypeVar("R", bound=_IngestReport)
P = ParamSpec("P")


def counted_ingest(run: Callable[P, R]) -> Callable[P, R]:
    """A decorator for the ingest entry point: each run counted, ok or failed, with its chunks."""

    @wraps(run)
    def counted(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            report = run(*args, **kwargs)
        except BaseException:
            record_ingest(ok=False)
            raise
        record_ingest(ok=True, written=report.chunks_written, deleted=report.chunks_deleted)
        return report

    return counted


class _ProcessWide(Collector):
    """The metrics above (and the process's own), as collected by the default registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _EngineState(Collector):
    """Read at each scrape: the chunks in the index and the LLM's circuit state (when there is an LLM)."""

    def __init__(self, chunks: Callable[[], int], llm_status: Callable[[], dict[str, Any] | None]) -> None:
        self.chunks = chunks
        self.llm_status = llm_status

    def collect(self) -> Iterator[Metric]:
        try:
            count = self.chunks()
        except Exception as exc:  # noqa: BLE001 - an index not open yet: no gauge, /readyz says why
            log.debug("index size not read for metrics: %s", exc)
        else:
            yield GaugeMetricFamily("rag_index_chunks", "Chunks in the index.", value=count)
        status = self.llm_status()
        if status is not None:
            state = {"up": "closed"}.get(str(status.get("state")), str(status.get("state")))
            yield StateSetMetricFamily(
                "rag_llm_breaker_state",
                "The LLM circuit breaker's state (closed: calls go through; open: refused).",
                value={name: state == name for name in ("closed", "open", "half-open")},
            )


def service_registry(
    chunks: Callable[[], int], llm_status: Callable[[], dict[str, Any] | None]
) -> CollectorRegistry:
    """What `/metrics` shows for one engine: the process-wide metrics and the engine's state."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessWide())
    registry.register(_EngineState(chunks, llm_status))
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The Prometheus text format of `registry` and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


__all__ = [
    "BM25_REBUILDS",
    "BM25_SECONDS",
    "FEEDBACK",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "LLM_SECONDS",
    "LLM_TTFT",
    "UNSUPPORTED",
    "counted_ingest",
    "exposition",
    "record_answer",
    "record_ingest",
    "service_registry",
]
