"""API keys: Bearer keys for `/v1/*` once any key is configured; the admin key for ingest."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="An API key (RAG_API_KEYS) or the admin key.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _matches(key: str, allowed: Sequence[str]) -> bool:
    # Every key compared (sum goes on after a match, unlike any), in constant time: timing tells nothing.
    return sum(secrets.compare_digest(key.encode(), candidate.encode()) for candidate in allowed) > 0


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def _presented(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized("An API key is required: send `Authorization: Bearer <key>`.")
    return credentials.credentials


def key_checker(api_keys: Sequence[str], admin_key: str) -> Callable[..., None]:
    """Dependency for `/v1/*`: open when no key at all is configured, else any API key or the admin key."""
    allowed = [k for k in (*api_keys, admin_key) if k]

    def require_key(credentials: Bearer) -> None:
        if not allowed:
            return
        if not _matches(_presented(credentials), allowed):
            raise _unauthorized("This API key is not valid.")

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
        raise _unauthorized("This API key is not valid.")

    return require_admin


def any_key_configured(api_keys: Sequence[str], admin_key: str) -> bool:
    """Whether `/v1/*` asks for a key (what `rag serve` checks before listening beyond loopback)."""
    return any(api_keys) or bool(admin_key)


def is_loopback(host: str) -> bool:
    """Whether an address (or `localhost`) is this machine's own."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
