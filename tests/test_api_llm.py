"""The HTTP API with a generative answerer behind it: a real llama.cpp server (SmolLM2-135M) on
127.0.0.1, called through /v1/ask, /v1/chat and /v1/chat/completions, streaming and not; a dead
LLM gives degraded extractive answers, never a 500, and /readyz stays ready."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from rag.answering.arbiter import PATHS
from rag.engine import Engine
from rag.settings import Settings
from tests.conftest import api_app
from tests.live_server import live_server, sse_events
from tests.llm_server import llama_server, require_llm_tier
from tests.test_generative import generative, generative_settings

pytestmark = [pytest.mark.llm, pytest.mark.server, pytest.mark.slow]
QUESTION = "Combien Amazon a-t-il investi dans Anthropic ?"


@pytest.fixture(scope="module")
def stack(engine: Engine, engine_settings: Settings) -> Iterator[tuple[httpx.Client, str, object]]:
    """(HTTP client, base URL, LLM server) for a generative engine served on 127.0.0.1."""
    with llama_server(require_llm_tier()) as llm:
        options = {"llm_timeout_s": 60.0, "llm_breaker_failures": 2}
        gen = generative(engine, engine_settings, llm.base_url, **options)
        settings = generative_settings(engine_settings, llm.base_url, **options)
        with live_server(api_app(gen, settings)) as url, httpx.Client(base_url=url, timeout=120) as c:
            yield c, url, llm


def check_answer(data: dict) -> None:
    assert data["path"] in PATHS  # which of the LLM and the quoted evidence answered
    numbers = [c["n"] for c in data["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))
    for sentence in data["sentences"]:
        assert sentence["verdict"] in {"supported", "unsupported"}
        assert set(sentence["citations"]) <= set(numbers)
        assert bool(sentence["citations"]) == (sentence["verdict"] == "supported")


def test_api_llm__ask_and_chat_return_verified_answers(stack: tuple) -> None:
    client, _, _ = stack
    ask = client.post("/v1/ask", json={"question": QUESTION})
    assert ask.status_code == 200 and ask.json()["answerer"] == "openai" and not ask.json()["degraded"]
    check_answer(ask.json())
    ready = client.get("/readyz").json()
    assert ready["llm"]["state"] == "up"
    with client.stream(
        "POST", "/v1/chat", json={"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    ) as response:
        events = list(sse_events(response))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "retrieval" and kinds[-1] == "done" and kinds.count("delta") > 1
    done = events[-1][1]
    check_answer(done.get("answer", done))


def test_api_llm__openai_client_streams_tokens_then_citations(stack: tuple) -> None:
    _, url, _ = stack
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)
    completion = client.chat.completions.create(
        model="rag-fr-news", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.choices[0].message.content
    assert "citations" in (completion.model_extra or {})
    chunks = list(
        client.chat.completions.create(
            model="rag-fr-news", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1
    assert "citations" in (chunks[-1].model_extra or {})


def test_api_llm__killed_llm_gives_degraded_answers_not_errors(stack: tuple) -> None:
    client, _, llm = stack
    llm.kill()
    for _ in range(3):
        response = client.post("/v1/ask", json={"question": QUESTION})
        assert response.status_code == 200
        data = response.json()
        assert data["degraded"] and data["degraded_reason"] and "4 milliards" in data["answer"]
    with client.stream(
        "POST", "/v1/chat", json={"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    ) as response:
        events = list(sse_events(response))
    assert events[-1][0] == "done"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["llm"]["state"] == "open"
