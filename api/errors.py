"""Every failure as JSON `{"error": {"code", "message"}}` with the right status, and never a stack
trace or a file-system path in a response."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorDetail, ErrorOut
from rag.errors import DeadlineError, RagError, RefusedError

log = logging.getLogger("api")

# Status of each domain error, by its `code`; anything else is a server fault (500).
STATUS_BY_CODE: dict[str, int] = {
    "invalid_question": 422,
    "corpus_error": 404,
    "index_not_ready": 503,
    "store_unavailable": 503,
    "embedding_model_mismatch": 503,
    "ingest_locked": 409,
    "not_found": 404,  # a saved conversation or answer the caller does not have
    "history_unavailable": 503,
    "overloaded": 503,  # the gate's queue is full (with Retry-After)
    "rate_limited": 429,  # with Retry-After
    "timeout": 504,
}

HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    431: "headers_too_large",
    503: "overloaded",
}

# Absolute paths (two segments or more) and Windows drive paths: a client never needs to see them.
_PATH = re.compile(r"(?<![\w:/.])(?:[A-Za-z]:\\[^\s'\"]*|/(?:[\w.~+-]+/)+[\w.~+-]*)")


class ApiError(Exception):
    """An error the HTTP layer raises itself, with its status, code and message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def scrub(message: str) -> str:
    """The message without file-system paths (a domain error may name the index directory)."""
    return _PATH.sub("<path>", message)


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON of every error, the `ErrorOut` the OpenAPI document shows."""
    return ErrorOut(error=ErrorDetail(code=code, message=scrub(message))).model_dump()


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=dict(headers or {}))


def rag_error_status(exc: RagError) -> int:
    return STATUS_BY_CODE.get(exc.code, 500)


def describe_validation(exc: RequestValidationError) -> str:
    """One line naming each invalid field, without echoing the (possibly huge) input."""
    parts = []
    for error in exc.errors()[:5]:
        if error.get("type") == "json_invalid":
            return "The request body is not valid JSON."
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts) if parts else "Invalid request."


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _on_rag_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagError)
    status = rag_error_status(exc)
    if isinstance(exc, RefusedError):  # asked again later, not a fault
        return error_response(status, exc.code, str(exc), {"Retry-After": str(exc.retry_after)})
    if status >= 500 and not isinstance(exc, DeadlineError):  # the gate logs a deadline itself
        log.error("%s on %s %s: %s", exc.code, request.method, request.url.path, exc)
    return error_response(status, exc.code, str(exc))


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", describe_validation(exc))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "Internal error: the server log has the details.")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the same JSON shape."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RagError, _on_rag_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
