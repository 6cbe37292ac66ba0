"""The service's own routes: ask, chat (JSON or Server-Sent Events) and corpus sources."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.admission import Gate
from api.errors import ApiError
from api.schemas import AnswerOut, AskRequest, ChatRequest, SourceOut, error_responses
from api.streaming import chat_events, sse_response
from rag.engine import Engine
from rag.errors import CorpusError

CHAT_STREAM_DOC = {
    "description": "The answer object, or with `stream: true` Server-Sent Events: `retrieval` "
    "(standalone_question, passages), `delta` (text), `citation` (one per citation), `done` "
    "(refused, timings_ms, answer) or `error` (error.code, error.message).",
    "content": {"text/event-stream": {}},
    "model": AnswerOut,
}


BUSY = error_responses(422, 429, 503, 504)


def engine_router(engine: Engine, gate: Gate) -> APIRouter:
    """Routes that call the engine; the engine is synchronous, so each call runs in one of the
    gate's threads, within its limits."""
    router = APIRouter(tags=["questions"])

    @router.post(
        "/ask", response_model=None, responses={200: {"model": AnswerOut}, **BUSY},
    )
    async def ask(body: AskRequest) -> JSONResponse:
        """Answer a question from the articles with numbered citations (same object as `rag ask --json`)."""
        answer = await gate.run(
            lambda: engine.ask(body.question, top_k=body.top_k, files=body.files or None)
        )
        return JSONResponse(answer.to_dict())

    @router.post("/chat", response_model=None, responses={200: CHAT_STREAM_DOC, **BUSY})
    async def chat(body: ChatRequest) -> Response:
        """Answer the last user message of a conversation; follow-ups are made standalone first."""
        messages = body.conversation()
        if body.stream:
            events = await gate.stream(lambda: engine.chat_stream(messages, top_k=body.top_k))
            return sse_response(chat_events(events), send_timeout_s=gate.timeout_s)
        answer = await gate.run(lambda: engine.chat(messages, top_k=body.top_k))
        return JSONResponse(answer.to_dict())

    @router.get(
        "/sources/{file:path}", response_model=SourceOut, responses=error_responses(404), tags=["sources"],
    )
    async def source(file: str) -> SourceOut:
        """The text and title of a corpus file, the one citations' character spans refer to."""
        try:
            text, title = await run_in_threadpool(engine.source, file)
        except CorpusError:
            # The same answer for a missing file and a refused path: nothing to learn from probing.
            raise ApiError(404, "not_found", "No such article in the corpus.") from None
        return SourceOut(file=file, title=title, text=text)

    return router
