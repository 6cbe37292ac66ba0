"""Server-Sent Events for `/v1/chat` from the engine's event stream (run by `api.admission.Gate`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse, JSONServerSentEvent

from api.errors import ApiError, error_body
from rag.errors import RagError
from rag.events import CitationEvent, DeltaEvent, Event, RetrievalEvent
from rag.types import Answer

log = logging.getLogger("api")


def stream_error(exc: Exception) -> dict[str, Any]:
    """The error body for a failure after the stream started (the status is already sent)."""
    if isinstance(exc, RagError):
        return error_body(exc.code, str(exc))
    if isinstance(exc, ApiError):  # the deadline passed mid-stream
        return error_body(exc.code, exc.message)
    log.error("unexpected error while streaming", exc_info=exc)
    return error_body("internal_error", "Internal error: the server log has the details.")


def done_data(answer: Answer) -> dict[str, Any]:
    data = answer.to_dict()
    return {"refused": answer.refused, "timings_ms": data["timings_ms"], "answer": data}


def event_data(event: Event) -> dict[str, Any]:
    """The JSON payload of an engine event, as `/v1/chat` streams it."""
    if isinstance(event, RetrievalEvent):
        data: dict[str, Any] = {"passages": [p.to_dict() for p in event.passages]}
        if event.standalone_question is not None:
            data["standalone_question"] = event.standalone_question
        return data
    if isinstance(event, DeltaEvent):
        return {"text": event.text}
    if isinstance(event, CitationEvent):
        return event.citation.to_dict()
    return done_data(event.answer)


async def chat_events(events: AsyncIterator[Event]) -> AsyncIterator[JSONServerSentEvent]:
    """Typed SSE events: retrieval, delta, citation, done, or error if the answer fails midway."""
    try:
        async for event in events:
            yield JSONServerSentEvent(event_data(event), event=event.kind)
    except Exception as exc:  # noqa: BLE001 - the client must hear about it: status 200 is sent
        yield JSONServerSentEvent(stream_error(exc), event="error")


def sse_response(
    content: AsyncIterator[Any],
    *,
    sep: str | None = None,
    send_timeout_s: float | None = None,
) -> EventSourceResponse:
    # No caching and no proxy buffering: each event must reach the client when it is produced.
    # A client that stops reading is dropped after `send_timeout_s` instead of holding the stream.
    return EventSourceResponse(
        content,
        sep=sep,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        send_timeout=send_timeout_s,
    )
