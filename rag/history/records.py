"""What the conversation store hands out: conversations, their turns with the stored answer, and
feedback (pydantic dataclasses, so the HTTP API serializes them as they are)."""

from __future__ import annotations

import hashlib
from dataclasses import field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from rag.errors import RagError
from rag.types import MODEL, Answer

Rating = Literal["up", "down"]
LOCAL_OWNER = "local"
"""The owner of every conversation when the service has no API keys (one trusted user: its operator)."""


def owner_of(key: str | None) -> str:
    """Who owns a conversation: a digest of the caller's API key (the key itself is never stored),
    or `LOCAL_OWNER` without keys."""
    if not key:
        return LOCAL_OWNER
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:40]


class ConversationNotFoundError(RagError):
    """No such conversation (or answer) for this caller: another key's look the same as missing ones."""

    code = "not_found"


@dataclass(frozen=True, config=MODEL)
class Feedback:
    """A user's verdict on one stored answer."""

    turn_id: str
    rating: Rating
    comment: str = ""
    correction: Annotated[str, Field(description="The right answer, in the user's words.")] = ""
    sources: Annotated[list[str], Field(description="Corpus files that hold the right answer.")] = field(
        default_factory=list
    )
    answerable: Annotated[
        bool | None, Field(description="False: the articles do not answer this question.")
    ] = None
    created_at: datetime | None = None


@dataclass(frozen=True, config=MODEL)
class Turn:
    """A question of a conversation and the answer it got, with its feedback if any."""

    id: str
    conversation_id: str
    question: str
    answer: Answer
    created_at: datetime
    feedback: Feedback | None = None


@dataclass(frozen=True, config=MODEL)
class ConversationSummary:
    """A conversation as the side list shows it."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    turns: int


@dataclass(frozen=True, config=MODEL)
class Conversation:
    """A conversation with all its turns, oldest first."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    turns: list[Turn]


@dataclass(frozen=True, config=MODEL)
class FeedbackEntry:
    """Feedback with what it judges: the question and the stored answer (for export and stats)."""

    feedback: Feedback
    question: str
    answer: Answer
    conversation_id: str
