"""Saved conversations and feedback on their answers (`HistoryStore`), and feedback turned into eval
cases and statistics (`rag.history.feedback`)."""

from rag.history.records import (
    LOCAL_OWNER,
    Conversation,
    ConversationNotFoundError,
    ConversationSummary,
    Feedback,
    FeedbackEntry,
    Rating,
    Turn,
    owner_of,
)
from rag.history.store import HistoryStore
from rag.history.tables import HistoryUnavailableError

__all__ = [
    "LOCAL_OWNER",
    "Conversation",
    "ConversationNotFoundError",
    "ConversationSummary",
    "Feedback",
    "FeedbackEntry",
    "HistoryStore",
    "HistoryUnavailableError",
    "Rating",
    "Turn",
    "owner_of",
]
