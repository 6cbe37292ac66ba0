"""Limits over real HTTP, with uvicorn configured as `rag serve` configures it: conversation and
answer sizes, the per-request deadline (504), the bounded queue (503 with Retry-After), the rate
limit per key (429), clients that send slowly or too much, and headers that name no software.

A slow engine comes from a real OpenAI-compatible server on 127.0.0.1 that answers late."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cli.serve import uvicorn_config
from rag.compose import build_engine, build_server_config
from rag.engine import Engine
from rag.settings import Settings
from tests.conftest import api_app
from tests.live_server import live_server, sse_events
from tests.test_api import LEIKE, assert_error

pytestmark = pytest.mark.server

AMAZON = "Combien Amazon a-t-il investi dans Anthropic ?"
LEAKS = ("uvicorn", "starlette", "python", "Traceback", "site-packages", "/tmp")


# -- servers --------------------------------------------------------------------------------------
@contextmanager
def served(engine: Engine, settings: Settings, **overrides: Any) -> Iterator[httpx.Client]:
    """An engine on `engine`'s embedder and store, built from `settings` with these overrides, behind
    the app and the uvicorn configuration of `rag serve`."""
    settings = settings.model_copy(update=overrides)
    engine = build_engine(settings, embedder=engine.embedder, store=engine.store)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn_config(
        api_app(engine, settings), build_server_config(settings), "127.0.0.1", port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def default(engine: Engine, engine_settings: Settings) -> Iterator[httpx.Client]:
    """The engine served with the default limits."""
    with served(engine, engine_settings) as client:
        yield client


@dataclass
class FakeLlm:
    """A real OpenAI-compatible endpoint: answers `reply` after `delay_s`, records every request."""

    reply: str
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def prompts(self) -> str:
        return json.dumps(self.requests, ensure_ascii=False)

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        await asyncio.sleep(self.delay_s)
        base = {"id": "chatcmpl-fake", "created": 0, "model": body.get("model", "fake")}
        if not body.get("stream"):
            return JSONResponse(
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": self.reply},
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            )

        async def chunks() -> AsyncIterator[str]:
            for piece in self.reply.split(" "):
                delta = {"index": 0, "delta": {"content": piece + " "}, "finish_reason": None}
                yield "data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [delta]})
                yield "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")


@contextmanager
def fake_llm(reply: str, delay_s: float = 0.0) -> Iterator[FakeLlm]:
    llm = FakeLlm(reply, delay_s)
    app = Starlette(routes=[Route("/v1/chat/completions", llm.completions, methods=["POST"])])
    with live_server(app) as url:
        llm.base_url = f"{url}/v1"
        yield llm


def generative(settings: Settings, llm: FakeLlm, **overrides: Any) -> Settings:
    """`settings` with an answerer that asks `llm`."""
    return settings.model_copy(
        update={
            "answerer": "openai",
            "llm_base_url": llm.base_url,
            "llm_model": "fake",
            "llm_timeout_s": 60.0,
            **overrides,
        }
    )


def raw(base_url: str, data: bytes, *, timeout: float = 30) -> bytes:
    """Send bytes on a plain socket, send nothing more, and read the whole answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


# -- conversations and answers --------------------------------------------------------------------
def test_chat__more_messages_or_characters_than_the_limits_is_422(
    engine: Engine,
    engine_settings: Settings,
) -> None:
    turns = [{"role": "user", "content": LEIKE}, {"role": "assistant", "content": "Il est parti."}] * 2
    with served(engine, engine_settings, max_chat_messages=3, max_chat_chars=400) as client:
        for path in ("/v1/chat", "/v1/chat/completions"):
            for stream in (False, True):
                body = {"messages": turns, "stream": stream}
                assert "4 messages" in assert_error(client.post(path, json=body), 422)["message"]
            long = [{"role": "user", "content": "Anthropic " * 50}]
            assert "characters" in assert_error(client.post(path, json={"messages": long}), 422)["message"]
            ok = client.post(path, json={"messages": turns[:1]})
            assert ok.status_code == 200, ok.text


def test_chat__a_conversation_without_a_user_message_is_422(default: httpx.Client) -> None:
    for path in ("/v1/chat", "/v1/chat/completions"):
        response = default.post(path, json={"messages": [{"role": "system", "content": "Sois bref."}]})
        assert "user message" in assert_error(response, 422, "invalid_question")["message"]


