"""The chat's login on every one of its routes: `ChatLogin` knows Gradio's login cookie and the few
routes the login page needs; `LoginRequired` answers 401 to anything else under the chat's path
until the browser has logged in (Gradio itself leaves its heartbeat, streams and resets open)."""

from __future__ import annotations

import json

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC_PREFIXES = ("/assets/", "/static/")
"""The login page's scripts, styles and fonts: Gradio's own files, the same for everyone."""
PUBLIC_PAGES = ("", "/", "/theme.css", "/favicon.ico")
"""The page itself (Gradio shows the login form until the browser has logged in) and its theme."""
LOGIN_PAGES = ("/login", "/login/")


class ChatLogin:
    """Whether a request to the chat mounted at `path` comes from a browser that has logged in:
    Gradio's session cookie names one of its live tokens. `bind` once the chat is mounted."""

    def __init__(self, path: str) -> None:
        self.path = path.rstrip("/")
        self._gradio: object | None = None

    @property
    def login_paths(self) -> tuple[str, ...]:
        return tuple(self.path + page for page in LOGIN_PAGES)

    @property
    def upload_paths(self) -> tuple[str, ...]:
        return (f"{self.path}/gradio_api/upload", f"{self.path}/gradio_api/upload/")

    def bind(self, app: FastAPI) -> None:
        """Find the Gradio app mounted at this path on `app` (after `mount_chat`)."""
        mounted = [r.app for r in app.routes if isinstance(r, Mount) and r.path == self.path]
        if not mounted:
            raise ValueError(f"no chat is mounted at {self.path} on this app")
        self._gradio = mounted[0]

    def governs(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/")

    def is_public(self, method: str, path: str) -> bool:
        """The login page, its files, and the login form's post."""
        rest = path[len(self.path) :]
        if method == "POST":
            return rest in LOGIN_PAGES
        return method in ("GET", "HEAD") and (rest in PUBLIC_PAGES or rest.startswith(PUBLIC_PREFIXES))

    def logged_in(self, scope: Scope) -> bool:
        gradio = self._gradio
        if gradio is None:
            return False
        cookie_id, tokens = getattr(gradio, "cookie_id", None), getattr(gradio, "tokens", {})
        cookies = HTTPConnection(scope).cookies
        for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            token = cookies.get(name)
            if token and token in tokens:
                return True
        return False


class LoginRequired:
    """Pure ASGI: under the chat's path, only the login page and its files answer a browser that has
    not logged in; every other route (heartbeat, queue, uploads, files, config) is a 401 before it
    runs or reads a body."""

    def __init__(self, app: ASGIApp, *, login: ChatLogin) -> None:
        self.app = app
        self.login = login

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] not in ("http", "websocket")
            or not self.login.governs(path)
            or (scope["type"] == "http" and self.login.is_public(scope["method"], path))
            or self.login.logged_in(scope)
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": {"code": "login_required", "message": "Log in to the chat first."}})
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})
