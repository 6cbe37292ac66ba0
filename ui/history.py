"""The chat's saved conversations: who is chatting (`Logins`, `ChatHistory.owner`), each answer saved
as it is given, the side list of past conversations, and one resumed as it was left."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.history import LOCAL_OWNER, Feedback, HistoryStore, owner_of
from rag.history.records import Turn as StoredTurn
from ui.turns import Turn

log = logging.getLogger("ui")

LIST_SIZE = 30
"""Past conversations shown in the side list, the most recently continued first."""


class Logins:
    """The chat's login check: any user name, and an API key as password. It remembers which key
    each user name logged in with, so the chat shows the conversations of that key, as the API does."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = [k for k in keys if k]
        self._owners: dict[str, str] = {}

    def __call__(self, username: str, password: str) -> bool:
        valid = sum(secrets.compare_digest(password.encode(), k.encode()) for k in self.keys) > 0
        if valid:
            self._owners[username] = owner_of(password)
        return valid

    def owner(self, username: str | None) -> str:
        # Unknown after a restart until the user logs in again, which gradio then asks for anyway.
        return self._owners.get(username or "", owner_of("\0no-login\0" + (username or "")))


def from_stored(turn: StoredTurn) -> Turn:
    """A saved answer as the chat shows it."""
    answer = turn.answer
    return Turn(
        question=turn.question,
        answer=answer.answer,
        searched=answer.standalone_question,
        citations=list(answer.citations),
        sentences=list(answer.sentences),
        passages=list(answer.passages),
        refused=answer.refused,
        degraded=answer.degraded,
        done=True,
        turn_id=turn.id,
        rating=turn.feedback.rating if turn.feedback else None,
        result=answer,
    )


class ChatHistory:
    """The chat's side of the conversation store (nothing is saved when `store` is None)."""

    def __init__(self, store: HistoryStore | None, owner: Callable[[str | None], str] | None = None) -> None:
        self.store = store
        self._owner = owner or (lambda _username: LOCAL_OWNER)

    def owner(self, request: gr.Request | None) -> str:
        return self._owner(getattr(request, "username", None))

    def save(self, request: gr.Request | None, conversation_id: str | None, turn: Turn) -> str | None:
        """Save a finished turn (its id goes into it); the conversation's id, new or the same."""
        if self.store is None or turn.result is None:
            return conversation_id
        try:
            saved = self.store.add_turn(self.owner(request), conversation_id, turn.question, turn.result)
        except RagError as exc:  # a conversation deleted meanwhile, or the database down: not saved
            log.warning("chat answer not saved: %s", exc)
            return conversation_id
        turn.turn_id = saved.id
        return saved.conversation_id

    def choices(self, request: gr.Request | None) -> list[tuple[str, str]]:
        """(title, id) of the owner's latest conversations, for the side list."""
        if self.store is None:
            return []
        try:
            found = self.store.list_conversations(self.owner(request), limit=LIST_SIZE)
        except RagError as exc:
            log.warning("past conversations not listed: %s", exc)
            return []
        return [(c.title, c.id) for c in found]

    def side_list(self, request: gr.Request | None, selected: str | None) -> Any:
        return gr.update(choices=self.choices(request), value=selected)

    def load(self, request: gr.Request | None, conversation_id: str) -> list[Turn] | None:
        """The turns of a saved conversation of the owner; None if it is gone."""
        if self.store is None:
            return None
        try:
            conversation = self.store.get_conversation(self.owner(request), conversation_id)
        except RagError as exc:
            log.warning("conversation not resumed: %s", exc)
            return None
        return [from_stored(t) for t in conversation.turns]

    def rate(self, request: gr.Request | None, turn: Turn, **given: Any) -> bool:
        """Save feedback on a saved turn; whether it was saved."""
        if self.store is None or turn.turn_id is None or turn.rating is None:
            return False
        try:
            self.store.give_feedback(
                self.owner(request), Feedback(turn_id=turn.turn_id, rating=turn.rating, **given)
            )
        except RagError as exc:
            log.warning("chat feedback not saved: %s", exc)
            return False
        return True


__all__ = ["ChatHistory", "Logins", "from_stored"]
