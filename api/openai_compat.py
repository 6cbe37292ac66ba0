"""OpenAI-compatible `/v1/chat/completions` and `/v1/models`.

Existing clients read the answer text, which carries the [n] markers; aware clients also read the
citations as data: a top-level `citations` field of the completion, and of the last chunk when
streaming.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.admission import Gate
from api.completions import ChatCompletion, ChatCompletionChunk
from api.errors import ApiError
from api.observe import note_answer, noting
from api.schemas import ErrorOut, error_responses
from api.stream_schemas import sse_doc
from api.streaming import sse_response, stream_error
from rag.conversation import Message
from rag.engine import Engine
from rag.events import DeltaEvent, DoneEvent, Event
from rag.types import Answer

MODEL_ID = "rag-fr-news"
CREATED = 1_767_225_600  # 2026-01-01: a fixed date, so /v1/models answers the same every time
STREAM_DOC = {
    "description": "The completion, or with `stream: true` its chunks as `data:` lines, then `data: [DONE]`.",
    "content": sse_doc({"message": ChatCompletionChunk | ErrorOut}),
}


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str = ""


class CompletionMessage(BaseModel):
    """An OpenAI chat message; tool calls and other extras are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content if part.type == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    """The fields of an OpenAI chat completion request this service uses; others are ignored
    (temperature, max_tokens... mean nothing to an answer quoted from the articles)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(MODEL_ID, description=f"Any value is accepted; answers come from {MODEL_ID!r}.")
    messages: list[CompletionMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=50, description="Extension: passages handed to the answerer.")

    def conversation(self) -> list[Message]:
        roles = {"developer": "system", "user": "user", "assistant": "assistant"}
        return [Message(roles.get(m.role, "system"), m.text()) for m in self.messages]


def completion(answer: Answer, completion_id: str) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": None,
        **extension(answer),
    }


def extension(answer: Answer) -> dict[str, Any]:
    """What an aware client reads beyond the OpenAI fields."""
    return {
        "citations": [c.to_dict() for c in answer.citations],
        "refused": answer.refused,
        "standalone_question": answer.standalone_question,
    }


def chunk(completion_id: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


async def chunks(events: AsyncIterator[Event], completion_id: str) -> AsyncIterator[dict[str, str]]:
    """`data: {chunk}` lines as OpenAI sends them, the citations in the last one, then `[DONE]`."""
    yield {"data": chunk(completion_id, {"role": "assistant", "content": ""})}
    try:
        async for event in events:
            if isinstance(event, DeltaEvent):
                yield {"data": chunk(completion_id, {"content": event.text})}
            elif isinstance(event, DoneEvent):
                yield {"data": chunk(completion_id, {}, "stop", **extension(event.answer))}
    except Exception as exc:  # noqa: BLE001 - OpenAI clients raise on a `data: {"error": ...}` line
        yield {"data": json.dumps(stream_error(exc), ensure_ascii=False, separators=(",", ":"))}
    yield {"data": "[DONE]"}


def model_card() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": "rag-fr-news"}


def openai_router(engine: Engine, gate: Gate) -> APIRouter:
    router = APIRouter(tags=["openai-compatible"])

    @router.get("/models")
    async def models() -> dict[str, Any]:
        """The one model this service serves, as OpenAI lists models."""
        return {"object": "list", "data": [model_card()]}

    @router.get("/models/{model_id}", responses=error_responses(404))
    async def model(model_id: str) -> dict[str, Any]:
        if model_id != MODEL_ID:
            raise ApiError(404, "model_not_found", f"The only model here is {MODEL_ID!r}.")
        return model_card()

    @router.post(
        "/chat/completions",
        response_model=ChatCompletion,
        responses={200: STREAM_DOC, **error_responses(422, 429, 503, 504)},
    )
    async def chat_completions(body: CompletionRequest, request: Request) -> dict[str, Any] | Response:
        """Answer the last user message like an OpenAI chat model, with the citations as data."""
        messages = body.conversation()
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if body.stream:
            events = await gate.stream(lambda: engine.chat_stream(messages, top_k=body.top_k))
            return sse_response(
                chunks(noting(events, request), completion_id), sep="\n", send_timeout_s=gate.timeout_s
            )
        answer = await gate.run(lambda: engine.chat(messages, top_k=body.top_k))
        note_answer(request, answer)
        return completion(answer, completion_id)

    return router
