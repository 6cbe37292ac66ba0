"""Per client address: failed logins slowed (429 with Retry-After after too many), and a cap on the
event streams one address holds open (429 beyond); `FrontEnd`, what the app knows of a front end
mounted beside the API (the chat): its login and upload routes, and the middleware of its login."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from rag.admission import is_loopback


@dataclass(frozen=True)
class FrontEnd:
    """A front end mounted on the app: where its login form posts (failures there count as failed
    logins), where it uploads (the upload size limit applies there), and `guards`, middlewares that
    run inside the security headers and the request log (the front end's own login check)."""

    login_paths: tuple[str, ...] = ()
    upload_paths: tuple[str, ...] = ()
    guards: Sequence[Middleware] = ()


def client_address(scope: Scope) -> str:
    """The client's address, the one a local proxy forwards in X-Forwarded-For (uvicorn trusts it
    from 127.0.0.1)."""
    client = scope.get("client")
    return str(client[0]) if client else ""


async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str, **headers: str) -> None:
    # The connection closes too: a refused client keeps no idle connection of the server's.
    response = JSONResponse(
        error_body(code, message), status_code=status, headers={**headers, "connection": "close"}
    )

    async def no_body() -> Message:  # the refusal never reads the request's body
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


class FailedLogins:
    """At most `attempts` failed logins per client address within `window_s` seconds (a moving
    window, by the `limits` library); beyond, every login attempt from that address (a request with
    an `Authorization` header, a post to a login path) is a 429 with Retry-After until the window
    frees. A failure is a 401 to a request that presented a key, or a 4xx from a login path."""

    def __init__(self, app: ASGIApp, *, attempts: int, window_s: int, login_paths: tuple[str, ...]) -> None:
        self.app = app
        self.attempts = attempts
        self.window = RateLimitItemPerSecond(max(1, attempts), window_s)
        self.login_paths = login_paths
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        login = scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.login_paths
        keyed = scope["type"] == "http" and "authorization" in Headers(scope=scope)
        if self.attempts <= 0 or not (login or keyed):
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        if not self._limiter.test(self.window, address):
            reset = self._limiter.get_window_stats(self.window, address).reset_time
            retry_after = str(max(1, math.ceil(reset - time.time())))
            message = f"Too many failed logins from this address: try again in {retry_after} s."
            await _refuse(scope, send, 429, "too_many_failures", message, **{"Retry-After": retry_after})
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if status == 401 or (login and 400 <= status < 500):
                self._limiter.hit(self.window, address)


class StreamCap:
    """At most `per_client` event streams (`text/event-stream` responses: the chat's heartbeats and
    updates, streamed answers) open at once per client address; beyond, the stream is answered 429
    instead of starting and its route is stopped as if its client had left. One address cannot hold
    the server's connections; many addresses are the proxy's to cap (SECURITY.md). With
    `exempt_loopback` (a server without keys, which listens on loopback only), this machine's own
    clients are not counted, as for the rate limit: they are its operator's."""

    def __init__(self, app: ASGIApp, *, per_client: int, exempt_loopback: bool = False) -> None:
        self.app = app
        self.per_client = per_client
        self.exempt_loopback = exempt_loopback
        self.open: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        address = client_address(scope)
        if scope["type"] != "http" or (self.exempt_loopback and is_loopback(address)):
            await self.app(scope, receive, send)
            return
        counted = refused = False

        async def capped(message: Message) -> None:
            nonlocal counted, refused
            if refused:
                raise OSError("stream refused")  # what a send to a client gone raises: the route stops
            if message["type"] == "http.response.start" and _is_stream(message):
                if self.open[address] >= self.per_client:
                    refused = True
                    text = f"At most {self.per_client} open streams per client address: close one first."
                    await _refuse(scope, send, 429, "too_many_streams", text, **{"Retry-After": "5"})
                    raise OSError("stream refused")
                self.open[address] += 1
                counted = True
            await send(message)

        try:
            await self.app(scope, receive, capped)
        except (OSError, ClientDisconnect):
            if not refused:
                raise
        finally:
            if counted:
                self.open[address] -= 1
                if self.open[address] <= 0:
                    del self.open[address]


def _is_stream(message: Message) -> bool:
    content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
    return content_type.startswith("text/event-stream")
