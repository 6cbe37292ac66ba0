"""`HistoryStore`: saved conversations and feedback in any SQL database SQLAlchemy knows (a SQLite
file beside the index by default). Every call names its owner; nobody reads another's rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from rag.history.records import (
    Conversation,
    ConversationNotFoundError,
    ConversationSummary,
    Feedback,
    FeedbackEntry,
    Turn,
)
from rag.history.rows import answer_of, feedback_columns, feedback_of, summaries, title_of, utc
from rag.history.tables import HistoryUnavailableError, connect, conversations, feedback, shown, turns
from rag.telemetry.metrics import FEEDBACK
from rag.types import Answer


def _now() -> datetime:
    return datetime.now(UTC)


class HistoryStore:
    """Conversations, their answers and feedback, per owner (see `owner_of`)."""

    def __init__(self, url: str) -> None:
        self.url = shown(url)
        self.engine = connect(url)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise HistoryUnavailableError(
                f"The conversation database {self.url} cannot be used: {type(exc).__name__}."
            ) from exc

    # -- conversations ------------------------------------------------------------------------------
    def add_turn(
        self, owner: str, conversation_id: str | None, question: str, answer: Answer, *, new: bool = False
    ) -> Turn:
        """Save an answer as the next turn of a conversation of `owner`: a new one when
        `conversation_id` is None, or `new` (with that id); the first question is its title."""
        now, turn_id = _now(), uuid.uuid4().hex
        with self._tx() as db:
            if conversation_id is None or new:
                conversation_id = conversation_id or uuid.uuid4().hex
                db.execute(
                    conversations.insert().values(
                        id=conversation_id,
                        owner=owner,
                        title=title_of(question),
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                updated = db.execute(
                    conversations.update()
                    .where(conversations.c.id == conversation_id, conversations.c.owner == owner)
                    .values(updated_at=now)
                )
                if updated.rowcount != 1:
                    raise ConversationNotFoundError("No such conversation.")
            body = json.dumps(answer.to_dict(with_passages=True), ensure_ascii=False)
            db.execute(
                turns.insert().values(
                    id=turn_id,
                    conversation_id=conversation_id,
                    created_at=now,
                    question=question,
                    answer=body,
                )
            )
        return Turn(
            id=turn_id, conversation_id=conversation_id, question=question, answer=answer, created_at=now
        )

    def check_conversation(self, owner: str, conversation_id: str) -> None:
        """ConversationNotFoundError unless `owner` has this conversation."""
        with self._tx() as db:
            self._head(db, owner, conversation_id)

    def conversation_of(self, owner: str, turn_id: str) -> str:
        """The conversation a turn of `owner` belongs to."""
        with self._tx() as db:
            found = db.execute(
                sa.select(turns.c.conversation_id)
                .join(conversations, conversations.c.id == turns.c.conversation_id)
                .where(turns.c.id == turn_id, conversations.c.owner == owner)
            ).scalar()
        if found is None:
            raise ConversationNotFoundError("No such answer.")
        return str(found)

    def list_conversations(
        self, owner: str, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """The owner's conversations, the most recently continued first."""
        with self._tx() as db:
            return summaries(db, owner, limit=limit, offset=offset)

    def get_conversation(self, owner: str, conversation_id: str) -> Conversation:
        """A conversation of the owner with its turns (and their feedback), oldest turn first."""
        with self._tx() as db:
            head = self._head(db, owner, conversation_id)
            rows = (
                db.execute(
                    sa.select(turns, feedback.c.id.label("feedback_id"), *feedback_columns())
                    .outerjoin(feedback, feedback.c.turn_id == turns.c.id)
                    .where(turns.c.conversation_id == conversation_id)
                    .order_by(turns.c.created_at, turns.c.id)
                )
                .mappings()
                .all()
            )
        return Conversation(
            id=head["id"],
            title=head["title"],
            created_at=utc(head["created_at"]),
            updated_at=utc(head["updated_at"]),
            turns=[
                Turn(
                    id=r["id"],
                    conversation_id=conversation_id,
                    question=r["question"],
                    answer=answer_of(r["answer"]),
                    created_at=utc(r["created_at"]),
                    feedback=feedback_of(r, r["id"]) if r["feedback_id"] else None,
                )
                for r in rows
            ],
        )

    def rename_conversation(self, owner: str, conversation_id: str, title: str) -> ConversationSummary:
        with self._tx() as db:
            self._head(db, owner, conversation_id)
            db.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .values(title=title_of(title) if title.strip() else "Sans titre")
            )
            return summaries(db, owner, only=conversation_id)[0]

    def delete_conversation(self, owner: str, conversation_id: str) -> None:
        """Delete a conversation, its answers and their feedback."""
        with self._tx() as db:
            self._head(db, owner, conversation_id)
            ids = sa.select(turns.c.id).where(turns.c.conversation_id == conversation_id)
            db.execute(feedback.delete().where(feedback.c.turn_id.in_(ids)))
            db.execute(turns.delete().where(turns.c.conversation_id == conversation_id))
            db.execute(conversations.delete().where(conversations.c.id == conversation_id))

    @staticmethod
    def _head(db: sa.Connection, owner: str, conversation_id: str) -> Any:
        head = (
            db.execute(
                sa.select(conversations).where(
                    conversations.c.id == conversation_id, conversations.c.owner == owner
                )
            )
            .mappings()
            .first()
        )
        if head is None:
            raise ConversationNotFoundError("No such conversation.")
        return head

    # -- feedback -------------------------------------------------------------------------------------
    def give_feedback(self, owner: str, given: Feedback) -> Feedback:
        """Record (or replace) the owner's feedback on one of their stored answers."""
        self.conversation_of(owner, given.turn_id)
        now = _now()
        values = {
            "turn_id": given.turn_id,
            "owner": owner,
            "rating": given.rating,
            "comment": given.comment,
            "correction": given.correction,
            "sources": json.dumps(given.sources, ensure_ascii=False),
            "answerable": given.answerable,
            "created_at": now,
        }
        for attempt in range(2):  # two replacements at once: the later one wins
            try:
                with self._tx() as db:
                    db.execute(feedback.delete().where(feedback.c.turn_id == given.turn_id))
                    db.execute(feedback.insert().values(id=uuid.uuid4().hex, **values))
                break
            except IntegrityError:
                if attempt:
                    raise HistoryUnavailableError("The feedback could not be saved: try again.") from None
        FEEDBACK.labels(given.rating).inc()
        return Feedback(
            turn_id=given.turn_id,
            rating=given.rating,
            comment=given.comment,
            correction=given.correction,
            sources=list(given.sources),
            answerable=given.answerable,
            created_at=now,
        )

    def feedback_entries(self, *, since: datetime | None = None) -> list[FeedbackEntry]:
        """All feedback of every owner with what it judges, oldest first (for the operator's CLI)."""
        query = (
            sa.select(turns, *feedback_columns())
            .join(feedback, feedback.c.turn_id == turns.c.id)
            .order_by(feedback.c.created_at, feedback.c.id)
        )
        if since is not None:
            query = query.where(feedback.c.created_at >= since)
        with self._tx() as db:
            rows = db.execute(query).mappings().all()
        return [
            FeedbackEntry(
                feedback=feedback_of(r, r["id"]),
                question=r["question"],
                answer=answer_of(r["answer"]),
                conversation_id=r["conversation_id"],
            )
            for r in rows
        ]