def test_answer__longer_than_the_limit_keeps_whole_cited_sentences(
    engine: Engine,
    engine_settings: Settings,
) -> None:
    with served(engine, engine_settings, max_answer_chars=200) as client:
        answer = client.post("/v1/ask", json={"question": LEIKE}).json()
        assert 0 < len(answer["answer"]) <= 200 and answer["citations"]
        numbers = {c["n"] for c in answer["citations"]}
        assert {n for s in answer["sentences"] for n in s["citations"]} == numbers
        with client.stream(
            "POST", "/v1/chat", json={"messages": [{"role": "user", "content": LEIKE}], "stream": True}
        ) as response:
            events = list(sse_events(response))
        deltas = "".join(data["text"] for kind, data in events if kind == "delta")
        assert deltas == events[-1][1]["answer"]["answer"] and len(deltas) <= 200
    full = engine.ask(LEIKE).answer
    assert len(full) > 200, "the question no longer has a long answer: pick another"


# -- deadline, queue, rate ------------------------------------------------------------------------
def test_deadline__a_request_past_it_is_504_and_its_slot_comes_back(
    engine: Engine,
    engine_settings: Settings,
) -> None:
    chat = {"stream": True, "messages": [{"role": "user", "content": AMAZON}]}
    with fake_llm("Amazon a investi 4 milliards de dollars dans Anthropic [1].", delay_s=2.5) as llm:
        slow = generative(engine_settings, llm)
        with served(engine, slow, request_timeout_s=1.0, max_concurrent=1) as client:
            started = time.monotonic()
            error = assert_error(client.post("/v1/ask", json={"question": AMAZON}), 504, "timeout")
            assert "1 s" in error["message"] and time.monotonic() - started < 2.4
            # The abandoned call still holds the only slot: waiting for it counts against the deadline.
            assert_error(client.post("/v1/chat", json=chat), 504, "timeout")
            time.sleep(3)
            with client.stream("POST", "/v1/chat", json=chat) as response:
                assert response.status_code == 200  # retrieval done in time: the stream has begun
                events = list(sse_events(response))
            assert events[0][0] == "retrieval" and events[-1] == ("error", {"error": error})
            llm.delay_s = 0
            time.sleep(3)  # the abandoned call finishes and gives its slot back
            answer = client.post("/v1/ask", json={"question": AMAZON})
            assert answer.status_code == 200 and "4 milliards" in answer.json()["answer"]


def test_queue__full_is_503_with_retry_after_and_queued_requests_are_served(
    engine: Engine,
    engine_settings: Settings,
) -> None:
    with fake_llm("Amazon a investi 4 milliards de dollars dans Anthropic [1].", delay_s=1.5) as llm:
        slow = generative(engine_settings, llm)
        with served(engine, slow, max_concurrent=1, max_queue=1, request_timeout_s=30) as client:
            results: list[int] = []

            def ask() -> None:
                results.append(client.post("/v1/ask", json={"question": AMAZON}).status_code)

            threads = [threading.Thread(target=ask) for _ in range(2)]  # one in flight, one queued
            for thread in threads:
                thread.start()
                time.sleep(0.3)
            refused = client.post(
                "/v1/chat/completions", json={"messages": [{"role": "user", "content": AMAZON}]}
            )
            error = assert_error(refused, 503, "overloaded")
            assert int(refused.headers["retry-after"]) >= 1 and "moment" in error["message"]
            for thread in threads:
                thread.join(timeout=30)
            assert results == [200, 200]
            assert client.post("/v1/ask", json={"question": AMAZON}).status_code == 200


def test_rate_limit__per_key_429_with_retry_after(engine: Engine, engine_settings: Settings) -> None:
    keys = {"one": {"Authorization": "Bearer k-one"}, "two": {"Authorization": "Bearer k-two"}}
    with served(
        engine,
        engine_settings,
        api_keys=["k-one", "k-two"],
        rate_limit_per_min=6,
        rate_limit_burst=2,
    ) as client:
        statuses = [client.get("/v1/models", headers=keys["one"]).status_code for _ in range(2)]
        limited = client.get("/v1/models", headers=keys["one"])
        assert statuses == [200, 200]
        assert_error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 10
        assert client.get("/v1/models", headers=keys["two"]).status_code == 200  # its own bucket
        assert_error(client.get("/v1/models", headers={"Authorization": "Bearer wrong"}), 401)


