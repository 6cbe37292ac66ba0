"""What an operator sees of a real server on 127.0.0.1: `/metrics` behind the keys, scraped and
parsed with prometheus-client's own parser after real questions; one JSON log line per request with
its request id (sent back as a header), never the question nor a key; ingest and BM25 counters."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingest.service import run_ingest
from rag.compose import build_engine
from rag.embedding import Embedder
from rag.engine import Engine
from rag.llm_server import stop_process
from rag.settings import Settings
from rag.telemetry.logs import REQUEST_LOG, json_formatter
from tests.conftest import CORPUS, api_app, make_settings, rag_env, start_rag
from tests.live_server import free_port, live_server, sse_events, wait_ready
from tests.otlp_receiver import otlp_receiver
from tests.test_generative import generative

pytestmark = pytest.mark.server

KEY, ADMIN = "ops-user-key-1", "ops-admin-key-2"
AUTH = {"Authorization": f"Bearer {KEY}"}
LEIKE = "Pourquoi Leike est-il parti ?"
AUSTRALIA = "Quelle est la capitale de l'Australie ?"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def log_lines() -> Iterator[io.StringIO]:
    """The request log, formatted by the server's JSON formatter."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(json_formatter())
    REQUEST_LOG.addHandler(handler)
    level, REQUEST_LOG.level = REQUEST_LOG.level, logging.INFO
    yield out
    REQUEST_LOG.removeHandler(handler)
    REQUEST_LOG.setLevel(level)


