"""The service's own routes: ask, chat (JSON or Server-Sent Events) and corpus sources."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.admission import Gate
from api.errors import ApiError
from api.schemas import CHAT_EVENTS, AskRequest, ChatRequest, SourceOut, error_responses, sse_doc
from api.streaming import chat_events, sse_response
from rag.corpus import Corpus
from rag.engine import Engine
from rag.errors import CorpusError
from rag.types import Answer

CHAT_STREAM_DOC = {
    "description": "The answer object, or with `stream: true` Server-Sent Events: `retrieval` "
    "(standalone_question, passages), `delta` (text), `citation` (one per citation), `done` "
    "(refused, timings_ms, answer) or `error` (error.code, error.message).",
    "content": sse_doc(CHAT_EVENTS),
}


BUSY = error_responses(422, 429, 503, 504)


def engine_router(engine: Engine, corpus: Corpus, gate: Gate) -> APIRouter:
    """Routes that call the engine (and read `corpus`); the engine is synchronous, so each call
    runs in one of the gate's threads, within its limits."""
    router = APIRouter(tags=["questions"])

    @router.post("/ask", response_model=Answer, responses=BUSY)
    async def ask(body: AskRequest) -> Answer:
        """Answer a question from the articles with numbered citations (same object as `rag ask --json`)."""
        return await gate.run(lambda: engine.ask(body.question, top_k=body.top_k, files=body.files or None))

    @router.post("/chat", response_model=Answer, responses={200: CHAT_STREAM_DOC, **BUSY})
    async def chat(body: ChatRequest) -> Answer | Response:
        """Answer the last user message of a conversation; follow-ups are made standalone first."""
        messages = body.conversation()
        if body.stream:
            events = await gate.stream(lambda: engine.chat_stream(messages, top_k=body.top_k))
            return sse_response(chat_events(events), send_timeout_s=gate.timeout_s)
        return await gate.run(lambda: engine.chat(messages, top_k=body.top_k))

    @router.get(
        "/sources/{file:path}",
        response_model=SourceOut,
        responses=error_responses(404),
        tags=["sources"],
    )
    async def source(file: str) -> SourceOut:
        """The text and title of a corpus file, the one citations' character spans refer to."""
        try:
            text, title = await run_in_threadpool(corpus.source, file)
        except CorpusError:
            # The same answer for a missing file and a refused path: nothing to learn from probing.
            raise ApiError(404, "not_found", "No such article in the corpus.") from None
        return SourceOut(file=file, title=title, text=text)

    return router
