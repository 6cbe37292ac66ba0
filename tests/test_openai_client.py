"""The official `openai` client, unchanged, pointed at the service: answers carry [n] markers, and
aware clients read the citations as data (raw response, or the last chunk's extra fields)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import openai
import pytest

from rag.corpus import Corpus
from rag.engine import Engine
from rag.settings import Settings
from tests.conftest import api_app
from tests.live_server import live_server, sse_events

pytestmark = pytest.mark.server

KEY = "client-key-789"
AUTH = {"Authorization": f"Bearer {KEY}"}
QUESTION = "Combien Amazon a-t-il investi dans Anthropic ?"
FOLLOW_UP = "Et lui, il a rejoint quelle entreprise ?"
OUTSIDE = "Quelle est la capitale de l'Australie ?"


@pytest.fixture(scope="module")
def base_url(engine: Engine, engine_settings: Settings) -> Iterator[str]:
    settings = engine_settings.model_copy(update={"api_keys": [KEY]})
    with live_server(api_app(engine, settings)) as url:
        yield f"{url}/v1"


@pytest.fixture(scope="module")
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def raw(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url.removesuffix("/v1"), timeout=60) as c:
        yield c


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_openai__models_list_the_service_model(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["rag-fr-news"]


def test_openai__completion_has_markers_and_citations(
    client: openai.OpenAI,
    engine_corpus: Corpus,
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="rag-fr-news",
        messages=[{"role": "user", "content": QUESTION}],
    )
    completion = raw.parse()
    text = completion.choices[0].message.content or ""
    assert "4 milliards" in text and completion.choices[0].finish_reason == "stop"
    citations = json.loads(raw.http_response.text)["citations"]
    assert citations == (completion.model_extra or {})["citations"]
    assert markers(text) == {c["n"] for c in citations}
    for c in citations:
        source, _ = engine_corpus.source(c["file"])
        assert source[c["char_start"] : c["char_end"]] == c["quote"]


def test_openai__stream_has_markers_and_citations_in_the_last_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="rag-fr-news",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    citations = (last.model_extra or {})["citations"]
    assert "4 milliards" in text and citations and markers(text) == {c["n"] for c in citations}
    plain = client.chat.completions.create(
        model="rag-fr-news",
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert text == plain.choices[0].message.content


def test_openai__conversation_follow_up_and_content_parts(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="any-model-name",
        messages=[
            {"role": "system", "content": "Réponds en français."},
            {"role": "user", "content": "Pourquoi Leike est-il parti ?"},
            {"role": "assistant", "content": "Pour des raisons de sécurité. [1]"},
            {"role": "user", "content": [{"type": "text", "text": FOLLOW_UP}]},
        ],
    )
    assert "Anthropic" in (completion.choices[0].message.content or "")
    assert (completion.model_extra or {})["standalone_question"].startswith("Leike")


def test_openai__out_of_corpus_question_is_a_refusal_without_citations(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="rag-fr-news",
        messages=[{"role": "user", "content": OUTSIDE}],
    )
    extra = completion.model_extra or {}
    assert extra["refused"] is True and extra["citations"] == []


def test_openai__errors_raise_the_client_exceptions(client: openai.OpenAI, base_url: str) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as invalid:
        client.chat.completions.create(model="rag-fr-news", messages=[{"role": "user", "content": " "}])
    assert invalid.value.status_code == 422
    with pytest.raises(openai.AuthenticationError):
        wrong = openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0)
        wrong.chat.completions.create(model="rag-fr-news", messages=[{"role": "user", "content": QUESTION}])


# -- the same routes over plain HTTP, as a client without the SDK sees them ---------------------
def test_models__lists_the_service_model(raw: httpx.Client) -> None:
    body = raw.get("/v1/models", headers=AUTH).json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["rag-fr-news"]


def test_chat_completions__stream_ends_with_citations_then_done(raw: httpx.Client) -> None:
    request = {"model": "rag-fr-news", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    with raw.stream("POST", "/v1/chat/completions", json=request, headers=AUTH) as r:
        data = [d for _, d in sse_events(r)]
    assert data[-1] == "[DONE]"
    chunks, last = data[:-1], data[-2]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert last["choices"][0]["finish_reason"] == "stop" and last["citations"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    plain = raw.post("/v1/chat/completions", json={**request, "stream": False}, headers=AUTH).json()
    assert text == plain["choices"][0]["message"]["content"] and plain["citations"] == last["citations"]
