"""The OpenAI chat completion shapes `/v1/chat/completions` answers and streams, plus the citations
as data for the clients that know them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rag.types import Citation


class CompletionMessageOut(BaseModel):
    role: Literal["assistant"]
    content: str = Field(description="The answer, with [n] markers that refer to `citations`.")


class CompletionChoice(BaseModel):
    index: int
    message: CompletionMessageOut
    finish_reason: Literal["stop"]
    logprobs: None


class ChatCompletion(BaseModel):
    """An OpenAI chat completion, plus the citations as data for clients that know them."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: None
    citations: list[Citation]
    refused: bool
    standalone_question: str | None


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None


class ChatCompletionChunk(BaseModel):
    """One `data:` line of a streamed completion; the last one (`finish_reason: stop`) also
    carries `citations`, `refused` and `standalone_question`. The stream ends with `data: [DONE]`."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    citations: list[Citation] | None = None
    refused: bool | None = None
    standalone_question: str | None = None
