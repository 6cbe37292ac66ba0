"""Limits over real HTTP, with uvicorn configured as `rag serve` configures it: conversation and
answer sizes, the per-request deadline (504), the bounded queue (503 with Retry-After), the rate
limit per key (429), clients that send slowly or too much, and headers that name no software; and
what a hostile client without a key tried (issue 12): huge bodies on any path, keys checked before
bodies, the chat's routes behind its login, streams per address, failed logins, the docs, framing,
odd source names.

A slow engine comes from a real OpenAI-compatible server on 127.0.0.1 that answers late."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from api.auth import _matches
from cli.serve import build_app, uvicorn_config
from rag.compose import build_engine, build_server_config
from rag.engine import Engine
from rag.settings import Settings
from tests.conftest import ROOT, api_app
from tests.live_server import live_server, sse_events
from tests.test_api import LEIKE, assert_error

pytestmark = pytest.mark.server

AMAZON = "Combien Amazon a-t-il investi dans Anthropic ?"
LEAKS = ("uvicorn", "starlette", "python", "Traceback", "site-packages", "/tmp")


# -- servers --------------------------------------------------------------------------------------
@contextmanager
def served(
    engine: Engine, settings: Settings, *, chat: bool = False, **overrides: Any
) -> Iterator[httpx.Client]:
    """An engine on `engine`'s embedder and store, built from `settings` with these overrides, behind
    the app (with `chat`, the whole app of `rag serve`, the chat at /ui) and the uvicorn
    configuration of `rag serve`."""
    settings = settings.model_copy(update=overrides)
    engine = build_engine(settings, embedder=engine.embedder, store=engine.store)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = build_app(engine, settings) if chat else api_app(engine, settings)
    config = uvicorn_config(app, build_server_config(settings), "127.0.0.1", port, log_level="warning")
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
            # The slot comes back when the abandoned call ends (2.5 s of LLM, then verification): on a
            # loaded machine that varies, so wait for it, bounded; a slot that never comes back fails.
            until = time.monotonic() + 20
            while True:
                with client.stream("POST", "/v1/chat", json=chat) as response:
                    if response.status_code == 504 and time.monotonic() < until:
                        response.read()
                        time.sleep(0.5)
                        continue
                    assert response.status_code == 200  # retrieval done in time: the stream has begun
                    events = list(sse_events(response))
                    break
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


# -- hostile clients without a key (issue 12) ------------------------------------------------------
CHAT_KEY = "chat-key-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {CHAT_KEY}"}
FRAMING = ("x-frame-options", "content-security-policy")


@pytest.fixture(scope="module")
def keyed_chat(engine: Engine, engine_settings: Settings) -> Iterator[httpx.Client]:
    """The whole app of `rag serve` (API and chat) behind a key, with few connections (32) and few
    failed logins (5 a minute) allowed, so attacks are small. Each test attacks from its own address
    (X-Forwarded-For, which uvicorn trusts from 127.0.0.1): the counts are per address."""
    with served(
        engine,
        engine_settings,
        chat=True,
        api_keys=[CHAT_KEY],
        max_connections=32,
        login_failures=5,
        login_failure_window_s=60,
    ) as client:
        yield client


def from_address(address: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, **headers}


def chat_login(client: httpx.Client, address: str) -> str:
    """Log in to the chat from `address`; the Cookie header that proves it."""
    response = client.post(
        "/ui/login", data={"username": "me", "password": CHAT_KEY}, headers=from_address(address)
    )
    assert response.status_code == 200, response.text
    client.cookies.clear()  # the test client itself stays logged out
    return "; ".join(f"{name}={value}" for name, value in response.cookies.items())


def status_of(sock: socket.socket) -> int:
    """The status of the answer arriving on `sock` (0: none within the socket's timeout)."""
    head = b""
    try:
        while b"\r\n" not in head and (chunk := sock.recv(4096)):
            head += chunk
    except TimeoutError:
        return 0
    return int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0


def request(base_url: str, head: str, body: bytes = b"", timeout: float = 10) -> socket.socket:
    """A socket that sent `head` (request line and headers, without the blank line) and `body`."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.sendall(head.encode() + b"\r\nHost: x\r\n\r\n" + body)
    return sock


def test_body_limit__on_the_chat_a_huge_body_is_413_before_it_is_read(keyed_chat: httpx.Client) -> None:
    """Gradio's queue buffers a body whole: 300 MB took 0.6 GB of memory. Now the declared size is
    refused at once, and a chunked body as soon as it passes 1 MiB (RAG_MAX_BODY_BYTES)."""
    url, cookie = str(keyed_chat.base_url), chat_login(keyed_chat, "203.0.113.30")
    join = "POST /ui/gradio_api/queue/join HTTP/1.1\r\nContent-Type: application/json\r\nCookie: " + cookie
    with request(url, join + "\r\nContent-Length: 300000000", b"{" + b" " * 65536, timeout=5) as sock:
        assert status_of(sock) == 413  # 64 KiB of 300 MB sent: answered without the rest
    with request(url, join + "\r\nTransfer-Encoding: chunked") as sock:
        chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
        with contextlib.suppress(OSError):  # the server may close before the last chunks are sent
            for _ in range(32):  # 2 MiB, then the end of the body
                sock.sendall(chunk)
            sock.sendall(b"0\r\n\r\n")
        assert status_of(sock) == 413
    anonymous = "POST /ui/gradio_api/queue/join HTTP/1.1\r\nContent-Length: 300000000"
    with request(url, anonymous, b"{", timeout=5) as sock:
        assert status_of(sock) == 401  # without the login, refused before the body too


def test_keys__checked_before_the_body_is_read(engine: Engine, engine_settings: Settings) -> None:
    """A 9 MB upload with a wrong key was read whole before its 401; now it is refused at once."""
    with served(engine, engine_settings, api_keys=["k" * 20], admin_key="a" * 20) as client:
        url = str(client.base_url)
        for key in ("wrong", ""):
            head = f"POST /v1/ingest HTTP/1.1\r\nAuthorization: Bearer {key}\r\nContent-Length: 9000000"
            with request(url, head, b"x" * 1024, timeout=5) as sock:  # 1 KiB of 9 MB
                assert status_of(sock) == 401
        head = "POST /v1/ask HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 500000"
        with request(url, head, b'{"question": "', timeout=5) as sock:
            assert status_of(sock) == 401
        assert client.get("/v1/models", headers={"Authorization": "Bearer " + "k" * 20}).status_code == 200


def test_chat__every_route_but_the_login_page_needs_the_login(keyed_chat: httpx.Client) -> None:
    address = "203.0.113.31"
    page = keyed_chat.get("/ui/", headers=from_address(address))
    assert page.status_code == 200
    assets = sorted(set(re.findall(r"\./(assets/[\w.-]+\.(?:js|css))", page.text)))
    assert assets and all(keyed_chat.get("/ui/" + a).status_code == 200 for a in assets)
    assert keyed_chat.get("/ui/theme.css").status_code == 200
    closed = [
        ("GET", "/ui/gradio_api/heartbeat/probe"),
        ("GET", "/ui/gradio_api/queue/data?session_hash=probe"),
        ("POST", "/ui/gradio_api/queue/join"),
        ("POST", "/ui/gradio_api/reset"),
        ("POST", "/ui/gradio_api/cancel"),
        ("POST", "/ui/gradio_api/upload"),
        ("GET", "/ui/gradio_api/info"),
        ("GET", "/ui/config"),
        ("GET", "/ui/gradio_api/startup-events"),
        ("GET", "/ui/manifest.json"),
        ("POST", "/ui/gradio_api/stream/probe"),
    ]
    for method, path in closed:
        with keyed_chat.stream(method, path, headers=from_address(address), timeout=5) as response:
            assert response.status_code == 401, (method, path, response.status_code)
    cookie = chat_login(keyed_chat, address)
    with keyed_chat.stream(
        "GET", "/ui/gradio_api/heartbeat/probe", headers=from_address(address, Cookie=cookie), timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
    assert keyed_chat.get("/ui/config", headers={"Cookie": cookie}).status_code == 200


def test_streams__capped_per_address_and_the_service_keeps_answering(keyed_chat: httpx.Client) -> None:
    """515 heartbeats without login held every connection (503 for all). With 32 connections: 40
    heartbeats without login are 401s, and 40 with it hold 16 (RAG_MAX_STREAMS_PER_CLIENT), the
    rest 429; meanwhile /healthz and a keyed /v1/models still answer."""
    url, address = str(keyed_chat.base_url), "203.0.113.32"
    cookie = chat_login(keyed_chat, address)
    for who, extra in (("anonymous", ""), ("logged-in", f"\r\nCookie: {cookie}")):
        socks = []
        try:
            for i in range(40):
                head = f"GET /ui/gradio_api/heartbeat/{who}{i} HTTP/1.1\r\nX-Forwarded-For: {address}{extra}"
                socks.append(request(url, head))
            statuses = sorted(status_of(sock) for sock in socks)  # the server takes them in any order
            expected = [401] * 40 if who == "anonymous" else [200] * 16 + [429] * 24
            assert statuses == expected, (who, statuses)
            assert keyed_chat.get("/healthz").status_code == 200
            for headers in (BEARER, from_address(address, **BEARER)):
                assert keyed_chat.get("/v1/models", headers=headers).status_code == 200
        finally:
            for sock in socks:
                sock.close()
    deadline = time.monotonic() + 10  # the streams closed: their places come back
    while True:
        head = (
            f"GET /ui/gradio_api/heartbeat/again HTTP/1.1\r\nX-Forwarded-For: {address}\r\nCookie: {cookie}"
        )
        with request(url, head) as sock:
            if status_of(sock) == 200:
                break
        assert time.monotonic() < deadline, "closed streams still count"
        time.sleep(0.2)


def test_streams__without_keys_this_machine_s_own_clients_are_exempt(
    engine: Engine, engine_settings: Settings
) -> None:
    """A server without keys listens on loopback only: its own clients (bench/load.py's 32 streams)
    are not capped, as for the rate limit; the addresses a local proxy forwards still are."""
    with served(engine, engine_settings, chat=True, max_streams_per_client=4) as client:
        url, statuses = str(client.base_url), {}
        for who, extra in (("local", ""), ("forwarded", "\r\nX-Forwarded-For: 203.0.113.37")):
            socks = [request(url, f"GET /ui/gradio_api/heartbeat/{who}{i} HTTP/1.1{extra}") for i in range(8)]
            try:
                statuses[who] = sorted(status_of(sock) for sock in socks)  # taken in any order
            finally:
                for sock in socks:
                    sock.close()
    assert statuses == {"local": [200] * 8, "forwarded": [200] * 4 + [429] * 4}, statuses


def test_failed_logins__slowed_per_address_with_retry_after(keyed_chat: httpx.Client) -> None:
    """150 wrong keys were 150 401s. Now 5 failures a minute (RAG_LOGIN_FAILURES) per address, Bearer
    keys and chat passwords counted together, then 429 with Retry-After even for the right key;
    other addresses are served."""
    wrong = from_address("203.0.113.33", Authorization="Bearer wrong-key-guess")
    assert [keyed_chat.get("/v1/models", headers=wrong).status_code for _ in range(5)] == [401] * 5
    limited = keyed_chat.get("/v1/models", headers=wrong)
    assert_error(limited, 429, "too_many_failures")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    right = from_address("203.0.113.33", **BEARER)
    assert keyed_chat.get("/v1/models", headers=right).status_code == 429
    assert keyed_chat.get("/v1/models", headers=from_address("203.0.113.34", **BEARER)).status_code == 200

    guess = {"username": "me", "password": "wrong-password"}
    chat = from_address("203.0.113.35")
    assert [keyed_chat.post("/ui/login", data=guess, headers=chat).status_code for _ in range(3)] == [400] * 3
    both = from_address("203.0.113.35", Authorization="Bearer wrong-key-guess")
    assert [keyed_chat.get("/v1/models", headers=both).status_code for _ in range(2)] == [401] * 2
    refused = keyed_chat.post("/ui/login", data={"username": "me", "password": CHAT_KEY}, headers=chat)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "access-token" not in refused.headers.get("set-cookie", "")


def test_keys__shorter_than_16_characters_are_warned_at_start(
    engine: Engine,
    engine_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="api"),
        served(
            engine, engine_settings, api_keys=["short-key", "long-enough-key-0123"], admin_key="adm"
        ) as client,
    ):
        assert client.get("/healthz").status_code == 200
    warned = [r.getMessage() for r in caplog.records if "characters" in r.getMessage()]
    assert len(warned) == 2 and "9 characters" in warned[0] and "RAG_ADMIN_KEY" in warned[1], warned
    assert not any("long-enough" in w or "short-key" in w for w in warned)  # keys never logged


def test_chat_login__compares_every_key_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the API does: secrets.compare_digest against every key, no early exit on a match."""
    from ui.history import Logins

    calls: list[bytes] = []

    def compare(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return a == b

    monkeypatch.setattr(secrets, "compare_digest", compare)
    keys = ["first-key-000000000", "second-key-00000000", "third-key-000000000"]
    logins = Logins(keys)
    assert logins("me", "first-key-000000000") and not logins("me", "guess")
    assert len(calls) == 6
    calls.clear()
    assert _matches("first-key-000000000", keys) and not _matches("guess", keys)  # the API's check
    assert len(calls) == 6


def test_connections__beyond_the_limit_are_503(engine: Engine, engine_settings: Settings) -> None:
    """RAG_MAX_CONNECTIONS: 8 clients holding a request open (a body that never comes) take every
    connection; the next request is a 503, and is served again once they have gone."""
    with served(engine, engine_settings, max_connections=8, request_timeout_s=30) as client:
        url = str(client.base_url)
        head = "POST /v1/ask HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100"
        holders = [request(url, head, b'{"question": ') for _ in range(8)]
        try:
            time.sleep(0.5)
            assert client.get("/healthz").status_code == 503
        finally:
            for sock in holders:
                sock.close()
        deadline = time.monotonic() + 10
        while client.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "connections closed by their clients still count"
            time.sleep(0.2)


def test_security_doc__names_the_chroma_server_advisory_for_the_pinned_version() -> None:
    """SECURITY.md names CVE-2026-45829 for the chromadb version the lock pins: upgrading chromadb
    fails this test until someone has checked whether the advisory still applies."""
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = re.search(r"^chromadb==([\w.]+)", lock, re.MULTILINE)
    doc = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert pinned and "CVE-2026-45829" in doc and f"chromadb {pinned.group(1)}" in doc
    assert "loopback" in doc and "token" in doc.lower()


def test_docs__behind_the_key_unless_made_public(engine: Engine, engine_settings: Settings) -> None:
    docs = ("/docs", "/redoc", "/openapi.json")
    with served(engine, engine_settings, api_keys=["k" * 20]) as client:
        for path in docs:
            assert_error(client.get(path), 401, "unauthorized")
            assert client.get(path, headers={"Authorization": "Bearer " + "k" * 20}).status_code == 200
    with served(engine, engine_settings, api_keys=["k" * 20], public_docs=True) as client:
        assert [client.get(path).status_code for path in docs] == [200] * 3


def test_headers__the_chat_cannot_be_framed_by_another_site(keyed_chat: httpx.Client) -> None:
    responses = [
        keyed_chat.get("/ui/"),
        keyed_chat.get("/ui/theme.css"),
        keyed_chat.get("/ui/gradio_api/info"),  # a 401 without the login
        keyed_chat.get("/docs", headers=BEARER),
        keyed_chat.get("/ui/", headers={"Cookie": chat_login(keyed_chat, "203.0.113.36")}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 200, 200]
    for response in responses:
        assert response.headers["x-frame-options"] == "DENY", response.url
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], response.url


@pytest.mark.parametrize(
    "name",
    [
        "a" * 300 + ".txt",
        "a" * 5000 + ".txt",
        "/".join(["a" * 200] * 30) + ".txt",
        "é" * 200 + ".txt",
        "x%00y.txt",
        "%00",
        "%ff%fe%fd.txt",
        "a%0a%0db.txt",
        "..%2f..%2fetc%2fpasswd",
    ],
)
def test_sources__bad_names_are_the_same_404_as_an_unknown_one(default: httpx.Client, name: str) -> None:
    """A 300-character name was a 500 (the file system's "file name too long") with a traceback."""
    unknown = assert_error(default.get("/v1/sources/no-such-article.txt"), 404, "not_found")
    error = assert_error(default.get("/v1/sources/" + quote(name, safe="/%")), 404, "not_found")
    assert error == unknown or "\n" in unquote(name)  # a line break never reaches the route: routing's 404
