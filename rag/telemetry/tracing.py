"""OpenTelemetry traces: one trace per question (condense, embed, dense search, BM25, fusion, answer,
LLM call, verification), exported over OTLP when an endpoint is configured and dropped otherwise.

Code that runs inside one call uses `span` (the span is current while the block runs). A stream's
steps run in turns, each in whatever thread reads the next item, so a span that lasts across its
`yield`s is `detached_span`: never made current, it is entered only with `within` around each step."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import wraps
from typing import Any, Literal, ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode

from rag.types import Answer

SERVICE = "rag-fr-news"
_tracer = trace.get_tracer("rag")  # a proxy: spans are recorded once a provider is set

Protocol = Literal["http/protobuf", "grpc"]
T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


def otlp_exporter(endpoint: str, protocol: Protocol = "http/protobuf") -> SpanExporter:
    """The OTLP span exporter for a collector at `endpoint` (its headers and certificates come from
    the standard OTEL_EXPORTER_OTLP_* variables, which the exporter reads itself)."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

        return Grpc(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    base = endpoint.rstrip("/")
    return Http(endpoint=base if base.endswith("/v1/traces") else base + "/v1/traces")


def setup_tracing(endpoint: str, protocol: Protocol = "http/protobuf") -> TracerProvider | None:
    """Export the service's spans to an OTLP collector; with no endpoint, tracing stays off (spans
    cost next to nothing and go nowhere). Call it once, in an entry point."""
    if not endpoint:
        return None
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: SERVICE}))
    provider.add_span_processor(BatchSpanProcessor(otlp_exporter(endpoint, protocol)))
    trace.set_tracer_provider(provider)
    return provider


def span(name: str, **attributes: Any) -> AbstractContextManager[Span]:
    """A child of the current span, current itself while the block runs."""
    return _tracer.start_as_current_span(name, attributes=attributes or None)


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A decorator: each call of the function is a span (a child of the current one)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @wraps(function)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            with span(name):
                return function(*args, **kwargs)

        return call

    return decorate


@contextmanager
def detached_span(
    name: str, *, parent: Span | None = None, attributes: Mapping[str, Any] | None = None
) -> Iterator[Span]:
    """A span over a block that yields (see the module's doc): a child of `parent`, or of the current
    span; ended when the block ends, with its error if one escapes (not a reader that stops early)."""
    context = trace.set_span_in_context(parent) if parent is not None else None
    current = _tracer.start_span(name, context=context, attributes=attributes or None)
    try:
        yield current
    except GeneratorExit:
        current.set_attribute("rag.abandoned", True)
        raise
    except BaseException as exc:
        current.record_exception(exc)
        current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        current.end()


def within(current: Span) -> AbstractContextManager[Span]:
    """Make `current` the parent of the spans started in the block (it is not ended after it)."""
    return trace.use_span(current, end_on_exit=False)


def steps(items: Iterator[T], current: Span) -> Iterator[T]:
    """The items of a stream, each one produced `within(current)` (so that the spans the stream
    starts are children of `current`, whichever thread asks for the next item)."""
    try:
        while True:
            with within(current):
                try:
                    item = next(items)
                except StopIteration:
                    return
            yield item
    finally:
        close = getattr(items, "close", None)
        if callable(close):
            close()


def describe(current: Span, answer: Answer) -> None:
    """What a question's span says of its answer (never the question's text)."""
    current.set_attributes(
        {
            "rag.answerer": answer.answerer,
            "rag.refused": answer.refused,
            "rag.degraded": answer.degraded,
            "rag.citations": len(answer.citations),
            "rag.passages": len(answer.passages),
        }
    )


__all__ = [
    "Span",
    "describe",
    "detached_span",
    "otlp_exporter",
    "setup_tracing",
    "span",
    "steps",
    "traced",
    "within",
]
