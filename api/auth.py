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
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _matches(key: str, allowed: Sequence[str]) -> bool:
    # Compare with every key, in constant time, so timing says nothing about which almost matched.
    found = False
    for candidate in allowed:
        found |= secrets.compare_digest(key.encode(), candidate.encode())
    return found


def _presented(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(
            401, "unauthorized", "An API key is required: send `Authorization: Bearer <key>`.",
            headers=_CHALLENGE,
        )
    return credentials.credentials


def key_checker(api_keys: Sequence[str], admin_key: str) -> Callable[..., None]:
    """Dependency for `/v1/*`: open when no key at all is configured, else any API key or the admin key."""
    allowed = [k for k in (*api_keys, admin_key) if k]

    def require_key(credentials: Bearer) -> None:
        if not allowed:
            return
        if not _matches(_presented(credentials), allowed):
            raise ApiError(401, "unauthorized", "This API key is not valid.", headers=_CHALLENGE)

    return require_key


def admin_checker(api_keys: Sequence[str], admin_key: str) -> Callable[..., None]:
    """Dependency for ingest: 403 when no admin key is configured, 401 without a valid key,
    403 for a valid key without admin rights."""
    users = [k for k in api_keys if k and k != admin_key]

    def require_admin(credentials: Bearer) -> None:
        if not admin_key:
            raise ApiError(
                403, "ingest_disabled",
                "Ingest over HTTP is disabled: no admin key is configured (RAG_ADMIN_KEY).",
            )
        key = _presented(credentials)
        if _matches(key, [admin_key]):
            return
        if _matches(key, users):
            raise ApiError(403, "forbidden", "This API key has no admin rights: ingest needs the admin key.")
        raise ApiError(401, "unauthorized", "This API key is not valid.", headers=_CHALLENGE)

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
