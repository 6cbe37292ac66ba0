"""The chat's question handler, within the server's limits as the API is: a question checked (its
size, the rate of its login) before the session keeps it, answered through the server's one gate,
then saved; a session keeps its last `MAX_SESSION_TURNS` turns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import gradio as gr

from rag.admission import Admission, rate_identity
from rag.engine import Engine
from rag.errors import InvalidQuestionError, RagError
from rag.filters import DocumentFilter
from rag.history import LOCAL_OWNER
from ui.documents import restriction
from ui.history import ChatHistory
from ui.render import render_conversation
from ui.turns import Turn, answer_turn, friendly_error

MAX_SESSION_TURNS = 50
"""Turns a chat session keeps (and shows); older ones stay in the saved conversation only."""
SHOWN_CHARS = 200
"""What a refused question keeps of its text, to be shown with the reason."""


def identity(history: ChatHistory, request: gr.Request | None) -> str | None:
    """Whom the rate limit counts: the login's key (as the API counts that key's requests), or
    without logins the client's address, this machine's own exempt (as the API does)."""
    owner = history.owner(request)
    client = getattr(request, "client", None)
    return rate_identity(None if owner == LOCAL_OWNER else owner, str(getattr(client, "host", "") or ""))


def admit(question: str, max_chars: int, admission: Admission | None, who: str | None) -> None:
    """Refuse a question over the size limit, or past its asker's rate (a RagError each)."""
    if len(question) > max_chars:
        raise InvalidQuestionError(f"The question is {len(question)} characters; the limit is {max_chars}.")
    if admission is not None and who is not None:
        admission.limiter.check(who)


async def through(admission: Admission | None, make: Callable[[], Iterator[Turn]]) -> AsyncIterator[Turn]:
    """The turns of `make()`, computed in the gate's threads (a RefusedError when it is full), or
    without a gate in a worker thread each."""
    if admission is not None:
        async for turn in await admission.gate.stream(make):
            yield turn
        return
    turns = make()

    def step() -> Turn | None:
        return next(turns, None)

    while True:
        found: Turn | None = await anyio.to_thread.run_sync(step)
        if found is None:
            return
        yield found


def asker(
    engine: Engine, history: ChatHistory, admission: Admission | None = None
) -> Callable[..., AsyncIterator[tuple[Any, ...]]]:
    """The handler of a question: the turn, shown again after each step of the engine's stream,
    then saved into the conversation (the side list shows it)."""
    max_chars = engine.limits.max_question_chars

    async def ask(
        question: str,
        turns: list[Turn],
        date_from: str = "",
        date_to: str = "",
        sources: list[str] | None = None,
        conversation_id: str | None = None,
        request: gr.Request | None = None,
    ) -> AsyncIterator[tuple[Any, ...]]:
        question = (question or "").strip()
        if not question or (turns and not turns[-1].done):
            # Nothing to ask, or an answer still streaming (Enter, then a click): leave all as it is.
            yield (gr.skip(),) * 5
            return
        turns = turns[-(MAX_SESSION_TURNS - 1) :]
        try:
            restrict: DocumentFilter | None = restriction(date_from, date_to, sources)
            admit(question, max_chars, admission, identity(history, request))
        except RagError as exc:
            yield gr.skip(), *refused(turns, question, friendly_error(exc, max_chars))
            return
        shown = turns
        try:
            async for turn in through(admission, lambda: answer_turn(engine, turns, question, restrict)):
                shown = [*turns, turn]
                yield "", shown, render_conversation(shown), gr.skip(), gr.skip()
        except RagError as exc:  # the gate full, or its deadline passed
            yield "", *refused(turns, question, friendly_error(exc, max_chars))
            return
        if shown is not turns and history.store is not None:
            saved = await anyio.to_thread.run_sync(history.save, request, conversation_id, shown[-1])
            yield "", shown, render_conversation(shown), saved, history.side_list(request, saved)

    return ask


def refused(turns: list[Turn], question: str, reason: str) -> tuple[Any, ...]:
    """The conversation with a refused question (its beginning only) and the reason."""
    short = question if len(question) <= SHOWN_CHARS else question[:SHOWN_CHARS] + " …"
    shown = [*turns, Turn(question=short, error=reason, done=True)]
    return shown, render_conversation(shown), gr.skip(), gr.skip()
