"""What the HTTP app tells its operator: one JSON log line and the metrics of every request (with a
request id sent back as `X-Request-ID`), and `GET /metrics` in the Prometheus text format."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import error_responses
from rag.events import DoneEvent, Event
from rag.telemetry.logs import REQUEST_LOG
from rag.telemetry.metrics import HTTP_REQUESTS, HTTP_SECONDS, exposition
from rag.types import Answer

REQUEST_ID = "X-Request-ID"
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a caller's own id is kept only if it is this plain
_FIELDS = "rag.log"


def note(request: Request, **fields: Any) -> None:
    """Add fields to the request's log line (a question only reaches it where the settings allow)."""
    request.scope.setdefault("state", {}).setdefault(_FIELDS, {}).update(fields)


def note_answer(request: Request, answer: Answer) -> None:
    note(
        request,
        answerer=answer.answerer,
        refused=answer.refused,
        degraded=answer.degraded,
        citations=len(answer.citations),
    )


async def noting(events: AsyncIterator[Event], request: Request) -> AsyncIterator[Event]:
    """A stream's events, its finished answer noted for the request's log line."""
    async for event in events:
        if isinstance(event, DoneEvent):
            note_answer(request, event.answer)
        yield event


def route_of(scope: Scope) -> str:
    """The route template that answered (never the raw path: ids would explode the label's values)."""
    # FastAPI keeps an included router's route with its prefix here (scope["route"] lacks the prefix).
    context = scope.get("fastapi", {}).get("effective_route_context")
    route = scope.get("route")
    path = getattr(context, "path_format", None) or getattr(route, "path", None)
    if isinstance(route, Mount) and context is None:
        return route.path or "/"
    if not isinstance(path, str):
        return "unmatched"
    mounted = str(scope.get("root_path", ""))  # a route of an app mounted inside (the chat at /ui)
    return mounted.removeprefix(str(scope.get("app_root_path", ""))) + path or "/"


class RequestLog:
    """Outermost ASGI middleware: request id, metrics and the log line, 413s and 429s included.
    A stream is logged when it ends, with the answer it carried."""

    def __init__(self, app: ASGIApp, *, log_questions: bool = False) -> None:
        self.app = app
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID, "")
        request_id = given if _ID.fullmatch(given) else uuid.uuid4().hex
        fields: dict[str, Any] = {}
        scope.setdefault("state", {})[_FIELDS] = fields
        status, started = 500, time.perf_counter()  # 500 unless a response starts

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID] = request_id
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._record(scope, request_id, status, time.perf_counter() - started, fields)

    def _record(
        self, scope: Scope, request_id: str, status: int, seconds: float, fields: dict[str, Any]
    ) -> None:
        route, method = route_of(scope), str(scope.get("method", ""))
        HTTP_REQUESTS.labels(route, method, str(status)).inc()
        HTTP_SECONDS.labels(route, method).observe(seconds)
        if not self.log_questions:
            fields.pop("question", None)
        REQUEST_LOG.info(
            "%s %s %s",
            method,
            route,
            status,
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": round(seconds * 1000, 2),
                **fields,
            },
        )


def metrics_router(registry: CollectorRegistry, require_key: Callable[..., None]) -> APIRouter:
    """`GET /metrics`, behind the API keys when there are keys."""
    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics",
        dependencies=[Depends(require_key)],
        responses={200: {"content": {"text/plain": {}}}, **error_responses(401)},
        response_class=Response,
    )
    async def metrics() -> Response:
        """The service's metrics in the Prometheus text format."""
        body, content_type = await run_in_threadpool(exposition, registry)
        return Response(body, media_type=content_type)

    return router


__all__ = ["REQUEST_ID", "RequestLog", "metrics_router", "note", "note_answer", "noting", "route_of"]
