"""A conversation as the chat keeps it (a list of turns) and one turn answered by the engine's stream,
with errors turned into messages in French."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from rag.conversation import Message
from rag.engine import Engine
from rag.errors import (
    DeadlineError,
    EmbeddingModelMismatchError,
    IndexNotReadyError,
    InvalidQuestionError,
    RagError,
    RateLimitedError,
    RefusedError,
    StoreUnavailableError,
)
from rag.events import DeltaEvent, DoneEvent, RetrievalEvent
from rag.filters import DocumentFilter
from rag.history import Rating
from rag.types import Answer, Citation, Passage, Sentence

log = logging.getLogger("ui")

MAX_HISTORY_TURNS = 10
"""Earlier turns sent to the engine with a question: enough for follow-ups, bounded in cost."""

UNEXPECTED = "Une erreur inattendue empêche de répondre. Réessayez dans un instant."


@dataclass
class Turn:
    """A question of the conversation and what the engine has answered so far."""

    question: str
    answer: str = ""
    searched: str | None = None  # the standalone question the engine searched
    citations: list[Citation] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)  # with their verification verdicts
    passages: list[Passage] = field(default_factory=list)  # the evidence, shown while the LLM writes
    refused: bool = False
    degraded: bool = False
    error: str | None = None
    done: bool = False
    result: Answer | None = None  # the engine's answer, once done (what is saved)
    turn_id: str | None = None  # its id once saved (what feedback refers to)
    rating: Rating | None = None  # once the reader gave their opinion


def to_messages(
    history: Sequence[Turn], question: str, *, max_messages: int = 1000, max_chars: int = 10**9
) -> list[Message]:
    """The conversation for `Engine.chat_stream`: the answered turns, then the new question. The
    oldest turns are left out when it would outgrow the engine's limits, so a long chat goes on."""
    pairs = [
        [Message("user", t.question), Message("assistant", t.answer)]
        for t in [t for t in history if t.done and not t.error][-MAX_HISTORY_TURNS:]
    ]
    while pairs and (
        2 * len(pairs) + 1 > max_messages
        or sum(len(m.content) for pair in pairs for m in pair) + len(question) > max_chars
    ):
        pairs.pop(0)
    return [*(m for pair in pairs for m in pair), Message("user", question)]


def friendly_error(exc: RagError, max_chars: int) -> str:
    """What the reader of the chat is told about a domain error."""
    if isinstance(exc, InvalidQuestionError):
        return f"La question est vide ou trop longue ({max_chars} caractères au plus)."
    if isinstance(exc, RateLimitedError):
        return f"Trop de questions d’affilée : réessayez dans {exc.retry_after} s."
    if isinstance(exc, RefusedError):
        return f"Trop de questions en cours : réessayez dans {exc.retry_after} s."
    if isinstance(exc, DeadlineError):
        return "La réponse a pris trop de temps. Réessayez, ou posez une question plus courte."
    if isinstance(exc, IndexNotReadyError):
        return "Les articles ne sont pas encore indexés. Réessayez un peu plus tard."
    if isinstance(exc, StoreUnavailableError):
        return "La base des articles est momentanément injoignable. Réessayez dans un instant."
    if isinstance(exc, EmbeddingModelMismatchError):
        return "L’index des articles doit être reconstruit avant de pouvoir répondre."
    return "Impossible de répondre pour le moment. Réessayez dans un instant."


def answer_turn(
    engine: Engine, history: Sequence[Turn], question: str, restrict: DocumentFilter | None = None
) -> Iterator[Turn]:
    """Answer `question` after `history` (from the documents `restrict` lets through): a fresh copy
    of the turn after each step of the stream."""
    turn = Turn(question=question)
    yield replace(turn)
    limits = engine.limits
    try:
        messages = to_messages(
            history,
            question,
            max_messages=limits.max_chat_messages,
            max_chars=limits.max_chat_chars,
        )
        for event in engine.chat_stream(messages, restrict=restrict):
            if isinstance(event, RetrievalEvent):
                turn.searched, turn.passages = event.standalone_question, list(event.passages)
            elif isinstance(event, DeltaEvent):
                turn.answer += event.text
            elif isinstance(event, DoneEvent):
                answer = event.answer
                turn.answer, turn.refused = answer.answer, answer.refused
                turn.citations, turn.degraded = list(answer.citations), answer.degraded
                turn.sentences, turn.result = list(answer.sentences), answer
                turn.searched = answer.standalone_question or turn.searched
            else:
                continue  # citations come whole with the final answer
            yield replace(turn)
    except RagError as exc:
        log.warning("chat question failed: %s", exc)
        turn.error = friendly_error(exc, limits.max_question_chars)
    except Exception:  # noqa: BLE001 - the reader gets a message, the log the stack trace
        log.exception("chat question failed unexpectedly")
        turn.error = UNEXPECTED
    turn.done = True
    yield replace(turn, citations=list(turn.citations))


def find_citation(turns: Sequence[Turn], turn_index: int, n: int) -> Citation | None:
    """Citation `n` of turn `turn_index`, or None when there is none."""
    if not 0 <= turn_index < len(turns):
        return None
    return next((c for c in turns[turn_index].citations if c.n == n), None)
