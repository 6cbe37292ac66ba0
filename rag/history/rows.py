"""How rows of the conversation tables become records: summaries with their turn counts, feedback,
stored answers (JSON back to `Answer`), and datetimes in UTC whatever the database gives back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter

from rag.history.records import ConversationSummary, Feedback
from rag.history.tables import conversations, feedback, turns
from rag.types import Answer

TITLE_CHARS = 80
_ANSWER = TypeAdapter(Answer)


def utc(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; every one stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def title_of(question: str) -> str:
    """A conversation's title: its first question on one line, cut past `TITLE_CHARS`."""
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


def summaries(
    db: sa.Connection, owner: str, *, only: str | None = None, limit: int = 1, offset: int = 0
) -> list[ConversationSummary]:
    query = (
        sa.select(conversations, sa.func.count(turns.c.id).label("turns"))
        .outerjoin(turns, turns.c.conversation_id == conversations.c.id)
        .where(conversations.c.owner == owner)
        .group_by(*conversations.c)
        .order_by(conversations.c.updated_at.desc(), conversations.c.id)
        .limit(limit)
        .offset(offset)
    )
    if only is not None:
        query = query.where(conversations.c.id == only)
    return [
        ConversationSummary(
            id=r["id"],
            title=r["title"],
            created_at=utc(r["created_at"]),
            updated_at=utc(r["updated_at"]),
            turns=int(r["turns"]),
        )
        for r in db.execute(query).mappings().all()
    ]


def feedback_columns() -> list[Any]:
    return [
        feedback.c.rating,
        feedback.c.comment,
        feedback.c.correction,
        feedback.c.sources,
        feedback.c.answerable,
        feedback.c.created_at.label("feedback_at"),
    ]


def feedback_of(row: Any, turn_id: str) -> Feedback:
    return Feedback(
        turn_id=turn_id,
        rating=row["rating"],
        comment=row["comment"],
        correction=row["correction"],
        sources=list(json.loads(row["sources"])),
        answerable=row["answerable"],
        created_at=utc(row["feedback_at"]),
    )


def answer_of(body: str) -> Answer:
    return _ANSWER.validate_python(json.loads(body))
