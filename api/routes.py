"""The service's own routes: ask, chat (JSON or Server-Sent Events) and corpus sources."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.admission import Gate
from api.conversations import Owner, Recorder
from api.errors import ApiError
from api.observe import note, note_answer
from api.schemas import AskRequest, ChatRequest, PageOut, SourceOut, error_responses
from api.stream_schemas import CHAT_EVENTS, sse_doc
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


def engine_router(engine: Engine, corpus: Corpus, gate: Gate, recorder: Recorder) -> APIRouter:
    """Routes that call the engine (and read `corpus`); the engine is synchronous, so each call
    runs in one of the gate's threads, within its limits. `recorder` saves each answer as a
    conversation of its caller."""
    router = APIRouter(tags=["questions"])

    @router.post("/ask", response_model=Answer, responses=BUSY)
    async def ask(body: AskRequest, request: Request, who: Owner) -> Answer:
        """Answer a question from the articles with numbered citations (same object as `rag ask --json`),
        saved as a new conversation when the server saves them."""
        note(request, question=body.question)
        restrict = body.restrict()  # a date range and/or sources
        answer = await gate.run(
            lambda: engine.ask(body.question, top_k=body.top_k, files=body.files or None, restrict=restrict)
        )
        note_answer(request, answer)
        return await recorder.save(who, None, body.question, answer)

    @router.post(
        "/chat", response_model=Answer, responses={200: CHAT_STREAM_DOC, **BUSY, **error_responses(404)}
    )
    async def chat(body: ChatRequest, request: Request, who: Owner) -> Answer | Response:
        """Answer the last user message of a conversation; follow-ups are made standalone first. The
        answer is saved into `conversation_id` (one of the caller's), or a new conversation."""
        messages, restrict = body.conversation(), body.restrict()
        asked = next((m.content for m in reversed(messages) if m.role == "user"), "")
        note(request, question=asked)
        await recorder.check(who, body.conversation_id)
        if body.stream:
            events = await gate.stream(
                lambda: engine.chat_stream(messages, top_k=body.top_k, restrict=restrict)
            )
            saved = recorder.saving(events, request, who, body.conversation_id, asked)
            return sse_response(chat_events(saved), send_timeout_s=gate.timeout_s)
        answer = await gate.run(lambda: engine.chat(messages, top_k=body.top_k, restrict=restrict))
        note_answer(request, answer)
        return await recorder.save(who, body.conversation_id, asked, answer)

    @router.get(
        "/sources/{file:path}",
        response_model=SourceOut,
        responses=error_responses(404),
        tags=["sources"],
    )
    async def source(file: str) -> SourceOut:
        """A document as ingest extracted it (the text citations' character spans refer to), with its
        title, metadata and, for a PDF, where each page lies in the text."""
        try:
            document = await run_in_threadpool(corpus.document, file)
        except CorpusError:
            # The same answer for a missing file and a refused path: nothing to learn from probing.
            raise ApiError(404, "not_found", "No such article in the corpus.") from None
        meta = {k: str(document.meta[k]) for k in ("date", "author", "source", "url") if k in document.meta}
        pages = [PageOut(page=p, char_start=s, char_end=e) for p, s, e in document.pages]
        return SourceOut(
            file=file, title=document.title, text=document.text, kind=document.kind, pages=pages, **meta
        )

    return router
