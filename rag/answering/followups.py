"""Checks on a follow-up question an LLM rewrote: it must be one question about the last turn's
subject, not a concatenation of turns nor a question about names nobody mentioned; when it is not,
the deterministic rules of `rag.conversation.condense` are used instead."""

from __future__ import annotations

from collections.abc import Sequence

from rag.conversation import Message, condense, entities
from rag.text import fold, words

MAX_GROWTH = 160  # characters a rewrite may add to the last question (the subject written in)


def _folded_words(text: str) -> set[str]:
    return set(words(fold(text)))


def _contains(haystack: str, needle: str) -> bool:
    """Whether `needle`'s words appear in order in `haystack` (accents, case, punctuation ignored)."""
    small = " ".join(words(fold(needle)))
    return bool(small) and small in " ".join(words(fold(haystack)))


def rejection(rewritten: str, messages: Sequence[Message]) -> str | None:
    """Why the rewrite is not one standalone question about the last turn, or None if it is."""
    users = [m.content.strip() for m in messages if m.role == "user" and m.content.strip()]
    if not rewritten.strip():
        return "empty"
    if not users:
        return "no user message"
    last, earlier = users[-1], users[:-1]
    if rewritten.count("?") > 1:
        return "more than one question"
    if len(rewritten) > len(last) + MAX_GROWTH:
        return "much longer than the question"
    for previous in earlier:
        if (
            fold(previous.strip(" ?")) != fold(last.strip(" ?"))
            and len(words(previous)) >= 3
            and _contains(rewritten, previous.rstrip(" ?!."))
        ):
            return "repeats an earlier question"
    said = set().union(*(_folded_words(m.content) for m in messages))
    first = rewritten.strip().split(" ", 1)[0]
    for name in entities(rewritten):
        unsaid = _folded_words(name) - said
        if rewritten.strip().startswith(name) and unsaid == _folded_words(first):
            continue  # capitalised as the first word of the question, not as a name
        if unsaid == _folded_words(name):
            return f"names {name!r}, which the conversation does not"
    own = entities(last)
    missing = [name for name in own if not _folded_words(name) <= _folded_words(rewritten)]
    if missing:
        return f"drops {missing[0]!r}, the subject of the last question"
    if not own and earlier and not entities(rewritten):
        return "names no subject: the question still points back"
    return None


def checked_condense(rewritten: str, messages: Sequence[Message]) -> tuple[str, str | None]:
    """The rewrite when it passes, else the rules' question; with the reason it was rejected."""
    reason = rejection(rewritten, messages)
    return (rewritten.strip(), None) if reason is None else (condense(messages), reason)


__all__ = ["checked_condense", "rejection"]
