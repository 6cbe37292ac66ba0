"""Saved conversations over HTTP: each caller's own (by API key), listed, read, renamed, deleted;
feedback on a saved answer (`POST /v1/feedback`); and the saving of `/v1/ask` and `/v1/chat` answers."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Bearer
from api.errors import ApiError
from api.observe import noting
from api.schemas import error_responses
from rag.corpus import Corpus
from rag.errors import CorpusError
from rag.events import DoneEvent, Event
from rag.history import (
    Conversation,
    ConversationSummary,
    Feedback,
    HistoryStore,
    owner_of,
)
from rag.types import Answer

DISABLED = "Conversations are not saved on this server (RAG_SAVE_CONVERSATIONS=false)."


class RenameRequest(BaseModel):
    """`PATCH /v1/conversations/{id}`: the conversation's new title."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)


class FeedbackRequest(BaseModel):
    """`POST /v1/feedback`: a verdict on a saved answer (its `turn_id`), with what was right."""

    model_config = ConfigDict(extra="forbid")

    turn_id: str = Field(max_length=64, description="The `turn_id` of the answer judged.")
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=2000)
    correction: str = Field("", max_length=2000, description="What the right answer is.")
    sources: list[str] = Field([], max_length=20, description="Corpus files that hold the right answer.")
    answerable: bool | None = Field(None, description="False: the articles do not answer this question.")


def caller(credentials: Bearer) -> str:
    """Dependency: who is calling, as the owner of conversations (`rag.history.owner_of`): the key
    sent, checked by the router's key dependency, or the local owner without one."""
    return owner_of(credentials.credentials if credentials is not None else None)


Owner = Annotated[str, Depends(caller)]


class Recorder:
    """Saves the answers of `/v1/ask` and `/v1/chat` as their caller's conversations (when saving is on)."""

    def __init__(self, history: HistoryStore | None) -> None:
        self.history = history

    async def check(self, owner: str, conversation_id: str | None) -> None:
        """404 before any work when a conversation to continue is not the caller's."""
        if conversation_id is None:
            return
        if self.history is None:
            raise ApiError(404, "history_disabled", DISABLED)
        await run_in_threadpool(self.history.check_conversation, owner, conversation_id)

    async def save(
        self, owner: str, conversation_id: str | None, question: str, answer: Answer, *, new: bool = False
    ) -> Answer:
        """The answer with the ids it was saved under (unchanged when nothing is saved)."""
        if self.history is None:
            return answer
        turn = await run_in_threadpool(
            lambda: self.history.add_turn(owner, conversation_id, question, answer, new=new)  # type: ignore[union-attr]
        )
        return dataclasses.replace(answer, conversation_id=turn.conversation_id, turn_id=turn.id)

    async def saving(
        self,
        events: AsyncIterator[Event],
        request: Request,
        owner: str,
        conversation_id: str | None,
        question: str,
    ) -> AsyncIterator[Event]:
        """A stream's events, its finished answer saved (and logged) before it is sent."""
        async for event in noting(events, request):
            if isinstance(event, DoneEvent):
                event = DoneEvent(await self.save(owner, conversation_id, question, event.answer))
            yield event


def history_router(history: HistoryStore | None, corpus: Corpus) -> APIRouter:
    """The routes on saved conversations and feedback, each for the caller's own only."""
    router = APIRouter(tags=["conversations"], responses=error_responses(404, 503))

    def store() -> HistoryStore:
        if history is None:
            raise ApiError(404, "history_disabled", DISABLED)
        return history

    @router.get("/conversations", response_model=list[ConversationSummary])
    async def list_conversations(
        who: Owner, limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)
    ) -> list[ConversationSummary]:
        """The caller's conversations, the most recently continued first."""
        return await run_in_threadpool(store().list_conversations, who, limit=limit, offset=offset)

    @router.get("/conversations/{conversation_id}", response_model=Conversation)
    async def read_conversation(conversation_id: str, who: Owner) -> Conversation:
        """A conversation with its answers (citations, verdicts) and their feedback, oldest first."""
        return await run_in_threadpool(store().get_conversation, who, conversation_id)

    @router.patch("/conversations/{conversation_id}", response_model=ConversationSummary)
    async def rename_conversation(
        conversation_id: str, body: RenameRequest, who: Owner
    ) -> ConversationSummary:
        """Give a conversation another title."""
        return await run_in_threadpool(store().rename_conversation, who, conversation_id, body.title)

    @router.delete("/conversations/{conversation_id}", status_code=204, response_class=Response)
    async def delete_conversation(conversation_id: str, who: Owner) -> Response:
        """Delete a conversation, its answers and their feedback."""
        await run_in_threadpool(store().delete_conversation, who, conversation_id)
        return Response(status_code=204)

    @router.post("/feedback", response_model=Feedback, responses=error_responses(422))
    async def give_feedback(body: FeedbackRequest, who: Owner) -> Feedback:
        """Thumbs up or down on a saved answer, with an optional comment, the right answer and the
        articles that hold it; sending it again replaces it. `rag feedback export` makes eval cases of it."""
        for name in body.sources:
            try:
                await run_in_threadpool(corpus.source, name)
            except CorpusError:
                raise ApiError(422, "invalid_request", f"No article named {name!r} in the corpus.") from None
        given = Feedback(**body.model_dump())
        return await run_in_threadpool(store().give_feedback, who, given)

    return router


__all__ = ["FeedbackRequest", "Owner", "Recorder", "RenameRequest", "caller", "history_router"]
