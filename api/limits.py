"""Pure ASGI middlewares: request limits on every path (431 for oversized headers, 413 before a route
reads an oversized body, 408 for a body that comes too slowly) and the security headers of every
response."""

from __future__ import annotations

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body


class BodyLimit:
    """Read the body of every request up to a limit (a larger one for uploads), then replay it.

    Every path: the API's and the mounted chat's alike, so no route of either reads a body past the
    limit (Gradio's queue would buffer hundreds of MB). A declared Content-Length over the limit is a
    413 before a byte of the body is read; a chunked body is counted as it arrives, and buffering it
    is what makes the limit hold; at a few MiB at most it costs little. A body still incomplete after
    `timeout_s` is answered 408: a client that trickles its body in holds a connection, never a slot
    of the engine; the header limit holds everywhere too. By hand: neither Starlette nor uvicorn
    bound a body's size or the time it takes to arrive.
    """

    max_header_bytes = 32_768

    def __init__(
        self, app: ASGIApp, *, max_body: int, max_upload: int, upload_paths: tuple[str, ...], timeout_s: float
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_paths = upload_paths
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(len(k) + len(v) + 4 for k, v in scope["headers"]) > self.max_header_bytes:
            message = f"The request headers are larger than {self.max_header_bytes} bytes."
            await _refuse(scope, receive, send, 431, "headers_too_large", message)
            return
        limit = self.max_upload if scope["path"] in self.upload_paths else self.max_body
        declared = Headers(scope=scope).get("content-length", "")
        size = int(declared) if declared.isdigit() else 0  # the size declared, then the size received
        chunks: list[bytes] = []
        try:
            with anyio.fail_after(self.timeout_s):
                if size <= limit:
                    size = 0
                    async for chunk in Request(scope, receive).stream():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size > limit:
                            break
        except TimeoutError:
            message = f"The request body did not arrive within {self.timeout_s:g} s."
            await _refuse(scope, receive, send, 408, "request_timeout", message)
            return
        except ClientDisconnect:  # the client left before sending it all
            return
        if size > limit:
            message = f"The request body is larger than {limit} bytes."
            await _refuse(scope, receive, send, 413, "payload_too_large", message)
        else:
            await self.app(scope, _replay(b"".join(chunks), receive), send)


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


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str) -> None:
    response = JSONResponse(error_body(code, message), status_code=status, headers={"connection": "close"})
    await response(scope, receive, send)


FRAMING = {"x-frame-options": "DENY"}
"""Every response: no other site may frame the chat (clickjacking) or anything else."""
API_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}
PAGE_HEADERS = {"content-security-policy": "frame-ancestors 'none'"}


class SecurityHeaders:
    """`X-Content-Type-Options: nosniff` and `X-Frame-Options: DENY` on every response, so no browser
    reads a JSON answer or a source quoted from a hostile article as HTML, and no other site frames
    the chat. The API's own paths also forbid any active content; the docs and the chat load
    scripts, so their policy only forbids framing (`frame-ancestors 'none'`)."""

    api_paths = ("/v1/", "/healthz", "/readyz")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = API_HEADERS if scope["path"].startswith(self.api_paths) else PAGE_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append("x-content-type-options", "nosniff")
                for name, value in {**FRAMING, **extra}.items():
                    if name == "content-security-policy" and name in headers:
                        continue  # a route's own policy (none in this app today) is kept as it is
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
