"""The engine's checks on what it is asked, a question or a conversation, against its `Limits`:
each failure is an `InvalidQuestionError` written for the person who asked."""

from __future__ import annotations

from collections.abc import Sequence

from rag.conversation import Message
from rag.errors import InvalidQuestionError
from rag.limits import Limits


def check_question(question: str, top_k: int | None, limits: Limits) -> tuple[str, int]:
    """The question stripped and the number of passages to retrieve, both within the limits."""
    question = (question or "").strip()
    if not question:
        raise InvalidQuestionError("The question is empty.")
    if len(question) > limits.max_question_chars:
        raise InvalidQuestionError(
            f"The question is {len(question)} characters long; the limit is {limits.max_question_chars}."
        )
    k = limits.top_k if top_k is None else top_k
    if not 1 <= k <= 50:
        raise InvalidQuestionError(f"top_k must be between 1 and 50, not {k}.")
    return question, k


def check_conversation(messages: Sequence[Message], limits: Limits) -> None:
    """A conversation within the limits (messages, characters) with a user message to answer."""
    limit, chars = limits.max_chat_messages, sum(len(m.content) for m in messages)
    if len(messages) > limit:
        raise InvalidQuestionError(f"The conversation has {len(messages)} messages; the limit is {limit}.")
    if chars > limits.max_chat_chars:
        raise InvalidQuestionError(
            f"The conversation is {chars} characters long; the limit is {limits.max_chat_chars}."
        )
    if not any(m.role == "user" and m.content.strip() for m in messages):
        raise InvalidQuestionError("The conversation has no user message to answer.")
