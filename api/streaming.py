"""Engine event streams run off the event loop, and their Server-Sent Events for `/v1/chat`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from sse_starlette import EventSourceResponse, JSONServerSentEvent
from starlette.concurrency import iterate_in_threadpool

from api.errors import error_body
from rag.engine import Event
from rag.errors import RagError
from rag.types import Answer

log = logging.getLogger("api")


async def start_stream(events: Iterator[Event]) -> AsyncIterator[Event]:
    """Run the engine's stream in the threadpool, pulling its first event before returning.

    The first step validates the question and searches the index, so its errors (an empty
    question, an index not ready) still become a plain JSON error with its status, before
    any event is sent.
    """
    stream = iterate_in_threadpool(events)
    try:
        first = await anext(stream)
    except StopAsyncIteration:
        return _empty()
    return _chain(first, stream)


async def _empty() -> AsyncIterator[Event]:
    return
    yield  # pragma: no cover - makes this an async generator


async def _chain(first: Event, rest: AsyncIterator[Event]) -> AsyncIterator[Event]:
    yield first
    async for event in rest:
        yield event


def stream_error(exc: Exception) -> dict[str, Any]:
    """The error body for a failure after the stream started (the status is already sent)."""
    if isinstance(exc, RagError):
        return error_body(exc.code, str(exc))
    log.error("unexpected error while streaming", exc_info=exc)
    return error_body("internal_error", "Internal error: the server log has the details.")


def done_data(answer: Answer) -> dict[str, Any]:
    data = answer.to_dict()
    return {"refused": answer.refused, "timings_ms": data["timings_ms"], "answer": data}


async def chat_events(events: AsyncIterator[Event]) -> AsyncIterator[JSONServerSentEvent]:
    """Typed SSE events: retrieval, delta, citation, done, or error if the answer fails midway."""
    try:
        async for event in events:
            if event.type == "done":
                yield JSONServerSentEvent(done_data(event.data["answer"]), event="done")
            else:
                yield JSONServerSentEvent(event.data, event=event.type)
    except Exception as exc:  # noqa: BLE001 - the client must hear about it: status 200 is sent
        yield JSONServerSentEvent(stream_error(exc), event="error")


def sse_response(content: AsyncIterator[Any], *, sep: str | None = None) -> EventSourceResponse:
    # No caching and no proxy buffering: each event must reach the client when it is produced.
    return EventSourceResponse(
        content, sep=sep, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
