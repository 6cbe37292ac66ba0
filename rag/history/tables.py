"""The tables of saved conversations, their turns (each answer as JSON, citations and verdicts
included) and feedback, and how a database URL becomes a connected SQLAlchemy engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from rag.errors import RagError

metadata = sa.MetaData()
ID = sa.String(32)
WHEN = sa.DateTime(timezone=True)

conversations = sa.Table(
    "rag_conversations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("created_at", WHEN, nullable=False),
    sa.Column("updated_at", WHEN, nullable=False),
)

turns = sa.Table(
    "rag_turns",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("conversation_id", ID, sa.ForeignKey(conversations.c.id), nullable=False, index=True),
    sa.Column("created_at", WHEN, nullable=False),
    sa.Column("question", sa.Text, nullable=False),  # as the user typed it
    sa.Column("answer", sa.Text, nullable=False),  # `Answer.to_dict(with_passages=True)` as JSON
)

feedback = sa.Table(
    "rag_feedback",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("turn_id", ID, sa.ForeignKey(turns.c.id), nullable=False, unique=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("rating", sa.String(8), nullable=False),  # "up" | "down"
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("correction", sa.Text, nullable=False),  # the right answer, in the user's words
    sa.Column("sources", sa.Text, nullable=False),  # JSON list of the files the user named
    sa.Column("answerable", sa.Boolean, nullable=True),  # False: "the articles do not say"
    sa.Column("created_at", WHEN, nullable=False),
)


class HistoryUnavailableError(RagError):
    """The database of saved conversations cannot be opened or written."""

    code = "history_unavailable"


def shown(url: str) -> str:
    """The URL without its password, fit for a message or a log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the chat read while the API writes; the busy timeout makes writers queue, not fail.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def connect(url: str) -> sa.Engine:
    """An engine on `url` with the tables created (a SQLite file's folder too)."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        metadata.create_all(engine)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise HistoryUnavailableError(
            f"RAG_HISTORY_URL is not a database URL SQLAlchemy can use ({shown(url)}): {exc}"
        ) from None
    except (SQLAlchemyError, OSError, ImportError) as exc:
        raise HistoryUnavailableError(
            f"The conversation database {shown(url)} cannot be opened: {type(exc).__name__}."
        ) from exc
    return engine
