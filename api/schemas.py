"""Request and response bodies of the HTTP API (the OpenAI-compatible ones live in `openai_compat`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.conversation import Message

TopK = Field(None, ge=1, le=50, description="Passages handed to the answerer (default: RAG_TOP_K).")


class AskRequest(BaseModel):
    """`POST /v1/ask`: one question, optionally restricted to some corpus files."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question, in French or English.")
    top_k: int | None = TopK
    files: list[str] | None = Field(
        None, max_length=100, description="Restrict the search to these corpus files."
    )


class ChatMessage(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str


class ChatRequest(BaseModel):
    """`POST /v1/chat`: a conversation whose last user message is answered."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    top_k: int | None = TopK
    stream: bool = Field(False, description="Answer as Server-Sent Events.")

    def conversation(self) -> list[Message]:
        return [Message(m.role, m.content) for m in self.messages]


class CitationOut(BaseModel):
    n: int
    file: str
    title: str
    quote: str = Field(description="Exact text of the source file between char_start and char_end.")
    char_start: int
    char_end: int
    score: float


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    verdict: str


class AnswerOut(BaseModel):
    """The answer object, the same as `rag ask --json` (plus `standalone_question` for a chat)."""

    question: str
    answer: str = Field(description="The answer, with [n] markers that refer to `citations`.")
    refused: bool
    citations: list[CitationOut]
    sentences: list[SentenceOut]
    answerer: str
    degraded: bool
    timings_ms: dict[str, float]
    degraded_reason: str | None = None
    standalone_question: str | None = None


class SourceOut(BaseModel):
    file: str
    title: str
    text: str


class SkippedOut(BaseModel):
    file: str
    reason: str


class IngestOut(BaseModel):
    """What an ingest did: the files saved from the upload and the sync report."""

    saved: list[str]
    summary: str
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    skipped: list[SkippedOut]
    chunks_written: int
    chunks_deleted: int


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error statuses a route may answer."""
    return {status: {"model": ErrorOut} for status in statuses}
