"""The HTTP API over real HTTP: a real engine behind uvicorn on 127.0.0.1, called with httpx.

Questions, conversations (JSON and Server-Sent Events), OpenAI-shaped routes, health, errors and
keys. Ingest, sources and `rag serve` are in test_api_admin.py; the OpenAI-compatible routes in
test_openai_client.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rag.compose import build_engine
from rag.embedding import Embedder
from rag.engine import Engine
from rag.settings import Settings
from tests.conftest import api_app, make_settings
from tests.live_server import live_server, sse_events

pytestmark = pytest.mark.server

KEY, ADMIN = "user-key-123", "admin-key-456"
AUTH = {"Authorization": f"Bearer {KEY}"}
LEIKE = "Pourquoi Leike est-il parti ?"


@pytest.fixture(scope="module")
def client(engine: Engine, engine_settings: Settings) -> Iterator[httpx.Client]:
    """The real corpus engine behind keys; ingest is not wired (and so disabled)."""
    settings = engine_settings.model_copy(update={"api_keys": [KEY], "admin_key": ADMIN})
    with live_server(api_app(engine, settings)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[httpx.Client]:
    """An engine on an empty index, with no key at all, and CORS open to one origin."""
    base = tmp_path_factory.mktemp("empty")
    (base / "corpus").mkdir()
    settings = make_settings(base / "corpus", base / "index", cors_origins=["http://app.example"])
    engine = build_engine(settings, embedder=embedder, create=True)
    with live_server(api_app(engine, settings)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["message"]
    if code is not None:
        assert error["code"] == code
    for leak in ("Traceback", "/tmp", "site-packages"):
        assert leak not in response.text
    return dict(error)


def without_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


# -- health ---------------------------------------------------------------------------------------
def test_healthz__answers_without_a_key(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz__reports_chunks_and_embedding_model(client: httpx.Client) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ready" and body["chunks"] > 0 and body["embed_model"]


def test_readyz__empty_index_is_503_with_a_reason(empty: httpx.Client) -> None:
    error = assert_error(empty.get("/readyz"), 503, "not_ready")
    assert "ingest" in error["message"]


# -- ask ------------------------------------------------------------------------------------------
def test_ask__returns_the_object_of_rag_ask_json(client: httpx.Client, engine: Engine) -> None:
    response = client.post("/v1/ask", json={"question": LEIKE}, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    cli_json = json.loads(json.dumps(engine.ask(LEIKE).to_dict()))  # what `rag ask --json` prints
    assert without_timings(body) == without_timings(cli_json)
    assert set(body["timings_ms"]) >= {"embed", "retrieve", "answer", "total"}
    assert not body["refused"] and "[1]" in body["answer"] and body["citations"]


def test_ask__files_restrict_the_sources(client: httpx.Client) -> None:
    only = "004_d6bdbc85729e3bbc.txt"
    body = client.post("/v1/ask", json={"question": LEIKE, "files": [only], "top_k": 3}, headers=AUTH).json()
    assert {c["file"] for c in body["citations"]} == {only}


def test_ask__index_not_ready_is_503_without_a_path(empty: httpx.Client) -> None:
    # No key is configured on this server, so /v1/* is open and the engine's own error comes back.
    assert_error(empty.post("/v1/ask", json={"question": LEIKE}), 503, "index_not_ready")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"question": ""}, "invalid_question"),
        ({"question": "   "}, "invalid_question"),
        ({"question": "x" * 2001}, "invalid_question"),
        ({"question": LEIKE, "top_k": 0}, "invalid_request"),
        ({"question": LEIKE, "top_k": 51}, "invalid_request"),
        ({"question": LEIKE, "top_k": "many"}, "invalid_request"),
        ({"question": 42}, "invalid_request"),
        ({"question": None}, "invalid_request"),
        ({}, "invalid_request"),
        ({"question": LEIKE, "topk": 3}, "invalid_request"),
        ({"question": LEIKE, "files": "004.txt"}, "invalid_request"),
        (["not", "an", "object"], "invalid_request"),
    ],
)
def test_ask__invalid_input_is_422(client: httpx.Client, body: Any, code: str) -> None:
    assert_error(client.post("/v1/ask", json=body, headers=AUTH), 422, code)


def test_ask__malformed_json_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/v1/ask",
        content=b'{"question": "Pourquoi',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert "JSON" in assert_error(response, 422, "invalid_request")["message"]


def test_ask__body_over_the_limit_is_413(client: httpx.Client) -> None:
    big = {"question": "x" * (1024 * 1024 + 10)}
    assert_error(client.post("/v1/ask", json=big, headers=AUTH), 413, "payload_too_large")


def test_ask__chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def body() -> Iterator[bytes]:  # a generator: sent chunked, with no Content-Length to trust
        yield b'{"question": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = client.post("/v1/ask", content=body(), headers={**AUTH, "Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")


# -- chat -----------------------------------------------------------------------------------------
FOLLOW_UP = [
    {"role": "user", "content": LEIKE},
    {"role": "assistant", "content": "Il jugeait que la sécurité passait après les produits. [1]"},
    {"role": "user", "content": "Et lui, il a rejoint quelle entreprise ?"},
]


def test_chat__answers_a_follow_up_with_its_standalone_question(client: httpx.Client) -> None:
    body = client.post("/v1/chat", json={"messages": FOLLOW_UP}, headers=AUTH).json()
    assert body["question"] == FOLLOW_UP[-1]["content"]
    assert body["standalone_question"].startswith("Leike")
    assert "Anthropic" in body["answer"] and body["citations"]


def test_chat__streams_typed_events_in_order(client: httpx.Client) -> None:
    events: list[tuple[str, Any]] = []
    with client.stream("POST", "/v1/chat", json={"messages": FOLLOW_UP, "stream": True}, headers=AUTH) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(r))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "retrieval" and kinds[-1] == "done" and "delta" in kinds
    assert kinds == sorted(kinds, key=["retrieval", "delta", "citation", "done"].index)
    retrieval, done = events[0][1], events[-1][1]
    assert retrieval["standalone_question"].startswith("Leike") and retrieval["passages"]
    answer = done["answer"]
    assert "".join(data["text"] for kind, data in events if kind == "delta") == answer["answer"]
    assert [data for kind, data in events if kind == "citation"] == answer["citations"]
    assert done["refused"] is False and done["timings_ms"]["total"] > 0
    assert answer["standalone_question"] == retrieval["standalone_question"]


def test_chat__stream_of_an_invalid_conversation_is_a_json_422(client: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "  "}], "stream": True}
    assert_error(client.post("/v1/chat", json=body, headers=AUTH), 422, "invalid_question")


@pytest.mark.parametrize(
    "messages",
    [
        [],
        "Pourquoi Leike est-il parti ?",
        [{"role": "robot", "content": LEIKE}],
        [{"role": "user"}],
        [{"role": "user", "content": ["not", "text"]}],
        [{"role": "assistant", "content": "Bonjour."}],
    ],
)
def test_chat__malformed_messages_are_422(client: httpx.Client, messages: Any) -> None:
    assert_error(client.post("/v1/chat", json={"messages": messages}, headers=AUTH), 422)


def test_chat__concurrent_streams_all_complete(client: httpx.Client) -> None:
    import concurrent.futures

    def answer(_: int) -> str:
        with client.stream(
            "POST", "/v1/chat", json={"messages": FOLLOW_UP[:1], "stream": True}, headers=AUTH
        ) as r:
            return str(list(sse_events(r))[-1][1]["answer"]["answer"])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(answer, range(4)))
    assert len(set(answers)) == 1 and "[1]" in answers[0]


# -- keys -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}, {"Authorization": KEY}],
)
def test_keys__missing_or_invalid_key_is_401(client: httpx.Client, headers: dict[str, str]) -> None:
    for response in (
        client.post("/v1/ask", json={"question": LEIKE}, headers=headers),
        client.get("/v1/models", headers=headers),
        client.get("/v1/sources/004_d6bdbc85729e3bbc.txt", headers=headers),
    ):
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


def test_keys__admin_key_also_opens_the_api(client: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    assert client.post("/v1/ask", json={"question": LEIKE}, headers=headers).status_code == 200


def test_keys__ingest_without_an_ingest_function_is_disabled(client: httpx.Client) -> None:
    response = client.post("/v1/ingest", headers={"Authorization": f"Bearer {ADMIN}"})
    assert_error(response, 403, "ingest_disabled")


def test_keys__ingest_without_an_admin_key_configured_is_403_disabled(empty: httpx.Client) -> None:
    assert "disabled" in assert_error(empty.post("/v1/ingest"), 403, "ingest_disabled")["message"]


# -- routing and browsers -------------------------------------------------------------------------
def test_errors__unknown_route_and_wrong_method_are_json(client: httpx.Client) -> None:
    assert_error(client.get("/v1/nothing-here", headers=AUTH), 404, "not_found")
    assert_error(client.get("/v1/ask", headers=AUTH), 405, "method_not_allowed")


def test_cors__closed_by_default_open_to_configured_origins(
    client: httpx.Client,
    empty: httpx.Client,
) -> None:
    preflight = {
        "Origin": "http://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    assert "access-control-allow-origin" not in client.options("/v1/ask", headers=preflight).headers
    allowed = empty.options("/v1/ask", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://app.example"
    other = empty.options("/v1/ask", headers={**preflight, "Origin": "http://evil.example"})
    assert other.headers.get("access-control-allow-origin") != "http://evil.example"


def test_docs__openapi_lists_every_route(client: httpx.Client) -> None:
    paths = set(client.get("/openapi.json", headers=AUTH).json()["paths"])  # behind the key (issue 12)
    assert paths >= {
        "/healthz",
        "/readyz",
        "/v1/ask",
        "/v1/chat",
        "/v1/chat/completions",
        "/v1/models",
        "/v1/sources/{file}",
        "/v1/ingest",
    }
    assert client.get("/docs", headers=AUTH).status_code == 200


def test_streams__a_failure_midway_becomes_an_error_event() -> None:
    """After the 200 and the first events are sent, a failure can only be reported in the stream."""
    import asyncio

    from api.openai_compat import chunks
    from api.streaming import chat_events
    from rag.errors import StoreUnavailableError
    from rag.events import RetrievalEvent

    async def failing() -> Any:
        yield RetrievalEvent((), standalone_question="q")
        raise StoreUnavailableError("Cannot reach the Chroma server at /srv/chroma/data.")

    async def collect(stream: Any) -> list[Any]:
        return [item async for item in stream]

    events = asyncio.run(collect(chat_events(failing())))
    assert [e.event for e in events] == ["retrieval", "error"]
    error = json.loads(events[-1].data)["error"]
    assert error["code"] == "store_unavailable" and "/srv" not in error["message"]
    lines = [item["data"] for item in asyncio.run(collect(chunks(failing(), "chatcmpl-x")))]
    assert json.loads(lines[-2])["error"]["code"] == "store_unavailable" and lines[-1] == "[DONE]"
