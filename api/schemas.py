"""Request bodies of the HTTP API and its API-only envelopes; answers are `rag.types`' models, streamed
events are documented in `api.stream_schemas`, chat completions in `api.completions`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.conversation import Message
from rag.filters import DocumentFilter

TopK = Field(None, ge=1, le=50, description="Passages handed to the answerer (default: RAG_TOP_K).")


class Restriction(BaseModel):
    """Which documents a question may be answered from: a date range and/or sources (both sides of
    the search, dense and keyword, see only those)."""

    date_from: date | None = Field(None, description="Only documents dated this day or later (YYYY-MM-DD).")
    date_to: date | None = Field(None, description="Only documents dated this day or earlier (YYYY-MM-DD).")
    sources: list[Annotated[str, Field(max_length=200)]] | None = Field(
        None, max_length=50, description="Only documents from these sources (sites or papers, as listed)."
    )

    def restrict(self) -> DocumentFilter | None:
        return DocumentFilter.of(date_from=self.date_from, date_to=self.date_to, sources=self.sources)


class AskRequest(Restriction):
    """`POST /v1/ask`: one question, optionally restricted to some documents."""

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


class ChatRequest(Restriction):
    """`POST /v1/chat`: a conversation whose last user message is answered."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    top_k: int | None = TopK
    stream: bool = Field(False, description="Answer as Server-Sent Events.")
    conversation_id: str | None = Field(
        None, max_length=64, description="A saved conversation of yours to add the answer to, or none."
    )

    def conversation(self) -> list[Message]:
        return [Message(m.role, m.content) for m in self.messages]


class PageOut(BaseModel):
    page: int
    char_start: int
    char_end: int


class SourceOut(BaseModel):
    """A document as ingest extracted it: the text citations' spans refer to, with its metadata."""

    file: str
    title: str
    text: str
    kind: str = Field(description="text, markdown, pdf, docx, html or jsonl.")
    date: str | None = None
    author: str | None = None
    source: str | None = None
    url: str | None = None
    pages: list[PageOut] = Field(description="Where each PDF page lies in `text` (empty for other formats).")


class DocumentOut(BaseModel):
    """An indexed document: its id (what citations call `file`), metadata, size and ingest time."""

    id: str
    path: str = Field(description="The corpus file it was read from (a dump holds several documents).")
    kind: str
    title: str
    date: str | None = None
    author: str | None = None
    source: str | None = None
    url: str | None = None
    pages: int | None = None
    extra: dict[str, str | int | float | bool] = Field(description="A dump's other keys.")
    chunks: int
    ingested_at: str


class DocumentsOut(BaseModel):
    documents: list[DocumentOut]


class RemovedOut(BaseModel):
    """What `DELETE /v1/documents/{id}` removed."""

    files: list[str] = Field(description="Corpus files deleted.")
    documents: list[str] = Field(description="Documents gone from the index.")
    chunks_deleted: int


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
    warnings: list[SkippedOut] = Field(description="Parts of files left out: a dump's line, a PDF's page.")
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
