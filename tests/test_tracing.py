"""One OpenTelemetry trace per question, caught by a real in-memory span exporter: its span tree for
a follow-up (condense, retrieve with embed, dense search, BM25 and fusion, answer), for a stream whose
steps run in other threads, and for a generative answer (LLM call, verification) from a real LLM server."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rag.conversation import Message
from rag.engine import Engine
from rag.events import DoneEvent
from rag.settings import Settings
from tests.llm_server import llama_server, require_llm_tier
from tests.test_generative import generative

LEIKE = "Pourquoi Leike est-il parti ?"
FOLLOW_UP = [
    Message("user", LEIKE),
    Message("assistant", "Il estimait que la sécurité passait après les produits. [1]"),
    Message("user", "Et lui, il a rejoint quelle entreprise ?"),
]
RETRIEVAL = {"embed": "retrieve", "dense_search": "retrieve", "bm25": "retrieve", "fusion": "retrieve"}


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """The spans every tracer of the process finishes from now on (one SDK provider per process)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    found = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(found))
    yield found
    found.shutdown()


def parents(spans: Sequence[ReadableSpan]) -> dict[str, str | None]:
    """Span name -> its parent's name, after checking that they form one trace under one root."""
    roots = [s for s in spans if s.parent is None]
    assert [r.name for r in roots] == ["question"], [s.name for s in spans]
    assert {s.context.trace_id for s in spans} == {roots[0].context.trace_id}
    by_id = {s.context.span_id: s for s in spans}
    named: dict[str, str | None] = {}
    for s in spans:
        parent = by_id[s.parent.span_id].name if s.parent is not None else None
        assert named.setdefault(s.name, parent) == parent, f"{s.name} under {parent} and {named[s.name]}"
    # The first question on an index builds its BM25 index; later ones do not.
    assert named.pop("bm25_rebuild", "retrieve") in ("retrieve", "bm25")
    return named


def test_trace__a_follow_up_is_one_trace_condense_retrieve_answer(
    engine: Engine, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    answer = engine.chat(FOLLOW_UP)
    tree = parents(exporter.get_finished_spans())
    assert tree == {
        "question": None,
        "condense": "question",
        "retrieve": "question",
        **RETRIEVAL,
        "answer": "question",
    }
    root = next(s for s in exporter.get_finished_spans() if s.name == "question")
    assert root.attributes is not None
    assert root.attributes["rag.answerer"] == "extractive"
    assert root.attributes["rag.citations"] == len(answer.citations)
    assert LEIKE not in str(dict(root.attributes))  # no question text in traces


def test_trace__a_stream_read_from_other_threads_is_still_one_tree(
    engine: Engine, exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    exporter.clear()
    stream = engine.ask_stream(LEIKE)
    items = []
    with ThreadPoolExecutor(max_workers=3) as pool, caplog.at_level(logging.ERROR):
        while (item := pool.submit(next, stream, None).result()) is not None:  # each step, any thread
            items.append(item)
    assert isinstance(items[-1], DoneEvent)
    assert parents(exporter.get_finished_spans()) == {
        "question": None,
        "retrieve": "question",
        **RETRIEVAL,
        "answer": "question",
    }
    assert "detach" not in caplog.text.lower()


@pytest.mark.llm
@pytest.mark.slow
def test_trace__a_generative_answer_has_its_llm_call_and_verification(
    engine: Engine, engine_settings: Settings, exporter: InMemorySpanExporter
) -> None:
    with llama_server(require_llm_tier()) as llm:
        gen = generative(engine, engine_settings, llm.base_url)
        for run in (lambda: gen.ask(LEIKE), lambda: list(gen.ask_stream(LEIKE))):
            exporter.clear()
            run()
            spans = exporter.get_finished_spans()
            tree = parents(spans)
            assert tree["llm"] == "answer" and tree["verify"] == "answer", tree
            call = next(s for s in spans if s.name == "llm")
            assert call.attributes is not None and call.attributes["rag.llm.model"] == "smollm2"
