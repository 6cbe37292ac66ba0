"""Pure ASGI middlewares: request limits (431 for oversized headers, 413 before a route reads an
oversized body, 408 for a body that comes too slowly) and the security headers of every response."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body


class BodyLimit:
    """Read the body of `/v1/*` requests up to a limit (a larger one for uploads), then replay it.

    Buffering is what makes the limit hold for chunked bodies too, which carry no Content-Length;
    at a few MiB at most it costs little. A body still incomplete after `timeout_s` is answered 408:
    a client that trickles its body in holds a connection, never a slot of the engine. Other paths
    (the mounted Gradio app) keep their own body rules; the header limit holds everywhere.
    """

    def __init__(
        self, app: ASGIApp, *, max_body: int, max_upload: int, upload_paths: tuple[str, ...] = (),
        prefix: str = "/v1/", timeout_s: float = 60.0, max_header_bytes: int = 32_768,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_paths = upload_paths
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (
            sum(len(k) + len(v) + 4 for k, v in scope.get("headers", [])) > self.max_header_bytes
        ):
            await _refuse(send, 431, "headers_too_large",
                          f"The request headers are larger than {self.max_header_bytes} bytes.")
            return
        if scope["type"] != "http" or not path.startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        limit = self.max_upload if path in self.upload_paths else self.max_body
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await _read(receive, limit)
        except TimeoutError:
            await _refuse(send, 408, "request_timeout",
                          f"The request body did not arrive within {self.timeout_s:g} s.")
            return
        if body is None:  # the client left before sending it all
            return
        if isinstance(body, int):
            await _too_large(send, limit)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read(receive: Receive, limit: int) -> bytes | int | None:
    """The whole body; its size so far once it passes `limit`; None if the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return size
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the buffered body over once, then waits on the real one (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, "payload_too_large", f"The request body is larger than {limit} bytes.")


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })
    await send({"type": "http.response.body", "body": body})


API_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """`X-Content-Type-Options: nosniff` on every response, so no browser reads a JSON answer or a
    source quoted from a hostile article as HTML; the API's own paths also forbid any active content
    and framing (the docs and the chat load scripts, so they keep their own rules)."""

    def __init__(self, app: ASGIApp, *, api_paths: tuple[str, ...] = ("/v1/", "/healthz", "/readyz")) -> None:
        self.app = app
        self.api_paths = api_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        strict = scope.get("path", "").startswith(self.api_paths)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
                if strict:
                    headers += API_HEADERS
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