def test_rate_limit__per_client_address_without_keys_loopback_exempt(
    engine: Engine,
    engine_settings: Settings,
) -> None:
    """Without keys the server listens on loopback: its clients are limited by the address a local
    proxy forwards (uvicorn trusts X-Forwarded-For from 127.0.0.1), the machine itself is not."""
    first, second = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
    with served(engine, engine_settings, rate_limit_per_min=1, rate_limit_burst=1) as client:
        assert client.get("/v1/models", headers=first).status_code == 200
        assert_error(client.get("/v1/models", headers=first), 429, "rate_limited")
        assert client.get("/v1/models", headers=second).status_code == 200
        assert [client.get("/v1/models").status_code for _ in range(3)] == [200] * 3
        assert client.get("/healthz", headers=first).status_code == 200  # probes are never limited


# -- clients that send slowly, too much, or nonsense -----------------------------------------------
def test_slow_client__does_not_block_others_and_gets_408(engine: Engine, engine_settings: Settings) -> None:
    with served(engine, engine_settings, request_timeout_s=3.0) as client:
        url = str(client.base_url)
        head = (
            b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"question": "Pour'
        )
        slow: list[bytes] = []
        thread = threading.Thread(target=lambda: slow.append(raw(url, head)))  # 18 bytes of 100, no more
        thread.start()
        time.sleep(0.5)
        for _ in range(3):  # meanwhile, others are answered
            assert client.post("/v1/ask", json={"question": AMAZON}).status_code == 200
        assert not slow, "the slow client was answered before the others"
        thread.join(timeout=30)
        status_line, _, rest = slow[0].partition(b"\r\n")
        assert b" 408 " in status_line and b"request_timeout" in rest


def test_huge_headers__are_refused_and_the_server_keeps_serving(default: httpx.Client) -> None:
    url = str(default.base_url)
    answer = raw(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    assert answer.split(b" ")[1] in (b"400", b"431") and b"Traceback" not in answer
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
    answer = raw(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert answer.split(b" ")[1] in (b"400", b"431")
    assert default.get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/chat", "/v1/chat/completions"])
@pytest.mark.parametrize(
    "body",
    [
        b'{"messages": [',
        b"\xff\xfe{}",
        b'{"question": {"$gt": ""}, "messages": "all"}',
        b'{"messages": [{"role": "root", "content": "x"}]}',
        b'{"messages": [{"role": "user", "content": ["x", 1]}], "top_k": 1e9}',
        b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes please"}',
        b"[]",
        b"null",
    ],
)
def test_malformed_bodies__are_422_without_echo(default: httpx.Client, path: str, body: bytes) -> None:
    response = default.post(path, content=body, headers={"Content-Type": "application/json"})
    error = assert_error(response, 422)
    assert "$gt" not in error["message"] and "root" not in error["message"]


# -- what responses say about the server -----------------------------------------------------------
def test_headers__name_no_software_and_forbid_sniffing_and_framing(
    engine: Engine,
    engine_settings: Settings,
) -> None:
    with served(engine, engine_settings, max_body_bytes=2048, api_keys=["k"]) as client:
        auth = {"Authorization": "Bearer k"}
        responses = [
            client.get("/healthz"),
            client.get("/v1/models", headers=auth),
            client.get("/v1/nothing", headers=auth),
            client.get("/v1/models"),
            client.post("/v1/ask", json={"question": "x" * 5000}, headers=auth),
            client.post("/v1/ask", content=b"{", headers={**auth, "Content-Type": "application/json"}),
            client.delete("/v1/ask", headers=auth),
        ]
        assert [r.status_code for r in responses] == [200, 200, 404, 401, 413, 422, 405]
        for response in responses:
            assert "server" not in response.headers
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "default-src 'none'" in response.headers["content-security-policy"]
            assert response.headers["content-type"].startswith("application/json")
            assert not any(leak in response.text for leak in LEAKS), response.text
