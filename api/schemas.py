"""Request bodies of the HTTP API and its API-only envelopes; answers are `rag.types`' models.

Streams are documented like FastAPI documents its own: an `itemSchema` per Server-Sent Event, the
schema of each event's JSON `data` generated from the model that shapes it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from rag.conversation import Message
from rag.filters import DocumentFilter
from rag.types import Answer, Citation, Passage

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


# -- `/v1/chat` with `stream: true` -----------------------------------------------------------
class RetrievalData(BaseModel):
    """Event `retrieval`: the passages the answer is drawn from (and a follow-up's standalone question)."""

    passages: list[Passage]
    standalone_question: str | None = Field(None, exclude_if=lambda q: q is None)


class DeltaData(BaseModel):
    """Event `delta`: the next piece of the answer's text."""

    text: str


class DoneData(BaseModel):
    """Event `done`: the finished answer, the object `POST /v1/chat` answers without streaming."""

    refused: bool
    timings_ms: dict[str, float]
    answer: Answer


CHAT_EVENTS: dict[str, type[Any]] = {
    "retrieval": RetrievalData,
    "delta": DeltaData,
    "citation": Citation,
    "done": DoneData,
    "error": ErrorOut,
}
"""The events of a `/v1/chat` stream, in their order (`citation` once per citation; `error` ends a
stream that fails after it started)."""


# -- `/v1/chat/completions` -----------------------------------------------------------------------
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


def sse_doc(events: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAPI `content` of a Server-Sent Events stream: for each event name, the schema of its JSON
    data, self-contained. Lines sent without a name are events named `message`, as in browsers."""
    items = []
    for name, shape in events.items():
        data = {"type": "string", "contentMediaType": "application/json", "contentSchema": _schema(shape)}
        items.append(
            {
                "type": "object",
                "required": ["data"] if name == "message" else ["event", "data"],
                "properties": {"event": {"const": name}, "data": data},
            }
        )
    return {"text/event-stream": {"itemSchema": items[0] if len(items) == 1 else {"oneOf": items}}}


def _schema(shape: Any) -> dict[str, Any]:
    """The serialization JSON schema of `shape` with its definitions inlined (it lives inside a
    response, not in the document's components)."""
    schema = TypeAdapter(shape).json_schema(mode="serialization")
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return dict(resolve(schema))