@pytest.fixture(scope="module")
def client(engine: Engine, engine_settings: Settings, log_lines: io.StringIO) -> Iterator[httpx.Client]:
    settings = engine_settings.model_copy(update={"api_keys": [KEY], "admin_key": ADMIN})
    with live_server(api_app(engine, settings)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def scrape(client: httpx.Client, headers: dict[str, str] = AUTH) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics__need_a_key_when_keys_are_set(client: httpx.Client) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_metrics__count_real_questions_refusals_and_step_times(client: httpx.Client) -> None:
    before = scrape(client)
    for question in (LEIKE, "Combien Amazon a-t-il investi dans Anthropic ?", AUSTRALIA):
        assert client.post("/v1/ask", json={"question": question}, headers=AUTH).status_code == 200
    with client.stream(
        "POST",
        "/v1/chat",
        headers=AUTH,
        json={"messages": [{"role": "user", "content": LEIKE}], "stream": True},
    ) as r:
        assert list(sse_events(r))[-1][0] == "done"
    assert client.post("/v1/ask", json={"question": ""}, headers=AUTH).status_code == 422
    assert client.post("/v1/ask", json={"question": LEIKE}).status_code == 401
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ask = {"route": "/v1/ask", "method": "POST"}
    assert grew("rag_http_requests_total", **ask, status="200") == 3
    assert grew("rag_http_requests_total", **ask, status="422") == 1
    assert grew("rag_http_requests_total", **ask, status="401") == 1
    assert grew("rag_http_requests_total", route="/v1/chat", method="POST", status="200") == 1
    assert grew("rag_http_request_duration_seconds_count", **ask) == 5
    assert grew("rag_answers_total", answerer="extractive") == 4
    assert grew("rag_refusals_total", answerer="extractive") == 1
    for step in ("embed", "retrieve", "answer", "total"):
        assert grew("rag_answer_step_seconds_count", step=step) == 4, step
        assert grew("rag_answer_step_seconds_sum", step=step) > 0, step
    assert value(after, "rag_index_chunks") > 0
    assert ("rag_degraded_answers_total", frozenset({("answerer", "extractive")})) not in after or (
        grew("rag_degraded_answers_total", answerer="extractive") == 0
    )
    assert not any(name == "rag_llm_breaker_state" for name, _ in after)  # no LLM, no circuit


def test_logs__one_json_line_per_request_with_its_id_never_the_question_or_key(
    client: httpx.Client, log_lines: io.StringIO
) -> None:
    start = len(log_lines.getvalue())
    answered = client.post("/v1/ask", json={"question": LEIKE}, headers={**AUTH, "X-Request-ID": "abc-123"})
    refused = client.post("/v1/ask", json={"question": AUSTRALIA}, headers={**AUTH, "X-Request-ID": "<bad>"})
    assert answered.headers["x-request-id"] == "abc-123"
    generated = refused.headers["x-request-id"]
    assert generated != "<bad>" and len(generated) == 32
    lines = [json.loads(line) for line in log_lines.getvalue()[start:].splitlines()]
    assert [line["request_id"] for line in lines] == ["abc-123", generated]
    first, second = lines
    assert first["route"] == "/v1/ask" and first["status"] == 200 and first["method"] == "POST"
    assert first["latency_ms"] > 0 and first["answerer"] == "extractive"
    assert first["refused"] is False and first["degraded"] is False and first["citations"] >= 1
    assert second["refused"] is True and second["citations"] == 0
    text = log_lines.getvalue()[start:]
    assert "Leike" not in text and "Australie" not in text and KEY not in text


def test_logs__the_question_is_written_only_where_the_settings_allow(
    engine: Engine, engine_settings: Settings, log_lines: io.StringIO
) -> None:
    settings = engine_settings.model_copy(update={"log_questions": True})
    start = len(log_lines.getvalue())
    with live_server(api_app(engine, settings)) as url:
        httpx.post(f"{url}/v1/ask", json={"question": LEIKE}, timeout=60)
    line = json.loads(log_lines.getvalue()[start:].splitlines()[-1])
    assert line["question"] == LEIKE


def test_metrics__ingest_runs_chunks_and_bm25_rebuilds(
    embedder: Embedder, tmp_path: Path, client: httpx.Client
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in sorted(p.name for p in CORPUS.glob("*.txt"))[:2]:
        shutil.copy(CORPUS / name, corpus / name)
    settings = make_settings(corpus, tmp_path / "index")
    before = scrape(client)
    report = run_ingest(settings, embedder=embedder, progress=False)
    build_engine(settings, embedder=embedder).ask(LEIKE)  # a new index: BM25 is built for it
    after = scrape(client)
    assert (
        value(after, "rag_ingest_runs_total", outcome="ok")
        - value(before, "rag_ingest_runs_total", outcome="ok")
        == 1
    )
    written = value(after, "rag_ingest_chunks_total", change="written")
    assert written - value(before, "rag_ingest_chunks_total", change="written") == report.chunks_written > 0
    assert value(after, "rag_bm25_rebuilds_total") - value(before, "rag_bm25_rebuilds_total") >= 1
    assert value(after, "rag_bm25_rebuild_seconds_count") > value(before, "rag_bm25_rebuild_seconds_count")


def test_metrics__a_dead_llm_counts_degraded_answers_and_shows_the_open_circuit(
    engine: Engine, engine_settings: Settings
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: connection refused at once
    settings = engine_settings.model_copy(update={"llm_breaker_failures": 2, "llm_breaker_reset_s": 600.0})
    gen = generative(engine, settings, dead)
    with live_server(api_app(gen, settings)) as url, httpx.Client(base_url=url, timeout=60) as c:
        before = scrape(c, {})
        assert value(before, "rag_llm_breaker_state", rag_llm_breaker_state="closed") == 1
        for _ in range(3):
            assert c.post("/v1/ask", json={"question": LEIKE}).json()["degraded"] is True
        after = scrape(c, {})
    grown = value(after, "rag_degraded_answers_total", answerer="openai") - value(
        before, "rag_degraded_answers_total", answerer="openai"
    )
    assert grown == 3
    assert value(after, "rag_llm_breaker_state", rag_llm_breaker_state="open") == 1
    assert value(after, "rag_llm_breaker_state", rag_llm_breaker_state="closed") == 0


@pytest.mark.slow
def test_serve__json_log_lines_saved_conversations_metrics_and_traces_end_to_end(
    settings: Settings, stack: ExitStack
) -> None:
    """`rag serve` as an operator runs it: JSON lines on stderr, conversations in history.db beside
    the index, metrics behind the key, traces exported over OTLP to a real receiver."""
    port = free_port()
    collector, received = stack.enter_context(otlp_receiver())
    env = rag_env(
        settings, RAG_API_KEYS=KEY, OTEL_EXPORTER_OTLP_ENDPOINT=collector, OTEL_BSP_SCHEDULE_DELAY="100"
    )
    process = start_rag(
        "serve", "--port", str(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(
            process, lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200, 240, "rag serve"
        )
        answer = httpx.post(
            f"{url}/v1/ask", json={"question": LEIKE}, headers={**AUTH, "X-Request-ID": "e2e-1"}, timeout=60
        ).json()
        listed = httpx.get(f"{url}/v1/conversations", headers=AUTH, timeout=10).json()
        metrics = httpx.get(f"{url}/metrics", headers=AUTH, timeout=10)
    finally:
        stop_process(process)
    assert [c["id"] for c in listed] == [answer["conversation_id"]]
    assert (settings.index_dir / "history.db").is_file()
    assert "rag_answers_total" in metrics.text
    assert process.stderr is not None
    lines = [
        json.loads(line)
        for line in process.stderr.read().decode("utf-8").splitlines()
        if line.startswith("{")
    ]
    [asked] = [line for line in lines if line.get("request_id") == "e2e-1"]
    assert asked["route"] == "/v1/ask" and asked["status"] == 200 and asked["logger"] == "rag.requests"
    assert "question" not in asked and KEY not in json.dumps(lines)
    assert set(received.paths) == {"/v1/traces"}
    names = {name for service, name in received.spans if service == "rag-fr-news"}
    assert {"question", "retrieve", "embed", "dense_search", "bm25", "fusion", "answer"} <= names


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened
