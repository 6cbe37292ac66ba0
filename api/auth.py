"""API keys: Bearer keys for `/v1/*` (and the API docs) once any key is configured, checked before a
body is read; the admin key for ingest; a warning for keys too short to resist guessing."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import ApiError, error_body

log = logging.getLogger("api")
MIN_KEY_CHARS = 16
KEY_REQUIRED = "An API key is required: send `Authorization: Bearer <key>`."
KEY_INVALID = "This API key is not valid."

_bearer = HTTPBearer(auto_error=False, description="An API key (RAG_API_KEYS) or the admin key.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _matches(key: str, allowed: Sequence[str]) -> bool:
    # Every key compared (sum goes on after a match, unlike any), in constant time: timing tells nothing.
    return sum(secrets.compare_digest(key.encode(), candidate.encode()) for candidate in allowed) > 0


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def _presented(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized(KEY_REQUIRED)
    return credentials.credentials


def key_checker(api_keys: Sequence[str], admin_key: str) -> Callable[..., None]:
    """Dependency for `/v1/*`: open when no key at all is configured, else any API key or the admin key."""
    allowed = [k for k in (*api_keys, admin_key) if k]

    def require_key(credentials: Bearer) -> None:
        if not allowed:
            return
        if not _matches(_presented(credentials), allowed):
            raise _unauthorized(KEY_INVALID)

    return require_key


def admin_checker(api_keys: Sequence[str], admin_key: str) -> Callable[..., None]:
    """Dependency for ingest: 403 when no admin key is configured, 401 without a valid key,
    403 for a valid key without admin rights."""
    users = [k for k in api_keys if k and k != admin_key]

    def require_admin(credentials: Bearer) -> None:
        if not admin_key:
            message = "Ingest over HTTP is disabled: no admin key is configured (RAG_ADMIN_KEY)."
            raise ApiError(403, "ingest_disabled", message)
        key = _presented(credentials)
        if _matches(key, [admin_key]):
            return
        if _matches(key, users):
            raise ApiError(403, "forbidden", "This API key has no admin rights: ingest needs the admin key.")
        raise _unauthorized(KEY_INVALID)

    return require_admin


def any_key_configured(api_keys: Sequence[str], admin_key: str) -> bool:
    """Whether `/v1/*` asks for a key (what `rag serve` checks before listening beyond loopback)."""
    return any(api_keys) or bool(admin_key)


def warn_short_keys(api_keys: Sequence[str], admin_key: str) -> list[str]:
    """Log a warning for each configured key shorter than 16 characters (guessable); return them."""
    short = [k for k in (*api_keys, admin_key) if k and len(k) < MIN_KEY_CHARS]
    for key in short:
        which = "RAG_ADMIN_KEY" if key == admin_key else "a key of RAG_API_KEYS"
        log.warning(
            "%s has %d characters: use at least %d random ones (e.g. `openssl rand -hex 24`)",
            which,
            len(key),
            MIN_KEY_CHARS,
        )
    return short


class KeyFirst:
    """Pure ASGI: a request under `prefixes` without a valid key is answered 401 before its body is
    read, so nobody without a key makes the server buffer an upload. The routes' own dependencies
    check again (and tell an API key from the admin key); this only turns away the keyless early."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: Sequence[str],
        prefixes: tuple[str, ...],
        routes: Sequence[BaseRoute] = (),
    ) -> None:
        self.app = app
        self.keys = [k for k in keys if k]
        self.prefixes = prefixes
        self.routes = routes  # to name the route refused in the metrics and the log, as routing would

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        scheme, key = get_authorization_scheme_param(Headers(scope=scope).get("authorization"))
        presented = scheme.lower() == "bearer" and bool(key)
        if presented and _matches(key, self.keys):
            await self.app(scope, receive, send)
            return
        message = KEY_INVALID if presented else KEY_REQUIRED
        _note_route(scope, self.routes)
        headers = {"WWW-Authenticate": "Bearer", "connection": "close"}  # its body is never read
        await JSONResponse(error_body("unauthorized", message), status_code=401, headers=headers)(
            scope, receive, send
        )


def _note_route(scope: Scope, routes: Sequence[BaseRoute]) -> None:
    """Note in `scope` the route `routes` would have run, as routing does, so the request log and the
    metrics name the route of a request refused before routing (`api.observe.route_of` reads it)."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)  # FastAPI's included routers
        for candidate in contexts() if callable(contexts) else (route,):
            regex = getattr(candidate, "path_regex", None)
            if regex is not None and regex.match(scope["path"]):
                if candidate is route:
                    scope["route"] = route
                else:
                    scope.setdefault("fastapi", {})["effective_route_context"] = candidate
                return
